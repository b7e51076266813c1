package prom_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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
