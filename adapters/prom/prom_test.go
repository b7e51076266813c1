package prom_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/memlimiter"
	"github.com/cueapi/cueapi/adapters/prom"
	"github.com/cueapi/cueapi/core"
)

func TestHandlerRequiresTheBearerTokenWhenSet(t *testing.T) {
	t.Parallel()
	m := prom.New("v9")
	srv := httptest.NewServer(m.Handler("tok"))
	defer srv.Close()
	get := func(auth string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := get("")
	require.Equal(t, 401, code)
	code, _ = get("Bearer nope")
	require.Equal(t, 401, code)
	code, body := get("Bearer tok")
	require.Equal(t, 200, code)
	require.Contains(t, body, `cueapi_build_info{version="v9"} 1`)
	require.Contains(t, body, "go_goroutines")
}

func TestDecoratorsCount(t *testing.T) {
	t.Parallel()
	m := prom.New("v")
	l := m.Limiter(memlimiter.New())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		_, err := l.Allow(context.Background(), "k", 2, time.Minute, now)
		require.NoError(t, err)
	}
	m.LimiterDegraded(func() bool { return true })
	m.Pools(func() []core.PoolStats {
		return []core.PoolStats{{Pool: "main", Max: 8, InUse: 3, Idle: 5, WaitCount: 2, WaitDuration: time.Second}}
	})
	expected := `
# HELP cueapi_rate_limit_decisions_total Rate limiter decisions (allowed, limited, error).
# TYPE cueapi_rate_limit_decisions_total counter
cueapi_rate_limit_decisions_total{decision="allowed"} 2
cueapi_rate_limit_decisions_total{decision="error"} 0
cueapi_rate_limit_decisions_total{decision="limited"} 1
# HELP cueapi_rate_limiter_degraded 1 while rate-limit decisions come from the in-process fallback (Redis unreachable).
# TYPE cueapi_rate_limiter_degraded gauge
cueapi_rate_limiter_degraded 1
# HELP cueapi_store_pool_connections Store pool connections by state (in_use, idle, max).
# TYPE cueapi_store_pool_connections gauge
cueapi_store_pool_connections{pool="main",state="idle"} 5
cueapi_store_pool_connections{pool="main",state="in_use"} 3
cueapi_store_pool_connections{pool="main",state="max"} 8
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected),
		"cueapi_rate_limit_decisions_total", "cueapi_rate_limiter_degraded", "cueapi_store_pool_connections"))
}

// docs/grafana-dashboard.json is built from these names: every cueapi_
// series it queries exists.
func TestDashboardUsesExistingMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	m := prom.New("v")
	m.LimiterDegraded(func() bool { return false })
	m.Pools(func() []core.PoolStats { return []core.PoolStats{{Pool: "main"}} })
	m.Backlog(func(context.Context) (map[string]int, error) { return map[string]int{"webhook_due": 0}, nil })
	m.HTTPRequest("GET", "/health", 200, time.Millisecond)
	m.CueFired(0)
	m.DeliveryLag(0)
	m.DeliveryStarted()
	m.DeliveryFinished(core.DeliverySuccess, 0)
	m.WorkerClaimed()
	m.LeaseExpired("worker")
	m.OutcomeRecorded(core.OutcomeReportedSuccess)
	m.AlertDelivered(true)
	m.MailSent(core.MailAlert, true)
	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			have[f.GetName()+"_bucket"] = true
		}
	}
	re := regexp.MustCompile(`\b(cueapi|go|process)_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range re.FindAllString(tg.Expr, -1) {
				n++
				require.True(t, have[name], "the dashboard queries %s, which is not exported", name)
			}
		}
	}
	require.Greater(t, n, 25)
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "cueapi_") && f.GetName() != "cueapi_build_info" {
			require.Contains(t, string(raw), f.GetName(), "the dashboard shows every cueapi metric")
		}
	}
}

// TestHTTPRequestCountsEachLabelSet: the resolved series are kept per
// label set, so requests of different methods, routes and statuses count
// apart, and repeats add up.
func TestHTTPRequestCountsEachLabelSet(t *testing.T) {
	t.Parallel()
	m := prom.New("v")
	for range 3 {
		m.HTTPRequest("GET", "/v1/cues/{cue_id}", 200, time.Millisecond)
	}
	m.HTTPRequest("GET", "/v1/cues/{cue_id}", 404, time.Millisecond)
	m.HTTPRequest("POST", "/v1/cues", 201, time.Millisecond)
	expected := `
# HELP cueapi_http_requests_total API requests by method, route template and status code.
# TYPE cueapi_http_requests_total counter
cueapi_http_requests_total{method="GET",route="/v1/cues/{cue_id}",status="200"} 3
cueapi_http_requests_total{method="GET",route="/v1/cues/{cue_id}",status="404"} 1
cueapi_http_requests_total{method="POST",route="/v1/cues",status="201"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected), "cueapi_http_requests_total"))
	require.Equal(t, 2, testutil.CollectAndCount(m.Registry(), "cueapi_http_request_duration_seconds"), "one duration series per method and route")
}
