package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
	"github.com/cueapi/cueapi/coretest"
)

// TestHealthComponents: /health names the real store, limiter and auth
// cache on each backend.
func TestHealthComponents(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, be, nil)
			h, err := e.client.HealthWithResponse(context.Background())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, h.StatusCode())
			c := h.JSON200.Components
			require.NotNil(t, c)
			wantStore, wantShared := apiclient.HealthComponentKindSQLite, apiclient.HealthComponentKindMemory
			if be == backendPostgres {
				wantStore, wantShared = apiclient.HealthComponentKindPostgres, apiclient.HealthComponentKindRedis
			}
			require.Equal(t, apiclient.HealthComponent{Kind: wantStore, Status: apiclient.HealthComponentStatusOK}, c.Store)
			require.Equal(t, apiclient.HealthComponent{Kind: wantShared, Status: apiclient.HealthComponentStatusOK}, c.RateLimiter)
			require.Equal(t, apiclient.HealthComponent{Kind: wantShared, Status: apiclient.HealthComponentStatusOK}, c.AuthCache)
			require.Equal(t, apiclient.HealthServicesPostgresOK, h.JSON200.Services.Postgres, "the reference's key stays")
		})
	}
}

// TestRedisCut reaches Redis through an in-test proxy and cuts it: the API
// keeps serving (limiter and auth cache on their fallbacks), /status stays
// ready (200 degraded), /health says which fallback is active, the auth
// cache logs one WARN for the outage, and everything recovers after.
func TestRedisCut(t *testing.T) {
	t.Parallel()
	var proxy *coretest.FaultProxy
	e, logs := newTestEnvWithLog(t, backendPostgres, throughProxy(t, &proxy, func(cfg *config) *string { return &cfg.RedisURL }))
	key := e.register()
	status := func() (int, map[string]string) {
		r, body := e.raw("GET", "/status", "", "", nil)
		var out map[string]string
		require.NoError(t, json.Unmarshal(body, &out))
		return r.StatusCode, out
	}
	code, body := status()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "healthy", body["status"])

	proxy.Cut()
	for i := range 10 {
		r, b := e.raw("GET", "/v1/cues", key, "", nil)
		require.Equal(t, http.StatusOK, r.StatusCode, "request %d with Redis cut: %s", i, b)
	}
	code, body = status()
	require.Equal(t, http.StatusOK, code, "Redis down leaves the replica ready")
	require.Equal(t, map[string]string{"status": "degraded", "reason": "redis unreachable; fallback active"}, body)

	h, err := e.client.HealthWithResponse(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, h.StatusCode())
	require.Equal(t, "degraded", string(h.JSON200.Status))
	require.Equal(t, apiclient.HealthServicesRedisError, h.JSON200.Services.Redis)
	c := h.JSON200.Components
	require.Equal(t, apiclient.HealthComponentStatusOK, c.Store.Status)
	for _, comp := range []apiclient.HealthComponent{c.RateLimiter, c.AuthCache} {
		require.Equal(t, apiclient.HealthComponentKindRedis, comp.Kind)
		require.Equal(t, apiclient.HealthComponentStatusDegraded, comp.Status)
		require.NotNil(t, comp.Detail)
		require.Contains(t, *comp.Detail, "fallback active")
	}
	require.Equal(t, 1, strings.Count(logs.String(), "auth cache unreachable"), "one WARN for the outage, not one per request")
	require.NotContains(t, logs.String(), "auth cache unavailable; using the store")

	proxy.Restore()
	code, body = status()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "healthy", body["status"])
	r, b := e.raw("GET", "/v1/cues", key, "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(b))
}
