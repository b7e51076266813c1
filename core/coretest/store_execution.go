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

func (s *storeSuite) testExecutionList(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsEmptyForTenantWithoutExecutions", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)

		for _, p := range []*core.ExecutionListParams{
			{TenantID: u.ID, Limit: 10},
			{TenantID: u.ID, CueID: &c.ID, Status: new(string(core.ExecPending)), OutcomeState: new(string(core.OutcomeReportedSuccess)), Limit: 10},
			{TenantID: "not-a-uuid", Limit: 10},
		} {
			execs, total, err := b.store.ExecutionList(b.ctx, p)
			require.NoError(t, err)
			require.Zero(t, total)
			require.Empty(t, execs)
		}
	})
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
// by insert, an adapter's test-only hook that writes an execution as is. It
// covers the row conversion of every field, the filters, the order and the
// cascade from CueDelete until the port can create executions itself; then
// these cases move into RunStoreContract.
func RunExecutionListSeeded[S core.Store](t *testing.T, newStore func(t testing.TB) S, insert func(ctx context.Context, s S, e *core.Execution) error, opts StoreOpts) {
	t.Helper()
	if opts.TimePrecision <= 0 {
		opts.TimePrecision = time.Microsecond
	}
	prec := opts.TimePrecision

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

	t.Run("ReturnsEveryField", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := CreateUser(t, s, nil)
		c := CreateCue(t, s, u.ID, nil)

		bare := NewExecution(c, oddTime(0))
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
		full.ReplayedFrom = new(bare.ID)
		full.CreatedAt = oddTime(time.Hour + 8*time.Second)
		full.UpdatedAt = oddTime(time.Hour + 9*time.Second)
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
