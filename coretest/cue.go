package coretest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cueapi/cueapi/core"
	"github.com/stretchr/testify/require"
)

func (s *storeSuite) testCueCountByStatus(t *testing.T) {
	t.Parallel()

	t.Run("CountsTenantsCuesPerStatus", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		for _, st := range []core.CueStatus{core.CueActive, core.CueActive, core.CuePaused, core.CueCompleted, core.CueFailed, core.CueFailed, core.CueFailed} {
			CreateCue(t, b.store, u.ID, &CueOpts{Status: st})
		}
		CreateCue(t, b.store, other.ID, &CueOpts{Status: core.CuePaused})

		counts, err := b.store.CueCountByStatus(b.ctx, &core.CueCountByStatusParams{TenantID: u.ID})
		require.NoError(t, err)
		require.Equal(t, 2, counts[core.CueActive])
		require.Equal(t, 1, counts[core.CuePaused])
		require.Equal(t, 1, counts[core.CueCompleted])
		require.Equal(t, 3, counts[core.CueFailed])
	})

	t.Run("ReturnsNoCountsForTenantWithoutCues", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		counts, err := b.store.CueCountByStatus(b.ctx, &core.CueCountByStatusParams{TenantID: u.ID})
		require.NoError(t, err)
		for _, st := range []core.CueStatus{core.CueActive, core.CuePaused, core.CueCompleted, core.CueFailed} {
			require.Zero(t, counts[st], st)
		}
	})
}

func (s *storeSuite) testCueCreate(t *testing.T) {
	t.Parallel()

	t.Run("AllowsSameNameForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		CreateCue(t, b.store, u.ID, &CueOpts{Name: "nightly"})
		_, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: NewCue(other.ID, &CueOpts{Name: "nightly"}), ActiveCueLimit: 10})
		require.NoError(t, err)
	})

	t.Run("ChecksNameBeforeLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		CreateCue(t, b.store, u.ID, &CueOpts{Name: "nightly"})
		_, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: NewCue(u.ID, &CueOpts{Name: "nightly"}), ActiveCueLimit: 1})
		require.ErrorIs(t, err, core.ErrConflict)
	})

	t.Run("ConcurrentCreatesRespectLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		const limit, n = 5, 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c := NewCue(u.ID, &CueOpts{Name: fmt.Sprintf("cue-%02d", i)})
				_, errs[i] = b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: c, ActiveCueLimit: limit})
			})
		}
		wg.Wait()

		created := 0
		for _, err := range errs {
			if err == nil {
				created++
				continue
			}
			require.ErrorIs(t, err, core.ErrLimitExceeded)
		}
		require.Equal(t, limit, created)
		counts, err := b.store.CueCountByStatus(b.ctx, &core.CueCountByStatusParams{TenantID: u.ID})
		require.NoError(t, err)
		require.Equal(t, limit, counts[core.CueActive])
	})

	t.Run("ConcurrentSameNameCreates", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c := NewCue(u.ID, &CueOpts{Name: "same"})
				_, errs[i] = b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: c, ActiveCueLimit: 100})
			})
		}
		wg.Wait()

		created := 0
		for _, err := range errs {
			if err == nil {
				created++
				continue
			}
			require.ErrorIs(t, err, core.ErrConflict)
		}
		require.Equal(t, 1, created)
		_, total, err := b.store.CueList(b.ctx, &core.CueListParams{TenantID: u.ID, Limit: 100})
		require.NoError(t, err)
		require.Equal(t, 1, total)
	})

	t.Run("IgnoresCompletedAndFailedCuesForLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		for _, st := range []core.CueStatus{core.CueCompleted, core.CueFailed} {
			_, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: NewCue(u.ID, &CueOpts{Status: st}), ActiveCueLimit: 1})
			require.NoError(t, err)
		}
		_, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: NewCue(u.ID, nil), ActiveCueLimit: 1})
		require.NoError(t, err)
		_, err = b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: NewCue(u.ID, nil), ActiveCueLimit: 1})
		require.ErrorIs(t, err, core.ErrLimitExceeded)
	})

	t.Run("LimitFollowsEveryStatusChangeAndDeletion", func(t *testing.T) {
		// The count the limit is checked against is maintained as cues
		// change status or disappear (migration 0010), not recounted: each
		// transition must move it.
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		create := func() error {
			_, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: NewCue(u.ID, nil), ActiveCueLimit: 2})
			return err
		}
		setStatus := func(id core.CueID, st core.CueStatus) {
			_, err := b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: id, Fn: func(c *core.Cue) error {
				c.Status = st
				return nil
			}})
			require.NoError(t, err)
		}
		a := CreateCue(t, b.store, u.ID, &CueOpts{Status: core.CueActive})
		p := CreateCue(t, b.store, u.ID, &CueOpts{Status: core.CuePaused})
		require.ErrorIs(t, create(), core.ErrLimitExceeded, "active + paused = 2")
		setStatus(p.ID, core.CueActive) // paused -> active: still counted
		require.ErrorIs(t, create(), core.ErrLimitExceeded)
		setStatus(a.ID, core.CueCompleted)
		require.NoError(t, create(), "a completed cue frees its place")
		require.ErrorIs(t, create(), core.ErrLimitExceeded)
		setStatus(a.ID, core.CuePaused) // completed -> paused: counted again (3)
		require.ErrorIs(t, create(), core.ErrLimitExceeded)
		require.NoError(t, b.store.CueDelete(b.ctx, &core.CueDeleteParams{TenantID: u.ID, ID: p.ID}))
		require.ErrorIs(t, create(), core.ErrLimitExceeded, "3 - 1 deleted = 2")
		require.NoError(t, b.store.CueDelete(b.ctx, &core.CueDeleteParams{TenantID: u.ID, ID: a.ID}))
		require.NoError(t, create(), "a deleted cue frees its place")
		counts, err := b.store.CueCountByStatus(b.ctx, &core.CueCountByStatusParams{TenantID: u.ID})
		require.NoError(t, err)
		require.Equal(t, 2, counts[core.CueActive]+counts[core.CuePaused], "the maintained count agrees with a recount")
	})

	t.Run("ReturnsConflictForDuplicateName", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		// Any status holds the name, even a finished cue's.
		CreateCue(t, b.store, u.ID, &CueOpts{Name: "nightly", Status: core.CueCompleted})
		dup := NewCue(u.ID, &CueOpts{Name: "nightly"})
		_, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: dup, ActiveCueLimit: 10})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: dup.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsLimitExceededAtLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		CreateCue(t, b.store, u.ID, &CueOpts{Status: core.CueActive})
		CreateCue(t, b.store, u.ID, &CueOpts{Status: core.CuePaused})
		c := NewCue(u.ID, nil)
		_, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: c, ActiveCueLimit: 2})
		require.ErrorIs(t, err, core.ErrLimitExceeded)
		_, err = b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := NewCue(u.ID, nil)
		c.Description = new("Runs every five minutes")
		c.Status = core.CuePaused
		c.Schedule = core.Schedule{Type: core.ScheduleRecurring, Cron: new("0 9 * * 1-5"), Timezone: "Europe/Paris"}
		c.Callback = core.Callback{
			URL:     new("https://example.com/hook?x=1"),
			Method:  "PATCH",
			Headers: map[string]string{"X-Team": "ops", "Authorization": "Bearer t"},
		}
		c.Payload = json.RawMessage(`{"task": "report", "n": [1, 2.5, {"deep": null}], "ok": true, "s": "é\"\n"}`)
		c.Retry = core.RetryPolicy{MaxAttempts: 7, BackoffMinutes: []int{2, 4, 8, 16}}
		c.OnFailure = core.OnFailure{Email: false, Webhook: new("https://example.com/failed"), Pause: true}
		c.Verification = new(core.VerifyRequireResultURL)
		c.CatchUp = core.CatchUpAll
		c.OutcomeDeadlineSeconds = new(3600)
		c.NextRun = new(oddTime(time.Hour))
		c.LastRun = new(oddTime(-time.Hour))
		c.RunCount, c.FiredCount, c.SkippedCount = 3, 4, 5
		c.LastError = new("cron evaluation failed")
		c.CreatedAt = oddTime(-2 * time.Hour)
		c.UpdatedAt = oddTime(-90 * time.Minute)
		c.RequirePayloadOverride = true
		c.RequiredPayloadKeys = []string{"message", "task"}
		c.Delivery = &core.DeliveryPolicy{TimeoutSeconds: 60}
		c.Alerts = json.RawMessage(`{"consecutive_failures": 3}`)
		c.RequiredAssertions = []string{}
		c.OnSuccessFire = new(core.CueID("cue_target000001"))

		created, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: c, ActiveCueLimit: 10})
		require.NoError(t, err)
		requireCueEqual(t, s.opts.TimePrecision, c, created)

		got, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.NoError(t, err)
		requireCueEqual(t, s.opts.TimePrecision, c, got)
	})

	t.Run("RoundTripsNilOptionalFields", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := NewCue(u.ID, &CueOpts{Transport: core.TransportWorker})
		c.Schedule = core.Schedule{Type: core.ScheduleOnce, At: new(oddTime(time.Hour)), Timezone: "UTC"}
		c.Callback = core.Callback{Method: "POST"}
		c.Payload = nil
		c.Retry = core.RetryPolicy{MaxAttempts: 1}
		c.OnFailure = core.OnFailure{}
		c.NextRun = nil
		require.Nil(t, c.Description)
		require.Nil(t, c.Verification)
		require.Nil(t, c.OutcomeDeadlineSeconds)

		created, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: c, ActiveCueLimit: 10})
		require.NoError(t, err)
		requireCueEqual(t, s.opts.TimePrecision, c, created)

		got, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.NoError(t, err)
		requireCueEqual(t, s.opts.TimePrecision, c, got)
		require.JSONEq(t, `{}`, string(got.Payload))
		require.Nil(t, got.Verification, "an unset verification mode stays unset")
	})
}

func (s *storeSuite) testCueDelete(t *testing.T) {
	t.Parallel()

	t.Run("DeletesCue", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		kept := CreateCue(t, b.store, u.ID, nil)

		require.NoError(t, b.store.CueDelete(b.ctx, &core.CueDeleteParams{TenantID: u.ID, ID: c.ID}))
		_, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: kept.ID})
		require.NoError(t, err)
		// The name is free again.
		_, err = b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: NewCue(u.ID, &CueOpts{Name: c.Name}), ActiveCueLimit: 10})
		require.NoError(t, err)
	})

	t.Run("ReturnsNotFoundForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)

		err := b.store.CueDelete(b.ctx, &core.CueDeleteParams{TenantID: other.ID, ID: c.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.NoError(t, err)
	})

	t.Run("ReturnsNotFoundWhenAbsent", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		require.NoError(t, b.store.CueDelete(b.ctx, &core.CueDeleteParams{TenantID: u.ID, ID: c.ID}))
		err := b.store.CueDelete(b.ctx, &core.CueDeleteParams{TenantID: u.ID, ID: c.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func (s *storeSuite) testCueGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsNotFoundForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		_, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: other.ID, ID: c.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsNotFoundForGarbageID", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		CreateCue(t, b.store, u.ID, nil)
		for _, id := range []core.CueID{"", "garbage", "cue_' OR '1'='1", core.CueID(strings.Repeat("x", 300))} {
			_, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: id})
			require.ErrorIs(t, err, core.ErrNotFound, "id %q", id)
		}
	})

	t.Run("ReturnsNotFoundForNonUUIDTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		_, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: "not-a-uuid", ID: c.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

// detail reads the cue's detail with a page of 10 (the API's default).
func detail(t *testing.T, s core.Store, tenant core.TenantID, id core.CueID, since time.Time) *core.CueDetailRead {
	t.Helper()
	d, err := s.CueGetDetail(t.Context(), &core.CueGetDetailParams{TenantID: tenant, ID: id, Since: since, Limit: 10})
	require.NoError(t, err)
	return d
}

func (s *storeSuite) testCueGetDetail(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsCueAndRecentExecutionsPerStatus", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		other := CreateCue(t, b.store, u.ID, nil)
		for i, st := range []core.ExecutionStatus{core.ExecSuccess, core.ExecSuccess, core.ExecFailed, core.ExecMissed} {
			e := NewExecution(c, oddTime(time.Duration(i)*time.Second))
			e.Status = st
			e.CreatedAt = oddTime(time.Duration(i) * time.Second)
			createExecution(t, b.store, e)
		}
		old := NewExecution(c, oddTime(-8*24*time.Hour))
		old.CreatedAt = oddTime(-8 * 24 * time.Hour)
		createExecution(t, b.store, old)
		createExecution(t, b.store, NewExecution(other, oddTime(0)))

		d := detail(t, b.store, u.ID, c.ID, oddTime(-7*24*time.Hour))
		require.Equal(t, c.ID, d.Cue.ID)
		require.Equal(t, c.Name, d.Cue.Name)
		require.Equal(t, map[core.ExecutionStatus]int{core.ExecSuccess: 2, core.ExecFailed: 1, core.ExecMissed: 1}, d.Counts)
		require.Equal(t, 5, d.Total, "the page counts every execution of the cue, not only the window's")
		require.Len(t, d.Executions, 5)
		require.Equal(t, old.ID, d.Executions[4].ID, "newest first")
	})

	t.Run("CountsFromSinceInclusiveByCreatedAt", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		since := oddTime(-time.Hour)
		// created_at decides, not scheduled_for: the first is scheduled
		// long before since but created at it; the second the reverse.
		at := NewExecution(c, oddTime(-30*24*time.Hour))
		at.CreatedAt, at.Status = since, core.ExecSuccess
		createExecution(t, b.store, at)
		before := NewExecution(c, oddTime(0))
		before.CreatedAt, before.Status = since.Add(-time.Microsecond), core.ExecFailed
		createExecution(t, b.store, before)

		require.Equal(t, map[core.ExecutionStatus]int{core.ExecSuccess: 1}, detail(t, b.store, u.ID, c.ID, since).Counts)
	})

	t.Run("ReturnsEmptyCountsWithoutExecutions", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		d := detail(t, b.store, u.ID, c.ID, oddTime(-time.Hour))
		require.Equal(t, c.ID, d.Cue.ID)
		require.NotNil(t, d.Counts)
		require.Empty(t, d.Counts)
		require.NotNil(t, d.Executions)
		require.Empty(t, d.Executions)
		require.Zero(t, d.Total)
	})

	t.Run("ReturnsNotFoundForAnotherTenantOrGarbage", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		createExecution(t, b.store, NewExecution(c, oddTime(0)))
		for _, p := range []*core.CueGetDetailParams{
			{TenantID: CreateUser(t, b.store, nil).ID, ID: c.ID},
			{TenantID: "not-a-uuid", ID: c.ID},
			{TenantID: u.ID, ID: "garbage"},
		} {
			p.Since, p.Limit = oddTime(-time.Hour), 10
			_, err := b.store.CueGetDetail(b.ctx, p)
			require.ErrorIs(t, err, core.ErrNotFound, "%+v", p)
		}
	})

	t.Run("PagesExecutionsNewestFirstWithTotal", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		createExecution(t, b.store, NewExecution(CreateCue(t, b.store, u.ID, nil), oddTime(time.Hour))) // another cue's
		var ids []core.ExecutionID                                                                      // newest first
		for i := range 5 {
			e := NewExecution(c, oddTime(time.Duration(i)*time.Minute))
			e.CreatedAt = oddTime(time.Duration(i) * time.Minute)
			ids = append([]core.ExecutionID{createExecution(t, b.store, e).ID}, ids...)
		}
		pageIDs := func(d *core.CueDetailRead) []core.ExecutionID {
			out := []core.ExecutionID{}
			for _, e := range d.Executions {
				require.Equal(t, c.ID, e.CueID)
				out = append(out, e.ID)
			}
			return out
		}
		for _, tc := range []struct {
			limit, offset int
			want          []core.ExecutionID
		}{
			{2, 0, ids[:2]}, // full page: the total is counted
			{2, 2, ids[2:4]},
			{2, 4, ids[4:]}, // last, partial page
			{10, 0, ids},
			{2, 5, []core.ExecutionID{}}, // past the end: the cue, no executions, the total
			{2, 9, []core.ExecutionID{}},
		} {
			d, err := b.store.CueGetDetail(b.ctx, &core.CueGetDetailParams{TenantID: u.ID, ID: c.ID, Since: oddTime(-time.Hour), Limit: tc.limit, Offset: tc.offset})
			require.NoError(t, err)
			require.Equal(t, c.ID, d.Cue.ID)
			require.Equal(t, tc.want, pageIDs(d), "limit %d offset %d", tc.limit, tc.offset)
			require.Equal(t, 5, d.Total, "limit %d offset %d", tc.limit, tc.offset)
			require.Equal(t, map[core.ExecutionStatus]int{core.ExecPending: 5}, d.Counts, "limit %d offset %d", tc.limit, tc.offset)
		}
	})
}

func (s *storeSuite) testCueGetByName(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsCueWithExactName", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, &CueOpts{Name: "Nightly"})
		CreateCue(t, b.store, u.ID, &CueOpts{Name: "nightly"})

		got, err := b.store.CueGetByName(b.ctx, &core.CueGetByNameParams{TenantID: u.ID, Name: "Nightly"})
		require.NoError(t, err)
		requireCueEqual(t, s.opts.TimePrecision, c, got)
		_, err = b.store.CueGetByName(b.ctx, &core.CueGetByNameParams{TenantID: u.ID, Name: "NIGHTLY"})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsNotFoundForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		CreateCue(t, b.store, u.ID, &CueOpts{Name: "nightly"})
		_, err := b.store.CueGetByName(b.ctx, &core.CueGetByNameParams{TenantID: other.ID, Name: "nightly"})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

// cueIDsNewestFirst returns the ids of cues in list order: created_at
// descending, ties by id descending.
func cueIDsNewestFirst(cues []*core.Cue) []core.CueID {
	sorted := slices.Clone(cues)
	slices.SortFunc(sorted, func(a, b *core.Cue) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(string(b.ID), string(a.ID))
	})
	return cueIDs(sorted)
}

func cueIDs(cues []*core.Cue) []core.CueID {
	ids := make([]core.CueID, len(cues))
	for i, c := range cues {
		ids[i] = c.ID
	}
	return ids
}

func (s *storeSuite) testCueList(t *testing.T) {
	t.Parallel()

	t.Run("ExcludesOtherTenants", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		mine := CreateCue(t, b.store, u.ID, nil)
		CreateCue(t, b.store, other.ID, nil)

		cues, total, err := b.store.CueList(b.ctx, &core.CueListParams{TenantID: u.ID, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, []core.CueID{mine.ID}, cueIDs(cues))
	})

	t.Run("FiltersByStatus", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		var paused []*core.Cue
		for i := range 7 {
			st := core.CueActive
			if i%3 == 0 {
				st = core.CuePaused
			}
			c := CreateCue(t, b.store, u.ID, &CueOpts{Status: st, CreatedAt: FactoryTime.Add(time.Duration(i) * time.Second)})
			if st == core.CuePaused {
				paused = append(paused, c)
			}
		}

		cues, total, err := b.store.CueList(b.ctx, &core.CueListParams{TenantID: u.ID, Status: new(string(core.CuePaused)), Limit: 2})
		require.NoError(t, err)
		require.Equal(t, len(paused), total)
		require.Equal(t, cueIDsNewestFirst(paused)[:2], cueIDs(cues))

		_, total, err = b.store.CueList(b.ctx, &core.CueListParams{TenantID: u.ID, Status: new(string(core.CueCompleted)), Limit: 10})
		require.NoError(t, err)
		require.Zero(t, total)
	})

	t.Run("ListsNewestFirstWithTiesByID", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		var all []*core.Cue
		for _, sec := range []int{0, 0, 0, 5, 9, 9} {
			all = append(all, CreateCue(t, b.store, u.ID, &CueOpts{CreatedAt: FactoryTime.Add(time.Duration(sec) * time.Second)}))
		}

		cues, total, err := b.store.CueList(b.ctx, &core.CueListParams{TenantID: u.ID, Limit: 100})
		require.NoError(t, err)
		require.Equal(t, len(all), total)
		require.Equal(t, cueIDsNewestFirst(all), cueIDs(cues))
		for _, c := range cues {
			require.Equal(t, time.UTC, c.CreatedAt.Location())
		}
	})

	t.Run("PagesAreStableAndDisjoint", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		const n, page = 25, 10
		var all []*core.Cue
		for i := range n {
			// Groups of three share a creation time, so pages split ties.
			created := FactoryTime.Add(time.Duration(i/3) * time.Second)
			all = append(all, CreateCue(t, b.store, u.ID, &CueOpts{CreatedAt: created}))
		}
		want := cueIDsNewestFirst(all)

		var got []core.CueID
		for offset := 0; offset < n; offset += page {
			cues, total, err := b.store.CueList(b.ctx, &core.CueListParams{TenantID: u.ID, Limit: page, Offset: offset})
			require.NoError(t, err)
			require.Equal(t, n, total)
			require.Len(t, cues, min(page, n-offset))
			got = append(got, cueIDs(cues)...)
		}
		require.Equal(t, want, got)

		cues, total, err := b.store.CueList(b.ctx, &core.CueListParams{TenantID: u.ID, Limit: page, Offset: n})
		require.NoError(t, err)
		require.Equal(t, n, total)
		require.Empty(t, cues)
	})

	t.Run("ReturnsEmptyForTenantWithoutCues", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		for _, tenant := range []core.TenantID{u.ID, core.NewTenantID(), "not-a-uuid"} {
			cues, total, err := b.store.CueList(b.ctx, &core.CueListParams{TenantID: tenant, Limit: 10})
			require.NoError(t, err)
			require.Zero(t, total)
			require.Empty(t, cues)
		}
	})
}

func (s *storeSuite) testCueUpdate(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentUpdatesAreSerialized", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: c.ID, Fn: func(c *core.Cue) error {
					count := 0
					if c.Description != nil {
						var err error
						if count, err = strconv.Atoi(*c.Description); err != nil {
							return err
						}
					}
					c.Description = new(strconv.Itoa(count + 1))
					return nil
				}})
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}

		got, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.NoError(t, err)
		require.NotNil(t, got.Description)
		require.Equal(t, strconv.Itoa(n), *got.Description, "no update may be lost")
	})

	t.Run("FnErrorAbortsWithoutSaving", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		boom := errors.New("boom")

		_, err := b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: c.ID, Fn: func(c *core.Cue) error {
			c.Name = "changed"
			c.Status = core.CuePaused
			return boom
		}})
		require.Same(t, boom, err)

		got, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.NoError(t, err)
		requireCueEqual(t, s.opts.TimePrecision, c, got)
	})

	t.Run("KeepsIdentityTransportCountersAndCreationTime", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		c := NewCue(u.ID, nil)
		c.RunCount, c.FiredCount, c.SkippedCount = 1, 2, 3
		c, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: c, ActiveCueLimit: 10})
		require.NoError(t, err)

		updated, err := b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: c.ID, Fn: func(c *core.Cue) error {
			c.ID = core.NewCueID()
			c.TenantID = other.ID
			c.Transport = core.TransportWorker
			c.RunCount, c.FiredCount, c.SkippedCount = 10, 20, 30
			c.CreatedAt = oddTime(0)
			return nil
		}})
		require.NoError(t, err)
		requireCueEqual(t, s.opts.TimePrecision, c, updated)

		got, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.NoError(t, err)
		requireCueEqual(t, s.opts.TimePrecision, c, got)
	})

	t.Run("ReturnsConflictForDuplicateName", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		CreateCue(t, b.store, u.ID, &CueOpts{Name: "taken"})
		c := CreateCue(t, b.store, u.ID, nil)

		_, err := b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: c.ID, Fn: func(c *core.Cue) error {
			c.Name = "taken"
			return nil
		}})
		require.ErrorIs(t, err, core.ErrConflict)
		got, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.NoError(t, err)
		require.Equal(t, c.Name, got.Name)
	})

	t.Run("ReturnsNotFoundForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		called := false

		_, err := b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: other.ID, ID: c.ID, Fn: func(c *core.Cue) error {
			called = true
			c.Name = "stolen"
			return nil
		}})
		require.ErrorIs(t, err, core.ErrNotFound)
		require.False(t, called, "Fn must not see another tenant's cue")
		got, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.NoError(t, err)
		require.Equal(t, c.Name, got.Name)
	})

	t.Run("SavesMutableFields", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		var seen core.Cue
		want := *c
		want.Name = "renamed"
		want.Description = new("now documented")
		want.Status = core.CuePaused
		want.Schedule = core.Schedule{Type: core.ScheduleOnce, At: new(oddTime(48 * time.Hour)), Timezone: "America/New_York"}
		want.Callback = core.Callback{URL: new("https://example.org/new"), Method: "PUT", Headers: map[string]string{"X-A": "b"}}
		want.Payload = json.RawMessage(`{"v":2}`)
		want.Retry = core.RetryPolicy{MaxAttempts: 10, BackoffMinutes: []int{1}}
		want.OnFailure = core.OnFailure{Email: false, Webhook: new("https://example.org/fail"), Pause: true}
		want.Verification = new(core.VerifyManual)
		want.CatchUp = core.CatchUpSkip
		want.OutcomeDeadlineSeconds = new(math.MaxInt32)
		want.NextRun = new(oddTime(48 * time.Hour))
		want.LastRun = new(oddTime(time.Minute))
		want.LastError = new("timezone vanished")
		want.UpdatedAt = oddTime(time.Hour)

		updated, err := b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: c.ID, Fn: func(c *core.Cue) error {
			seen = *c
			id, tenant, transport, created := c.ID, c.TenantID, c.Transport, c.CreatedAt
			runs, fired, skipped := c.RunCount, c.FiredCount, c.SkippedCount
			*c = want
			c.ID, c.TenantID, c.Transport, c.CreatedAt = id, tenant, transport, created
			c.RunCount, c.FiredCount, c.SkippedCount = runs, fired, skipped
			return nil
		}})
		require.NoError(t, err)
		requireCueEqual(t, s.opts.TimePrecision, c, &seen)
		requireCueEqual(t, s.opts.TimePrecision, &want, updated)

		got, err := b.store.CueGet(b.ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.NoError(t, err)
		requireCueEqual(t, s.opts.TimePrecision, &want, got)

		// Optional fields can be cleared again.
		cleared, err := b.store.CueUpdate(b.ctx, &core.CueUpdateParams{TenantID: u.ID, ID: c.ID, Fn: func(c *core.Cue) error {
			c.Description, c.Verification, c.OutcomeDeadlineSeconds, c.LastError = nil, nil, nil, nil
			c.NextRun, c.LastRun, c.OnFailure.Webhook = nil, nil, nil
			return nil
		}})
		require.NoError(t, err)
		require.Nil(t, cleared.Description)
		require.Nil(t, cleared.Verification)
		require.Nil(t, cleared.OutcomeDeadlineSeconds)
		require.Nil(t, cleared.LastError)
		require.Nil(t, cleared.NextRun)
		require.Nil(t, cleared.LastRun)
		require.Nil(t, cleared.OnFailure.Webhook)
	})
}

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
			// A fired execution records its cue's destination (fair delivery).
			want.Destination = c.Destination()
			require.NotEmpty(t, want.Destination, "cue %s destination", c.ID)
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
