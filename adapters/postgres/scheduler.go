package postgres

import (
	"context"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// SchedulerHeartbeatPut records p as its instance's latest cycle, replacing
// the previous one.
func (s *Store) SchedulerHeartbeatPut(ctx context.Context, p *core.SchedulerHeartbeat) error {
	return dbErr.Interpret("scheduler heartbeat put", s.q.SchedulerHeartbeatPut(ctx, s.rd, &dbsqlc.SchedulerHeartbeatPutParams{
		InstanceID:      p.InstanceID,
		LastRun:         p.LastRun,
		CuesLastCycle:   sqlkit.Clamp[int32](p.CuesLastCycle),
		CycleDurationMs: sqlkit.Clamp[int32](p.CycleDurationMs),
	}))
}

// SchedulerHeartbeatLatest returns the most recent cycle of any instance.
// ErrNotFound when none was recorded.
func (s *Store) SchedulerHeartbeatLatest(ctx context.Context) (*core.SchedulerHeartbeat, error) {
	row, err := s.q.SchedulerHeartbeatLatest(ctx, s.rd)
	if err != nil {
		return nil, dbErr.Interpret("scheduler heartbeat latest", err)
	}
	return &core.SchedulerHeartbeat{
		InstanceID:      row.InstanceID,
		LastRun:         utc(row.LastRun),
		CuesLastCycle:   int(row.CuesLastCycle),
		CycleDurationMs: int(row.CycleDurationMs),
	}, nil
}
