package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSecurityCORS checks the CORS policy of security.md §8.3 (and H102,
// E70): "*" without credentials by default, credentials only for the exact
// origins of CORS_ORIGINS, preflights answered before the body limit, the
// rate limiter, routing and authentication, and the headers on 413 and 429
// answers too.
func TestSecurityCORS(t *testing.T) {
	t.Parallel()
	const listed = "https://app.example.com"
	exposed := "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, X-CueAPI-Usage-Warning"
	withList := func(c *config) { c.CORSOrigins = []string{listed, "http://localhost:3000"} }

	preflight := func(e *testEnv, path, origin, reqHeaders string) (*http.Response, []byte) {
		t := e.t
		hdr := map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST"}
		if reqHeaders != "" {
			hdr["Access-Control-Request-Headers"] = reqHeaders
		}
		resp, body := e.plain(e.newRequest("OPTIONS", path, nil, hdr))
		secCheckAnswer(t, resp, body, nil)
		return resp, body
	}

	t.Run("ConfigAcceptsOnlyExactOrigins", func(t *testing.T) {
		t.Parallel()
		load := func(v string) (*config, error) {
			return loadConfig(func(k string) (string, bool) {
				if k == "CORS_ORIGINS" {
					return v, true
				}
				return "", false
			})
		}
		c, err := load(" https://App.Example.com , http://localhost:3000,,https://[::1]:8443 ")
		require.NoError(t, err)
		require.Equal(t, []string{"https://app.example.com", "http://localhost:3000", "https://[::1]:8443"}, c.CORSOrigins)
		c, err = load("")
		require.NoError(t, err)
		require.Empty(t, c.CORSOrigins)
		for _, bad := range []string{"*", "null", "app.example.com", "ftp://app.example.com", "https://app.example.com/",
			"https://app.example.com/path", "https://app.example.com?x", "https://user@app.example.com", "https://", "https://a.example:port"} {
			_, err := load(bad)
			require.Error(t, err, bad)
			require.Contains(t, err.Error(), "CORS_ORIGINS", bad)
		}
	})

	t.Run("DefaultAllowsAnyOriginWithoutCredentials", func(t *testing.T) {
		t.Parallel()
		e := pEnv(t, backendSQLite, nil)
		key := e.register()
		resp, _ := e.sec("GET", "/v1/cues", key, "", map[string]string{"Origin": "https://evil.example"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"))
		require.Equal(t, exposed, resp.Header.Get("Access-Control-Expose-Headers"))
		resp, _ = e.sec("GET", "/v1/cues", key, "", nil)
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "no Origin, no CORS headers")
	})

	t.Run("H102_PreflightNeverCombinesAReflectedOriginWithCredentials", func(t *testing.T) {
		t.Parallel()
		for _, mutate := range []func(*config){nil, withList} {
			e := pEnv(t, backendSQLite, mutate)
			resp, _ := preflight(e, "/v1/cues", "https://evil.example", "authorization, content-type")
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			acao, acac := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials")
			require.False(t, acao == "https://evil.example" && acac == "true", "ACAO %q with ACAC %q", acao, acac)
			require.NotEqual(t, "https://evil.example", acao)
		}
	})

	t.Run("PreflightIsAnsweredBeforeLimitsRoutingAndAuth", func(t *testing.T) {
		t.Parallel()
		e := pEnv(t, backendSQLite, func(c *config) { c.DefaultRateLimitPerMinute = 60 })
		for i := 0; i < 100; i++ {
			for _, path := range []string{"/v1/cues", "/v1/cues/cue_000000000000", "/v1/not-a-route"} {
				resp, body := preflight(e, path, "https://evil.example", "Authorization, Content-Type, X-Evil, X-Confirm-Destructive, Idempotency-Key")
				require.Equal(t, http.StatusNoContent, resp.StatusCode, path)
				require.Empty(t, body)
				require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
				require.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"))
				require.Equal(t, "GET, POST, PATCH, PUT, DELETE, OPTIONS", resp.Header.Get("Access-Control-Allow-Methods"))
				require.Equal(t, "authorization, content-type, x-confirm-destructive, idempotency-key", resp.Header.Get("Access-Control-Allow-Headers"))
				require.Equal(t, "600", resp.Header.Get("Access-Control-Max-Age"))
				require.Empty(t, resp.Header.Get("X-RateLimit-Limit"), "preflights are not counted")
			}
		}
		resp, _ := preflight(e, "/v1/cues", "https://evil.example", "x-worker-id,x-cueapi-verify-echo")
		require.Equal(t, "x-worker-id, x-cueapi-verify-echo", resp.Header.Get("Access-Control-Allow-Headers"))
		resp, _ = preflight(e, "/v1/cues", "https://evil.example", "x-evil")
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Headers"), "nothing allowed to grant")

		// 300 preflights later the client IP's bucket is untouched.
		resp, _ = e.sec("GET", "/v1/cues", "", "", nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, "59", resp.Header.Get("X-RateLimit-Remaining"))

		// An OPTIONS that is not a preflight is an ordinary request.
		resp, _ = e.plain(e.newRequest("OPTIONS", "/v1/cues", nil, map[string]string{"Origin": "https://evil.example"}))
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		require.Equal(t, "58", resp.Header.Get("X-RateLimit-Remaining"))
	})

	t.Run("ListedOriginsAloneGetCredentials", func(t *testing.T) {
		t.Parallel()
		e := pEnv(t, backendSQLite, withList)
		key := e.register()

		resp, _ := e.sec("GET", "/v1/cues", key, "", map[string]string{"Origin": listed})
		require.Equal(t, listed, resp.Header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
		require.Contains(t, resp.Header.Values("Vary"), "Origin")
		require.Equal(t, exposed, resp.Header.Get("Access-Control-Expose-Headers"))

		for _, other := range []string{"https://evil.example", "https://app.example.com.evil.example", "http://app.example.com", "null"} {
			resp, _ = e.sec("GET", "/v1/cues", key, "", map[string]string{"Origin": other})
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), other)
			require.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"), other)
			require.Empty(t, resp.Header.Get("Access-Control-Expose-Headers"), other)
			require.Contains(t, resp.Header.Values("Vary"), "Origin", other)
		}
		resp, _ = e.sec("GET", "/v1/cues", key, "", nil)
		require.Contains(t, resp.Header.Values("Vary"), "Origin", "caches must key on Origin")

		resp, _ = preflight(e, "/v1/cues", listed, "authorization")
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Equal(t, listed, resp.Header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
		require.Equal(t, "authorization", resp.Header.Get("Access-Control-Allow-Headers"))

		resp, _ = preflight(e, "/v1/cues", "https://evil.example", "authorization")
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
			require.Empty(t, resp.Header.Get(h), h)
		}
	})

	t.Run("TooLargeAndTooManyCarryTheHeaders", func(t *testing.T) {
		t.Parallel()
		e := pEnv(t, backendSQLite, func(c *config) { c.DefaultRateLimitPerMinute = 60; withList(c) })
		resp, body := e.sec("POST", "/v1/auth/register", "", `{"email":"`+strings.Repeat("a", 1<<20)+`"}`, map[string]string{"Origin": listed})
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(body))
		require.Equal(t, listed, resp.Header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))

		e.exhaust(60, "/v1/cues", "")
		resp, body = e.sec("GET", "/v1/cues", "", "", map[string]string{"Origin": listed})
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, string(body))
		require.Equal(t, listed, resp.Header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, exposed, resp.Header.Get("Access-Control-Expose-Headers"))
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
	})
}
