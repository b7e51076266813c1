package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/core"
)

// An execution claimed ahead (DELIVERY_CLAIM_AHEAD_MS) is sent at its due
// time, not before, and its attempt starts then: the engine claims it as
// soon as it exists (the look-ahead and the claim window both exceed the
// two seconds until it is due) and holds it. Real clock, both stores.
func TestClaimAheadSendsAtTheDueTime(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			testClaimAhead(t, be)
		})
	}
}

func testClaimAhead(t *testing.T, be backend) {
	{
		var (
			mu       sync.Mutex
			received time.Time
			got      = make(chan struct{})
			once     sync.Once
		)
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			received = time.Now()
			mu.Unlock()
			once.Do(func() { close(got) })
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(hook.Close)

		vars := map[string]string{
			"ENV": "development", "CUEAPI_DATA_DIR": t.TempDir(), "SESSION_SECRET": "component-test-secret-0123456789abcdef",
			"SCHEDULER_LOOKAHEAD_MS": "10000", "DELIVERY_CLAIM_AHEAD_MS": "5000",
		}
		if be == backendPostgres {
			vars["DATABASE_URL"] = pgtest.SchemaURL(t)
		}
		cfg, err := loadConfig(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
		require.NoError(t, err)
		cfg.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		ctx := t.Context()
		a, err := newApp(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), overrides{})
		require.NoError(t, err)
		runCtx, stop := context.WithCancel(ctx)
		wait := a.Run(runCtx)
		t.Cleanup(func() { stop(); wait(); a.close() })

		_, u, err := a.Accounts.Register(ctx, "ahead-"+core.RandomHex(4)+"@example.com")
		require.NoError(t, err)
		due := time.Now().UTC().Add(2 * time.Second).Truncate(time.Millisecond)
		url := hook.URL + "/hook"
		now := time.Now().UTC()
		c := &core.Cue{
			ID: core.NewCueID(), TenantID: u.ID, Name: "ahead", Status: core.CueActive,
			Transport: core.TransportWebhook, Schedule: core.Schedule{Type: core.ScheduleOnce, At: &due, Timezone: "UTC"},
			Callback: core.Callback{URL: &url, Method: "POST", Headers: map[string]string{}},
			Payload:  []byte(`{}`), Retry: core.DefaultRetryPolicy(), CatchUp: core.CatchUpLatest, NextRun: &due,
			CreatedAt: now, UpdatedAt: now,
		}
		_, err = a.store.CueCreate(ctx, &core.CueCreateParams{Cue: c, ActiveCueLimit: 10})
		require.NoError(t, err)

		select {
		case <-got:
		case <-time.After(30 * time.Second):
			t.Fatal("not delivered")
		}
		mu.Lock()
		at := received
		mu.Unlock()
		require.False(t, at.Before(due), "sent %s before its due time", due.Sub(at))
		require.Eventually(t, func() bool {
			execs, _, err := a.store.ExecutionList(ctx, &core.ExecutionListParams{TenantID: u.ID})
			return err == nil && len(execs) == 1 && execs[0].Status == core.ExecSuccess
		}, 10*time.Second, 10*time.Millisecond)
		execs, _, err := a.store.ExecutionList(ctx, &core.ExecutionListParams{TenantID: u.ID})
		require.NoError(t, err)
		require.True(t, execs[0].ScheduledFor.Equal(due))
		require.NotNil(t, execs[0].StartedAt)
		require.True(t, execs[0].StartedAt.Equal(due), "claimed ahead: the attempt starts at the due time (started %s)", execs[0].StartedAt)
	}
}
