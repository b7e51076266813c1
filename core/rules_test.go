package core_test

import (
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

	require.False(t, core.HasAlertWebhook(nil))
	require.False(t, core.HasAlertWebhook(new("")))
	require.True(t, core.HasAlertWebhook(new("https://example.com/a")))
	require.Equal(t, now.Add(-time.Hour), (&core.AlertCreateParams{Now: now, DedupWindow: time.Hour}).DedupSince())
}
