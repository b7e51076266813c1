package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v.UTC()
}

func TestCron_NextAfter(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		expr  string
		zone  string
		after string
		want  []string // successive fire times (UTC)
	}{
		{name: "DailyInLosAngelesFromSpec", expr: "0 9 * * *", zone: "America/Los_Angeles", after: "2026-03-20T10:00:00Z", want: []string{"2026-03-20T16:00:00Z"}},
		{name: "DailyInKolkataFromSpec", expr: "0 9 * * *", zone: "Asia/Kolkata", after: "2026-03-20T05:00:00Z", want: []string{"2026-03-21T03:30:00Z"}},
		{name: "SpringForwardGapShiftsForward", expr: "30 2 * * *", zone: "America/Los_Angeles", after: "2026-03-07T12:00:00Z", want: []string{"2026-03-08T10:30:00Z", "2026-03-09T09:30:00Z"}},
		{name: "SpringForwardHourlySkipsMissingHour", expr: "0 * * * *", zone: "America/Los_Angeles", after: "2026-03-08T08:30:00Z", want: []string{"2026-03-08T09:00:00Z", "2026-03-08T10:00:00Z", "2026-03-08T11:00:00Z"}},
		{name: "FixedDailyAcrossSpringForward", expr: "0 9 * * *", zone: "America/Los_Angeles", after: "2026-03-07T12:00:00Z", want: []string{"2026-03-07T17:00:00Z", "2026-03-08T16:00:00Z"}},
		{name: "FallBackOverlapFiresOnceAtFirst", expr: "30 1 * * *", zone: "America/Los_Angeles", after: "2026-11-01T07:00:00Z", want: []string{"2026-11-01T08:30:00Z", "2026-11-02T09:30:00Z"}},
		{name: "FallBackHourlyFiresEveryUTCHour", expr: "0 * * * *", zone: "America/Los_Angeles", after: "2026-11-01T07:30:00Z", want: []string{"2026-11-01T08:00:00Z", "2026-11-01T09:00:00Z", "2026-11-01T10:00:00Z"}},
		{name: "FallBackQuarterHourFiresThroughBothPasses", expr: "*/15 * * * *", zone: "America/Los_Angeles", after: "2026-11-01T08:40:00Z", want: []string{"2026-11-01T08:45:00Z", "2026-11-01T09:00:00Z", "2026-11-01T09:15:00Z"}},
		{name: "DayOfMonthAndWeekdayAreOred", expr: "0 0 13 * 5", zone: "UTC", after: "2026-02-01T00:00:00Z", want: []string{"2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z"}},
		{name: "SundayAsSeven", expr: "0 0 * * 7", zone: "UTC", after: "2026-02-02T00:00:00Z", want: []string{"2026-02-08T00:00:00Z"}},
		{name: "MacroMidnight", expr: "@midnight", zone: "UTC", after: "2026-02-02T10:00:00Z", want: []string{"2026-02-03T00:00:00Z"}},
		{name: "NamesAccepted", expr: "0 12 * JAN MON-FRI", zone: "UTC", after: "2026-01-02T13:00:00Z", want: []string{"2026-01-05T12:00:00Z"}},
		{name: "StrictlyAfter", expr: "* * * * *", zone: "UTC", after: "2026-01-01T00:00:00Z", want: []string{"2026-01-01T00:01:00Z"}},
		{name: "LowercaseZone", expr: "0 9 * * *", zone: "america/los_angeles", after: "2026-03-20T10:00:00Z", want: []string{"2026-03-20T16:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := core.ParseCron(tt.expr)
			require.NoError(t, err)
			loc, err := core.LoadZone(tt.zone)
			require.NoError(t, err)
			at := mustTime(t, tt.after)
			for _, w := range tt.want {
				next, err := c.NextAfter(at, loc)
				require.NoError(t, err)
				require.Equal(t, mustTime(t, w), next, "after %s", at)
				at = next
			}
		})
	}
}

func TestParseCron_Rejects(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{"", "   ", "* * * *", "* * * * * *", "* * * * * * *", "60 * * * *", "@reboot", "@every 5m", "H * * * *", "*/0 * * * *", "0 0 31 2 *", "not a cron"} {
		_, err := core.ParseCron(expr)
		require.Error(t, err, expr)
	}
}

func TestLoadZone(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"UTC", "utc", "America/Los_Angeles", "AMERICA/NEW_YORK", "Asia/Kolkata", "Etc/GMT+5"} {
		_, err := core.LoadZone(ok)
		require.NoError(t, err, ok)
	}
	for _, bad := range []string{"", "Mars/Olympus", "+05:00", "Local", "../etc/passwd", "UTC\x00"} {
		_, err := core.LoadZone(bad)
		require.Error(t, err, bad)
	}
}
