package coretest

import (
	"sync"
	"testing"
	"time"

	"github.com/cueapi/cueapi/core"
	"github.com/stretchr/testify/require"
)

// acctMonth is the month of the usage cases.
var acctMonth = core.MonthStart(acctNow)

func acctUsage(t testing.TB, s core.Store, tenant core.TenantID, month time.Time) *core.Usage {
	t.Helper()
	u, err := s.UsageGet(t.Context(), &core.UsageGetParams{TenantID: tenant, MonthStart: month})
	require.NoError(t, err)
	return u
}

func acctCount(t testing.TB, s core.Store, tenant core.TenantID, month time.Time, n int) {
	t.Helper()
	require.NoError(t, s.UsageCount(t.Context(), &core.UsageCountParams{TenantID: tenant, MonthStart: month, N: n}))
}

func (s *storeSuite) testUsageGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsZeroWithoutRow", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		for _, tenant := range []core.TenantID{u.ID, core.NewTenantID(), "not-a-uuid"} {
			got := acctUsage(t, b.store, tenant, acctMonth)
			require.Zero(t, got.Executions)
			require.Nil(t, got.GraceStartedAt)
			requireTimeEqual(t, s.opts.TimePrecision, acctMonth, got.MonthStart, "MonthStart")
		}
	})

	t.Run("SeparatesMonthsAndTenants", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		other := acctUser(t, b.store, false)
		next := acctMonth.AddDate(0, 1, 0)
		acctCount(t, b.store, u.ID, acctMonth, 3)
		acctCount(t, b.store, u.ID, next, 5)
		acctCount(t, b.store, other.ID, acctMonth, 7)

		require.Equal(t, 3, acctUsage(t, b.store, u.ID, acctMonth).Executions)
		require.Equal(t, 5, acctUsage(t, b.store, u.ID, next).Executions)
		require.Equal(t, 7, acctUsage(t, b.store, other.ID, acctMonth).Executions)
		require.Zero(t, acctUsage(t, b.store, u.ID, acctMonth.AddDate(0, -1, 0)).Executions)
	})
}

func (s *storeSuite) testUsageCount(t *testing.T) {
	t.Parallel()

	t.Run("AccumulatesCounts", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		acctCount(t, b.store, u.ID, acctMonth, 2)
		acctCount(t, b.store, u.ID, acctMonth, 3)
		require.Equal(t, 5, acctUsage(t, b.store, u.ID, acctMonth).Executions)
		if s.opts.MonthlyUsage != nil {
			n, err := s.opts.MonthlyUsage(b.ctx, b.store, u.ID, acctNow)
			require.NoError(t, err)
			require.Equal(t, 5, n, "the engine's counter and UsageCount share the month's row")
		}
	})

	t.Run("ConcurrentCountsAllLand", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		const n = 12
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = b.store.UsageCount(b.ctx, &core.UsageCountParams{TenantID: u.ID, MonthStart: acctMonth, N: 1})
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, n, acctUsage(t, b.store, u.ID, acctMonth).Executions)
	})

	t.Run("KeepsGraceStart", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		_, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: acctNow})
		require.NoError(t, err)
		acctCount(t, b.store, u.ID, acctMonth, 4)
		got := acctUsage(t, b.store, u.ID, acctMonth)
		require.Equal(t, 4, got.Executions)
		requireTimePtrEqual(t, s.opts.TimePrecision, &acctNow, got.GraceStartedAt, "GraceStartedAt")
	})

	t.Run("ReturnsNotFoundForUnknownTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		for _, tenant := range []core.TenantID{core.NewTenantID(), "not-a-uuid"} {
			err := b.store.UsageCount(b.ctx, &core.UsageCountParams{TenantID: tenant, MonthStart: acctMonth, N: 1})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
	})
}

func (s *storeSuite) testUsageStartGrace(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentStartsAgreeOnOneTime", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		const n = 10
		got := make([]time.Time, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				got[i], errs[i] = b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: acctNow.Add(time.Duration(i) * time.Second)})
			})
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, got[0], got[i])
		}
		requireTimePtrEqual(t, s.opts.TimePrecision, &got[0], acctUsage(t, b.store, u.ID, acctMonth).GraceStartedAt, "GraceStartedAt")
	})

	t.Run("KeepsMonthsApart", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		_, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: acctNow})
		require.NoError(t, err)
		require.Nil(t, acctUsage(t, b.store, u.ID, acctMonth.AddDate(0, 1, 0)).GraceStartedAt)
		next, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth.AddDate(0, 1, 0), Now: acctNow.Add(time.Hour)})
		require.NoError(t, err)
		requireTimeEqual(t, s.opts.TimePrecision, acctNow.Add(time.Hour), next, "next month's grace")
	})

	t.Run("ReturnsNotFoundForUnknownTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		for _, tenant := range []core.TenantID{core.NewTenantID(), "not-a-uuid"} {
			_, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: tenant, MonthStart: acctMonth, Now: acctNow})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
	})

	t.Run("SetsGraceOnce", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		acctCount(t, b.store, u.ID, acctMonth, 300)
		first, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: oddTime(0)})
		require.NoError(t, err)
		requireTimeEqual(t, s.opts.TimePrecision, oddTime(0), first, "first start")
		second, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: oddTime(time.Hour)})
		require.NoError(t, err)
		require.Equal(t, first, second, "the second start returns the first time")

		got := acctUsage(t, b.store, u.ID, acctMonth)
		require.Equal(t, 300, got.Executions)
		requireTimePtrEqual(t, s.opts.TimePrecision, new(oddTime(0)), got.GraceStartedAt, "GraceStartedAt")
	})

	t.Run("StartsGraceOfMonthWithoutRow", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		at, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: acctNow})
		require.NoError(t, err)
		requireTimeEqual(t, s.opts.TimePrecision, acctNow, at, "grace start")
		got := acctUsage(t, b.store, u.ID, acctMonth)
		require.Zero(t, got.Executions)
		requireTimePtrEqual(t, s.opts.TimePrecision, &acctNow, got.GraceStartedAt, "GraceStartedAt")
	})
}

func (s *storeSuite) testOutcomeCounts(t *testing.T) {
	t.Parallel()

	t.Run("CountsExecutionsCreatedInPeriod", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		other := acctUser(t, b.store, false)
		c := CreateCue(t, b.store, u.ID, nil)
		oc := CreateCue(t, b.store, other.ID, nil)
		from, to := acctMonth, acctMonth.AddDate(0, 1, 0)
		i := 0
		seed := func(c *core.Cue, created time.Time, status core.ExecutionStatus, outcome *bool) {
			t.Helper()
			i++
			e := NewExecution(c, created.Add(time.Duration(i)*time.Microsecond))
			e.CreatedAt = created
			e.Status = status
			if outcome != nil {
				e.Outcome = &core.Outcome{Success: *outcome, RecordedAt: created.Add(time.Minute)}
				state := core.OutcomeReportedFailure
				if *outcome {
					state = core.OutcomeReportedSuccess
				}
				e.OutcomeState = &state
			}
			createExecution(t, b.store, e)
		}
		yes, no := new(true), new(false)
		seed(c, from, core.ExecSuccess, yes)                           // reported, succeeded (at From: included)
		seed(c, acctNow, core.ExecSuccess, yes)                        // reported, succeeded
		seed(c, acctNow, core.ExecSuccess, no)                         // reported, failed
		seed(c, acctNow, core.ExecFailed, no)                          // reported, failed once
		seed(c, acctNow, core.ExecFailed, nil)                         // failed
		seed(c, acctNow, core.ExecMissed, nil)                         // failed
		seed(c, acctNow, core.ExecOutcomeTimeout, nil)                 // neither
		seed(c, acctNow, core.ExecSuccess, nil)                        // neither
		seed(c, acctNow, core.ExecPending, nil)                        // neither
		seed(c, from.Add(-time.Microsecond), core.ExecFailed, no)      // before From
		seed(c, to, core.ExecFailed, no)                               // at To: excluded
		seed(oc, acctNow, core.ExecFailed, no)                         // another tenant's
		seed(c, to.Add(-time.Microsecond), core.ExecMissed, nil)       // failed (last instant)
		seed(c, acctNow.Add(time.Hour), core.ExecPendingOutcome, yes)  // reported, succeeded
		seed(c, acctNow.Add(2*time.Hour), core.ExecOutcomeTimeout, no) // reported, failed

		got, err := b.store.OutcomeCounts(b.ctx, &core.OutcomeCountsParams{TenantID: u.ID, From: from, To: to})
		require.NoError(t, err)
		require.Equal(t, &core.OutcomeCounts{Reported: 6, Succeeded: 3, Failed: 6}, got)
	})

	t.Run("ReturnsZeroWithoutExecutions", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		for _, tenant := range []core.TenantID{u.ID, core.NewTenantID(), "not-a-uuid"} {
			got, err := b.store.OutcomeCounts(b.ctx, &core.OutcomeCountsParams{TenantID: tenant, From: acctMonth, To: acctMonth.AddDate(0, 1, 0)})
			require.NoError(t, err)
			require.Equal(t, &core.OutcomeCounts{}, got)
		}
	})
}
