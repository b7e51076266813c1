package coretest

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// engineNow is the "now" of the engine cases: after FactoryTime, so
// factory cues (next run FactoryTime+5m) are due.
var engineNow = FactoryTime.Add(time.Hour)

func (s *storeSuite) testCueFireDue(t *testing.T) {
	t.Parallel()

	t.Run("AdvancesCuesAsPlanned", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c1 := createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Minute)), nil)
		old := NewCue(u.ID, nil)
		old.NextRun, old.LastError, old.SkippedCount, old.FiredCount = new(now.Add(-2*time.Minute)), new("stale error"), 4, 7
		c2 := storeCue(t, b.store, old)

		res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now, Limit: 10, Plan: func(c *core.Cue) core.FirePlan {
			switch c.ID {
			case c1.ID:
				return core.FirePlan{Occurrences: []time.Time{*c.NextRun}, NextRun: new(c.NextRun.Add(5 * time.Minute)), Status: core.CueActive, Skipped: 3, LastError: new("cron drift")}
			case c2.ID:
				return core.FirePlan{Occurrences: []time.Time{*c.NextRun}, NextRun: new(c.NextRun.Add(time.Hour)), Status: core.CueActive}
			}
			t.Errorf("unexpected cue %s planned", c.ID)
			return core.FirePlan{Status: c.Status, NextRun: c.NextRun}
		}})
		require.NoError(t, err)
		require.Equal(t, &core.CueFireDueResult{Cues: 2, Inserted: 2}, res)

		want1 := *c1
		want1.NextRun, want1.FiredCount, want1.SkippedCount, want1.LastError, want1.UpdatedAt = new(c1.NextRun.Add(5*time.Minute)), 1, 3, new("cron drift"), now
		requireCueEqual(t, s.opts.TimePrecision, &want1, getCue(t, b.store, c1))
		want2 := *c2
		want2.NextRun, want2.FiredCount, want2.SkippedCount, want2.LastError, want2.UpdatedAt = new(c2.NextRun.Add(time.Hour)), 8, 4, nil, now
		requireCueEqual(t, s.opts.TimePrecision, &want2, getCue(t, b.store, c2))

		for _, c := range []*core.Cue{c1, c2} {
			execs := listExecutions(t, b.store, c)
			require.Len(t, execs, 1)
			want := NewExecution(c, *c.NextRun)
			want.ID, want.CreatedAt, want.UpdatedAt = execs[0].ID, now, now
			RequireExecutionEqual(t, s.opts.TimePrecision, want, execs[0])
			require.True(t, core.IsUUID(string(execs[0].ID)), "execution id %q", execs[0].ID)
		}
	})

	t.Run("ConcurrentCallsFireEachCueOnce", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		now := engineNow
		const tenants, perTenant, callers = 4, 50, 8
		var users []*core.User
		for i := range tenants {
			u := CreateUser(t, b.store, nil)
			users = append(users, u)
			for j := range perTenant {
				createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Duration(i*perTenant+j)*time.Second)), nil)
			}
		}
		plan := func(c *core.Cue) core.FirePlan {
			return core.FirePlan{Occurrences: []time.Time{*c.NextRun}, NextRun: new(c.NextRun.Add(time.Hour)), Status: core.CueActive}
		}

		var (
			mu             sync.Mutex
			cues, inserted int
			wg             sync.WaitGroup
			errs           = make([]error, callers)
		)
		for i := range callers {
			wg.Go(func() {
				for {
					res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now, Limit: 20, Plan: plan})
					if err != nil {
						errs[i] = err
						return
					}
					mu.Lock()
					cues += res.Cues
					inserted += res.Inserted
					mu.Unlock()
					if res.Cues == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, tenants*perTenant, cues, "every due cue is processed exactly once")
		require.Equal(t, tenants*perTenant, inserted)
		for _, u := range users {
			_, total, err := b.store.ExecutionList(b.ctx, &core.ExecutionListParams{TenantID: u.ID, Limit: 1})
			require.NoError(t, err)
			require.Equal(t, perTenant, total)
			list, _, err := b.store.CueList(b.ctx, &core.CueListParams{TenantID: u.ID})
			require.NoError(t, err)
			require.Len(t, list, perTenant)
			for _, c := range list {
				require.Equal(t, 1, c.FiredCount, "cue %s", c.ID)
			}
		}
	})

	t.Run("CreatesExecutionPerOccurrence", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c := createCueWithNextRun(t, b.store, u.ID, new(now.Add(-2*time.Minute)), &CueOpts{Transport: core.TransportWorker})
		occurrences := []time.Time{now.Add(-2 * time.Minute), now.Add(-time.Minute), now}

		res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now, Limit: 10, Plan: func(c *core.Cue) core.FirePlan {
			return core.FirePlan{Occurrences: occurrences, NextRun: new(now.Add(time.Minute)), Status: core.CueActive}
		}})
		require.NoError(t, err)
		require.Equal(t, &core.CueFireDueResult{Cues: 1, Inserted: 3}, res)
		require.Equal(t, 3, getCue(t, b.store, c).FiredCount)
		execs := listExecutions(t, b.store, c)
		require.Len(t, execs, 3)
		var got []time.Time
		for _, e := range execs {
			require.Equal(t, core.ExecPending, e.Status)
			got = append(got, e.ScheduledFor)
		}
		slices.SortFunc(got, time.Time.Compare)
		for i := range occurrences {
			requireTimeEqual(t, s.opts.TimePrecision, occurrences[i], got[i], "ScheduledFor")
		}
	})

	t.Run("IgnoresCuesNotDue", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		due := createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Minute)), nil)
		others := []*core.Cue{
			createCueWithNextRun(t, b.store, u.ID, new(now.Add(time.Second)), nil),
			createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Minute)), &CueOpts{Status: core.CuePaused}),
			createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Minute)), &CueOpts{Status: core.CueCompleted}),
			createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Minute)), &CueOpts{Status: core.CueFailed}),
			createCueWithNextRun(t, b.store, u.ID, nil, nil),
		}

		var planned []core.CueID
		res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now, Limit: 10, Plan: func(c *core.Cue) core.FirePlan {
			planned = append(planned, c.ID)
			return core.FirePlan{Occurrences: []time.Time{*c.NextRun}, NextRun: new(now.Add(time.Hour)), Status: core.CueActive}
		}})
		require.NoError(t, err)
		require.Equal(t, &core.CueFireDueResult{Cues: 1, Inserted: 1}, res)
		require.Equal(t, []core.CueID{due.ID}, planned)
		for _, c := range others {
			requireCueEqual(t, s.opts.TimePrecision, c, getCue(t, b.store, c))
			require.Empty(t, listExecutions(t, b.store, c))
		}
	})

	t.Run("IsIdempotentPerOccurrence", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		at := now.Add(-time.Minute)
		c := createCueWithNextRun(t, b.store, u.ID, &at, nil)
		existing, err := b.store.ExecutionCreate(b.ctx, &core.ExecutionCreateParams{Execution: NewExecution(c, at)})
		require.NoError(t, err)
		plan := func(c *core.Cue) core.FirePlan {
			return core.FirePlan{Occurrences: []time.Time{at}, NextRun: new(now.Add(time.Hour)), Status: core.CueActive, Skipped: 1}
		}

		res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now, Limit: 10, Plan: plan})
		require.NoError(t, err)
		require.Equal(t, &core.CueFireDueResult{Cues: 1, Inserted: 0}, res)
		got := getCue(t, b.store, c)
		require.Zero(t, got.FiredCount, "an occurrence that already has an execution is not counted")
		require.Equal(t, 1, got.SkippedCount)
		requireTimePtrEqual(t, s.opts.TimePrecision, new(now.Add(time.Hour)), got.NextRun, "NextRun")

		// Firing the same occurrence again (next_run moved back) changes
		// nothing but the cue's plan fields.
		_, err = b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: c.ID, Fn: func(c *core.Cue) error {
			c.NextRun = &at
			return nil
		}})
		require.NoError(t, err)
		res, err = b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now, Limit: 10, Plan: plan})
		require.NoError(t, err)
		require.Equal(t, &core.CueFireDueResult{Cues: 1, Inserted: 0}, res)
		require.Zero(t, getCue(t, b.store, c).FiredCount)
		execs := listExecutions(t, b.store, c)
		require.Len(t, execs, 1)
		require.Equal(t, existing.ID, execs[0].ID)
	})

	t.Run("RespectsHorizon", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		late := createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Minute)), nil)
		ahead := createCueWithNextRun(t, b.store, u.ID, new(now.Add(30*time.Second)), nil)
		atHorizon := createCueWithNextRun(t, b.store, u.ID, new(now.Add(time.Minute)), nil)
		beyond := createCueWithNextRun(t, b.store, u.ID, new(now.Add(time.Minute+time.Microsecond)), nil)

		var planned []core.CueID
		res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now.Add(time.Minute), Limit: 10, Plan: func(c *core.Cue) core.FirePlan {
			planned = append(planned, c.ID)
			return core.FirePlan{Occurrences: []time.Time{*c.NextRun}, NextRun: new(now.Add(time.Hour)), Status: core.CueActive}
		}})
		require.NoError(t, err)
		require.Equal(t, &core.CueFireDueResult{Cues: 3, Inserted: 3}, res)
		require.ElementsMatch(t, []core.CueID{late.ID, ahead.ID, atHorizon.ID}, planned)
		execs := listExecutions(t, b.store, ahead)
		require.Len(t, execs, 1)
		requireTimeEqual(t, s.opts.TimePrecision, *ahead.NextRun, execs[0].ScheduledFor, "ScheduledFor")
		requireCueEqual(t, s.opts.TimePrecision, beyond, getCue(t, b.store, beyond))
	})

	t.Run("RespectsLimitOldestFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		var byAge []core.CueID // oldest next_run first
		for i := 5; i >= 1; i-- {
			byAge = append(byAge, createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Duration(i)*time.Minute)), nil).ID)
		}
		fire := func(limit int) []core.CueID {
			var planned []core.CueID
			res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now, Limit: limit, Plan: func(c *core.Cue) core.FirePlan {
				planned = append(planned, c.ID)
				return core.FirePlan{Occurrences: []time.Time{*c.NextRun}, NextRun: new(now.Add(time.Hour)), Status: core.CueActive}
			}})
			require.NoError(t, err)
			require.Equal(t, len(planned), res.Cues)
			require.Equal(t, len(planned), res.Inserted)
			return planned
		}

		require.ElementsMatch(t, byAge[:3], fire(3))
		require.ElementsMatch(t, byAge[3:], fire(3))
		require.Empty(t, fire(3))
	})

	t.Run("ReturnsZeroWhenNothingIsDue", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		createCueWithNextRun(t, b.store, u.ID, new(engineNow.Add(time.Hour)), nil)
		res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: engineNow, Horizon: engineNow, Limit: 10, Plan: func(c *core.Cue) core.FirePlan {
			t.Errorf("cue %s is not due", c.ID)
			return core.FirePlan{}
		}})
		require.NoError(t, err)
		require.Equal(t, &core.CueFireDueResult{}, res)
	})

	t.Run("SavesPlanWithoutOccurrences", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c := createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Minute)), nil)
		msg := "schedule no longer evaluates; cue paused"

		res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now, Limit: 10, Plan: func(c *core.Cue) core.FirePlan {
			return core.FirePlan{Status: core.CuePaused, LastError: &msg, Skipped: 2}
		}})
		require.NoError(t, err)
		require.Equal(t, &core.CueFireDueResult{Cues: 1}, res)
		want := *c
		want.Status, want.NextRun, want.LastError, want.SkippedCount, want.UpdatedAt = core.CuePaused, nil, &msg, 2, now
		requireCueEqual(t, s.opts.TimePrecision, &want, getCue(t, b.store, c))
		require.Empty(t, listExecutions(t, b.store, c))
	})
}

func (s *storeSuite) testCueNextDueAt(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsEarliestNextRunOfActiveCues", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		createCueWithNextRun(t, b.store, u.ID, new(oddTime(10*time.Minute)), nil)
		createCueWithNextRun(t, b.store, other.ID, new(oddTime(0)), nil)
		createCueWithNextRun(t, b.store, u.ID, new(oddTime(-time.Hour)), &CueOpts{Status: core.CuePaused})
		createCueWithNextRun(t, b.store, u.ID, new(oddTime(-time.Hour)), &CueOpts{Status: core.CueCompleted})
		createCueWithNextRun(t, b.store, u.ID, nil, nil)

		next, err := b.store.CueNextDueAt(b.ctx)
		require.NoError(t, err)
		requireTimeEqual(t, s.opts.TimePrecision, oddTime(0), next, "next due")
	})

	t.Run("ReturnsNotFoundWithoutActiveNextRun", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		_, err := b.store.CueNextDueAt(b.ctx)
		require.ErrorIs(t, err, core.ErrNotFound)

		u := CreateUser(t, b.store, nil)
		createCueWithNextRun(t, b.store, u.ID, new(engineNow), &CueOpts{Status: core.CuePaused})
		createCueWithNextRun(t, b.store, u.ID, nil, nil)
		_, err = b.store.CueNextDueAt(b.ctx)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

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

// storeCue stores c as is (no effective cue limit) and returns what the
// store returned.
func storeCue(t testing.TB, s core.Store, c *core.Cue) *core.Cue {
	t.Helper()
	got, err := s.CueCreate(t.Context(), &core.CueCreateParams{Cue: c, ActiveCueLimit: math.MaxInt32})
	require.NoError(t, err)
	return got
}

// createCueWithNextRun stores NewCue(tenant, opts) with next_run set to
// next (nil: none).
func createCueWithNextRun(t testing.TB, s core.Store, tenant core.TenantID, next *time.Time, opts *CueOpts) *core.Cue {
	t.Helper()
	c := NewCue(tenant, opts)
	c.NextRun = next
	return storeCue(t, s, c)
}

// getCue reads c back.
func getCue(t testing.TB, s core.Store, c *core.Cue) *core.Cue {
	t.Helper()
	got, err := s.CueGet(t.Context(), &core.CueGetParams{TenantID: c.TenantID, ID: c.ID})
	require.NoError(t, err)
	return got
}

// listExecutions returns all of c's executions, newest first.
func listExecutions(t testing.TB, s core.Store, c *core.Cue) []*core.Execution {
	t.Helper()
	execs, _, err := s.ExecutionList(t.Context(), &core.ExecutionListParams{TenantID: c.TenantID, CueID: &c.ID})
	require.NoError(t, err)
	return execs
}
