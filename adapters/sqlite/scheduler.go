package sqlite

import (
	"context"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// SchedulerHeartbeatPut records p as its instance's latest cycle, replacing
// the previous one.
func (s *Store) SchedulerHeartbeatPut(ctx context.Context, p *core.SchedulerHeartbeat) error {
	return dbErr.Interpret("scheduler heartbeat put", s.q.SchedulerHeartbeatPut(ctx, s.wdb, &dbsqlc.SchedulerHeartbeatPutParams{
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
		return nil, dbErr.Interpret(op, err)
	}
	last, err := timeValue(row.LastRun)
	if err != nil {
		return nil, dbErr.Op(op, err)
	}
	return &core.SchedulerHeartbeat{
		InstanceID:      row.InstanceID,
		LastRun:         last,
		CuesLastCycle:   int(row.CuesLastCycle),
		CycleDurationMs: int(row.CycleDurationMs),
	}, nil
}
