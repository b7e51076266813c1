package core_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// The decisions stores are handed as data (see core/store.go).

func TestFailedRunStatus(t *testing.T) {
	manual := core.TriggerManualFire
	st := func(s *core.CueStatus) string {
		if s == nil {
			return ""
		}
		return string(*s)
	}
	require.Equal(t, "failed", st(core.FailedRunStatus(core.ScheduleOnce, false, nil)))
	require.Equal(t, "failed", st(core.FailedRunStatus(core.ScheduleOnce, true, nil)))
	require.Empty(t, st(core.FailedRunStatus(core.ScheduleOnce, true, &manual)), "a manual run of a one-time cue leaves it")
	require.Equal(t, "paused", st(core.FailedRunStatus(core.ScheduleRecurring, true, nil)))
	require.Equal(t, "paused", st(core.FailedRunStatus(core.ScheduleRecurring, true, &manual)))
	require.Empty(t, st(core.FailedRunStatus(core.ScheduleRecurring, false, nil)))
}

func TestRunEffects(t *testing.T) {
	now := time.Date(2026, 3, 31, 23, 59, 0, 0, time.FixedZone("X", -3600))
	fx := core.NewRunEffects(now)
	require.Equal(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), fx.Month, "the UTC month of now")
	failed, done := core.CueFailed, core.CueCompleted
	fx.AddResult("cue_b", "t2", &core.DeliveryResult{CountRun: true, SetLastRun: true, CueStatus: &failed, CountUsage: true})
	fx.AddResult("cue_b", "t2", &core.DeliveryResult{CountRun: true, CueStatus: &done, CountUsage: true})
	fx.AddResult("cue_a", "t1", &core.DeliveryResult{CountUsage: true})
	fx.AddSwept("cue_c", core.ScheduleRecurring, false, nil)
	fx.Add("", "t1", core.CueEffect{CountUsage: true})

	cues := fx.Cues()
	require.Len(t, cues, 2, "usage alone touches no cue")
	require.Equal(t, core.CueID("cue_b"), cues[0].CueID)
	require.Equal(t, 2, cues[0].Runs)
	require.True(t, cues[0].SetLastRun)
	require.Equal(t, core.CueCompleted, *cues[0].Status, "the last status wins")
	require.Equal(t, core.CueID("cue_c"), cues[1].CueID)
	require.True(t, cues[1].SetLastRun)
	require.Nil(t, cues[1].Status)
	require.Equal(t, []core.UsageEffect{{TenantID: "t1", Executions: 2}, {TenantID: "t2", Executions: 2}}, fx.Usage())
}

func TestExecutionDueTimes(t *testing.T) {
	at := time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC)
	lease, next, cur := at.Add(time.Minute), at.Add(time.Hour), at.Add(2*time.Hour)
	e := &core.Execution{ScheduledFor: at, LeaseExpiresAt: &lease, NextRetry: &next}
	for _, tt := range []struct {
		status         core.ExecutionStatus
		initial, saved *time.Time
	}{
		{core.ExecPending, &at, &cur},
		{core.ExecDelivering, &lease, &lease},
		{core.ExecRetrying, &next, &cur},
		{core.ExecRetryReady, &next, &cur},
		{core.ExecSuccess, nil, nil},
		{core.ExecFailed, nil, nil},
	} {
		e.Status = tt.status
		require.Equal(t, tt.initial, e.InitialDueAt(), tt.status)
		require.Equal(t, tt.saved, e.SavedDueAt(&cur), tt.status)
	}

	r := &core.DeliveryResult{Status: core.ExecRetrying}
	nr, due := r.RetryTimes(at)
	require.Nil(t, nr)
	require.Equal(t, at, *due, "a retry without a time is due now")
	r.NextRetry = &next
	nr, due = r.RetryTimes(at)
	require.Equal(t, next, *nr)
	require.Equal(t, next, *due)
	r.Status = core.ExecSuccess
	nr, due = r.RetryTimes(at)
	require.Nil(t, nr)
	require.Nil(t, due)

	require.Nil(t, core.OutcomeDeadline(at, nil))
	require.Equal(t, at.Add(90*time.Second), *core.OutcomeDeadline(at, new(90)))
}

func TestClaimRules(t *testing.T) {
	p := &core.ExecutionClaimWorkerParams{CountUsage: true}
	require.True(t, p.CountsUsage(1))
	require.False(t, p.CountsUsage(2), "only a first claim counts")
	p.CountUsage = false
	require.False(t, p.CountsUsage(1))

	r := core.RetryPolicy{MaxAttempts: 3}
	require.True(t, r.AttemptsLeft(2))
	require.False(t, r.AttemptsLeft(3))
}

func TestCueCreateAdmit(t *testing.T) {
	p := &core.CueCreateParams{Cue: &core.Cue{Name: "n"}, ActiveCueLimit: 2}
	require.NoError(t, p.Admit(false, 1))
	require.ErrorIs(t, p.Admit(true, 0), core.ErrConflict)
	require.ErrorIs(t, p.Admit(false, 2), core.ErrLimitExceeded)
}

func TestAlertDeliveryRules(t *testing.T) {
	now := time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC)
	next := now.Add(time.Minute)
	status, delivered, at := (&core.AlertRecordDeliveryParams{Now: now, Delivered: true}).Stored()
	require.Equal(t, core.AlertDeliveryDelivered, status)
	require.Equal(t, now, *delivered)
	require.Nil(t, at)
	status, delivered, at = (&core.AlertRecordDeliveryParams{Now: now, GiveUp: true}).Stored()
	require.Equal(t, core.AlertDeliveryFailed, status)
	require.Nil(t, delivered)
	require.Nil(t, at)
	status, _, at = (&core.AlertRecordDeliveryParams{Now: now, NextAttempt: &next}).Stored()
	require.Equal(t, core.AlertDeliveryPending, status)
	require.Equal(t, next, *at)
	_, _, at = (&core.AlertRecordDeliveryParams{Now: now}).Stored()
	require.Equal(t, now, *at, "a retry without a time is due now")
	released := &core.AlertRecordDeliveryParams{Now: now, Attempt: 3, Release: true, NextAttempt: &next}
	status, _, at = released.Stored()
	require.Equal(t, core.AlertDeliveryPending, status)
	require.Equal(t, now, *at, "a released alert is due at once")
	require.Equal(t, 2, released.Attempts(), "a released attempt is not counted")
	require.Equal(t, 3, (&core.AlertRecordDeliveryParams{Attempt: 3, Delivered: true}).Attempts())

	require.False(t, core.HasAlertWebhook(nil))
	require.False(t, core.HasAlertWebhook(new("")))
	require.True(t, core.HasAlertWebhook(new("https://example.com/a")))
	require.Equal(t, now.Add(-time.Hour), (&core.AlertCreateParams{Now: now, DedupWindow: time.Hour}).DedupSince())
}

func TestSlugBase(t *testing.T) {
	t.Parallel()
	for email, want := range map[string]string{
		"Ops.Bot@example.com":                           "ops-bot",
		"--a__b++c--@example.com":                       "a-b-c",
		"héllo.wörld@example.com":                       "h-llo-w-rld",
		"___@example.com":                               "user",
		strings.Repeat("ab", 40) + "@x":                 strings.Repeat("ab", 30),
		"x" + strings.Repeat("-", 58) + "y@example.com": "x-y",
	} {
		require.Equal(t, want, core.SlugBase(email), email)
	}
	long := strings.Repeat("a", 59) + "-b@example.com"
	require.Equal(t, strings.Repeat("a", 59), core.SlugBase(long), "no trailing dash after the cut")
	require.Equal(t, "ops-bot", core.SlugCandidate("ops-bot", 0))
	require.Regexp(t, `^ops-bot-[0-9a-f]{4}$`, core.SlugCandidate("ops-bot", 1))
	require.Regexp(t, `^ops-bot-[0-9a-f]{4}$`, core.SlugCandidate("ops-bot", 5))
	require.Regexp(t, `^ops-bot-[0-9a-f]{8}$`, core.SlugCandidate("ops-bot", 6))
	require.Regexp(t, `^`+strings.Repeat("a", 55)+`-[0-9a-f]{8}$`, core.SlugCandidate(strings.Repeat("a", 60), 6))
}

// ReplayCopy carries every field of the source that is not part of its
// run — including fields added later (a fire's payload) — and resets the
// run.
func TestReplayCopy(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	src := &core.Execution{}
	fillAll(reflect.ValueOf(src).Elem())
	got := src.ReplayCopy("new-id", now)

	reset := map[string]bool{
		"ID": true, "ScheduledFor": true, "Status": true, "CreatedAt": true, "UpdatedAt": true,
		"HTTPStatus": true, "ResponseBody": true, "Attempts": true, "NextRetry": true, "ErrorMessage": true,
		"StartedAt": true, "DeliveredAt": true, "LastAttemptAt": true, "LeaseExpiresAt": true,
		"ClaimedByWorker": true, "ClaimedAt": true, "LastHeartbeatAt": true,
		"Outcome": true, "OutcomeState": true, "OutcomeDeadlineAt": true, "Evidence": true,
		"TriggeredBy": true, "ReplayedFrom": true, "Assertions": true, "ChainParentID": true, "ChainDepth": true,
		"LiveClaimSessionToken": true, "LiveClaimedAt": true,
	}
	sv, gv := reflect.ValueOf(*src), reflect.ValueOf(*got)
	for i := range sv.NumField() {
		name := sv.Type().Field(i).Name
		if !reset[name] {
			require.Equal(t, sv.Field(i).Interface(), gv.Field(i).Interface(), "%s is carried forward", name)
		}
	}
	want := core.Execution{
		ID: "new-id", CueID: src.CueID, TenantID: src.TenantID, ScheduledFor: now, Status: core.ExecPending,
		CreatedAt: now, UpdatedAt: now, TriggeredBy: new(core.TriggerReplay), ReplayedFrom: new(src.ID),
	}
	for i := range sv.NumField() {
		if name := sv.Type().Field(i).Name; reset[name] {
			require.Equal(t, reflect.ValueOf(want).Field(i).Interface(), gv.Field(i).Interface(), "%s is reset", name)
		}
	}
	require.NotSame(t, src, got)
}

// fillAll sets every settable field of v to a non-zero value.
func fillAll(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i))
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem())
	case reflect.String:
		v.SetString("x-" + v.Type().Name())
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(`{"k":1}`))
		} else {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
			fillAll(v.Index(0))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
	}
}
