package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

func TestDescribeSchedule(t *testing.T) {
	t.Parallel()
	rec := func(cron, tz string) core.Schedule {
		return core.Schedule{Type: core.ScheduleRecurring, Cron: &cron, Timezone: tz}
	}
	for _, tc := range []struct {
		s    core.Schedule
		want string
	}{
		{rec("0 9 * * 1-5", "America/Los_Angeles"), "09:00 on weekdays, America/Los_Angeles"},
		{rec("30 2 * * *", "UTC"), "02:30 every day, UTC"},
		{rec("*/15 * * * *", ""), "every 15 minutes, UTC"},
		{rec("* * * * *", "UTC"), "every minute, UTC"},
		{rec("5 * * * *", "UTC"), "every hour at :05, UTC"},
		{rec("0 */6 * * *", "UTC"), "every 6 hours at :00, UTC"},
		{rec("0 8 * * 1,3,5", "Europe/Berlin"), "08:00 on Mon, Wed, Fri, Europe/Berlin"},
		{rec("0 10 * * 0,6", "UTC"), "10:00 on weekends, UTC"},
		{rec("0 0 1 * *", "UTC"), "00:00 on day 1 of the month, UTC"},
		{rec("0 0 1 1 *", "UTC"), "cron 0 0 1 1 *, UTC"},
		{rec("0 9-17 * * *", "UTC"), "cron 0 9-17 * * *, UTC"},
	} {
		require.Equal(t, tc.want, describeSchedule(tc.s), *tc.s.Cron)
	}
	at := time.Date(2026, 7, 1, 16, 0, 0, 0, time.UTC)
	require.Equal(t, "once at Wed Jul 1 09:00 PDT", describeSchedule(core.Schedule{Type: core.ScheduleOnce, At: &at, Timezone: "America/Los_Angeles"}))
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
	ok := func(at time.Time, late time.Duration) *core.Execution {
		started := at.Add(late)
		return &core.Execution{ScheduledFor: at, Status: core.ExecSuccess, StartedAt: &started}
	}
	failed := &core.Execution{ScheduledFor: now.Add(-time.Hour), Status: core.ExecFailed}
	tl := buildTimeline([]*core.Execution{
		ok(now.Add(-2*time.Hour), 0), failed, ok(now.Add(-24*time.Hour), 5*time.Minute),
		ok(now.Add(-40*24*time.Hour), 0), // outside the 30 days
	}, now)
	require.Len(t, tl.Bars, 30)
	today, yesterday := tl.Bars[29], tl.Bars[28]
	require.Equal(t, 2, today.Runs)
	require.Equal(t, 1, today.Fail)
	require.False(t, today.Late)
	require.Equal(t, 1, yesterday.Runs)
	require.True(t, yesterday.Late)
	require.Equal(t, 2, tl.Max)
	require.Greater(t, today.RunsH, yesterday.RunsH)
	for _, b := range tl.Bars[:28] {
		require.Zero(t, b.Runs)
	}
}

func TestExecBadge(t *testing.T) {
	t.Parallel()
	st := core.OutcomeReportedFailure
	require.Equal(t, badge{Label: "never run", Class: "none"}, execBadge(nil))
	b := execBadge(&core.Execution{Status: core.ExecSuccess, OutcomeState: &st})
	require.Equal(t, "reported failure", b.Label)
	require.Equal(t, "fail", b.Class)
	require.Equal(t, "ok", execBadge(&core.Execution{Status: core.ExecSuccess}).Class)
	require.Equal(t, "wait", execBadge(&core.Execution{Status: core.ExecRetrying}).Class)
	require.Equal(t, "fail", execBadge(&core.Execution{Status: core.ExecMissed}).Class)
}
