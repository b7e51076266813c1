package coretest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

func (s *storeSuite) testExecutionClaimDeliveries(t *testing.T) {
	t.Parallel()

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
			want := *e
			want.Status, want.Attempts, want.UpdatedAt = core.ExecDelivering, 1, now
			want.StartedAt, want.LastAttemptAt, want.LeaseExpiresAt = &now, &now, new(now.Add(time.Minute))
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, ds[i].Execution)
			got, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: e.ID})
			require.NoError(t, err)
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
			requireCueEqual(t, s.opts.TimePrecision, hook, ds[i].Cue)
			require.Equal(t, u.WebhookSecretSealed, ds[i].WebhookSecretSealed)
		}
		require.Empty(t, claimDeliveries(t, b.store, now, time.Minute, 10), "claimed executions are leased")
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
