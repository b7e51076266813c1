package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

type nopLog struct{}

func (nopLog) Info(string, ...any)  {}
func (nopLog) Warn(string, ...any)  {}
func (nopLog) Error(string, ...any) {}

func TestScheduler_Plan(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	s := core.NewScheduler(core.SchedulerConfig{LookAhead: time.Second, MissedAfter: 5 * time.Minute}, nil, nil, nopLog{}, nil)
	cron := func(expr string) *core.Cue {
		e := expr
		return &core.Cue{Status: core.CueActive, Schedule: core.Schedule{Type: core.ScheduleRecurring, Cron: &e, Timezone: "UTC"}, CatchUp: core.CatchUpLatest}
	}
	at := func(t time.Time) *time.Time { return &t }
	ts := func(s string) time.Time { return mustTime(t, s) }

	tests := []struct {
		name        string
		cue         func() *core.Cue
		wantOcc     []string
		wantNext    *string
		wantSkipped int
		wantStatus  core.CueStatus
	}{
		{
			name:    "OnTimeRecurringFiresOnceAndAdvances",
			cue:     func() *core.Cue { c := cron("0 * * * *"); c.NextRun = at(ts("2026-03-20T12:00:00Z")); return c },
			wantOcc: []string{"2026-03-20T12:00:00Z"}, wantNext: ptrS("2026-03-20T13:00:00Z"), wantStatus: core.CueActive,
		},
		{
			name:    "LookAheadFiresOccurrenceDueWithinIt",
			cue:     func() *core.Cue { c := cron("1 12 * * *"); c.NextRun = at(ts("2026-03-20T12:00:00.5Z")); return c },
			wantOcc: []string{"2026-03-20T12:00:00.5Z"}, wantNext: ptrS("2026-03-20T12:01:00Z"), wantStatus: core.CueActive,
		},
		{
			name: "MissedRunsLatestFiresMostRecentOnce",
			cue:  func() *core.Cue { c := cron("0 * * * *"); c.NextRun = at(ts("2026-03-20T06:00:00Z")); return c },
			// 06..11 missed (6 occurrences); 12:00 is on time → fire 12:00 only, skip 6.
			wantOcc: []string{"2026-03-20T12:00:00Z"}, wantNext: ptrS("2026-03-20T13:00:00Z"), wantSkipped: 6, wantStatus: core.CueActive,
		},
		{
			name: "MissedRunsLatestWithoutOnTimeFiresLastMissed",
			cue:  func() *core.Cue { c := cron("30 * * * *"); c.NextRun = at(ts("2026-03-20T06:30:00Z")); return c },
			// 06:30..11:30 missed (6); none on time → fire 11:30, skip 5.
			wantOcc: []string{"2026-03-20T11:30:00Z"}, wantNext: ptrS("2026-03-20T12:30:00Z"), wantSkipped: 5, wantStatus: core.CueActive,
		},
		{
			name: "MissedRunsSkipFiresNone",
			cue: func() *core.Cue {
				c := cron("30 * * * *")
				c.NextRun, c.CatchUp = at(ts("2026-03-20T06:30:00Z")), core.CatchUpSkip
				return c
			},
			wantOcc: nil, wantNext: ptrS("2026-03-20T12:30:00Z"), wantSkipped: 6, wantStatus: core.CueActive,
		},
		{
			name: "MissedRunsAllBackfillsBounded",
			cue: func() *core.Cue {
				c := cron("* * * * *")
				c.NextRun, c.CatchUp = at(ts("2026-03-20T09:00:00Z")), core.CatchUpAll
				return c
			},
			// 09:00..11:54 missed = 175 minutes; 11:55..12:00 on time (6). Back-fill the last 100 missed.
			wantOcc: nil, wantNext: ptrS("2026-03-20T12:01:00Z"), wantSkipped: 75, wantStatus: core.CueActive,
		},
		{
			name: "OnceFiresAndClearsNextRun",
			cue: func() *core.Cue {
				return &core.Cue{Status: core.CueActive, Schedule: core.Schedule{Type: core.ScheduleOnce, At: at(ts("2026-03-20T11:00:00Z"))}, NextRun: at(ts("2026-03-20T11:00:00Z"))}
			},
			wantOcc: []string{"2026-03-20T11:00:00Z"}, wantNext: nil, wantStatus: core.CueActive,
		},
		{
			name:    "BrokenScheduleIsQuarantined",
			cue:     func() *core.Cue { c := cron("0 0 31 2 *"); c.NextRun = at(ts("2026-03-20T12:00:00Z")); return c },
			wantOcc: nil, wantNext: nil, wantStatus: core.CuePaused,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := s.Plan(tt.cue(), now)
			if tt.name == "MissedRunsAllBackfillsBounded" {
				require.Len(t, p.Occurrences, 106)
				require.Equal(t, ts("2026-03-20T10:15:00Z"), p.Occurrences[0])
				require.Equal(t, ts("2026-03-20T12:00:00Z"), p.Occurrences[105])
			} else {
				var got []string
				for _, o := range p.Occurrences {
					got = append(got, o.UTC().Format(time.RFC3339Nano))
				}
				require.Equal(t, tt.wantOcc, got)
			}
			if tt.wantNext == nil {
				require.Nil(t, p.NextRun)
			} else {
				require.NotNil(t, p.NextRun)
				require.Equal(t, ts(*tt.wantNext), p.NextRun.UTC())
			}
			require.Equal(t, tt.wantSkipped, p.Skipped)
			require.Equal(t, tt.wantStatus, p.Status)
			if tt.wantStatus == core.CuePaused {
				require.NotNil(t, p.LastError)
			}
		})
	}
}

func ptrS(s string) *string { return &s }

func TestSignedWebhook_MatchesPythonCanonicalForm(t *testing.T) {
	t.Parallel()
	c := &core.Cue{ID: "cue_abc123def456", Name: "nightly", Payload: []byte(`{"task": "daily_brief", "n": 1.0, "u": "é"}`)}
	e := &core.Execution{ID: "5f0c2a9e-0000-4000-8000-000000000001", Attempts: 1, ScheduledFor: mustTime(t, "2026-03-20T16:00:00Z")}
	body, hdr, err := core.SignedWebhook(e, c, "whsec_test", time.Unix(1700000000, 0))
	require.NoError(t, err)
	require.Equal(t, `{"attempt": 1, "cue_id": "cue_abc123def456", "execution_id": "5f0c2a9e-0000-4000-8000-000000000001", "name": "nightly", "payload": {"n": 1.0, "task": "daily_brief", "u": "\u00e9"}, "scheduled_for": "2026-03-20T16:00:00+00:00"}`, string(body))
	names := []string{}
	for _, h := range hdr {
		names = append(names, h.Name)
	}
	require.Equal(t, []string{"Content-Type", "X-CueAPI-Signature", "X-CueAPI-Timestamp", "X-CueAPI-Cue-Id", "X-CueAPI-Execution-Id", "X-CueAPI-Scheduled-For", "X-CueAPI-Attempt"}, names)
	require.Equal(t, "1700000000", hdr[2].Value)
	require.Regexp(t, `^v1=[0-9a-f]{64}$`, hdr[1].Value)
}
