package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cueapi/cueapi/adapters/netguard"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

// BenchmarkDashboard measures the server time of dashboard pages for an
// account with 1,000 cues (embedded SQLite), the newest 50 with 20 runs
// each: the first cues page (50 rows with their last-20-runs strips), a
// search that scans all 1,000, and a cue's detail page.
func BenchmarkDashboard(b *testing.B) {
	ctx := context.Background()
	env := map[string]string{"ENV": "development", "CUEAPI_DATA_DIR": b.TempDir(),
		"SESSION_SECRET": "bench-secret-0123456789abcdef0123456789", "DEFAULT_ACTIVE_CUE_LIMIT": "5000"}
	cfg, err := loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	res := netguard.NewFakeResolver()
	res.Set("hooks.example.com", publicAddr.String())
	clock := coretest.NewStubClock(testNow)
	a, err := newApp(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), overrides{clock: clock, resolver: res})
	if err != nil {
		b.Fatal(err)
	}
	defer a.close()
	key, u, err := a.Accounts.Register(ctx, "bench@example.com")
	if err != nil {
		b.Fatal(err)
	}
	var last core.CueID
	for i := range 1000 {
		name := fmt.Sprintf("cue-%04d", i)
		cron, tz, hook, method := "*/15 * * * *", "America/Los_Angeles", "https://hooks.example.com/h", "POST"
		c, err := a.Cues.Create(ctx, u, &core.CueInput{Name: &name, Schedule: &core.ScheduleInput{Type: "recurring", Cron: &cron, Timezone: &tz},
			Callback: &core.CallbackInput{URL: &hook, Method: &method}})
		if err != nil {
			b.Fatal(err)
		}
		last = c.Cue.ID
		if i >= 950 {
			for range 20 {
				clock.Advance(time.Minute)
				if _, err := a.Executions.Fire(ctx, u, c.Cue.ID, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	login := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/dashboard/login", strings.NewReader(url.Values{"api_key": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a.handler.ServeHTTP(login, req)
	if login.Code != http.StatusSeeOther || len(login.Result().Cookies()) == 0 {
		b.Fatalf("login: %d", login.Code)
	}
	cookie := login.Result().Cookies()[0]
	page := func(b *testing.B, path, want string) {
		for b.Loop() {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest("GET", path, nil)
			r.AddCookie(cookie)
			a.handler.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
				b.Fatalf("%s: %d", path, rec.Code)
			}
		}
	}
	b.Run("cues-page-1000-cues", func(b *testing.B) { page(b, "/dashboard/cues", "cue-0999") })
	b.Run("cues-search-all-1000", func(b *testing.B) { page(b, "/dashboard/cues?q=cue-", "cue-0999") })
	b.Run("cue-detail-20-runs", func(b *testing.B) { page(b, "/dashboard/cues/"+string(last), "cue-0999") })
}
