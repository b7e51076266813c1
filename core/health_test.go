package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

// healthStore is a core.HealthStore answering from fields.
type healthStore struct {
	down      bool
	heartbeat *core.SchedulerHeartbeat
	workers   int
	since     time.Time // what WorkerCountActive was asked
	queue     core.QueueStats
}

func (s *healthStore) Ping(context.Context) error {
	if s.down {
		return errors.New("down")
	}
	return nil
}

func (s *healthStore) SchedulerHeartbeatLatest(context.Context) (*core.SchedulerHeartbeat, error) {
	if s.down {
		return nil, errors.New("down")
	}
	if s.heartbeat == nil {
		return nil, core.ErrNotFound
	}
	return s.heartbeat, nil
}

func (s *healthStore) ExecutionQueueStats(context.Context, *core.ExecutionQueueStatsParams) (*core.QueueStats, error) {
	q := s.queue
	return &q, nil
}

func (s *healthStore) WorkerCountActive(_ context.Context, p *core.WorkerCountActiveParams) (int, error) {
	s.since = p.Since
	return s.workers, nil
}

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

func TestHealth(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	beat := func(age time.Duration) *core.SchedulerHeartbeat {
		return &core.SchedulerHeartbeat{InstanceID: "i", LastRun: now.Add(-age), CuesLastCycle: 3, CycleDurationMs: 7}
	}

	t.Run("all up, counts workers of the last 180 s", func(t *testing.T) {
		t.Parallel()
		st := &healthStore{heartbeat: beat(30 * time.Second), workers: 2, queue: core.QueueStats{PendingWebhooks: 4}}
		h := core.NewHealth(core.HealthConfig{}, st, pinger{}, coretest.NewStubClock(now))
		r := h.Report(t.Context())
		require.False(t, r.Degraded())
		require.True(t, r.StoreOK)
		require.True(t, r.RedisConfigured)
		require.True(t, r.RedisOK)
		require.Equal(t, beat(30*time.Second), r.Poller)
		require.False(t, r.PollerStale, "30 s is not older than the 30 s threshold")
		require.Equal(t, 2, *r.ActiveWorkers)
		require.Equal(t, now.Add(-180*time.Second), st.since)
		require.Equal(t, now.Add(-core.WorkerActiveWindow), st.since)
		require.Equal(t, 4, r.Queue.PendingWebhooks)
		require.Equal(t, core.Ready, h.Ready(t.Context()))
	})
	t.Run("no heartbeat yet, no Redis configured", func(t *testing.T) {
		t.Parallel()
		h := core.NewHealth(core.HealthConfig{}, &healthStore{}, nil, coretest.NewStubClock(now))
		r := h.Report(t.Context())
		require.False(t, r.Degraded())
		require.False(t, r.RedisConfigured)
		require.True(t, r.RedisOK)
		require.Nil(t, r.Poller)
		require.Equal(t, 0, *r.ActiveWorkers)
		require.Equal(t, core.Ready, h.Ready(t.Context()))
	})
	t.Run("stale poller degrades but stays ready", func(t *testing.T) {
		t.Parallel()
		h := core.NewHealth(core.HealthConfig{}, &healthStore{heartbeat: beat(31 * time.Second)}, nil, coretest.NewStubClock(now))
		r := h.Report(t.Context())
		require.True(t, r.PollerStale)
		require.True(t, r.Degraded())
		require.Equal(t, core.ReadyPollerStale, h.Ready(t.Context()))
		h = core.NewHealth(core.HealthConfig{PollerStaleAfter: time.Minute}, &healthStore{heartbeat: beat(31 * time.Second)}, nil, coretest.NewStubClock(now))
		require.Equal(t, core.Ready, h.Ready(t.Context()))
	})
	t.Run("store down: workers and queue unknown", func(t *testing.T) {
		t.Parallel()
		h := core.NewHealth(core.HealthConfig{}, &healthStore{down: true}, pinger{}, coretest.NewStubClock(now))
		r := h.Report(t.Context())
		require.True(t, r.Degraded())
		require.False(t, r.StoreOK)
		require.Nil(t, r.ActiveWorkers)
		require.Nil(t, r.Queue)
		require.Nil(t, r.Poller)
		require.Equal(t, core.NotReadyStore, h.Ready(t.Context()))
	})
	t.Run("redis down", func(t *testing.T) {
		t.Parallel()
		h := core.NewHealth(core.HealthConfig{}, &healthStore{}, pinger{err: errors.New("refused")}, coretest.NewStubClock(now))
		r := h.Report(t.Context())
		require.True(t, r.Degraded())
		require.False(t, r.RedisOK)
		require.NotNil(t, r.ActiveWorkers)
		require.Equal(t, core.ReadyRedisFallback, h.Ready(t.Context()), "Redis down leaves the replica ready")
		c := r.Components()
		require.Equal(t, core.HealthComponent{Kind: core.StorePostgres, State: core.ComponentOK}, c.Store)
		require.Equal(t, core.SharedRedis, c.RateLimiter.Kind)
		require.Equal(t, core.ComponentDegraded, c.RateLimiter.State)
		require.Contains(t, c.RateLimiter.Detail, "fallback active")
		require.Equal(t, core.SharedRedis, c.AuthCache.Kind)
		require.Equal(t, core.ComponentDegraded, c.AuthCache.State)
	})
	t.Run("components name the real adapters", func(t *testing.T) {
		t.Parallel()
		h := core.NewHealth(core.HealthConfig{StoreKind: core.StoreSQLite}, &healthStore{}, nil, coretest.NewStubClock(now))
		c := h.Report(t.Context()).Components()
		require.Equal(t, core.HealthComponents{
			Store:       core.HealthComponent{Kind: core.StoreSQLite, State: core.ComponentOK},
			RateLimiter: core.HealthComponent{Kind: core.SharedMemory, State: core.ComponentOK},
			AuthCache:   core.HealthComponent{Kind: core.SharedMemory, State: core.ComponentOK},
		}, c)
		require.Equal(t, core.StoreSQLite, h.StoreKind())

		h = core.NewHealth(core.HealthConfig{StoreKind: core.StoreSQLite}, &healthStore{down: true}, pinger{}, coretest.NewStubClock(now))
		c = h.Report(t.Context()).Components()
		require.Equal(t, core.HealthComponent{Kind: core.StoreSQLite, State: core.ComponentError, Detail: "sqlite unreachable"}, c.Store)
		require.Equal(t, core.HealthComponent{Kind: core.SharedRedis, State: core.ComponentOK}, c.RateLimiter)
		require.Equal(t, core.NotReadyStore, h.Ready(t.Context()))
	})
}
