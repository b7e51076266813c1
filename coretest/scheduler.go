package coretest

import (
	"testing"
	"time"

	"github.com/cueapi/cueapi/core"
	"github.com/stretchr/testify/require"
)

func (s *storeSuite) testSchedulerHeartbeatLatest(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsMostRecentCycleOfAnyInstance", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		for _, hb := range []*core.SchedulerHeartbeat{
			{InstanceID: "a", LastRun: oddTime(0), CuesLastCycle: 1, CycleDurationMs: 10},
			{InstanceID: "b", LastRun: oddTime(time.Second), CuesLastCycle: 500, CycleDurationMs: 42},
			{InstanceID: "c", LastRun: oddTime(-time.Second), CuesLastCycle: 3, CycleDurationMs: 30},
		} {
			require.NoError(t, b.store.SchedulerHeartbeatPut(b.ctx, hb))
		}

		got, err := b.store.SchedulerHeartbeatLatest(b.ctx)
		require.NoError(t, err)
		requireHeartbeatEqual(t, s.opts.TimePrecision, &core.SchedulerHeartbeat{InstanceID: "b", LastRun: oddTime(time.Second), CuesLastCycle: 500, CycleDurationMs: 42}, got)
	})

	t.Run("ReturnsNotFoundWhenNoneRecorded", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		_, err := b.store.SchedulerHeartbeatLatest(b.ctx)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func (s *storeSuite) testSchedulerHeartbeatPut(t *testing.T) {
	t.Parallel()

	t.Run("ReplacesInstancesPreviousCycle", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		require.NoError(t, b.store.SchedulerHeartbeatPut(b.ctx, &core.SchedulerHeartbeat{InstanceID: "a", LastRun: oddTime(0), CuesLastCycle: 5, CycleDurationMs: 10}))
		require.NoError(t, b.store.SchedulerHeartbeatPut(b.ctx, &core.SchedulerHeartbeat{InstanceID: "b", LastRun: oddTime(time.Second), CuesLastCycle: 1, CycleDurationMs: 1}))
		want := &core.SchedulerHeartbeat{InstanceID: "a", LastRun: oddTime(2 * time.Second), CuesLastCycle: 7, CycleDurationMs: 20}
		require.NoError(t, b.store.SchedulerHeartbeatPut(b.ctx, want))

		got, err := b.store.SchedulerHeartbeatLatest(b.ctx)
		require.NoError(t, err)
		requireHeartbeatEqual(t, s.opts.TimePrecision, want, got)
	})
}

func requireHeartbeatEqual(t *testing.T, prec time.Duration, want, got *core.SchedulerHeartbeat) {
	t.Helper()
	require.NotNil(t, got)
	requireTimeEqual(t, prec, want.LastRun, got.LastRun, "LastRun")
	w, g := *want, *got
	w.LastRun, g.LastRun = time.Time{}, time.Time{}
	require.Equal(t, w, g)
}
