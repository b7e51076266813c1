package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// spec/clients.md §2.4.8 (C10) and §4 row 38: live-claim attestation.

// liveClaim posts a live-claim with body and returns the answer's status
// and raw body.
func (e *testEnv) liveClaim(key, id, body string) (int, []byte) {
	e.t.Helper()
	resp, raw := e.raw("POST", "/v1/executions/"+id+"/live-claim", key, body, nil)
	return resp.StatusCode, raw
}

func TestLiveClaim(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			const (
				tokenA = "live-session-token-A-7f3e"
				tokenB = "live-session-token-B-91c2"
			)
			e, logs := newTestEnvWithLog(t, be, nil)
			key := e.register()
			_, id := workerExecution(t, e, key, "live", "")
			first := e.clock.Now()

			// No attestation yet: 200, the time is now in Z form, the
			// token is not echoed.
			code, raw := e.liveClaim(key, id, `{"session_token":"`+tokenA+`"}`)
			require.Equal(t, http.StatusOK, code, string(raw))
			require.JSONEq(t, `{"attested":true,"execution_id":"`+id+`","live_claimed_at":"`+first.UTC().Format(time.RFC3339Nano)+`"}`, string(raw))
			require.True(t, strings.HasSuffix(e.getJSON("POST", "/v1/executions/"+id+"/live-claim", key, `{"session_token":"`+tokenA+`"}`, nil, http.StatusOK)["live_claimed_at"].(string), "Z"))

			// The same token later: 200 with the stored time.
			e.clock.Advance(time.Minute)
			code, raw2 := e.liveClaim(key, id, `{"session_token":"`+tokenA+`"}`)
			require.Equal(t, http.StatusOK, code, string(raw2))
			require.JSONEq(t, string(raw), string(raw2), "idempotent: the stored time, not now")

			// Another token: 409, the stored attestation unchanged.
			for _, other := range []string{tokenB, tokenA + "x", tokenA[:len(tokenA)-1], strings.ToUpper(tokenA)} {
				resp, raw3 := e.raw("POST", "/v1/executions/"+id+"/live-claim", key, `{"session_token":"`+other+`"}`, nil)
				er := requireClientError(t, resp, raw3, http.StatusConflict, "already_attested")
				require.Equal(t, "Execution already has a live-claim attestation from a different session token", er["message"])
			}
			code, raw4 := e.liveClaim(key, id, `{"session_token":"`+tokenA+`"}`)
			require.Equal(t, http.StatusOK, code, string(raw4))
			require.JSONEq(t, string(raw), string(raw4))

			// Missing, malformed and another tenant's execution: 404, and
			// the other tenant's attempt changes nothing.
			other := e.register()
			for _, tc := range []struct{ key, id string }{
				{key, "00000000-0000-4000-8000-000000000000"},
				{key, "not-a-uuid"},
				{other, id},
			} {
				resp, raw5 := e.raw("POST", "/v1/executions/"+tc.id+"/live-claim", tc.key, `{"session_token":"`+tokenB+`"}`, nil)
				er := requireClientError(t, resp, raw5, http.StatusNotFound, "execution_not_found")
				require.Equal(t, "Execution not found", er["message"])
			}
			code, raw6 := e.liveClaim(key, id, `{"session_token":"`+tokenA+`"}`)
			require.Equal(t, http.StatusOK, code, string(raw6))
			require.JSONEq(t, string(raw), string(raw6))

			// Without credentials: 401.
			resp, raw7 := e.raw("POST", "/v1/executions/"+id+"/live-claim", "", `{"session_token":"`+tokenA+`"}`, nil)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(raw7))

			// Bad bodies: 422 naming body.session_token, nothing stored.
			_, fresh := workerExecution(t, e, key, "fresh", "")
			long := strings.Repeat("k", 129)
			for _, body := range []string{`{}`, `{"session_token":""}`, `{"session_token":"` + long + `"}`, `{"session_token":7}`, `{"session_token":null}`} {
				resp, raw8 := e.raw("POST", "/v1/executions/"+fresh+"/live-claim", key, body, nil)
				er := requireClientError(t, resp, raw8, http.StatusUnprocessableEntity, "validation_error")
				require.True(t, strings.HasPrefix(er["message"].(string), "body.session_token"), "%s: %v", body, er["message"])
				require.NotContains(t, string(raw8), long)
			}
			// A body that is not JSON at all is a 4xx, never a 500.
			resp, raw9 := e.raw("POST", "/v1/executions/"+fresh+"/live-claim", key, `not json`, nil)
			require.GreaterOrEqual(t, resp.StatusCode, 400, string(raw9))
			require.Less(t, resp.StatusCode, 500, string(raw9))
			// 128 characters (multi-byte ones count once) are accepted,
			// and the execution was not attested by the rejected bodies.
			max := strings.Repeat("é", 128)
			code, raw10 := e.liveClaim(key, fresh, `{"session_token":"`+max+`"}`)
			require.Equal(t, http.StatusOK, code, string(raw10))
			require.NotContains(t, string(raw10), max)

			// The token is in no answer: the execution as read back, the
			// list, and the logs of every request above.
			for _, path := range []string{"/v1/executions/" + id, "/v1/executions"} {
				resp, body := e.raw("GET", path, key, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				require.NotContains(t, string(body), tokenA)
			}
			require.Contains(t, logs.String(), "live-claim", "the requests were logged")
			for _, tok := range []string{tokenA, tokenB, max} {
				require.NotContains(t, logs.String(), tok)
			}
		})
	}
}

// A replay does not carry the original's attestation: the new execution
// can be attested by another session.
func TestLiveClaimNotReplayed(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, be, nil)
			key := e.register()
			_, id := workerExecution(t, e, key, "replayed", "")
			e.claimByID(key, id, "w1")
			e.getJSON("POST", "/v1/executions/"+id+"/live-claim", key, `{"session_token":"first"}`, nil, http.StatusOK)
			e.getJSON("POST", "/v1/executions/"+id+"/outcome", key, `{"success":true}`, nil, http.StatusOK)

			e.clock.Advance(time.Minute)
			replay := e.getJSON("POST", "/v1/executions/"+id+"/replay", key, "", nil, http.StatusOK)["id"].(string)
			out := e.getJSON("POST", "/v1/executions/"+replay+"/live-claim", key, `{"session_token":"second"}`, nil, http.StatusOK)
			require.Equal(t, e.clock.Now().UTC().Format(time.RFC3339Nano), out["live_claimed_at"], "a fresh attestation, at now")
			code, raw := e.liveClaim(key, id, `{"session_token":"second"}`)
			require.Equal(t, http.StatusConflict, code, string(raw), "the original keeps its own attestation")
		})
	}
}
