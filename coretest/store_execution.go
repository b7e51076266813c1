package coretest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

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

func (s *storeSuite) testWorkerCountActive(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsZeroWithoutWorkers", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		since := FactoryTime.Add(-time.Hour)
		for _, tenant := range []core.TenantID{u.ID, ""} {
			n, err := b.store.WorkerCountActive(b.ctx, &core.WorkerCountActiveParams{TenantID: tenant, Since: since})
			require.NoError(t, err)
			require.Zero(t, n)
		}
	})
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
	} {
		requireTimePtrEqual(t, prec, f.want, f.got, f.name)
	}
	requireJSONEqual(t, want.Evidence.Artifacts, got.Evidence.Artifacts, false, "Evidence.Artifacts")
	requireJSONEqual(t, want.Evidence.Metadata, got.Evidence.Metadata, false, "Evidence.Metadata")
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

		ids, total = list(core.ExecutionListParams{Status: new(string(core.ExecSuccess)), Limit: 100})
		require.Equal(t, 3, total)
		require.Equal(t, want(func(e *core.Execution) bool { return e.Status == core.ExecSuccess }), ids)

		ids, total = list(core.ExecutionListParams{
			CueID: &c1.ID, Status: new(string(core.ExecSuccess)), OutcomeState: new(string(core.OutcomeReportedSuccess)), Limit: 100,
		})
		require.Equal(t, 1, total)
		require.Equal(t, want(func(e *core.Execution) bool {
			return e.CueID == c1.ID && e.Status == core.ExecSuccess && e.OutcomeState != nil && *e.OutcomeState == core.OutcomeReportedSuccess
		}), ids)

		_, total = list(core.ExecutionListParams{CueID: &foreign.ID, Limit: 100})
		require.Zero(t, total, "another tenant's cue has no executions for this tenant")
	})

	t.Run("ReturnsEmptyForTenantWithoutExecutions", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := CreateUser(t, s, nil)
		c := CreateCue(t, s, u.ID, nil)

		for _, p := range []*core.ExecutionListParams{
			{TenantID: u.ID, Limit: 10},
			{TenantID: u.ID, CueID: &c.ID, Status: new(string(core.ExecPending)), OutcomeState: new(string(core.OutcomeReportedSuccess)), Limit: 10},
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
