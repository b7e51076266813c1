package coretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cueapi/cueapi/core"
	"github.com/stretchr/testify/require"
)

func (s *storeSuite) testExecutionClaimDeliveries(t *testing.T) {
	t.Parallel()

	t.Run("FairAcrossDestinations", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		now := engineNow
		// slow's backlog is the oldest: an oldest-first claim would take
		// only slow's executions.
		byDest := map[string][]core.ExecutionID{}
		add := func(dest string, n int, from time.Duration) {
			for i := range n {
				e := NewExecution(c, now.Add(-from+time.Duration(i)*time.Millisecond))
				e.Destination = dest
				byDest[dest] = append(byDest[dest], createExecution(t, b.store, e).ID)
			}
		}
		add("slow.example", 8, time.Hour)
		add("fast.example:8443", 3, time.Minute)
		add("other.example", 2, time.Second)
		count := func(ds []*core.Delivery) map[string]int {
			n := map[string]int{}
			for _, d := range ds {
				require.Contains(t, byDest[d.Execution.Destination], d.Execution.ID, "destination %q", d.Execution.Destination)
				n[d.Execution.Destination]++
			}
			return n
		}
		claim := func(p core.ExecutionClaimDeliveriesParams) []*core.Delivery {
			p.Now, p.Lease = now, time.Minute
			ds, err := b.store.ExecutionClaimDeliveries(b.ctx, &p)
			require.NoError(t, err)
			return ds
		}

		// Round-robin: every destination's first before any second, at most
		// PerDestination each, oldest first within a destination.
		ds := claim(core.ExecutionClaimDeliveriesParams{Limit: 5, PerDestination: 2})
		require.Equal(t, map[string]int{"slow.example": 2, "fast.example:8443": 2, "other.example": 1}, count(ds))
		for _, d := range ds {
			if d.Execution.Destination == "slow.example" {
				require.Contains(t, byDest["slow.example"][:2], d.Execution.ID, "oldest first within a destination")
			}
		}

		// Room 0 skips a destination; a room overrides the bound.
		ds = claim(core.ExecutionClaimDeliveriesParams{Limit: 10, PerDestination: 3, Room: map[string]int{"slow.example": 0, "other.example": 5}})
		require.Equal(t, map[string]int{"fast.example:8443": 1, "other.example": 1}, count(ds), "room 0 skipped slow")
		ds = claim(core.ExecutionClaimDeliveriesParams{Limit: 10, PerDestination: 1, Room: map[string]int{"slow.example": 3}})
		require.Equal(t, map[string]int{"slow.example": 3}, count(ds), "a room above PerDestination (a destination alone)")

		// Without a per-destination bound: oldest first, as many as Limit.
		ds = claim(core.ExecutionClaimDeliveriesParams{Limit: 1})
		require.Equal(t, map[string]int{"slow.example": 1}, count(ds))
		ds = claim(core.ExecutionClaimDeliveriesParams{Limit: 10, Room: map[string]int{"slow.example": 1}})
		require.Equal(t, map[string]int{"slow.example": 1}, count(ds))
		require.Empty(t, claim(core.ExecutionClaimDeliveriesParams{Limit: 10, PerDestination: 1, Room: map[string]int{"slow.example": 0}}), "everything else is leased")
		require.Len(t, claim(core.ExecutionClaimDeliveriesParams{Limit: 10, PerDestination: 1}), 1, "slow's last one")
	})

	t.Run("ClaimsOnlyDueWebhookExecutions", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		hook := CreateCue(t, b.store, u.ID, nil)
		worker := CreateCue(t, b.store, u.ID, &CueOpts{Transport: core.TransportWorker})
		now := engineNow
		late := createExecution(t, b.store, NewExecution(hook, now.Add(-time.Minute)))
		onTime := createExecution(t, b.store, NewExecution(hook, now))
		createExecution(t, b.store, NewExecution(hook, now.Add(time.Microsecond)))
		createExecution(t, b.store, NewExecution(worker, now.Add(-time.Minute)))
		for i, st := range []core.ExecutionStatus{core.ExecSuccess, core.ExecFailed, core.ExecMissed} {
			e := NewExecution(hook, now.Add(-time.Hour+time.Duration(i)*time.Second))
			e.Status = st
			createExecution(t, b.store, e)
		}

		ds := claimDeliveries(t, b.store, now, time.Minute, 10)
		require.Len(t, ds, 2)
		for i, e := range []*core.Execution{late, onTime} {
			want := claimedAs(e, now, now, time.Minute)
			RequireExecutionEqual(t, s.opts.TimePrecision, want, ds[i].Execution)
			got, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: e.ID})
			require.NoError(t, err)
			RequireExecutionEqual(t, s.opts.TimePrecision, want, got)
			requireCueEqual(t, s.opts.TimePrecision, hook, ds[i].Cue)
			require.Equal(t, u.WebhookSecretSealed, ds[i].WebhookSecretSealed)
		}
		require.Empty(t, claimDeliveries(t, b.store, now, time.Minute, 10), "claimed executions are leased")
	})

	t.Run("ClaimsAheadUntilDueBy", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		hook := CreateCue(t, b.store, u.ID, nil)
		now := engineNow
		// A delivery whose lease runs out within the window: never taken early.
		leased := createExecution(t, b.store, NewExecution(hook, now.Add(-time.Hour)))
		require.Len(t, claimDeliveries(t, b.store, leased.ScheduledFor, time.Hour+50*time.Millisecond, 10), 1)
		due := createExecution(t, b.store, NewExecution(hook, now.Add(-time.Second)))
		soon := createExecution(t, b.store, NewExecution(hook, now.Add(50*time.Millisecond)))
		createExecution(t, b.store, NewExecution(hook, now.Add(time.Second)))
		claimAhead := func(at time.Time) []*core.Delivery {
			ds, err := b.store.ExecutionClaimDeliveries(b.ctx, &core.ExecutionClaimDeliveriesParams{Now: at, Lease: time.Minute, Limit: 10, DueBy: at.Add(100 * time.Millisecond)})
			require.NoError(t, err)
			return ds
		}

		ds := claimAhead(now)
		require.Equal(t, []core.ExecutionID{due.ID, soon.ID}, deliveryIDs(ds), "due by DueBy; not the one after it, not a running lease")
		for i, e := range []*core.Execution{due, soon} {
			at := now // the attempt's time: when it is sent
			if e.ScheduledFor.After(now) {
				at = e.ScheduledFor
			}
			RequireExecutionEqual(t, s.opts.TimePrecision, claimedAs(e, now, at, time.Minute), ds[i].Execution)
		}
		require.Empty(t, claimAhead(now))
		require.Equal(t, []core.ExecutionID{leased.ID}, deliveryIDs(claimAhead(now.Add(60*time.Millisecond))), "its lease ran out")
	})

	t.Run("ConcurrentClaimsNeverOverlap", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		now := engineNow
		const cues, perCue, claimers = 30, 10, 8
		for range cues / 10 {
			u := CreateUser(t, b.store, nil)
			for range 10 {
				createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Hour)), nil)
			}
		}
		res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now, Limit: cues, Plan: func(c *core.Cue) core.FirePlan {
			occ := make([]time.Time, perCue)
			for k := range occ {
				occ[k] = now.Add(-time.Duration(k) * time.Second)
			}
			return core.FirePlan{Occurrences: occ, Status: core.CueActive}
		}})
		require.NoError(t, err)
		require.Equal(t, cues*perCue, res.Inserted)

		var (
			mu      sync.Mutex
			claimed = map[core.ExecutionID]int{}
			wg      sync.WaitGroup
			errs    = make([]error, claimers)
		)
		for i := range claimers {
			wg.Go(func() {
				for {
					ds, err := b.store.ExecutionClaimDeliveries(b.ctx, &core.ExecutionClaimDeliveriesParams{Now: now, Lease: time.Minute, Limit: 25})
					if err != nil {
						errs[i] = err
						return
					}
					mu.Lock()
					for _, d := range ds {
						claimed[d.Execution.ID]++
					}
					mu.Unlock()
					if len(ds) == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, claimed, cues*perCue)
		for id, n := range claimed {
			require.Equal(t, 1, n, "execution %s claimed %d times", id, n)
		}
	})

	t.Run("ReclaimsExpiredLeaseKeepingStartedAt", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		now := engineNow
		e := createExecution(t, b.store, NewExecution(c, now.Add(-time.Minute)))
		require.Len(t, claimDeliveries(t, b.store, now, time.Minute, 10), 1)

		require.Empty(t, claimDeliveries(t, b.store, now.Add(time.Minute-time.Microsecond), time.Minute, 10), "the lease has not expired")
		later := now.Add(time.Minute)
		ds := claimDeliveries(t, b.store, later, time.Minute, 10)
		require.Len(t, ds, 1)
		want := *e
		want.Status, want.Attempts, want.UpdatedAt = core.ExecDelivering, 2, later
		want.StartedAt, want.LastAttemptAt, want.LeaseExpiresAt = &now, &later, new(later.Add(time.Minute))
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, ds[0].Execution)
	})

	t.Run("RespectsLimitOldestDueFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		now := engineNow
		var byAge []core.ExecutionID
		for i := 5; i >= 1; i-- {
			byAge = append(byAge, createExecution(t, b.store, NewExecution(c, now.Add(-time.Duration(i)*time.Minute))).ID)
		}

		require.Equal(t, byAge[:2], deliveryIDs(claimDeliveries(t, b.store, now, time.Minute, 2)))
		require.Equal(t, byAge[2:], deliveryIDs(claimDeliveries(t, b.store, now, time.Minute, 10)))
	})

	t.Run("ReturnsCurrentCueAndSecret", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		createExecution(t, b.store, NewExecution(c, engineNow.Add(-time.Minute)))
		c, err := b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: c.ID, Fn: func(c *core.Cue) error {
			c.Payload = json.RawMessage(`{"v":2}`)
			c.Callback.URL = new("https://example.com/v2")
			return nil
		}})
		require.NoError(t, err)
		u, err = b.store.UserUpdate(b.ctx, &core.UserUpdateParams{ID: u.ID, Fn: func(u *core.User) error {
			u.WebhookSecretSealed = "sealed:rotated"
			return nil
		}})
		require.NoError(t, err)

		ds := claimDeliveries(t, b.store, engineNow, time.Minute, 10)
		require.Len(t, ds, 1)
		requireCueEqual(t, s.opts.TimePrecision, c, ds[0].Cue)
		require.Equal(t, "sealed:rotated", ds[0].WebhookSecretSealed)
	})

	t.Run("ReturnsEmptyWhenNothingIsDue", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		createExecution(t, b.store, NewExecution(CreateCue(t, b.store, u.ID, nil), engineNow.Add(time.Second)))
		require.Empty(t, claimDeliveries(t, b.store, engineNow, time.Minute, 10))
	})
}

func (s *storeSuite) testExecutionQueueStats(t *testing.T) {
	t.Parallel()

	t.Run("CountsQueue", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		hook := CreateCue(t, b.store, u.ID, nil)
		worker := CreateCue(t, b.store, u.ID, &CueOpts{Transport: core.TransportWorker})
		now := engineNow
		// A delivering execution whose lease expired (stale).
		createExecution(t, b.store, NewExecution(hook, now.Add(-3*time.Minute)))
		require.Len(t, claimDeliveries(t, b.store, now.Add(-90*time.Second), 30*time.Second, 1), 1)
		// A retrying one.
		createExecution(t, b.store, NewExecution(hook, now.Add(-2*time.Minute)))
		retrying := claimDeliveries(t, b.store, now.Add(-80*time.Second), 30*time.Second, 1)
		require.Len(t, retrying, 1)
		recordDeliveries(t, b.store, now.Add(-70*time.Second), &core.DeliveryResult{
			ExecutionID: retrying[0].Execution.ID, CueID: hook.ID, TenantID: u.ID, Attempt: 1, Attempts: 1,
			Status: core.ExecRetrying, NextRetry: new(now.Add(time.Hour)),
		})
		// A delivering one still leased.
		createExecution(t, b.store, NewExecution(hook, now.Add(-4*time.Minute)))
		require.Len(t, claimDeliveries(t, b.store, now.Add(-10*time.Second), time.Minute, 1), 1)
		// Pending ones: two due, one not yet.
		createExecution(t, b.store, NewExecution(hook, now.Add(-time.Minute)))
		createExecution(t, b.store, NewExecution(hook, now))
		createExecution(t, b.store, NewExecution(hook, now.Add(time.Minute)))
		// A finished one.
		done := NewExecution(hook, now.Add(-5*time.Minute))
		done.Status = core.ExecSuccess
		createExecution(t, b.store, done)
		// Worker executions wait for a claim whenever they are due.
		createExecution(t, b.store, NewExecution(worker, now.Add(-time.Minute)))
		createExecution(t, b.store, NewExecution(worker, now.Add(time.Hour)))

		stats, err := b.store.ExecutionQueueStats(b.ctx, &core.ExecutionQueueStatsParams{Now: now})
		require.NoError(t, err)
		require.Equal(t, &core.QueueStats{PendingWebhooks: 2, StaleDeliveries: 1, PendingRetries: 1, PendingWorkerClaims: 2}, stats)
	})

	t.Run("ReturnsZerosForEmptyQueue", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		stats, err := b.store.ExecutionQueueStats(b.ctx, &core.ExecutionQueueStatsParams{Now: engineNow})
		require.NoError(t, err)
		require.Equal(t, &core.QueueStats{}, stats)
	})
}

func (s *storeSuite) testExecutionRecordDeliveries(t *testing.T) {
	t.Parallel()

	t.Run("AppliesCueEffectsOnlyToActiveCues", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		cue := func() *core.Cue { return createCueWithNextRun(t, b.store, u.ID, new(now.Add(time.Hour)), nil) }
		runs, done, paused, blocked, none := cue(), cue(), cue(), cue(), cue()
		execs := map[*core.Cue][]*core.Execution{}
		for i, c := range []*core.Cue{runs, runs, done, paused, blocked, none} {
			execs[c] = append(execs[c], createExecution(t, b.store, NewExecution(c, now.Add(-time.Duration(i+1)*time.Second))))
		}
		require.Len(t, claimDeliveries(t, b.store, now, time.Minute, 10), 6)
		_, err := b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: blocked.ID, Fn: func(c *core.Cue) error {
			c.Status = core.CuePaused
			return nil
		}})
		require.NoError(t, err)
		before := map[*core.Cue]*core.Cue{}
		for _, c := range []*core.Cue{runs, done, paused, blocked, none} {
			before[c] = getCue(t, b.store, c)
		}

		at := now.Add(2 * time.Second)
		result := func(c *core.Cue, i int, st core.ExecutionStatus) *core.DeliveryResult {
			return &core.DeliveryResult{ExecutionID: execs[c][i].ID, CueID: c.ID, TenantID: u.ID, Attempt: 1, Attempts: 1, Status: st}
		}
		r1 := result(runs, 0, core.ExecSuccess)
		r1.CountRun, r1.SetLastRun = true, true
		r2 := result(runs, 1, core.ExecRetrying)
		r2.CountRun, r2.NextRetry = true, new(at.Add(time.Minute))
		r3 := result(done, 0, core.ExecSuccess)
		r3.CountRun, r3.SetLastRun, r3.CueStatus = true, true, new(core.CueCompleted)
		r4 := result(paused, 0, core.ExecFailed)
		r4.CountRun, r4.SetLastRun, r4.CueStatus = true, true, new(core.CuePaused)
		r5 := result(blocked, 0, core.ExecFailed)
		r5.CountRun, r5.SetLastRun, r5.CueStatus = true, true, new(core.CueFailed)
		r6 := result(none, 0, core.ExecRetrying)
		r6.NextRetry = new(at.Add(time.Minute))
		require.Equal(t, []bool{true, true, true, true, true, true}, recordDeliveries(t, b.store, at, r1, r2, r3, r4, r5, r6))

		expect := func(c *core.Cue, edit func(c *core.Cue)) {
			t.Helper()
			want := *before[c]
			edit(&want)
			requireCueEqual(t, s.opts.TimePrecision, &want, getCue(t, b.store, c))
		}
		expect(runs, func(c *core.Cue) { c.RunCount, c.LastRun, c.UpdatedAt = 2, &at, at })
		expect(done, func(c *core.Cue) { c.RunCount, c.LastRun, c.Status, c.UpdatedAt = 1, &at, core.CueCompleted, at })
		expect(paused, func(c *core.Cue) {
			c.RunCount, c.LastRun, c.Status, c.NextRun, c.UpdatedAt = 1, &at, core.CuePaused, nil, at
		})
		expect(blocked, func(c *core.Cue) { c.RunCount, c.LastRun, c.UpdatedAt = 1, &at, at })
		expect(none, func(c *core.Cue) {})
	})

	t.Run("CountsMonthlyUsage", func(t *testing.T) {
		t.Parallel()
		if s.opts.MonthlyUsage == nil {
			t.Skip("StoreOpts.MonthlyUsage is not set: the port has no usage reader")
		}
		b := s.setup(t)
		ua := CreateUser(t, b.store, nil)
		ub := CreateUser(t, b.store, nil)
		ca := CreateCue(t, b.store, ua.ID, nil)
		cb := CreateCue(t, b.store, ub.ID, nil)
		now := time.Date(2026, 1, 31, 20, 0, 0, 0, time.UTC)
		var ea, eb []*core.Execution
		for i := range 3 {
			ea = append(ea, createExecution(t, b.store, NewExecution(ca, now.Add(-time.Duration(i+1)*time.Minute))))
		}
		for i := range 2 {
			eb = append(eb, createExecution(t, b.store, NewExecution(cb, now.Add(-time.Duration(i+1)*time.Minute))))
		}
		require.Len(t, claimDeliveries(t, b.store, now, time.Minute, 10), 5)
		usage := func(tenant core.TenantID, month time.Time) int {
			t.Helper()
			n, err := s.opts.MonthlyUsage(b.ctx, b.store, tenant, month)
			require.NoError(t, err)
			return n
		}
		result := func(e *core.Execution, attempt int, st core.ExecutionStatus, count bool) *core.DeliveryResult {
			r := &core.DeliveryResult{ExecutionID: e.ID, CueID: e.CueID, TenantID: e.TenantID, Attempt: attempt, Attempts: attempt, Status: st, CountUsage: count}
			if st == core.ExecRetrying {
				r.NextRetry = new(now.Add(time.Minute))
			}
			return r
		}

		applied := recordDeliveries(t, b.store, now,
			result(ea[0], 1, core.ExecSuccess, true),
			result(ea[1], 1, core.ExecSuccess, true),
			result(ea[2], 1, core.ExecRetrying, false),
			result(eb[0], 1, core.ExecSuccess, true),
			result(eb[1], 0, core.ExecSuccess, true), // not this claim's
		)
		require.Equal(t, []bool{true, true, true, true, false}, applied)
		require.Equal(t, 2, usage(ua.ID, now))
		require.Equal(t, 1, usage(ub.ID, now))

		// 00:30 CET on February 1st is still January in UTC.
		cet := time.FixedZone("CET", 3600)
		require.Equal(t, []bool{true}, recordDeliveries(t, b.store, time.Date(2026, 2, 1, 0, 30, 0, 0, cet), result(eb[1], 1, core.ExecSuccess, true)))
		require.Equal(t, 2, usage(ub.ID, now))
		require.Len(t, claimDeliveries(t, b.store, now.Add(time.Minute), time.Minute, 10), 1)
		feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		require.Equal(t, []bool{true}, recordDeliveries(t, b.store, feb, result(ea[2], 2, core.ExecSuccess, true)))
		require.Equal(t, 2, usage(ua.ID, now))
		require.Equal(t, 1, usage(ua.ID, feb))
		require.Zero(t, usage(ub.ID, feb))
	})

	t.Run("IgnoresResultsOfSupersededClaims", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		now := engineNow
		e1 := createExecution(t, b.store, NewExecution(c, now.Add(-2*time.Minute)))
		e2 := createExecution(t, b.store, NewExecution(c, now.Add(-time.Minute)))
		e3 := createExecution(t, b.store, NewExecution(c, now.Add(time.Hour)))
		require.Len(t, claimDeliveries(t, b.store, now, time.Minute, 1), 1)                     // e1, attempt 1
		require.Len(t, claimDeliveries(t, b.store, now.Add(30*time.Second), time.Minute, 1), 1) // e2, attempt 1
		require.Len(t, claimDeliveries(t, b.store, now.Add(time.Minute), time.Minute, 1), 1)    // e1 again, attempt 2
		at := now.Add(time.Minute + time.Second)
		get := func(e *core.Execution) *core.Execution {
			t.Helper()
			got, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: e.ID})
			require.NoError(t, err)
			return got
		}
		e3Before := get(e3)
		result := func(e *core.Execution, attempt int, st core.ExecutionStatus) *core.DeliveryResult {
			r := &core.DeliveryResult{ExecutionID: e.ID, CueID: c.ID, TenantID: u.ID, Attempt: attempt, Attempts: attempt, Status: st, CountRun: true}
			if st == core.ExecRetrying {
				r.NextRetry = new(at.Add(time.Minute))
			}
			return r
		}

		applied := recordDeliveries(t, b.store, at,
			result(e1, 1, core.ExecSuccess),  // superseded by the second claim
			result(e2, 1, core.ExecSuccess),  // current
			result(e3, 0, core.ExecFailed),   // never claimed
			result(e1, 2, core.ExecRetrying), // current
			result(&core.Execution{ID: core.NewExecutionID()}, 1, core.ExecSuccess),
			nil,
		)
		require.Equal(t, []bool{false, true, false, true, false, false}, applied)
		require.Equal(t, core.ExecRetrying, get(e1).Status)
		require.Equal(t, 2, get(e1).Attempts)
		e2After := get(e2)
		require.Equal(t, core.ExecSuccess, e2After.Status)
		RequireExecutionEqual(t, s.opts.TimePrecision, e3Before, get(e3))
		require.Equal(t, 2, getCue(t, b.store, c).RunCount)

		// A result recorded twice applies once.
		require.Equal(t, []bool{false}, recordDeliveries(t, b.store, at.Add(time.Second), result(e2, 1, core.ExecFailed)))
		RequireExecutionEqual(t, s.opts.TimePrecision, e2After, get(e2))
		require.Equal(t, 2, getCue(t, b.store, c).RunCount)
	})

	t.Run("KeepsOutcomeDeadlineWhenResultHasNone", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		e := NewExecution(c, engineNow.Add(-time.Minute))
		e.OutcomeDeadlineAt = new(oddTime(time.Hour))
		e = createExecution(t, b.store, e)
		require.Len(t, claimDeliveries(t, b.store, engineNow, time.Minute, 10), 1)

		require.Equal(t, []bool{true}, recordDeliveries(t, b.store, engineNow, &core.DeliveryResult{
			ExecutionID: e.ID, CueID: c.ID, TenantID: u.ID, Attempt: 1, Attempts: 1, Status: core.ExecFailed, ErrorMessage: new("gone"),
		}))
		got, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: e.ID})
		require.NoError(t, err)
		requireTimePtrEqual(t, s.opts.TimePrecision, e.OutcomeDeadlineAt, got.OutcomeDeadlineAt, "OutcomeDeadlineAt")
	})

	t.Run("ReturnsEmptyForNoResults", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		applied, err := b.store.ExecutionRecordDeliveries(b.ctx, &core.ExecutionRecordDeliveriesParams{Now: engineNow})
		require.NoError(t, err)
		require.Empty(t, applied)
	})

	t.Run("StoresFailure", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		now := engineNow
		e := createExecution(t, b.store, NewExecution(c, now.Add(-time.Minute)))
		claimed := claimDeliveries(t, b.store, now, time.Minute, 10)[0].Execution
		at := now.Add(3 * time.Second)

		require.Equal(t, []bool{true}, recordDeliveries(t, b.store, at, &core.DeliveryResult{
			ExecutionID: e.ID, CueID: c.ID, TenantID: u.ID, Attempt: 1, Attempts: 3, Status: core.ExecFailed,
			HTTPStatus: new(404), ErrorMessage: new("Webhook endpoint not found (404)"),
		}))
		want := *claimed
		want.Status, want.Attempts, want.HTTPStatus, want.ErrorMessage = core.ExecFailed, 3, new(404), new("Webhook endpoint not found (404)")
		want.LastAttemptAt, want.LeaseExpiresAt, want.UpdatedAt = &at, nil, at
		got, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: e.ID})
		require.NoError(t, err)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		require.Empty(t, claimDeliveries(t, b.store, now.Add(24*time.Hour), time.Minute, 10))
	})

	t.Run("StoresRetryDueAtNextRetry", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		now := engineNow
		e := createExecution(t, b.store, NewExecution(c, now.Add(-time.Minute)))
		claimed := claimDeliveries(t, b.store, now, time.Minute, 10)[0].Execution
		at := now.Add(3 * time.Second)
		next := oddTime(24 * time.Hour)

		require.Equal(t, []bool{true}, recordDeliveries(t, b.store, at, &core.DeliveryResult{
			ExecutionID: e.ID, CueID: c.ID, TenantID: u.ID, Attempt: 1, Attempts: 1, Status: core.ExecRetrying,
			HTTPStatus: new(503), ErrorMessage: new("Webhook endpoint server error (503)"), NextRetry: &next, CountRun: true,
		}))
		want := *claimed
		want.Status, want.HTTPStatus, want.ErrorMessage, want.NextRetry = core.ExecRetrying, new(503), new("Webhook endpoint server error (503)"), &next
		want.LastAttemptAt, want.LeaseExpiresAt, want.UpdatedAt = &at, nil, at
		got, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: e.ID})
		require.NoError(t, err)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)

		require.Empty(t, claimDeliveries(t, b.store, next.Add(-s.opts.TimePrecision), time.Minute, 10), "not due before next_retry")
		retry := next.Truncate(s.opts.TimePrecision)
		ds := claimDeliveries(t, b.store, retry, time.Minute, 10)
		require.Len(t, ds, 1)
		require.Equal(t, 2, ds[0].Execution.Attempts)
		requireTimePtrEqual(t, s.opts.TimePrecision, &now, ds[0].Execution.StartedAt, "StartedAt")

		// A later success clears the error and the retry time.
		require.Equal(t, []bool{true}, recordDeliveries(t, b.store, retry, &core.DeliveryResult{
			ExecutionID: e.ID, CueID: c.ID, TenantID: u.ID, Attempt: 2, Attempts: 2, Status: core.ExecSuccess,
			HTTPStatus: new(200), ResponseBody: new(""),
		}))
		got, err = b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: e.ID})
		require.NoError(t, err)
		require.Equal(t, core.ExecSuccess, got.Status)
		require.Nil(t, got.ErrorMessage)
		require.Nil(t, got.NextRetry)
		require.Equal(t, new(""), got.ResponseBody, "an empty body is not NULL")
		requireTimePtrEqual(t, s.opts.TimePrecision, &retry, got.DeliveredAt, "DeliveredAt")
	})

	t.Run("StoresSuccess", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		now := engineNow
		e := createExecution(t, b.store, NewExecution(c, now.Add(-time.Minute)))
		claimed := claimDeliveries(t, b.store, now, time.Minute, 10)[0].Execution
		at := oddTime(2 * time.Hour)
		deadline := at.Add(time.Hour)

		require.Equal(t, []bool{true}, recordDeliveries(t, b.store, at, &core.DeliveryResult{
			ExecutionID: e.ID, CueID: c.ID, TenantID: u.ID, Attempt: 1, Attempts: 1, Status: core.ExecSuccess,
			HTTPStatus: new(200), ResponseBody: new(`{"ok":true}`), OutcomeDeadlineAt: &deadline,
			CountRun: true, SetLastRun: true, CountUsage: true,
		}))
		want := *claimed
		want.Status, want.HTTPStatus, want.ResponseBody = core.ExecSuccess, new(200), new(`{"ok":true}`)
		want.LastAttemptAt, want.DeliveredAt, want.LeaseExpiresAt, want.OutcomeDeadlineAt, want.UpdatedAt = &at, &at, nil, &deadline, at
		got, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: e.ID})
		require.NoError(t, err)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		require.Empty(t, claimDeliveries(t, b.store, now.Add(24*time.Hour), time.Minute, 10))
	})
}

// createExecution stores e with ExecutionCreate and returns what the store
// returned.
func createExecution(t testing.TB, s core.Store, e *core.Execution) *core.Execution {
	t.Helper()
	got, err := s.ExecutionCreate(t.Context(), &core.ExecutionCreateParams{Execution: e})
	require.NoError(t, err)
	return got
}

// claimedAs is e as a first delivery claim at now leaves it, its attempt
// starting at at (now, or its due time when claimed ahead).
func claimedAs(e *core.Execution, now, at time.Time, lease time.Duration) *core.Execution {
	want := *e
	want.Status, want.Attempts, want.UpdatedAt = core.ExecDelivering, 1, now
	want.StartedAt, want.LastAttemptAt, want.LeaseExpiresAt = &at, &at, new(now.Add(lease))
	return &want
}

// claimDeliveries claims up to limit due executions at now.
func claimDeliveries(t testing.TB, s core.Store, now time.Time, lease time.Duration, limit int) []*core.Delivery {
	t.Helper()
	ds, err := s.ExecutionClaimDeliveries(t.Context(), &core.ExecutionClaimDeliveriesParams{Now: now, Lease: lease, Limit: limit})
	require.NoError(t, err)
	return ds
}

// recordDeliveries records results at now and returns which applied.
func recordDeliveries(t testing.TB, s core.Store, now time.Time, results ...*core.DeliveryResult) []bool {
	t.Helper()
	applied, err := s.ExecutionRecordDeliveries(t.Context(), &core.ExecutionRecordDeliveriesParams{Now: now, Results: results})
	require.NoError(t, err)
	require.Len(t, applied, len(results))
	return applied
}

func deliveryIDs(ds []*core.Delivery) []core.ExecutionID {
	ids := make([]core.ExecutionID, len(ds))
	for i, d := range ds {
		ids[i] = d.Execution.ID
	}
	return ids
}

// listExecutions returns all of c's executions, newest first.
func listExecutions(t testing.TB, s core.Store, c *core.Cue) []*core.Execution {
	t.Helper()
	execs, _, err := s.ExecutionList(t.Context(), &core.ExecutionListParams{TenantID: c.TenantID, CueID: &c.ID})
	require.NoError(t, err)
	return execs
}

func (s *storeSuite) testExecutionCancelUpcoming(t *testing.T) {
	t.Parallel()

	t.Run("CueUpdateCancelsUpcomingInTheSameTransaction", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c := createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Minute)), nil)
		_, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now.Add(time.Minute), Limit: 10, Plan: func(c *core.Cue) core.FirePlan {
			return core.FirePlan{Occurrences: []time.Time{now.Add(-time.Minute), now.Add(10 * time.Second)}, NextRun: new(now.Add(time.Hour)), Status: core.CueActive}
		}})
		require.NoError(t, err)
		updated, err := b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: c.ID, CancelUpcomingAfter: &now, Fn: func(cur *core.Cue) error {
			cur.Status, cur.NextRun = core.CuePaused, nil
			return nil
		}})
		require.NoError(t, err)
		require.Equal(t, 1, updated.FiredCount, "the returned cue reflects the cancellation")
		require.Equal(t, core.CuePaused, updated.Status)
		remaining := listExecutions(t, b.store, c)
		require.Len(t, remaining, 1)
		requireTimeEqual(t, s.opts.TimePrecision, now.Add(-time.Minute), remaining[0].ScheduledFor, "the due execution stays")
	})

	t.Run("DeletesOnlyPendingScheduledFutureExecutions", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c := createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Minute)), nil)
		other := createCueWithNextRun(t, b.store, u.ID, new(now.Add(-time.Minute)), nil)
		// Fire the cues with a look-ahead: one execution due, two ahead.
		res, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: now, Horizon: now.Add(time.Minute), Limit: 10, Plan: func(c *core.Cue) core.FirePlan {
			return core.FirePlan{Occurrences: []time.Time{now.Add(-time.Minute), now.Add(10 * time.Second), now.Add(20 * time.Second)}, NextRun: new(now.Add(time.Hour)), Status: core.CueActive}
		}})
		require.NoError(t, err)
		require.Equal(t, 6, res.Inserted)
		manual := NewExecution(c, now.Add(30*time.Second))
		manual.TriggeredBy = new(core.TriggerManualFire)
		kept := []*core.Execution{createExecution(t, b.store, manual)}
		done := NewExecution(c, now.Add(40*time.Second))
		done.Status = core.ExecSuccess
		kept = append(kept, createExecution(t, b.store, done))

		n, err := b.store.ExecutionCancelUpcoming(b.ctx, &core.ExecutionCancelUpcomingParams{TenantID: u.ID, CueID: c.ID, Now: now})
		require.NoError(t, err)
		require.Equal(t, 2, n)

		got := getCue(t, b.store, c)
		require.Equal(t, 1, got.FiredCount)
		var remaining []time.Time
		for _, e := range listExecutions(t, b.store, c) {
			remaining = append(remaining, e.ScheduledFor)
		}
		slices.SortFunc(remaining, time.Time.Compare)
		require.Len(t, remaining, 3)
		requireTimeEqual(t, s.opts.TimePrecision, now.Add(-time.Minute), remaining[0], "the due execution stays")
		requireTimeEqual(t, s.opts.TimePrecision, kept[0].ScheduledFor, remaining[1], "the manual execution stays")
		requireTimeEqual(t, s.opts.TimePrecision, kept[1].ScheduledFor, remaining[2], "the finished execution stays")
		require.Len(t, listExecutions(t, b.store, other), 3, "other cues keep theirs")
		require.Equal(t, 3, getCue(t, b.store, other).FiredCount)

		n, err = b.store.ExecutionCancelUpcoming(b.ctx, &core.ExecutionCancelUpcomingParams{TenantID: u.ID, CueID: c.ID, Now: now})
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("NeverTakesFiredCountBelowZero", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		createExecution(t, b.store, NewExecution(c, engineNow.Add(time.Minute)))

		n, err := b.store.ExecutionCancelUpcoming(b.ctx, &core.ExecutionCancelUpcomingParams{TenantID: u.ID, CueID: c.ID, Now: engineNow})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Zero(t, getCue(t, b.store, c).FiredCount)
	})

	t.Run("ReturnsZeroForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		c := createCueWithNextRun(t, b.store, u.ID, new(engineNow), nil)
		_, err := b.store.CueFireDue(b.ctx, &core.CueFireDueParams{Now: engineNow, Horizon: engineNow.Add(time.Minute), Limit: 10, Plan: func(c *core.Cue) core.FirePlan {
			return core.FirePlan{Occurrences: []time.Time{engineNow.Add(time.Minute)}, NextRun: new(engineNow.Add(time.Hour)), Status: core.CueActive}
		}})
		require.NoError(t, err)

		for _, tenant := range []core.TenantID{other.ID, "not-a-uuid"} {
			n, err := b.store.ExecutionCancelUpcoming(b.ctx, &core.ExecutionCancelUpcomingParams{TenantID: tenant, CueID: c.ID, Now: engineNow})
			require.NoError(t, err)
			require.Zero(t, n)
		}
		require.Len(t, listExecutions(t, b.store, c), 1)
		require.Equal(t, 1, getCue(t, b.store, c).FiredCount)
	})
}

func (s *storeSuite) testExecutionCreate(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsConflictForDuplicateOccurrence", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		first := createExecution(t, b.store, NewExecution(c, oddTime(0)))

		dup := NewExecution(c, oddTime(0))
		dup.TriggeredBy = new(core.TriggerManualFire)
		_, err := b.store.ExecutionCreate(b.ctx, &core.ExecutionCreateParams{Execution: dup})
		require.ErrorIs(t, err, core.ErrConflict)
		execs := listExecutions(t, b.store, c)
		require.Len(t, execs, 1)
		require.Equal(t, first.ID, execs[0].ID)
	})

	t.Run("ReturnsNotFoundForAnotherTenantsCue", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		foreign := CreateCue(t, b.store, other.ID, nil)

		for _, e := range []*core.Execution{
			NewExecution(&core.Cue{ID: foreign.ID, TenantID: u.ID}, FactoryTime),
			NewExecution(&core.Cue{ID: "cue_doesnotexist", TenantID: u.ID}, FactoryTime),
			NewExecution(&core.Cue{ID: foreign.ID, TenantID: "not-a-uuid"}, FactoryTime),
		} {
			_, err := b.store.ExecutionCreate(b.ctx, &core.ExecutionCreateParams{Execution: e})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
		require.Empty(t, listExecutions(t, b.store, foreign))
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		bare := NewExecution(c, oddTime(0))
		full := fullExecution(c, bare.ID)

		for _, want := range []*core.Execution{bare, full} {
			got, err := b.store.ExecutionCreate(b.ctx, &core.ExecutionCreateParams{Execution: want})
			require.NoError(t, err)
			RequireExecutionEqual(t, s.opts.TimePrecision, want, got)
			got, err = b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: want.ID})
			require.NoError(t, err)
			RequireExecutionEqual(t, s.opts.TimePrecision, want, got)
		}
	})

	t.Run("TakesTransportFromCue", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		hook := CreateCue(t, b.store, u.ID, nil)
		worker := CreateCue(t, b.store, u.ID, &CueOpts{Transport: core.TransportWorker})
		createExecution(t, b.store, NewExecution(worker, engineNow.Add(-time.Minute)))
		e := createExecution(t, b.store, NewExecution(hook, engineNow.Add(-time.Minute)))

		ds := claimDeliveries(t, b.store, engineNow, time.Minute, 10)
		require.Len(t, ds, 1, "only the webhook cue's execution is delivered")
		require.Equal(t, e.ID, ds[0].Execution.ID)
		stats, err := b.store.ExecutionQueueStats(b.ctx, &core.ExecutionQueueStatsParams{Now: engineNow})
		require.NoError(t, err)
		require.Equal(t, 1, stats.PendingWorkerClaims)
	})
}

func (s *storeSuite) testExecutionGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsExecutionForUppercaseID", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		e := createExecution(t, b.store, NewExecution(CreateCue(t, b.store, u.ID, nil), FactoryTime))
		got, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: core.ExecutionID(strings.ToUpper(string(e.ID)))})
		require.NoError(t, err)
		require.Equal(t, e.ID, got.ID)
	})

	t.Run("ReturnsNotFoundForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		e := createExecution(t, b.store, NewExecution(CreateCue(t, b.store, u.ID, nil), FactoryTime))
		_, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: other.ID, ID: e.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsNotFoundForNonUUID", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		e := createExecution(t, b.store, NewExecution(CreateCue(t, b.store, u.ID, nil), FactoryTime))
		for _, p := range []*core.ExecutionGetParams{
			{TenantID: u.ID, ID: "not-a-uuid"},
			{TenantID: "not-a-uuid", ID: e.ID},
		} {
			_, err := b.store.ExecutionGet(b.ctx, p)
			require.ErrorIs(t, err, core.ErrNotFound)
		}
	})

	t.Run("ReturnsNotFoundWhenAbsent", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		_, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: core.NewExecutionID()})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func (s *storeSuite) testExecutionList(t *testing.T) {
	t.Parallel()
	runExecutionListCases(t, s.newStore, func(ctx context.Context, st core.Store, e *core.Execution) error {
		_, err := st.ExecutionCreate(ctx, &core.ExecutionCreateParams{Execution: e})
		return err
	}, s.opts.TimePrecision)
}

// NewExecution returns a pending execution of c for the occurrence at
// scheduledFor, not stored; CreatedAt and UpdatedAt are scheduledFor.
func NewExecution(c *core.Cue, scheduledFor time.Time) *core.Execution {
	return &core.Execution{
		ID:           core.NewExecutionID(),
		CueID:        c.ID,
		TenantID:     c.TenantID,
		ScheduledFor: scheduledFor,
		Status:       core.ExecPending,
		CreatedAt:    scheduledFor,
		UpdatedAt:    scheduledFor,
		Destination:  c.Destination(),
	}
}

// RequireExecutionEqual checks got holds want's fields: every time in UTC
// and within prec, JSON compared semantically.
func RequireExecutionEqual(t *testing.T, prec time.Duration, want, got *core.Execution) {
	t.Helper()
	require.NotNil(t, got)
	requireTimeEqual(t, prec, want.ScheduledFor, got.ScheduledFor, "ScheduledFor")
	requireTimeEqual(t, prec, want.CreatedAt, got.CreatedAt, "CreatedAt")
	requireTimeEqual(t, prec, want.UpdatedAt, got.UpdatedAt, "UpdatedAt")
	for _, f := range []struct {
		name      string
		want, got *time.Time
	}{
		{"NextRetry", want.NextRetry, got.NextRetry},
		{"StartedAt", want.StartedAt, got.StartedAt},
		{"DeliveredAt", want.DeliveredAt, got.DeliveredAt},
		{"LastAttemptAt", want.LastAttemptAt, got.LastAttemptAt},
		{"LeaseExpiresAt", want.LeaseExpiresAt, got.LeaseExpiresAt},
		{"ClaimedAt", want.ClaimedAt, got.ClaimedAt},
		{"LastHeartbeatAt", want.LastHeartbeatAt, got.LastHeartbeatAt},
		{"OutcomeDeadlineAt", want.OutcomeDeadlineAt, got.OutcomeDeadlineAt},
		{"Evidence.ProducedAt", want.Evidence.ProducedAt, got.Evidence.ProducedAt},
		{"LiveClaimedAt", want.LiveClaimedAt, got.LiveClaimedAt},
	} {
		requireTimePtrEqual(t, prec, f.want, f.got, f.name)
	}
	requireJSONEqual(t, want.Evidence.Artifacts, got.Evidence.Artifacts, false, "Evidence.Artifacts")
	requireJSONEqual(t, want.Evidence.Metadata, got.Evidence.Metadata, false, "Evidence.Metadata")
	requireJSONEqual(t, want.Payload, got.Payload, false, "Payload")
	requireJSONEqual(t, want.PayloadOverride, got.PayloadOverride, false, "PayloadOverride")
	requireJSONEqual(t, want.Assertions, got.Assertions, false, "Assertions")
	if want.Outcome == nil {
		require.Nil(t, got.Outcome, "Outcome")
	} else {
		require.NotNil(t, got.Outcome, "Outcome")
		requireTimeEqual(t, prec, want.Outcome.RecordedAt, got.Outcome.RecordedAt, "Outcome.RecordedAt")
		requireJSONEqual(t, want.Outcome.Metadata, got.Outcome.Metadata, false, "Outcome.Metadata")
		w, g := *want.Outcome, *got.Outcome
		w.RecordedAt, w.Metadata, g.RecordedAt, g.Metadata = time.Time{}, nil, time.Time{}, nil
		require.Equal(t, w, g, "Outcome")
	}

	w, g := *want, *got
	for _, e := range []*core.Execution{&w, &g} {
		e.ScheduledFor, e.CreatedAt, e.UpdatedAt = time.Time{}, time.Time{}, time.Time{}
		e.NextRetry, e.StartedAt, e.DeliveredAt, e.LastAttemptAt = nil, nil, nil, nil
		e.LeaseExpiresAt, e.ClaimedAt, e.LastHeartbeatAt, e.OutcomeDeadlineAt = nil, nil, nil, nil
		e.Evidence.ProducedAt, e.Evidence.Artifacts, e.Evidence.Metadata = nil, nil, nil
		e.Outcome = nil
		e.Payload, e.PayloadOverride, e.Assertions = nil, nil, nil
		e.LiveClaimedAt = nil
	}
	require.Equal(t, w, g)
}

// RunExecutionListSeeded checks ExecutionList against execution rows stored
// by insert, an adapter's hook that writes an execution as is. Deprecated:
// RunStoreContract now runs the same cases with ExecutionCreate; this is
// kept for callers that still pass their own hook.
func RunExecutionListSeeded[S core.Store](t *testing.T, newStore func(t testing.TB) S, insert func(ctx context.Context, s S, e *core.Execution) error, opts StoreOpts) {
	t.Helper()
	if opts.TimePrecision <= 0 {
		opts.TimePrecision = time.Microsecond
	}
	runExecutionListCases(t, func(t *testing.T) core.Store { return newStore(t) }, func(ctx context.Context, s core.Store, e *core.Execution) error {
		return insert(ctx, s.(S), e)
	}, opts.TimePrecision)
}

// runExecutionListCases checks ExecutionList against executions stored by
// insert: the row conversion of every field, the filters, the order and
// the cascade from CueDelete.
func runExecutionListCases(t *testing.T, newStore func(t *testing.T) core.Store, insert func(ctx context.Context, s core.Store, e *core.Execution) error, prec time.Duration) {
	t.Helper()

	t.Run("DeletingCueDeletesItsExecutions", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := CreateUser(t, s, nil)
		c := CreateCue(t, s, u.ID, nil)
		require.NoError(t, insert(t.Context(), s, NewExecution(c, FactoryTime)))
		require.NoError(t, s.CueDelete(t.Context(), &core.CueDeleteParams{TenantID: u.ID, ID: c.ID}))
		execs, total, err := s.ExecutionList(t.Context(), &core.ExecutionListParams{TenantID: u.ID, Limit: 10})
		require.NoError(t, err)
		require.Zero(t, total)
		require.Empty(t, execs)
	})

	t.Run("FiltersAndOrdersNewestFirst", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := CreateUser(t, s, nil)
		other := CreateUser(t, s, nil)
		c1 := CreateCue(t, s, u.ID, nil)
		c2 := CreateCue(t, s, u.ID, nil)
		foreign := CreateCue(t, s, other.ID, nil)
		var all []*core.Execution
		add := func(c *core.Cue, minute int, status core.ExecutionStatus, state *core.OutcomeState) *core.Execution {
			e := NewExecution(c, FactoryTime.Add(time.Duration(minute)*time.Minute))
			e.CreatedAt = FactoryTime.Add(time.Duration(minute/2) * time.Minute) // pairs share created_at
			e.Status, e.OutcomeState = status, state
			require.NoError(t, insert(t.Context(), s, e))
			if c.TenantID == u.ID {
				all = append(all, e)
			}
			return e
		}
		add(c1, 0, core.ExecSuccess, new(core.OutcomeReportedSuccess))
		add(c1, 1, core.ExecFailed, new(core.OutcomeReportedFailure))
		add(c1, 2, core.ExecSuccess, nil)
		add(c2, 3, core.ExecPending, nil)
		add(c2, 4, core.ExecSuccess, new(core.OutcomeReportedSuccess))
		add(foreign, 5, core.ExecSuccess, nil)

		list := func(p core.ExecutionListParams) ([]core.ExecutionID, int) {
			p.TenantID = u.ID
			execs, total, err := s.ExecutionList(t.Context(), &p)
			require.NoError(t, err)
			ids := make([]core.ExecutionID, len(execs))
			for i, e := range execs {
				ids[i] = e.ID
			}
			return ids, total
		}
		want := func(keep func(e *core.Execution) bool) []core.ExecutionID {
			var ids []core.ExecutionID
			for _, e := range executionsNewestFirst(all) {
				if keep(e) {
					ids = append(ids, e.ID)
				}
			}
			return ids
		}

		ids, total := list(core.ExecutionListParams{Limit: 100})
		require.Equal(t, 5, total)
		require.Equal(t, want(func(*core.Execution) bool { return true }), ids)

		page1, total := list(core.ExecutionListParams{Limit: 3})
		require.Equal(t, 5, total)
		page2, _ := list(core.ExecutionListParams{Limit: 3, Offset: 3})
		require.Equal(t, ids, append(page1, page2...))

		ids, total = list(core.ExecutionListParams{CueID: &c1.ID, Limit: 100})
		require.Equal(t, 3, total)
		require.Equal(t, want(func(e *core.Execution) bool { return e.CueID == c1.ID }), ids)

		ids, total = list(core.ExecutionListParams{Statuses: []string{string(core.ExecSuccess)}, Limit: 100})
		require.Equal(t, 3, total)
		require.Equal(t, want(func(e *core.Execution) bool { return e.Status == core.ExecSuccess }), ids)

		ids, total = list(core.ExecutionListParams{
			CueID: &c1.ID, Statuses: []string{string(core.ExecSuccess)}, OutcomeState: new(string(core.OutcomeReportedSuccess)), Limit: 100,
		})
		require.Equal(t, 1, total)
		require.Equal(t, want(func(e *core.Execution) bool {
			return e.CueID == c1.ID && e.Status == core.ExecSuccess && e.OutcomeState != nil && *e.OutcomeState == core.OutcomeReportedSuccess
		}), ids)

		_, total = list(core.ExecutionListParams{CueID: &foreign.ID, Limit: 100})
		require.Zero(t, total, "another tenant's cue has no executions for this tenant")
	})

	t.Run("FiltersOfTodaysClients", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := CreateUser(t, s, nil)
		c := CreateCue(t, s, u.ID, nil)
		claimedAt := FactoryTime.Add(3 * time.Minute)
		mk := func(minute int, edit func(e *core.Execution)) *core.Execution {
			e := NewExecution(c, FactoryTime.Add(time.Duration(minute)*time.Minute))
			e.CreatedAt = e.ScheduledFor
			edit(e)
			require.NoError(t, insert(t.Context(), s, e))
			return e
		}
		scheduled := mk(0, func(e *core.Execution) {})
		manual := mk(1, func(e *core.Execution) {
			e.TriggeredBy, e.Status = new(core.TriggerManualFire), core.ExecFailed
		})
		evidence := mk(2, func(e *core.Execution) {
			e.TriggeredBy, e.Status = new(core.TriggerReplay), core.ExecSuccess
			e.Outcome = &core.Outcome{Success: true, RecordedAt: FactoryTime}
			e.OutcomeState = new(core.OutcomeReportedSuccess)
			e.Evidence.ExternalID, e.Evidence.ResultType = new("PR-1"), new("pr")
		})
		typed := mk(3, func(e *core.Execution) {
			e.Status = core.ExecSuccess
			e.Evidence.ResultType = new("pr")
			e.ClaimedByWorker, e.ClaimedAt = new("w1"), new(claimedAt.Add(time.Minute))
		})
		claimed := mk(4, func(e *core.Execution) {
			e.Status = core.ExecDelivering
			e.ClaimedByWorker, e.ClaimedAt, e.LeaseExpiresAt, e.Attempts = new("w2"), new(claimedAt), new(claimedAt.Add(time.Hour)), 1
		})
		list := func(p core.ExecutionListParams) []core.ExecutionID {
			p.TenantID, p.Limit = u.ID, 100
			execs, total, err := s.ExecutionList(t.Context(), &p)
			require.NoError(t, err)
			require.Equal(t, len(execs), total)
			return executionIDs(execs)
		}
		ids := func(es ...*core.Execution) []core.ExecutionID { return executionIDs(es) }
		require.Equal(t, ids(claimed, typed, scheduled), list(core.ExecutionListParams{ScheduledOnly: true}))
		require.Equal(t, ids(manual), list(core.ExecutionListParams{TriggeredBy: new(core.TriggerManualFire)}))
		require.Equal(t, ids(typed, evidence), list(core.ExecutionListParams{ResultType: new("pr")}))
		require.Equal(t, ids(evidence), list(core.ExecutionListParams{HasEvidence: true}))
		require.Equal(t, ids(claimed, typed, manual, scheduled), list(core.ExecutionListParams{NoOutcomeState: true}))
		require.Equal(t, ids(typed), list(core.ExecutionListParams{WorkerID: new("w1")}))
		require.Equal(t, ids(claimed, manual, scheduled), list(core.ExecutionListParams{Statuses: []string{"pending", "delivering", "failed"}}))
		require.Equal(t, ids(typed), list(core.ExecutionListParams{Statuses: []string{"success"}, ScheduledOnly: true, ResultType: new("pr")}))

		oldest := func(p core.ExecutionListParams) *time.Time {
			p.TenantID = u.ID
			at, err := s.ExecutionOldestClaimedAt(t.Context(), &p)
			require.NoError(t, err)
			return at
		}
		requireTimePtrEqual(t, prec, &claimedAt, oldest(core.ExecutionListParams{Limit: 1, Offset: 3}), "over the whole set, not the page")
		requireTimePtrEqual(t, prec, new(claimedAt.Add(time.Minute)), oldest(core.ExecutionListParams{WorkerID: new("w1")}), "worker w1")
		require.Nil(t, oldest(core.ExecutionListParams{TriggeredBy: new(core.TriggerManualFire)}), "nothing claimed")
		require.Nil(t, oldest(core.ExecutionListParams{WorkerID: new("nobody")}), "empty set")
		other := CreateUser(t, s, nil)
		at, err := s.ExecutionOldestClaimedAt(t.Context(), &core.ExecutionListParams{TenantID: other.ID})
		require.NoError(t, err)
		require.Nil(t, at, "another tenant")
		at, err = s.ExecutionOldestClaimedAt(t.Context(), &core.ExecutionListParams{TenantID: "not-a-uuid"})
		require.NoError(t, err)
		require.Nil(t, at)
	})

	t.Run("ReturnsEmptyForTenantWithoutExecutions", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := CreateUser(t, s, nil)
		c := CreateCue(t, s, u.ID, nil)

		for _, p := range []*core.ExecutionListParams{
			{TenantID: u.ID, Limit: 10},
			{TenantID: u.ID, CueID: &c.ID, Statuses: []string{string(core.ExecPending)}, OutcomeState: new(string(core.OutcomeReportedSuccess)), Limit: 10},
			{TenantID: "not-a-uuid", Limit: 10},
		} {
			execs, total, err := s.ExecutionList(t.Context(), p)
			require.NoError(t, err)
			require.Zero(t, total)
			require.Empty(t, execs)
		}
	})

	t.Run("ReturnsEveryField", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := CreateUser(t, s, nil)
		c := CreateCue(t, s, u.ID, nil)

		bare := NewExecution(c, oddTime(0))
		full := fullExecution(c, bare.ID)
		require.NoError(t, insert(t.Context(), s, bare))
		require.NoError(t, insert(t.Context(), s, full))

		execs, total, err := s.ExecutionList(t.Context(), &core.ExecutionListParams{TenantID: u.ID, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.Len(t, execs, 2)
		RequireExecutionEqual(t, prec, full, execs[0])
		RequireExecutionEqual(t, prec, bare, execs[1])
	})
}

// fullExecution returns an execution of c, not stored, with every field
// set (replaying replayedFrom).
func fullExecution(c *core.Cue, replayedFrom core.ExecutionID) *core.Execution {
	full := NewExecution(c, oddTime(time.Hour))
	full.Status = core.ExecSuccess
	full.HTTPStatus = new(200)
	full.ResponseBody = new(`{"ok":true}`)
	full.Attempts = 2
	full.NextRetry = new(oddTime(2 * time.Hour))
	full.ErrorMessage = new("first attempt timed out")
	full.StartedAt = new(oddTime(time.Hour + time.Second))
	full.DeliveredAt = new(oddTime(time.Hour + 2*time.Second))
	full.LastAttemptAt = new(oddTime(time.Hour + 3*time.Second))
	full.LeaseExpiresAt = new(oddTime(time.Hour + 15*time.Minute))
	full.ClaimedByWorker = new("worker-1")
	full.ClaimedAt = new(oddTime(time.Hour + 4*time.Second))
	full.LastHeartbeatAt = new(oddTime(time.Hour + 5*time.Second))
	full.Outcome = &core.Outcome{
		Success:    true,
		Result:     new("42 rows"),
		Error:      new("warning only"),
		Metadata:   json.RawMessage(`{"rows": 42, "tags": ["a", "b"]}`),
		RecordedAt: oddTime(time.Hour + 6*time.Second),
	}
	full.OutcomeState = new(core.OutcomeVerifiedSuccess)
	full.OutcomeDeadlineAt = new(oddTime(3 * time.Hour))
	full.Evidence = core.Evidence{
		ExternalID:      new("ext-1"),
		ResultURL:       new("https://example.com/r/1"),
		ResultRef:       new("ref-1"),
		ResultType:      new("report"),
		Summary:         new("all good"),
		Artifacts:       json.RawMessage(`[{"name": "out.csv"}]`),
		Metadata:        json.RawMessage(`{"k": "v"}`),
		ValidationState: new("valid"),
		ProducedAt:      new(oddTime(time.Hour + 7*time.Second)),
	}
	full.TriggeredBy = new(core.TriggerReplay)
	full.ReplayedFrom = &replayedFrom
	full.Payload = json.RawMessage(`{"task": "t2", "n": 1}`)
	full.PayloadOverride = json.RawMessage(`{"task": "t2"}`)
	full.MergeStrategy = new("merge")
	full.RequiredAssertions = &[]string{}
	full.Assertions = json.RawMessage(`{"done": true}`)
	chainParent := core.ExecutionID(core.NewUUID())
	full.ChainParentID = &chainParent
	full.ChainDepth = 3
	full.LiveClaimSessionToken = new("session-token")
	full.LiveClaimedAt = new(oddTime(time.Hour + 10*time.Second))
	full.CreatedAt = oddTime(time.Hour + 8*time.Second)
	full.UpdatedAt = oddTime(time.Hour + 9*time.Second)
	return full
}

// executionsNewestFirst sorts a copy of execs in list order: created_at
// descending, ties by id descending.
func executionsNewestFirst(execs []*core.Execution) []*core.Execution {
	sorted := slices.Clone(execs)
	slices.SortFunc(sorted, func(a, b *core.Execution) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(string(b.ID), string(a.ID))
	})
	return sorted
}

// workerBundle is one subtest's fresh world and its helpers.
type workerBundle struct {
	t     *testing.T
	ctx   context.Context
	store core.Store
	opts  StoreOpts
}

// workerLease is the claim lease the cases use unless they need another.
const workerLease = 15 * time.Minute

func (s *storeSuite) setupWorker(t *testing.T) *workerBundle {
	t.Helper()
	return &workerBundle{t: t, ctx: t.Context(), store: s.newStore(t), opts: s.opts}
}

// workerCue stores a worker-transport cue of tenant (NewCue's defaults),
// edited by edit when given.
func (b *workerBundle) workerCue(tenant core.TenantID, edit func(c *core.Cue)) *core.Cue {
	b.t.Helper()
	c := NewCue(tenant, &CueOpts{Transport: core.TransportWorker})
	if edit != nil {
		edit(c)
	}
	return storeCue(b.t, b.store, c)
}

// pending stores a pending execution of c scheduled at at.
func (b *workerBundle) pending(c *core.Cue, at time.Time) *core.Execution {
	b.t.Helper()
	return createExecution(b.t, b.store, NewExecution(c, at))
}

// create stores e as is.
func (b *workerBundle) create(e *core.Execution) *core.Execution {
	b.t.Helper()
	return createExecution(b.t, b.store, e)
}

// claim claims e by id for worker at now with lease.
func (b *workerBundle) claim(e *core.Execution, worker string, now time.Time, lease time.Duration) *core.Execution {
	b.t.Helper()
	got, err := b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
		TenantID: e.TenantID, ID: &e.ID, WorkerID: worker, Now: now, Lease: lease,
	})
	require.NoError(b.t, err)
	require.Equal(b.t, e.ID, got.ID)
	return got
}

// claimNext claims the tenant's next execution (of task, when set) at now.
func (b *workerBundle) claimNext(tenant core.TenantID, task *string, now time.Time) (*core.Execution, error) {
	return b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
		TenantID: tenant, Task: task, WorkerID: "worker-next", Now: now, Lease: workerLease,
	})
}

// get reads e back.
func (b *workerBundle) get(e *core.Execution) *core.Execution {
	b.t.Helper()
	got, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: e.TenantID, ID: e.ID})
	require.NoError(b.t, err)
	return got
}

// claimable lists the tenant's claimable executions at now.
func (b *workerBundle) claimable(tenant core.TenantID, now time.Time, task *string, limit int) []*core.Claimable {
	b.t.Helper()
	got, err := b.store.ExecutionClaimable(b.ctx, &core.ExecutionClaimableParams{TenantID: tenant, Now: now, Task: task, Limit: limit})
	require.NoError(b.t, err)
	return got
}

// sweep runs the worker sweep at now with the protocol's messages.
func (b *workerBundle) sweep(now time.Time, unclaimed time.Duration, limit int) []*core.Delivery {
	b.t.Helper()
	ds, err := b.store.ExecutionSweepWorkerLeases(b.ctx, &core.ExecutionSweepWorkerLeasesParams{
		Now: now, UnclaimedTimeout: unclaimed, Limit: limit,
		ResetMessage: core.MsgLeaseReset, ExhaustedMessage: core.MsgLeaseExhausted, MissedMessage: core.MsgUnclaimed,
	})
	require.NoError(b.t, err)
	return ds
}

// sweepDeadlines runs the outcome-deadline sweep at now.
func (b *workerBundle) sweepDeadlines(now time.Time, limit int) []*core.Delivery {
	b.t.Helper()
	ds, err := b.store.ExecutionSweepOutcomeDeadlines(b.ctx, &core.ExecutionSweepOutcomeDeadlinesParams{Now: now, Limit: limit})
	require.NoError(b.t, err)
	return ds
}

// update runs ExecutionUpdate on e with fn, requiring success.
func (b *workerBundle) update(e *core.Execution, fn func(e *core.Execution, c *core.Cue) (*core.CueEffect, error)) *core.Execution {
	b.t.Helper()
	got, err := b.store.ExecutionUpdate(b.ctx, &core.ExecutionUpdateParams{TenantID: e.TenantID, ID: e.ID, Fn: fn})
	require.NoError(b.t, err)
	return got
}

// usage reads the tenant's count for the UTC month of month through
// StoreOpts.MonthlyUsage (callers check it is set).
func (b *workerBundle) usage(tenant core.TenantID, month time.Time) int {
	b.t.Helper()
	require.NotNil(b.t, b.opts.MonthlyUsage)
	n, err := b.opts.MonthlyUsage(b.ctx, b.store, tenant, month)
	require.NoError(b.t, err)
	return n
}

// requireUsageHook skips the calling case when the adapter has no usage
// hook.
func (s *storeSuite) requireUsageHook(t *testing.T) {
	t.Helper()
	if s.opts.MonthlyUsage == nil {
		t.Skip("StoreOpts.MonthlyUsage is not set: the port has no usage reader")
	}
}

// expectCue checks the stored cue is before as edited by edit.
func (b *workerBundle) expectCue(before *core.Cue, edit func(c *core.Cue)) {
	b.t.Helper()
	want := *before
	if edit != nil {
		edit(&want)
	}
	requireCueEqual(b.t, b.opts.TimePrecision, &want, getCue(b.t, b.store, before))
}

func claimableIDs(cs []*core.Claimable) []core.ExecutionID {
	ids := make([]core.ExecutionID, len(cs))
	for i, c := range cs {
		ids[i] = c.Execution.ID
	}
	return ids
}

func executionIDs(es []*core.Execution) []core.ExecutionID {
	ids := make([]core.ExecutionID, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

// byScheduledThenID sorts a copy of execs by scheduled_for, then id.
func byScheduledThenID(execs ...*core.Execution) []core.ExecutionID {
	sorted := slices.Clone(execs)
	slices.SortFunc(sorted, func(a, b *core.Execution) int {
		if c := a.ScheduledFor.Compare(b.ScheduledFor); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return executionIDs(sorted)
}

// onceSchedule makes c a one-time cue.
func onceSchedule(c *core.Cue) {
	c.Schedule = core.Schedule{Type: core.ScheduleOnce, At: new(engineNow.Add(-time.Hour)), Timezone: "UTC"}
}

func (s *storeSuite) testExecutionClaimable(t *testing.T) {
	t.Parallel()

	t.Run("FiltersByTaskBeforeLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		other := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"task":"other"}`) })
		wanted := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"task":"wanted","n":1}`) })
		number := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"task":7}`) })
		for i := range 60 {
			b.pending(other, now.Add(-time.Hour+time.Duration(i)*time.Second))
		}
		first := b.pending(number, now.Add(-2*time.Hour))
		w := b.pending(wanted, now.Add(-time.Minute))

		got := b.claimable(u.ID, now, new("wanted"), 50)
		require.Equal(t, []core.ExecutionID{w.ID}, claimableIDs(got))
		requireCueEqual(t, s.opts.TimePrecision, wanted, got[0].Cue)

		all := b.claimable(u.ID, now, nil, 50)
		require.Len(t, all, 50)
		require.Equal(t, first.ID, all[0].Execution.ID)
		require.NotContains(t, claimableIDs(all), w.ID, "without a task the oldest 50 come first")

		require.Empty(t, b.claimable(u.ID, now, new("7"), 50), "only a string task matches")
		require.Empty(t, b.claimable(u.ID, now, new("absent"), 50))
	})

	t.Run("FiltersByAgentAndTaskBeforeLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		others := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"agent":"alice","task":"t"}`) })
		bob := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"agent":"bob","task":"t"}`) })
		bobOther := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"agent":"bob","task":"u"}`) })
		number := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"agent":1}`) })
		for i := range 60 {
			b.pending(others, now.Add(-time.Hour+time.Duration(i)*time.Second))
		}
		b.pending(number, now.Add(-2*time.Hour))
		wb := b.pending(bob, now.Add(-time.Minute))
		wbo := b.pending(bobOther, now.Add(-30*time.Second))

		list := func(task, agent *string) []core.ExecutionID {
			got, err := b.store.ExecutionClaimable(b.ctx, &core.ExecutionClaimableParams{TenantID: u.ID, Now: now, Task: task, Agent: agent, Limit: 50})
			require.NoError(t, err)
			return claimableIDs(got)
		}
		require.Equal(t, []core.ExecutionID{wb.ID, wbo.ID}, list(nil, new("bob")), "behind 60 older items of another agent")
		require.Equal(t, []core.ExecutionID{wb.ID}, list(new("t"), new("bob")), "task and agent combine with AND")
		require.Empty(t, list(nil, new("1")), "only a string agent matches")
		require.Empty(t, list(nil, new("carol")))
	})

	t.Run("ListsOnlyDuePendingWorkerExecutions", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		now := engineNow
		wc := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"task":"t","n":1}`) })
		hook := CreateCue(t, b.store, u.ID, nil)
		foreign := b.workerCue(other.ID, nil)
		late := b.pending(wc, now.Add(-2*time.Minute))
		onTime := b.pending(wc, now)
		b.pending(wc, now.Add(time.Microsecond))
		retry := NewExecution(wc, now.Add(-time.Minute))
		retry.Status, retry.Attempts = core.ExecRetryReady, 1
		b.create(retry)
		for i, st := range []core.ExecutionStatus{core.ExecDelivering, core.ExecRetrying, core.ExecSuccess, core.ExecFailed, core.ExecMissed} {
			e := NewExecution(wc, now.Add(-time.Hour+time.Duration(i)*time.Second))
			e.Status = st
			if st == core.ExecDelivering {
				e.Attempts, e.LeaseExpiresAt = 1, new(now.Add(time.Hour))
			}
			b.create(e)
		}
		b.pending(hook, now.Add(-time.Minute))
		b.pending(foreign, now.Add(-time.Minute))

		got := b.claimable(u.ID, now, nil, 50)
		require.Len(t, got, 3)
		for i, e := range []*core.Execution{late, retry, onTime} {
			RequireExecutionEqual(t, s.opts.TimePrecision, e, got[i].Execution)
			requireCueEqual(t, s.opts.TimePrecision, wc, got[i].Cue)
		}
	})

	t.Run("OrdersByScheduledForThenID", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		var execs []*core.Execution
		for range 3 {
			c := b.workerCue(u.ID, nil)
			execs = append(execs, b.pending(c, now.Add(-time.Minute)))
		}
		execs = append(execs, b.pending(b.workerCue(u.ID, nil), now.Add(-2*time.Minute)))

		require.Equal(t, byScheduledThenID(execs...), claimableIDs(b.claimable(u.ID, now, nil, 50)))
	})

	t.Run("RespectsLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		var ids []core.ExecutionID
		for i := 3; i >= 1; i-- {
			ids = append(ids, b.pending(c, engineNow.Add(-time.Duration(i)*time.Minute)).ID)
		}
		require.Equal(t, ids[:2], claimableIDs(b.claimable(u.ID, engineNow, nil, 2)))
	})

	t.Run("ReturnsEmptyForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		b.pending(b.workerCue(u.ID, nil), engineNow.Add(-time.Minute))
		for _, tenant := range []core.TenantID{other.ID, "not-a-uuid"} {
			require.Empty(t, b.claimable(tenant, engineNow, nil, 50))
		}
	})
}

func (s *storeSuite) testExecutionClaimWorker(t *testing.T) {
	t.Parallel()

	t.Run("ClaimsByIDSettingClaimFields", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, func(c *core.Cue) { c.OutcomeDeadlineSeconds = new(3600) })
		e := b.pending(c, engineNow.Add(-time.Minute))
		at := oddTime(0)

		upper := core.ExecutionID(strings.ToUpper(string(e.ID)))
		got, err := b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
			TenantID: u.ID, ID: &upper, WorkerID: "worker-1", Now: at, Lease: workerLease,
		})
		require.NoError(t, err)
		want := *e
		want.Status, want.Attempts, want.ClaimedByWorker, want.UpdatedAt = core.ExecDelivering, 1, new("worker-1"), at
		want.ClaimedAt, want.StartedAt, want.LastAttemptAt = &at, &at, &at
		want.LeaseExpiresAt, want.OutcomeDeadlineAt = new(at.Add(workerLease)), new(at.Add(time.Hour))
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))

		_, err = b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
			TenantID: u.ID, ID: &e.ID, WorkerID: "worker-2", Now: at, Lease: workerLease,
		})
		require.ErrorIs(t, err, core.ErrNotFound, "a claimed execution is not pending")
		require.Empty(t, b.claimable(u.ID, at, nil, 50))
	})

	t.Run("ClaimsByIDAndNextFromRetryReady", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		byID := NewExecution(c, engineNow.Add(-2*time.Minute))
		byID.Status, byID.Attempts = core.ExecRetryReady, 1
		b.create(byID)
		next := NewExecution(c, engineNow.Add(-time.Minute))
		next.Status, next.Attempts = core.ExecRetryReady, 1
		b.create(next)

		got := b.claim(byID, "worker-1", engineNow, workerLease)
		require.Equal(t, core.ExecDelivering, got.Status)
		require.Equal(t, 2, got.Attempts)
		require.Equal(t, "worker-1", *got.ClaimedByWorker)
		got, err := b.claimNext(u.ID, nil, engineNow)
		require.NoError(t, err)
		require.Equal(t, next.ID, got.ID)
		require.Equal(t, core.ExecDelivering, got.Status)
	})

	t.Run("ClaimsNextOldestFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c1 := b.workerCue(u.ID, nil)
		c2 := b.workerCue(u.ID, func(c *core.Cue) { c.OutcomeDeadlineSeconds = new(60) })
		e1 := b.pending(c1, now.Add(-3*time.Minute))
		e2 := b.pending(c2, now.Add(-2*time.Minute))
		e3 := b.pending(c1, now.Add(-time.Minute))
		b.pending(c1, now.Add(time.Second))

		for _, e := range []*core.Execution{e1, e2, e3} {
			got, err := b.claimNext(u.ID, nil, now)
			require.NoError(t, err)
			want := *e
			want.Status, want.Attempts, want.ClaimedByWorker, want.UpdatedAt = core.ExecDelivering, 1, new("worker-next"), now
			want.ClaimedAt, want.StartedAt, want.LastAttemptAt, want.LeaseExpiresAt = &now, &now, &now, new(now.Add(workerLease))
			if e.CueID == c2.ID {
				want.OutcomeDeadlineAt = new(now.Add(time.Minute))
			}
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		}
		_, err := b.claimNext(u.ID, nil, now)
		require.ErrorIs(t, err, core.ErrNotFound, "the future execution is not claimable yet")
	})

	t.Run("ClaimsNextWithTask", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		payload := func(p string) func(c *core.Cue) {
			return func(c *core.Cue) { c.Payload = json.RawMessage(p) }
		}
		ea := b.pending(b.workerCue(u.ID, payload(`{"task":"a"}`)), now.Add(-4*time.Minute))
		en := b.pending(b.workerCue(u.ID, payload(`{"task":7}`)), now.Add(-3*time.Minute))
		enone := b.pending(b.workerCue(u.ID, nil), now.Add(-2*time.Minute))
		eb := b.pending(b.workerCue(u.ID, payload(`{"task":"b"}`)), now.Add(-time.Minute))

		got, err := b.claimNext(u.ID, new("b"), now)
		require.NoError(t, err)
		require.Equal(t, eb.ID, got.ID)
		for _, task := range []string{"b", "7", "c"} {
			_, err = b.claimNext(u.ID, new(task), now)
			require.ErrorIs(t, err, core.ErrNotFound, "task %q", task)
		}
		for _, e := range []*core.Execution{ea, en, enone} {
			got, err := b.claimNext(u.ID, nil, now)
			require.NoError(t, err)
			require.Equal(t, e.ID, got.ID)
		}
	})

	t.Run("ConcurrentClaimNextNeverOverlaps", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		const cues, perCue, claimers = 4, 25, 8
		for range cues {
			c := b.workerCue(u.ID, nil)
			for k := range perCue {
				b.pending(c, now.Add(-time.Duration(k+1)*time.Second))
			}
		}

		var (
			mu      sync.Mutex
			claimed = map[core.ExecutionID]int{}
			wg      sync.WaitGroup
			errs    = make([]error, claimers)
		)
		for i := range claimers {
			wg.Go(func() {
				for {
					e, err := b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
						TenantID: u.ID, WorkerID: fmt.Sprintf("worker-%d", i), Now: now, Lease: workerLease,
					})
					if errors.Is(err, core.ErrNotFound) {
						return
					}
					if err != nil {
						errs[i] = err
						return
					}
					mu.Lock()
					claimed[e.ID]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, claimed, cues*perCue)
		for id, n := range claimed {
			require.Equal(t, 1, n, "execution %s claimed %d times", id, n)
		}
		require.Empty(t, b.claimable(u.ID, now, nil, 200))
	})

	t.Run("ConcurrentClaimsHaveOneWinner", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		e := b.pending(b.workerCue(u.ID, nil), now.Add(-time.Minute))

		const n = 40
		got := make([]*core.Execution, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				p := &core.ExecutionClaimWorkerParams{TenantID: u.ID, WorkerID: fmt.Sprintf("worker-%d", i), Now: now, Lease: workerLease}
				if i%2 == 0 {
					p.ID = &e.ID
				}
				got[i], errs[i] = b.store.ExecutionClaimWorker(b.ctx, p)
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err != nil {
				require.ErrorIs(t, err, core.ErrNotFound)
				continue
			}
			require.Equal(t, -1, winner, "claims %d and %d both won", winner, i)
			winner = i
			require.Equal(t, e.ID, got[i].ID)
		}
		require.NotEqual(t, -1, winner, "one claim wins")
		stored := b.get(e)
		require.Equal(t, 1, stored.Attempts)
		require.Equal(t, new(fmt.Sprintf("worker-%d", winner)), stored.ClaimedByWorker)
	})

	t.Run("CountsUsageOnFirstClaimOnly", func(t *testing.T) {
		t.Parallel()
		s.requireUsageHook(t)
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, func(c *core.Cue) { c.Retry.MaxAttempts = 3 })
		jan := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
		feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		counted := b.pending(c, jan.Add(-time.Minute))
		uncounted := b.pending(c, jan.Add(-2*time.Minute))
		cet := b.pending(c, jan.Add(-3*time.Minute))
		claim := func(e *core.Execution, now time.Time, count bool) *core.Execution {
			t.Helper()
			got, err := b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
				TenantID: u.ID, ID: &e.ID, WorkerID: "worker", Now: now, Lease: time.Minute, CountUsage: count,
			})
			require.NoError(t, err)
			return got
		}

		claim(counted, jan, true)
		require.Equal(t, 1, b.usage(u.ID, jan))
		claim(uncounted, jan, false)
		require.Equal(t, 1, b.usage(u.ID, jan))
		// 00:30 CET on February 1st is still January in UTC.
		claim(cet, time.Date(2026, 2, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), true)
		require.Equal(t, 2, b.usage(u.ID, jan))

		// Expired leases go back to pending; claiming again is no first claim.
		require.Empty(t, b.sweep(feb, 24*time.Hour, 10))
		for _, e := range []*core.Execution{counted, uncounted, cet} {
			require.Equal(t, 2, claim(e, feb, true).Attempts)
		}
		require.Equal(t, 2, b.usage(u.ID, jan))
		require.Zero(t, b.usage(u.ID, feb))
	})

	t.Run("ReturnsNotFoundForUnclaimableExecutions", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		now := engineNow
		wc := b.workerCue(u.ID, nil)
		future := b.pending(wc, now.Add(time.Second))
		webhook := b.pending(CreateCue(t, b.store, u.ID, nil), now.Add(-time.Minute))
		foreign := b.pending(b.workerCue(other.ID, nil), now.Add(-time.Minute))
		done := NewExecution(wc, now.Add(-2*time.Minute))
		done.Status = core.ExecSuccess
		done = b.create(done)
		claimed := b.claim(b.pending(wc, now.Add(-3*time.Minute)), "first", now, workerLease)
		before := map[core.ExecutionID]*core.Execution{}
		for _, e := range []*core.Execution{future, webhook, foreign, done, claimed} {
			before[e.ID] = b.get(e)
		}

		for i, p := range []*core.ExecutionClaimWorkerParams{
			{TenantID: u.ID, ID: &future.ID},
			{TenantID: u.ID, ID: &webhook.ID},
			{TenantID: u.ID, ID: &foreign.ID},
			{TenantID: u.ID, ID: &done.ID},
			{TenantID: u.ID, ID: &claimed.ID},
			{TenantID: u.ID, ID: new(core.NewExecutionID())},
			{TenantID: u.ID, ID: new(core.ExecutionID("not-a-uuid"))},
			{TenantID: "not-a-uuid", ID: &foreign.ID},
			{TenantID: "not-a-uuid"},
			{TenantID: u.ID},
		} {
			p.WorkerID, p.Now, p.Lease, p.CountUsage = "second", now, workerLease, true
			_, err := b.store.ExecutionClaimWorker(b.ctx, p)
			require.ErrorIs(t, err, core.ErrNotFound, "case %d", i)
		}
		for _, e := range before {
			RequireExecutionEqual(t, s.opts.TimePrecision, e, b.get(e))
		}
	})
}

func (s *storeSuite) testExecutionUpdate(t *testing.T) {
	t.Parallel()

	t.Run("AbortsOnFnError", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		e := b.claim(b.pending(c, engineNow.Add(-time.Minute)), "worker", engineNow, workerLease)
		cueBefore := getCue(t, b.store, c)
		usageBefore := 0
		if s.opts.MonthlyUsage != nil {
			usageBefore = b.usage(u.ID, engineNow)
		}
		sentinel := errors.New("fn says no")

		_, err := b.store.ExecutionUpdate(b.ctx, &core.ExecutionUpdateParams{TenantID: u.ID, ID: e.ID, Fn: func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.Status, x.ErrorMessage, x.LeaseExpiresAt = core.ExecFailed, new("changed"), nil
			x.Outcome = &core.Outcome{Success: true, RecordedAt: engineNow}
			return &core.CueEffect{CountRun: true, SetLastRun: true, Status: new(core.CueFailed), CountUsage: true, Now: engineNow}, sentinel
		}})
		require.True(t, err == sentinel, "Fn's error is returned as is, got %v", err)
		RequireExecutionEqual(t, s.opts.TimePrecision, e, b.get(e))
		b.expectCue(cueBefore, nil)
		if s.opts.MonthlyUsage != nil {
			require.Equal(t, usageBefore, b.usage(u.ID, engineNow))
		}
	})

	t.Run("SavesLiveClaim", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		e := b.pending(b.workerCue(u.ID, nil), engineNow.Add(-time.Minute))
		require.Nil(t, e.LiveClaimSessionToken)
		require.Nil(t, e.LiveClaimedAt)
		at := oddTime(time.Minute)
		token := strings.Repeat("t", core.MaxLiveClaimToken)

		got := b.update(e, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.LiveClaimSessionToken, x.LiveClaimedAt, x.UpdatedAt = &token, &at, at
			return nil, nil
		})
		want := *e
		want.LiveClaimSessionToken, want.LiveClaimedAt, want.UpdatedAt = &token, &at, at
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))

		// A later read-modify-write keeps the attestation it did not touch.
		later := at.Add(time.Second)
		got = b.update(e, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.ErrorMessage, x.UpdatedAt = new("noted"), later
			return nil, nil
		})
		want.ErrorMessage, want.UpdatedAt = new("noted"), later
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
	})

	t.Run("AppliesCueStatusOnlyToActiveCue", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		paused := b.workerCue(u.ID, func(c *core.Cue) { c.Status = core.CuePaused })
		pausing := b.workerCue(u.ID, nil)
		untouched := b.workerCue(u.ID, nil)
		before := map[core.CueID]*core.Cue{}
		execs := map[core.CueID]*core.Execution{}
		for _, c := range []*core.Cue{paused, pausing, untouched} {
			before[c.ID] = getCue(t, b.store, c)
			execs[c.ID] = b.pending(c, now.Add(-time.Minute))
		}
		at := now.Add(time.Minute)
		effect := func(eff *core.CueEffect) func(*core.Execution, *core.Cue) (*core.CueEffect, error) {
			return func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
				x.UpdatedAt = at
				return eff, nil
			}
		}

		b.update(execs[paused.ID], effect(&core.CueEffect{CountRun: true, SetLastRun: true, Status: new(core.CueFailed), Now: at}))
		b.update(execs[pausing.ID], effect(&core.CueEffect{Status: new(core.CuePaused), Now: at}))
		b.update(execs[untouched.ID], effect(nil))

		b.expectCue(before[paused.ID], func(c *core.Cue) { c.RunCount, c.LastRun, c.UpdatedAt = 1, &at, at })
		b.expectCue(before[pausing.ID], func(c *core.Cue) { c.Status, c.NextRun, c.UpdatedAt = core.CuePaused, nil, at })
		b.expectCue(before[untouched.ID], nil)
	})

	t.Run("ConcurrentWriteOnceReports", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		e := b.claim(b.pending(c, engineNow.Add(-time.Minute)), "worker", engineNow, workerLease)
		at := engineNow.Add(time.Minute)
		conflict := errors.New("outcome already recorded")

		const n = 50
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = b.store.ExecutionUpdate(b.ctx, &core.ExecutionUpdateParams{TenantID: u.ID, ID: e.ID, Fn: func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
					if x.Outcome != nil {
						return nil, conflict
					}
					time.Sleep(5 * time.Millisecond) // widen the window a racy store would lose in
					x.Outcome = &core.Outcome{Success: true, Result: new(fmt.Sprintf("report %d", i)), RecordedAt: at}
					x.Status, x.LeaseExpiresAt, x.UpdatedAt = core.ExecSuccess, nil, at
					return &core.CueEffect{CountRun: true, Now: at}, nil
				}})
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err != nil {
				require.True(t, err == conflict, "report %d: %v", i, err)
				continue
			}
			require.Equal(t, -1, winner, "reports %d and %d both won", winner, i)
			winner = i
		}
		require.NotEqual(t, -1, winner, "one report wins")
		got := b.get(e)
		require.NotNil(t, got.Outcome)
		require.Equal(t, new(fmt.Sprintf("report %d", winner)), got.Outcome.Result)
		require.Equal(t, 1, getCue(t, b.store, c).RunCount)
	})

	t.Run("DerivesDueAt", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		// Webhook executions are claimed by due_at.
		leased := b.pending(CreateCue(t, b.store, u.ID, nil), now.Add(-time.Minute))
		retrying := b.pending(CreateCue(t, b.store, u.ID, nil), now.Add(-2*time.Minute))
		require.Len(t, claimDeliveries(t, b.store, now, time.Minute, 10), 2)
		require.Equal(t, []bool{true}, recordDeliveries(t, b.store, now.Add(time.Second), &core.DeliveryResult{
			ExecutionID: retrying.ID, CueID: retrying.CueID, TenantID: u.ID, Attempt: 1, Attempts: 1,
			Status: core.ExecRetrying, NextRetry: new(now.Add(10 * time.Minute)),
		}))
		// Worker executions become missed by due_at.
		waiting := b.pending(b.workerCue(u.ID, nil), now.Add(-time.Minute))

		b.update(leased, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.LeaseExpiresAt = new(now.Add(5 * time.Minute)) // delivering: due when the lease expires
			return nil, nil
		})
		for _, e := range []*core.Execution{retrying, waiting} {
			b.update(e, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
				x.Evidence.Summary, x.UpdatedAt = new("touched"), now.Add(2*time.Second) // due_at unchanged
				return nil, nil
			})
		}

		require.Empty(t, claimDeliveries(t, b.store, now.Add(5*time.Minute-time.Microsecond), time.Hour, 10))
		require.Equal(t, []core.ExecutionID{leased.ID}, deliveryIDs(claimDeliveries(t, b.store, now.Add(5*time.Minute), time.Hour, 10)))
		require.Empty(t, claimDeliveries(t, b.store, now.Add(10*time.Minute-time.Microsecond), time.Hour, 10))
		require.Equal(t, []core.ExecutionID{retrying.ID}, deliveryIDs(claimDeliveries(t, b.store, now.Add(10*time.Minute), time.Hour, 10)))
		require.Empty(t, b.sweep(now.Add(15*time.Minute-time.Minute-time.Microsecond), 15*time.Minute, 10))
		ds := b.sweep(now.Add(15*time.Minute-time.Minute), 15*time.Minute, 10)
		require.Len(t, ds, 1)
		require.Equal(t, waiting.ID, ds[0].Execution.ID)
	})

	t.Run("ReturnsNotFoundForUnknownForeignOrNonUUID", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		e := b.pending(b.workerCue(u.ID, nil), engineNow)
		called := false
		for _, p := range []*core.ExecutionUpdateParams{
			{TenantID: u.ID, ID: core.NewExecutionID()},
			{TenantID: other.ID, ID: e.ID},
			{TenantID: u.ID, ID: "not-a-uuid"},
			{TenantID: "not-a-uuid", ID: e.ID},
		} {
			p.Fn = func(*core.Execution, *core.Cue) (*core.CueEffect, error) {
				called = true
				return nil, nil
			}
			_, err := b.store.ExecutionUpdate(b.ctx, p)
			require.ErrorIs(t, err, core.ErrNotFound)
		}
		require.False(t, called)
	})

	t.Run("SavesListedFieldsAndCueEffect", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"task":"t"}`) })
		e := b.pending(c, engineNow.Add(-time.Minute))
		claimed := b.claim(e, "worker-1", engineNow, workerLease)
		cueBefore := getCue(t, b.store, c)
		usageBefore := 0
		at := oddTime(time.Hour)
		if s.opts.MonthlyUsage != nil {
			usageBefore = b.usage(u.ID, at)
		}
		full := fullExecution(c, e.ID)

		got := b.update(e, func(x *core.Execution, xc *core.Cue) (*core.CueEffect, error) {
			RequireExecutionEqual(t, s.opts.TimePrecision, claimed, x)
			requireCueEqual(t, s.opts.TimePrecision, cueBefore, xc)
			// Saved:
			x.Status = core.ExecSuccess
			x.ErrorMessage = new("slow but fine")
			x.DeliveredAt = &at
			x.LeaseExpiresAt = nil
			x.ClaimedByWorker = new("worker-2")
			x.ClaimedAt = new(at.Add(-time.Minute))
			x.LastHeartbeatAt = new(at.Add(-time.Second))
			x.Outcome = full.Outcome
			x.OutcomeState = full.OutcomeState
			x.OutcomeDeadlineAt = new(at.Add(time.Hour))
			x.Evidence = full.Evidence
			x.UpdatedAt = at
			// Not saved:
			x.ScheduledFor, x.CreatedAt = at, at
			x.Attempts, x.HTTPStatus, x.ResponseBody = 99, new(500), new("ignored")
			x.NextRetry, x.StartedAt, x.LastAttemptAt = &at, &at, &at
			x.TriggeredBy, x.ReplayedFrom = new(core.TriggerReplay), &e.ID
			xc.Name = "ignored"
			return &core.CueEffect{CountRun: true, SetLastRun: true, Status: new(core.CueCompleted), CountUsage: true, Now: at}, nil
		})
		want := *claimed
		want.Status, want.ErrorMessage, want.DeliveredAt, want.LeaseExpiresAt = core.ExecSuccess, new("slow but fine"), &at, nil
		want.ClaimedByWorker, want.ClaimedAt, want.LastHeartbeatAt = new("worker-2"), new(at.Add(-time.Minute)), new(at.Add(-time.Second))
		want.Outcome, want.OutcomeState, want.OutcomeDeadlineAt = full.Outcome, full.OutcomeState, new(at.Add(time.Hour))
		want.Evidence, want.UpdatedAt = full.Evidence, at
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
		b.expectCue(cueBefore, func(c *core.Cue) {
			c.RunCount, c.LastRun, c.Status, c.UpdatedAt = 1, &at, core.CueCompleted, at
		})
		if s.opts.MonthlyUsage != nil {
			require.Equal(t, usageBefore+1, b.usage(u.ID, at))
		}

		// Clearing the outcome and evidence stores NULLs.
		got = b.update(e, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.Outcome, x.OutcomeState, x.OutcomeDeadlineAt, x.Evidence = nil, nil, nil, core.Evidence{}
			x.ErrorMessage, x.ClaimedByWorker, x.ClaimedAt, x.LastHeartbeatAt, x.DeliveredAt = nil, nil, nil, nil, nil
			return nil, nil
		})
		want.Outcome, want.OutcomeState, want.OutcomeDeadlineAt, want.Evidence = nil, nil, nil, core.Evidence{}
		want.ErrorMessage, want.ClaimedByWorker, want.ClaimedAt, want.LastHeartbeatAt, want.DeliveredAt = nil, nil, nil, nil, nil
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
	})
}

func (s *storeSuite) testExecutionSweepWorkerLeases(t *testing.T) {
	t.Parallel()

	t.Run("FailsExhaustedClaimsWithCueEffects", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		once := b.workerCue(u.ID, func(c *core.Cue) { onceSchedule(c); c.Retry.MaxAttempts = 1 })
		onceManual := b.workerCue(u.ID, func(c *core.Cue) { onceSchedule(c); c.Retry.MaxAttempts = 1 })
		pausing := b.workerCue(u.ID, func(c *core.Cue) { c.Retry.MaxAttempts = 1; c.OnFailure.Pause = true })
		plain := b.workerCue(u.ID, func(c *core.Cue) { c.Retry.MaxAttempts = 1; c.OutcomeDeadlineSeconds = new(3600) })
		manual := NewExecution(onceManual, now.Add(-3*time.Minute))
		manual.TriggeredBy = new(core.TriggerManualFire)
		var claimed []*core.Execution
		for _, e := range []*core.Execution{
			b.pending(once, now.Add(-4*time.Minute)), b.create(manual),
			b.pending(pausing, now.Add(-2*time.Minute)), b.pending(plain, now.Add(-time.Minute)),
		} {
			claimed = append(claimed, b.claim(e, "worker", now, time.Minute))
		}
		before := map[core.CueID]*core.Cue{}
		for _, c := range []*core.Cue{once, onceManual, pausing, plain} {
			before[c.ID] = getCue(t, b.store, c)
		}

		require.Empty(t, b.sweep(now.Add(time.Minute-time.Microsecond), time.Hour, 10), "no lease has expired")
		at := now.Add(time.Minute)
		ds := b.sweep(at, time.Hour, 10)
		require.Len(t, ds, 4)
		for i, e := range claimed {
			want := *e
			want.Status, want.ErrorMessage, want.UpdatedAt = core.ExecFailed, new(core.MsgLeaseExhausted), at
			want.LeaseExpiresAt, want.OutcomeDeadlineAt = nil, nil
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, ds[i].Execution)
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
			requireCueEqual(t, s.opts.TimePrecision, getCue(t, b.store, ds[i].Cue), ds[i].Cue)
			require.Equal(t, u.WebhookSecretSealed, ds[i].WebhookSecretSealed)
		}
		b.expectCue(before[once.ID], func(c *core.Cue) { c.Status, c.LastRun, c.UpdatedAt = core.CueFailed, &at, at })
		b.expectCue(before[onceManual.ID], func(c *core.Cue) { c.LastRun, c.UpdatedAt = &at, at })
		b.expectCue(before[pausing.ID], func(c *core.Cue) { c.Status, c.NextRun, c.LastRun, c.UpdatedAt = core.CuePaused, nil, &at, at })
		b.expectCue(before[plain.ID], func(c *core.Cue) { c.LastRun, c.UpdatedAt = &at, at })
		require.Empty(t, b.sweep(at.Add(time.Hour), time.Hour, 10), "failed executions are done")
	})

	t.Run("KeepsLeaseRenewedByUpdate", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		e := b.claim(b.pending(b.workerCue(u.ID, nil), now.Add(-time.Minute)), "worker", now, time.Minute)
		renewed := b.update(e, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.LastHeartbeatAt, x.LeaseExpiresAt, x.UpdatedAt = new(now.Add(30*time.Second)), new(now.Add(2*time.Minute)), now.Add(30*time.Second)
			return nil, nil
		})

		require.Empty(t, b.sweep(now.Add(2*time.Minute-time.Microsecond), time.Hour, 10))
		RequireExecutionEqual(t, s.opts.TimePrecision, renewed, b.get(e))
		require.Empty(t, b.sweep(now.Add(2*time.Minute), time.Hour, 10))
		require.Equal(t, core.ExecPending, b.get(e).Status)
	})

	t.Run("LeavesWebhookExecutionsAlone", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		hook := CreateCue(t, b.store, u.ID, nil)
		waiting := b.pending(hook, now.Add(-time.Hour))
		leased := b.pending(hook, now.Add(-2*time.Hour))
		require.Len(t, claimDeliveries(t, b.store, now.Add(-10*time.Minute), time.Minute, 1), 1)
		before := []*core.Execution{b.get(waiting), b.get(leased)}

		require.Empty(t, b.sweep(now, 15*time.Minute, 10))
		for _, e := range before {
			RequireExecutionEqual(t, s.opts.TimePrecision, e, b.get(e))
		}
	})

	t.Run("MarksUnclaimedMissed", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		timeout := 15 * time.Minute
		once := b.workerCue(u.ID, onceSchedule)
		pausing := b.workerCue(u.ID, func(c *core.Cue) { c.OnFailure.Pause = true })
		plain := b.workerCue(u.ID, nil)
		e1 := b.pending(once, now.Add(-20*time.Minute))
		e2 := b.pending(pausing, now.Add(-16*time.Minute))
		e3 := b.pending(plain, now.Add(-timeout))
		fresh := b.pending(plain, now.Add(-timeout+time.Microsecond))
		before := map[core.CueID]*core.Cue{}
		for _, c := range []*core.Cue{once, pausing, plain} {
			before[c.ID] = getCue(t, b.store, c)
		}

		ds := b.sweep(now, timeout, 10)
		require.Len(t, ds, 3)
		for i, e := range []*core.Execution{e1, e2, e3} {
			want := *e
			want.Status, want.ErrorMessage, want.UpdatedAt = core.ExecMissed, new(core.MsgUnclaimed), now
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, ds[i].Execution)
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
			requireCueEqual(t, s.opts.TimePrecision, getCue(t, b.store, ds[i].Cue), ds[i].Cue)
			require.Equal(t, u.WebhookSecretSealed, ds[i].WebhookSecretSealed)
		}
		b.expectCue(before[once.ID], func(c *core.Cue) { c.Status, c.LastRun, c.UpdatedAt = core.CueFailed, &now, now })
		b.expectCue(before[pausing.ID], func(c *core.Cue) { c.Status, c.NextRun, c.LastRun, c.UpdatedAt = core.CuePaused, nil, &now, now })
		b.expectCue(before[plain.ID], func(c *core.Cue) { c.LastRun, c.UpdatedAt = &now, now })
		RequireExecutionEqual(t, s.opts.TimePrecision, fresh, b.get(fresh))
		require.Equal(t, []core.ExecutionID{fresh.ID}, claimableIDs(b.claimable(u.ID, now, nil, 50)))
	})

	t.Run("MeasuresUnclaimedTimeoutFromReset", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		timeout := 15 * time.Minute
		e := b.claim(b.pending(b.workerCue(u.ID, nil), now), "worker", now, time.Minute)
		reset := now.Add(time.Minute)
		require.Empty(t, b.sweep(reset, timeout, 10))
		require.Equal(t, core.ExecPending, b.get(e).Status)

		require.Empty(t, b.sweep(reset.Add(timeout-time.Microsecond), timeout, 10), "the timeout runs from the reset")
		require.Equal(t, core.ExecPending, b.get(e).Status)
		ds := b.sweep(reset.Add(timeout), timeout, 10)
		require.Len(t, ds, 1)
		require.Equal(t, e.ID, ds[0].Execution.ID)
		require.Equal(t, core.ExecMissed, ds[0].Execution.Status)
		require.Equal(t, 1, ds[0].Execution.Attempts)
	})

	t.Run("ResetsExpiredClaimWithAttemptsLeft", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c := b.workerCue(u.ID, func(c *core.Cue) { c.Retry.MaxAttempts = 2; c.OutcomeDeadlineSeconds = new(600) })
		e := b.claim(b.pending(c, now.Add(-time.Minute)), "worker-1", now, time.Minute)
		e = b.update(e, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.LastHeartbeatAt = new(now.Add(10 * time.Second))
			return nil, nil
		})
		cueBefore := getCue(t, b.store, c)

		require.Empty(t, b.sweep(now.Add(time.Minute-time.Microsecond), time.Hour, 10))
		RequireExecutionEqual(t, s.opts.TimePrecision, e, b.get(e))
		at := now.Add(time.Minute)
		require.Empty(t, b.sweep(at, time.Hour, 10), "a reset execution is not returned")
		want := *e
		want.Status, want.ErrorMessage, want.UpdatedAt = core.ExecPending, new(core.MsgLeaseReset), at
		want.ClaimedByWorker, want.ClaimedAt, want.StartedAt, want.LastHeartbeatAt = nil, nil, nil, nil
		want.LeaseExpiresAt, want.OutcomeDeadlineAt = nil, nil
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
		b.expectCue(cueBefore, nil)

		require.Equal(t, []core.ExecutionID{e.ID}, claimableIDs(b.claimable(u.ID, at, nil, 50)))
		again, err := b.claimNext(u.ID, nil, at)
		require.NoError(t, err)
		require.Equal(t, e.ID, again.ID)
		require.Equal(t, 2, again.Attempts)
		require.Equal(t, new("worker-next"), again.ClaimedByWorker)
		requireTimePtrEqual(t, s.opts.TimePrecision, &at, again.StartedAt, "StartedAt")
		requireTimePtrEqual(t, s.opts.TimePrecision, new(at.Add(10*time.Minute)), again.OutcomeDeadlineAt, "OutcomeDeadlineAt")

		// The second claim was the last attempt.
		ds := b.sweep(at.Add(workerLease), time.Hour, 10)
		require.Len(t, ds, 1)
		require.Equal(t, core.ExecFailed, ds[0].Execution.Status)
	})

	t.Run("RespectsLimitPerStepOldestFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c := b.workerCue(u.ID, func(c *core.Cue) { c.Retry.MaxAttempts = 1 })
		var leased []*core.Execution
		for i, lease := range []time.Duration{3 * time.Minute, time.Minute, 2 * time.Minute} {
			leased = append(leased, b.claim(b.pending(c, now.Add(-time.Duration(i+1)*time.Second)), "worker", now, lease))
		}
		var waiting []*core.Execution
		for i := range 3 {
			waiting = append(waiting, b.pending(c, now.Add(-time.Hour-time.Duration(i)*time.Minute)))
		}
		at := now.Add(3 * time.Minute)

		first := b.sweep(at, 15*time.Minute, 2)
		require.Equal(t, append(byScheduledThenID(leased[1], leased[2]), byScheduledThenID(waiting[2], waiting[1])...), deliveryIDs(first))
		second := b.sweep(at, 15*time.Minute, 2)
		require.Equal(t, []core.ExecutionID{leased[0].ID, waiting[0].ID}, deliveryIDs(second))
		require.Empty(t, b.sweep(at, 15*time.Minute, 2))
	})
}

func (s *storeSuite) testExecutionSweepOutcomeDeadlines(t *testing.T) {
	t.Parallel()

	t.Run("RespectsLimitOldestDeadlineFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		now := engineNow
		var ids []core.ExecutionID
		for i := range 3 {
			e := NewExecution(c, now.Add(-time.Duration(10-i)*time.Minute))
			e.Status, e.OutcomeDeadlineAt = core.ExecSuccess, new(now.Add(-time.Duration(3-i)*time.Second))
			ids = append(ids, b.create(e).ID)
		}
		require.Equal(t, ids[:2], deliveryIDs(b.sweepDeadlines(now, 2)))
		require.Equal(t, ids[2:], deliveryIDs(b.sweepDeadlines(now, 2)))
		require.Empty(t, b.sweepDeadlines(now, 2))
	})

	t.Run("TimesOutExecutionsWithoutOutcomePastDeadline", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		wc := b.workerCue(u.ID, func(c *core.Cue) { c.OutcomeDeadlineSeconds = new(60) })
		hook := CreateCue(t, b.store, u.ID, nil)
		claimed := b.claim(b.pending(wc, now.Add(-time.Minute)), "worker", now, workerLease)
		delivered := NewExecution(hook, now.Add(-2*time.Minute))
		delivered.Status, delivered.Attempts, delivered.DeliveredAt = core.ExecSuccess, 1, new(now)
		delivered.OutcomeDeadlineAt = new(now.Add(30 * time.Second))
		delivered = b.create(delivered)
		reported := NewExecution(hook, now.Add(-3*time.Minute))
		reported.Status, reported.OutcomeDeadlineAt = core.ExecSuccess, new(now.Add(10*time.Second))
		reported.Outcome = &core.Outcome{Success: true, RecordedAt: now}
		reported = b.create(reported)
		later := NewExecution(hook, now.Add(-4*time.Minute))
		later.Status, later.OutcomeDeadlineAt = core.ExecSuccess, new(now.Add(2*time.Minute))
		later = b.create(later)

		require.Empty(t, b.sweepDeadlines(now.Add(30*time.Second-time.Microsecond), 10))
		at := now.Add(time.Minute)
		ds := b.sweepDeadlines(at, 10)
		require.Len(t, ds, 2)
		for i, e := range []*core.Execution{delivered, claimed} {
			want := *e
			want.Status, want.OutcomeDeadlineAt, want.LeaseExpiresAt, want.UpdatedAt = core.ExecOutcomeTimeout, nil, nil, at
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, ds[i].Execution)
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
			requireCueEqual(t, s.opts.TimePrecision, getCue(t, b.store, ds[i].Cue), ds[i].Cue)
			require.Equal(t, e.CueID, ds[i].Cue.ID)
		}
		RequireExecutionEqual(t, s.opts.TimePrecision, reported, b.get(reported))
		RequireExecutionEqual(t, s.opts.TimePrecision, later, b.get(later))
		require.Empty(t, b.sweepDeadlines(at, 10))
		require.Empty(t, b.sweep(at.Add(workerLease), time.Hour, 10), "a timed-out claim holds no lease")
	})
}

func (s *storeSuite) testExecutionRecentFinished(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsEmptyForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		e := NewExecution(c, FactoryTime)
		e.Status = core.ExecFailed
		b.create(e)
		for _, tenant := range []core.TenantID{other.ID, "not-a-uuid"} {
			got, err := b.store.ExecutionRecentFinished(b.ctx, &core.ExecutionRecentFinishedParams{TenantID: tenant, CueID: c.ID, Limit: 10})
			require.NoError(t, err)
			require.Empty(t, got)
		}
	})

	t.Run("ReturnsLatestFinishedNewestFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		otherCue := b.workerCue(u.ID, nil)
		var finished []*core.Execution
		add := func(c *core.Cue, minute int, created int, st core.ExecutionStatus) {
			e := NewExecution(c, FactoryTime.Add(time.Duration(minute)*time.Minute))
			e.CreatedAt, e.Status = FactoryTime.Add(time.Duration(created)*time.Minute), st
			e = b.create(e)
			if c == otherCue || !st.Terminal() {
				return
			}
			finished = append(finished, e)
		}
		add(c, 0, 0, core.ExecSuccess)
		add(c, 1, 1, core.ExecFailed)
		add(c, 2, 2, core.ExecMissed)
		add(c, 3, 3, core.ExecPending)
		add(c, 4, 4, core.ExecOutcomeTimeout)
		add(c, 5, 5, core.ExecDelivering)
		add(c, 6, 6, core.ExecRetrying)
		add(c, 7, 7, core.ExecPendingOutcome)
		add(c, 8, 8, core.ExecRetryReady)
		add(c, 9, 9, core.ExecFailed)
		add(c, 10, 9, core.ExecSuccess) // same created_at: ties by id
		add(otherCue, 11, 11, core.ExecFailed)
		want := executionIDs(executionsNewestFirst(finished))
		recent := func(limit int) []core.ExecutionID {
			got, err := b.store.ExecutionRecentFinished(b.ctx, &core.ExecutionRecentFinishedParams{TenantID: u.ID, CueID: c.ID, Limit: limit})
			require.NoError(t, err)
			return executionIDs(got)
		}

		require.Len(t, want, 6)
		require.Equal(t, want[:4], recent(4))
		require.Equal(t, want, recent(100))
	})
}

// BenchWorkerStore benchmarks the pull-worker claim on stores newStore
// builds: one operation is one claim-next (with usage counting) of a
// tenant's oldest pending worker execution, out of up to 1,000 pending ones
// (re-fired, untimed, whenever they run out).
func BenchWorkerStore(b *testing.B, newStore func(b *testing.B) core.Store) {
	b.Helper()

	b.Run("ExecutionClaimWorker/Next", func(b *testing.B) {
		const batch = 1000
		s := newStore(b)
		u := CreateUser(b, s, nil)
		c := NewCue(u.ID, &CueOpts{Transport: core.TransportWorker})
		c.NextRun = new(engineNow)
		storeCue(b, s, c)
		fired, left := 0, 0
		refill := func() {
			b.StopTimer()
			defer b.StartTimer()
			res, err := s.CueFireDue(b.Context(), &core.CueFireDueParams{Now: engineNow, Horizon: engineNow, Limit: 1, Plan: func(*core.Cue) core.FirePlan {
				occ := make([]time.Time, batch)
				for i := range occ {
					occ[i] = engineNow.Add(-time.Duration(fired+i+1) * time.Millisecond)
				}
				return core.FirePlan{Occurrences: occ, NextRun: new(engineNow), Status: core.CueActive}
			}})
			if err != nil || res.Inserted != batch {
				b.Fatalf("CueFireDue: inserted %v, %v", res, err)
			}
			fired += batch
			left = batch
		}
		b.ReportAllocs()
		for b.Loop() {
			if left == 0 {
				refill()
			}
			if _, err := s.ExecutionClaimWorker(b.Context(), &core.ExecutionClaimWorkerParams{
				TenantID: u.ID, WorkerID: "bench", Now: engineNow, Lease: workerLease, CountUsage: true,
			}); err != nil {
				b.Fatalf("ExecutionClaimWorker: %v", err)
			}
			left--
		}
	})
}
