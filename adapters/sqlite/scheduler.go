package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// CueFireDue fires one batch in one write transaction: it reads up to
// p.Limit active cues due by p.Horizon (oldest next_run first; the write
// lock keeps every other writer out, so concurrent calls take disjoint
// batches), calls p.Plan on each, inserts the planned executions with
// INSERT … ON CONFLICT (cue_id, scheduled_for) DO NOTHING and saves each
// cue, counting into fired_count only the executions actually inserted. The
// per-row statements are prepared once per batch.
func (s *Store) CueFireDue(ctx context.Context, p *core.CueFireDueParams) (*core.CueFireDueResult, error) {
	const op = "cue fire due"
	res := &core.CueFireDueResult{}
	if p.Limit <= 0 {
		return res, nil
	}
	now := timeArg(p.Now)
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		rows, err := s.q.CueListDue(ctx, tx, &dbsqlc.CueListDueParams{Horizon: timeArg(p.Horizon), MaxRows: int64(p.Limit)})
		if err != nil {
			return interpretError(op, err)
		}
		db := newStmtCache(tx)
		for _, row := range rows {
			c, err := cueFromRow(row)
			if err != nil {
				return opError(op, err)
			}
			plan := p.Plan(c)
			var fired int64
			for _, at := range plan.Occurrences {
				n, err := s.q.ExecutionInsertFired(ctx, db, &dbsqlc.ExecutionInsertFiredParams{
					ID:           string(core.NewExecutionID()),
					CueID:        row.ID,
					UserID:       row.UserID,
					Transport:    row.Transport,
					ScheduledFor: timeArg(at),
					Now:          now,
				})
				if err != nil {
					return interpretError(op+": insert execution", err)
				}
				fired += n
			}
			err = s.q.CueSaveFired(ctx, db, &dbsqlc.CueSaveFiredParams{
				ID:        row.ID,
				NextRun:   timePtrArg(plan.NextRun),
				Status:    string(plan.Status),
				LastError: plan.LastError,
				Skipped:   int64(plan.Skipped),
				Fired:     fired,
				Now:       now,
			})
			if err != nil {
				return interpretError(op+": save cue", err)
			}
			res.Inserted += int(fired)
		}
		res.Cues = len(rows)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// CueNextDueAt returns the earliest next_run of all active cues (UTC).
// ErrNotFound when no active cue has one.
func (s *Store) CueNextDueAt(ctx context.Context) (time.Time, error) {
	const op = "cue next due at"
	next, err := s.q.CueNextDueAt(ctx, s.rdb)
	if err != nil {
		return time.Time{}, interpretError(op, err)
	}
	if next == nil {
		return time.Time{}, opError(op, core.ErrNotFound)
	}
	t, err := timeValue(*next)
	return t, opError(op, err)
}

// SchedulerHeartbeatPut records p as its instance's latest cycle, replacing
// the previous one.
func (s *Store) SchedulerHeartbeatPut(ctx context.Context, p *core.SchedulerHeartbeat) error {
	return interpretError("scheduler heartbeat put", s.q.SchedulerHeartbeatPut(ctx, s.wdb, &dbsqlc.SchedulerHeartbeatPutParams{
		InstanceID:      p.InstanceID,
		LastRun:         timeArg(p.LastRun),
		CuesLastCycle:   int64(p.CuesLastCycle),
		CycleDurationMs: int64(p.CycleDurationMs),
	}))
}

// SchedulerHeartbeatLatest returns the most recent cycle of any instance.
// ErrNotFound when none was recorded.
func (s *Store) SchedulerHeartbeatLatest(ctx context.Context) (*core.SchedulerHeartbeat, error) {
	const op = "scheduler heartbeat latest"
	row, err := s.q.SchedulerHeartbeatLatest(ctx, s.rdb)
	if err != nil {
		return nil, interpretError(op, err)
	}
	last, err := timeValue(row.LastRun)
	if err != nil {
		return nil, opError(op, err)
	}
	return &core.SchedulerHeartbeat{
		InstanceID:      row.InstanceID,
		LastRun:         last,
		CuesLastCycle:   int(row.CuesLastCycle),
		CycleDurationMs: int(row.CycleDurationMs),
	}, nil
}
