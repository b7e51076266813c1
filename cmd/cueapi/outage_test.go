package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/coretest"
)

// throughProxy is a configuration change that reaches the server the URL
// *field(cfg) names through a fault proxy, created on first use and kept
// in *proxy (the harness may apply the change more than once).
func throughProxy(t *testing.T, proxy **coretest.FaultProxy, field func(*config) *string) func(*config) {
	return func(cfg *config) {
		u, err := url.Parse(*field(cfg))
		require.NoError(t, err)
		if *proxy == nil {
			*proxy = coretest.NewFaultProxy(t, u.Host)
		}
		u.Host = (*proxy).Addr()
		*field(cfg) = u.String()
	}
}

// TestStoreCut reaches PostgreSQL through an in-test proxy and cuts it:
// API calls answer 503 with Retry-After and the service_unavailable code
// in the envelope (mirrored under detail), never a 500; the outage is
// logged once, not per request; after the restore calls succeed again.
func TestStoreCut(t *testing.T) {
	t.Parallel()
	var proxy *coretest.FaultProxy
	e, logs := newTestEnvWithLog(t, backendPostgres, throughProxy(t, &proxy, func(cfg *config) *string { return &cfg.DatabaseURL }))
	key := e.register()
	create := `{"name":"outage-%d","schedule":{"type":"once","at":"2030-01-01T00:00:00Z"},"callback":{"url":"https://example.com/hook"}}`
	r, b := e.raw("POST", "/v1/cues", key, strings.Replace(create, "%d", "0", 1), nil)
	require.Equal(t, http.StatusCreated, r.StatusCode, string(b))

	proxy.Cut()
	const requests = 10
	for i := range requests {
		method, path, body := "GET", "/v1/cues", ""
		if i%2 == 1 {
			method, path, body = "POST", "/v1/cues", strings.Replace(create, "%d", "cut", 1)
		}
		r, b := e.raw(method, path, key, body, nil)
		require.Equal(t, http.StatusServiceUnavailable, r.StatusCode, "%s %s with the store cut: %s", method, path, b)
		require.Equal(t, "5", r.Header.Get("Retry-After"))
		var env struct {
			Error struct {
				Code   string `json:"code"`
				Status int    `json:"status"`
			} `json:"error"`
			Detail struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			} `json:"detail"`
		}
		require.NoError(t, json.Unmarshal(b, &env), string(b))
		require.Equal(t, "service_unavailable", env.Error.Code)
		require.Equal(t, http.StatusServiceUnavailable, env.Error.Status)
		require.Equal(t, "service_unavailable", env.Detail.Error.Code)
	}
	out := logs.String()
	require.Equal(t, 1, strings.Count(out, "dependency unavailable; answering 503"), "one WARN for the outage, not one per request")
	require.NotContains(t, out, "request failed", "no ERROR line per request")

	proxy.Restore()
	// Connections broken by the cut are discarded as they are found; each
	// attempt discards at most one, so the pool recovers within a bounded
	// number of calls.
	recovered := false
	for range 50 {
		if r, _ := e.raw("GET", "/v1/cues", key, "", nil); r.StatusCode == http.StatusOK {
			recovered = true
			break
		}
	}
	require.True(t, recovered, "the API recovers after the store comes back")
	r, b = e.raw("POST", "/v1/cues", key, strings.Replace(create, "%d", "after", 1), nil)
	require.Equal(t, http.StatusCreated, r.StatusCode, string(b))
	r, b = e.raw("GET", "/v1/cues", key, "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(b))
	require.Contains(t, string(b), "outage-after")
}
