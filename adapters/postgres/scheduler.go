package postgres

import (
	"context"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// CueFireDue fires one batch in one transaction of three statements,
// whatever its size: it locks up to p.Limit active cues due by p.Horizon
// (oldest next_run first, FOR NO KEY UPDATE SKIP LOCKED, so concurrent
// schedulers take disjoint batches), calls p.Plan on each, inserts every
// planned execution in one INSERT … SELECT FROM unnest(…) ON CONFLICT
// (cue_id, scheduled_for) DO NOTHING, and saves every cue in one
// UPDATE … FROM unnest(…), counting into fired_count only the executions
// actually inserted.
func (s *Store) CueFireDue(ctx context.Context, p *core.CueFireDueParams) (*core.CueFireDueResult, error) {
	const op = "cue fire due"
	res := &core.CueFireDueResult{}
	if p.Limit <= 0 {
		return res, nil
	}
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// Firing is idempotent ((cue, scheduled_for) is unique): a batch lost
		// in a crash is fired again, so its commit need not wait for the WAL
		// flush. Anything delivered from it was claimed and recorded later,
		// and a synchronous commit flushes every earlier one.
		if err := s.q.TxAsyncCommit(ctx, tx); err != nil {
			return interpretError(op, err)
		}
		rows, err := s.q.CueListDue(ctx, tx, &dbsqlc.CueListDueParams{Horizon: p.Horizon, MaxRows: int32(min(p.Limit, math.MaxInt32))})
		if err != nil {
			return interpretError(op, err)
		}
		if len(rows) == 0 {
			return nil
		}
		n := len(rows)
		ins := &dbsqlc.ExecutionInsertFiredParams{Now: p.Now}
		save := &dbsqlc.CueSaveFiredParams{
			Now:           p.Now,
			Ids:           make([]string, n),
			NextRuns:      make([]time.Time, n),
			HasNextRuns:   make([]bool, n),
			Statuses:      make([]string, n),
			LastErrors:    make([]string, n),
			HasLastErrors: make([]bool, n),
			Skipped:       make([]int32, n),
			Fired:         make([]int32, n),
		}
		for i, row := range rows {
			c, err := cueFromRow(row)
			if err != nil {
				return opError(op, err)
			}
			plan := p.Plan(c)
			for _, at := range plan.Occurrences {
				ins.Ids = append(ins.Ids, string(core.NewExecutionID()))
				ins.CueIds = append(ins.CueIds, row.ID)
				ins.UserIds = append(ins.UserIds, row.UserID)
				ins.Transports = append(ins.Transports, row.Transport)
				ins.ScheduledFors = append(ins.ScheduledFors, at)
			}
			save.Ids[i] = row.ID
			if plan.NextRun != nil {
				save.NextRuns[i], save.HasNextRuns[i] = *plan.NextRun, true
			}
			save.Statuses[i] = string(plan.Status)
			if plan.LastError != nil {
				save.LastErrors[i], save.HasLastErrors[i] = *plan.LastError, true
			}
			save.Skipped[i] = int32(plan.Skipped)
		}
		if len(ins.Ids) > 0 {
			inserted, err := s.q.ExecutionInsertFired(ctx, tx, ins)
			if err != nil {
				return interpretError(op+": insert executions", err)
			}
			perCue := make(map[string]int32, n)
			for _, cueID := range inserted {
				perCue[cueID]++
			}
			for i, id := range save.Ids {
				save.Fired[i] = perCue[id]
			}
			res.Inserted = len(inserted)
		}
		if err := s.q.CueSaveFired(ctx, tx, save); err != nil {
			return interpretError(op+": save cues", err)
		}
		res.Cues = n
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
	next, err := s.q.CueNextDueAt(ctx, s.pool)
	if err != nil {
		return time.Time{}, interpretError(op, err)
	}
	if next == nil {
		return time.Time{}, opError(op, core.ErrNotFound)
	}
	return utc(*next), nil
}

// SchedulerHeartbeatPut records p as its instance's latest cycle, replacing
// the previous one.
func (s *Store) SchedulerHeartbeatPut(ctx context.Context, p *core.SchedulerHeartbeat) error {
	return interpretError("scheduler heartbeat put", s.q.SchedulerHeartbeatPut(ctx, s.pool, &dbsqlc.SchedulerHeartbeatPutParams{
		InstanceID:      p.InstanceID,
		LastRun:         p.LastRun,
		CuesLastCycle:   clampInt32(p.CuesLastCycle),
		CycleDurationMs: clampInt32(p.CycleDurationMs),
	}))
}

// SchedulerHeartbeatLatest returns the most recent cycle of any instance.
// ErrNotFound when none was recorded.
func (s *Store) SchedulerHeartbeatLatest(ctx context.Context) (*core.SchedulerHeartbeat, error) {
	row, err := s.q.SchedulerHeartbeatLatest(ctx, s.pool)
	if err != nil {
		return nil, interpretError("scheduler heartbeat latest", err)
	}
	return &core.SchedulerHeartbeat{
		InstanceID:      row.InstanceID,
		LastRun:         utc(row.LastRun),
		CuesLastCycle:   int(row.CuesLastCycle),
		CycleDurationMs: int(row.CycleDurationMs),
	}, nil
}

// clampInt32 fits a count into an integer column.
func clampInt32(n int) int32 {
	return int32(min(max(n, math.MinInt32), math.MaxInt32))
}
