package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/core/canonjson"
)

// The rows of spec/clients.md §4 about executions, body verification,
// info, usage and errors, checked on the wire the way today's SDK, CLI and
// MCP server read it.

// getJSON sends a request and decodes the JSON object answer, requiring
// the status.
func (e *testEnv) getJSON(method, path, key, body string, hdr map[string]string, status int) map[string]any {
	e.t.Helper()
	resp, raw := e.raw(method, path, key, body, hdr)
	require.Equal(e.t, status, resp.StatusCode, string(raw))
	var out map[string]any
	require.NoError(e.t, json.Unmarshal(raw, &out), string(raw))
	return out
}

// listIDs lists executions with the query string and returns their ids.
func (e *testEnv) listIDs(key, query string) []string {
	e.t.Helper()
	out := e.getJSON("GET", "/v1/executions?"+query, key, "", nil, http.StatusOK)
	var ids []string
	for _, x := range out["executions"].([]any) {
		ids = append(ids, x.(map[string]any)["id"].(string))
	}
	return ids
}

// fireID fires a cue and returns the execution id.
func (e *testEnv) fireID(key, cueID string) string {
	e.t.Helper()
	out := e.getJSON("POST", "/v1/cues/"+cueID+"/fire", key, "", nil, http.StatusOK)
	return out["id"].(string)
}

// claimByID claims an execution for worker w like `cueapi executions claim`.
func (e *testEnv) claimByID(key, id, w string) map[string]any {
	e.t.Helper()
	return e.getJSON("POST", "/v1/executions/"+id+"/claim", key, `{"worker_id":"`+w+`"}`, nil, http.StatusOK)
}

// requireClientError checks an error answer the way the CLI (detail.error)
// and the SDK (error) read it: same code and message in both places, the
// status inside.
func requireClientError(t *testing.T, resp *http.Response, raw []byte, status int, code string) map[string]any {
	t.Helper()
	require.Equal(t, status, resp.StatusCode, string(raw))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var env struct {
		Error  map[string]any `json:"error"`
		Detail struct {
			Error map[string]any `json:"error"`
		} `json:"detail"`
	}
	require.NoError(t, json.Unmarshal(raw, &env), string(raw))
	require.Equal(t, code, env.Error["code"], string(raw))
	require.NotEmpty(t, env.Error["message"])
	require.Equal(t, env.Error, env.Detail.Error, "the envelope is mirrored under detail")
	if s, ok := env.Error["status"]; ok {
		require.EqualValues(t, status, s)
	}
	return env.Error
}

func TestClientsExecutions(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			// §4 rows 30–33: list filters.
			t.Run("ListFilters", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				sched := e.createCue(key, `{"name":"every5","transport":"worker","schedule":{"type":"recurring","cron":"*/5 * * * *"}}`)
				e.clock.Advance(5 * time.Minute)
				fired, _ := e.pump()
				require.Positive(t, fired)
				scheduled := e.executions(key, sched.ID)
				require.NotEmpty(t, scheduled)
				_, manual := workerExecution(t, e, key, "manual", `{"task":"t"}`)
				_, withEvidence := workerExecution(t, e, key, "evidence", "")
				_, typedOnly := workerExecution(t, e, key, "typed", "")
				for _, id := range []string{withEvidence, typedOnly} {
					e.claimByID(key, id, "w1")
				}
				e.claimByID(key, manual, "w2")
				out := e.getJSON("POST", "/v1/executions/"+withEvidence+"/outcome", key, `{"success":true,"external_id":"PR-7","result_type":"pr","result_url":"https://h.example/pr/7","summary":"merged"}`, nil, http.StatusOK)
				require.Equal(t, "reported_success", out["outcome_state"])
				e.getJSON("POST", "/v1/executions/"+typedOnly+"/outcome", key, `{"success":true,"result_type":"pr"}`, nil, http.StatusOK)

				// 30: --triggered-by manual_fire / scheduled.
				require.ElementsMatch(t, []string{manual, withEvidence, typedOnly}, e.listIDs(key, "triggered_by=manual_fire"))
				var schedIDs []string
				for _, x := range scheduled {
					schedIDs = append(schedIDs, x.ID)
					require.Equal(t, "scheduled", x.TriggeredBy, "scheduler rows are shown as scheduled, not null")
				}
				require.ElementsMatch(t, schedIDs, e.listIDs(key, "triggered_by=scheduled"))
				require.Empty(t, e.listIDs(key, "triggered_by=replay"))
				// 31: --has-evidence (the CLI sends the string true) and --result-type.
				require.Equal(t, []string{withEvidence}, e.listIDs(key, "has_evidence=true"))
				require.Equal(t, []string{withEvidence}, e.listIDs(key, "has_evidence=TRUE"), "booleans in any case")
				require.Len(t, e.listIDs(key, "has_evidence=false"), len(schedIDs)+3, "false means no filter")
				require.ElementsMatch(t, []string{withEvidence, typedOnly}, e.listIDs(key, "result_type=pr"))
				require.Empty(t, e.listIDs(key, "result_type=issue"))
				// 32: outcome_state=unknown = no outcome state.
				require.ElementsMatch(t, append([]string{manual}, schedIDs...), e.listIDs(key, "outcome_state=unknown"))
				// C9: worker_id, status__in and oldest_claimed_at.
				require.ElementsMatch(t, []string{withEvidence, typedOnly}, e.listIDs(key, "worker_id=w1"))
				require.Equal(t, []string{manual}, e.listIDs(key, "status__in=delivering"))
				list := e.getJSON("GET", "/v1/executions?status__in=pending,%20delivering,&limit=1", key, "", nil, http.StatusOK)
				require.EqualValues(t, len(schedIDs)+1, list["total"])
				require.Equal(t, "2026-03-20T10:05:00+00:00", list["oldest_claimed_at"], "over the whole filtered set, not the page")
				list = e.getJSON("GET", "/v1/executions?status__in=pending", key, "", nil, http.StatusOK)
				require.Nil(t, list["oldest_claimed_at"])
				require.Contains(t, list, "oldest_claimed_at")

				// 33: the two status filters together, an empty status__in.
				resp, raw := e.raw("GET", "/v1/executions?status=pending&status__in=failed", key, "", nil)
				er := requireClientError(t, resp, raw, 400, "conflicting_filters")
				require.Equal(t, "Pass either `status` or `status__in`, not both.", er["message"])
				resp, raw = e.raw("GET", "/v1/executions?status__in=,", key, "", nil)
				requireClientError(t, resp, raw, 400, "invalid_status_in")
				// Bad filter values: a 4xx naming the field, never a 500.
				resp, raw = e.raw("GET", "/v1/executions?triggered_by=cron", key, "", nil)
				er = requireClientError(t, resp, raw, 422, "validation_error")
				require.Contains(t, er["message"], "query.triggered_by")
				resp, raw = e.raw("GET", "/v1/executions?has_evidence=maybe", key, "", nil)
				er = requireClientError(t, resp, raw, 422, "validation_error")
				require.Contains(t, er["message"], "query.has_evidence")
			})

			// §4 rows 35 and 37, C1: claim from retry_ready; what
			// `executions get` prints after a claim.
			t.Run("ClaimFromRetryReadyAndExecutionFields", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				_, id := workerExecution(t, e, key, "retry", `{"task":"t","agent":"bob"}`)
				u, err := e.app.Accounts.Authenticate(context.Background(), "Bearer "+key)
				require.NoError(t, err)
				_, err = e.app.store.ExecutionUpdate(context.Background(), &core.ExecutionUpdateParams{TenantID: u.User.ID, ID: core.ExecutionID(id),
					Fn: func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
						x.Status = core.ExecRetryReady
						return nil, nil
					}})
				require.NoError(t, err)
				cl := e.getJSON("GET", "/v1/executions/claimable", key, "", nil, http.StatusOK)
				require.Len(t, cl["executions"], 1, "claimable lists retry_ready")

				out := e.claimByID(key, id, "w")
				require.Equal(t, true, out["claimed"])
				require.EqualValues(t, 900, out["lease_seconds"])
				e.clock.Advance(time.Minute)
				e.getJSON("POST", "/v1/executions/"+id+"/heartbeat", key, "", map[string]string{"X-Worker-Id": "w"}, http.StatusOK)

				got := e.getJSON("GET", "/v1/executions/"+id, key, "", nil, http.StatusOK)
				require.Equal(t, "w", got["claimed_by_worker"])
				require.Equal(t, "2026-03-20T10:00:00Z", got["claimed_at"])
				require.Equal(t, "2026-03-20T10:01:00Z", got["last_heartbeat_at"])
				require.Equal(t, "manual_fire", got["triggered_by"])
				for _, k := range []string{"next_retry", "response_body", "outcome", "evidence"} {
					require.Contains(t, got, k)
				}
				e.getJSON("POST", "/v1/executions/"+id+"/outcome", key, `{"success":true,"external_id":"X-1","result_url":"https://h.example/r","result_ref":"abc","result_type":"pr","summary":"done","artifacts":[{"k":1}]}`, nil, http.StatusOK)
				got = e.getJSON("GET", "/v1/executions/"+id, key, "", nil, http.StatusOK)
				outcome := got["outcome"].(map[string]any)
				want := map[string]any{"external_id": "X-1", "result_url": "https://h.example/r", "result_ref": "abc", "result_type": "pr", "summary": "done"}
				for k, v := range want {
					require.Equal(t, v, outcome[k], "outcome.%s (SDK Execution model)", k)
					require.Equal(t, v, got["evidence"].(map[string]any)[k], "evidence.%s kept at the top level", k)
				}
				require.Equal(t, []any{map[string]any{"k": float64(1)}}, outcome["artifacts"])
				require.Contains(t, outcome, "validation_state")

				// A pending execution is still claimable by id as before;
				// a claimed one is not.
				resp, raw := e.raw("POST", "/v1/executions/"+id+"/claim", key, `{"worker_id":"w2"}`, nil)
				requireClientError(t, resp, raw, 409, "claim_failed")
			})

			// §4 row 34 and the acceptance: filters before the
			// 50-row cap; claim_next(task=…) fans out as list + claim by id.
			t.Run("ClaimableFiltersBeforeTheCap", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, func(c *config) { c.DefaultActiveCueLimit, c.DefaultRateLimitPerMinute = 100, 1000 })
				key := e.register()
				for i := range 60 {
					workerExecution(t, e, key, fmt.Sprintf("other-%d", i), `{"task":"other","agent":"alice"}`)
				}
				e.clock.Advance(time.Second)
				_, bob := workerExecution(t, e, key, "bob", `{"task":"mine","agent":"bob"}`)
				_, bobTwo := workerExecution(t, e, key, "bob-2", `{"task":"theirs","agent":"bob"}`)

				all := e.getJSON("GET", "/v1/executions/claimable", key, "", nil, http.StatusOK)
				require.Len(t, all["executions"], 50)
				items := func(q string) []string {
					out := e.getJSON("GET", "/v1/executions/claimable?"+q, key, "", nil, http.StatusOK)
					var ids []string
					for _, x := range out["executions"].([]any) {
						ids = append(ids, x.(map[string]any)["execution_id"].(string))
					}
					return ids
				}
				require.ElementsMatch(t, []string{bob, bobTwo}, items("agent=bob"))
				require.Equal(t, []string{bob}, items("agent=bob&task=mine"))
				require.Empty(t, items("agent=carol"))

				// claim_next(task="mine"): list with the task, claim the first by id.
				ids := items("task=mine")
				require.Equal(t, []string{bob}, ids)
				out := e.claimByID(key, ids[0], "worker-mine")
				require.Equal(t, bob, out["execution_id"])
				require.Empty(t, items("task=mine"))
			})

			// §4 row 36, C8: replay answers execution_id as well as id.
			t.Run("ReplayAnswersExecutionID", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				_, id := workerExecution(t, e, key, "replayed", `{"task":"t"}`)
				e.claimByID(key, id, "w")
				e.getJSON("POST", "/v1/executions/"+id+"/outcome", key, `{"success":true}`, nil, http.StatusOK)
				e.clock.Advance(time.Second)
				out := e.getJSON("POST", "/v1/executions/"+id+"/replay", key, "", nil, http.StatusOK)
				require.Equal(t, out["id"], out["execution_id"])
				require.NotEqual(t, id, out["execution_id"])
				require.Equal(t, id, out["replayed_from"])
				require.Equal(t, "replay", out["triggered_by"])
				got := e.getJSON("GET", "/v1/executions/"+out["execution_id"].(string), key, "", nil, http.StatusOK)
				require.Equal(t, "replay", got["triggered_by"])
				require.Equal(t, "pending", got["status"])
				require.Equal(t, []string{out["execution_id"].(string)}, e.listIDs(key, "triggered_by=replay"))
			})
		})
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestClientsVerificationInfoErrors(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			// §4 row 41 (E2) and E3.
			t.Run("BodyVerificationEcho", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c := e.createCue(key, `{"name":"v","transport":"worker","schedule":{"type":"once","at":"2027-01-01T00:00:00Z"}}`)

				out := e.getJSON("POST", "/v1/cues/"+c.ID+"/fire", key, `{"payload_override":{"message":"x"}}`, map[string]string{"x-cueapi-verify-echo": " TRUE "}, http.StatusOK)
				require.Contains(t, out, "body_received")
				require.Nil(t, out["body_received"], "fire echoes null so the clients skip their comparison")
				require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", out["body_received_sha256"])
				require.NotEmpty(t, out["id"])

				out = e.getJSON("POST", "/v1/cues/"+c.ID+"/fire", key, "", nil, http.StatusOK)
				require.NotContains(t, out, "body_received", "no header, no echo")
				require.NotContains(t, out, "body_received_sha256")
				out = e.getJSON("POST", "/v1/cues/"+c.ID+"/fire", key, "", map[string]string{"X-CueAPI-Verify-Echo": "yes"}, http.StatusOK)
				require.NotContains(t, out, "body_received", "only true turns it on")

				body := `{"transport":"worker","name":"héllo ✓", "schedule":{"type":"once","at":"2027-01-01T00:00:00Z"},"payload":{"b":2.50,"a":[1,null]}}`
				out = e.getJSON("POST", "/v1/cues", key, body, map[string]string{"X-CueAPI-Verify-Echo": "true"}, http.StatusCreated)
				var sent any
				require.NoError(t, json.Unmarshal([]byte(body), &sent))
				require.Equal(t, sent, out["body_received"], "E3: the parsed request")
				canon, err := canonjson.SortedCompact([]byte(body))
				require.NoError(t, err)
				require.Equal(t, `{"name":"héllo ✓","payload":{"a":[1,null],"b":2.5},"schedule":{"at":"2027-01-01T00:00:00Z","type":"once"},"transport":"worker"}`, string(canon))
				require.Equal(t, sha256Hex(canon), out["body_received_sha256"])
				require.Equal(t, "héllo ✓", out["name"], "the response itself is intact")

				out = e.getJSON("POST", "/v1/executions/claim", key, `{"worker_id":"w"}`, map[string]string{"X-CueAPI-Verify-Echo": "true"}, http.StatusOK)
				require.Equal(t, map[string]any{"worker_id": "w"}, out["body_received"])
				out = e.getJSON("PATCH", "/v1/cues/"+c.ID, key, `{"description":"d"}`, map[string]string{"X-CueAPI-Verify-Echo": "true"}, http.StatusOK)
				require.Equal(t, map[string]any{"description": "d"}, out["body_received"])

				resp, raw := e.raw("POST", "/v1/cues", key, `{"name":""}`, map[string]string{"X-CueAPI-Verify-Echo": "true"})
				requireClientError(t, resp, raw, 422, "validation_error")
				require.NotContains(t, string(raw), "body_received", "errors carry no echo")
				out = e.getJSON("GET", "/v1/cues/"+c.ID, key, "", map[string]string{"X-CueAPI-Verify-Echo": "true"}, http.StatusOK)
				require.NotContains(t, out, "body_received", "GET carries no echo")
			})

			// §4 row 72, F1.
			t.Run("Info", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				resp, raw := e.raw("GET", "/v1/info", "", "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
				require.JSONEq(t, `{"version":"`+api.Version+`","authorization_backend":"SameTenantAuthorizationBackend",
					"authentication_paths":{"per_user_api_key":true,"internal_token_with_on_behalf_of":false},"disabled_primitives":[]}`, string(raw))
				require.Empty(t, resp.Header.Get("X-RateLimit-Limit"), "not rate limited")
			})

			// §4 rows 73 and 74, G1 and O3.
			t.Run("SlugAndUsageRateLimit", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, func(c *config) { c.DefaultRateLimitPerMinute = 120 })
				reg := func(email string) string {
					out := e.getJSON("POST", "/v1/auth/register", "", `{"email":"`+email+`"}`, nil, http.StatusCreated)
					return out["api_key"].(string)
				}
				first := reg("Ops.Bot+x@Example.com")
				me := e.getJSON("GET", "/v1/auth/me", first, "", nil, http.StatusOK)
				require.Equal(t, "ops-bot-x", me["slug"])
				second := reg("ops.bot-x@other.example")
				me = e.getJSON("GET", "/v1/auth/me", second, "", nil, http.StatusOK)
				require.Regexp(t, `^ops-bot-x-[0-9a-f]{4}$`, me["slug"], "a taken slug gets a suffix")

				usage := e.getJSON("GET", "/v1/usage", first, "", nil, http.StatusOK)
				rl := usage["rate_limit"].(map[string]any)
				require.EqualValues(t, 120, rl["limit"], "cueapi usage prints rate_limit.limit")
				require.EqualValues(t, 120, rl["requests_per_minute"])
			})

			// §4 rows 75–77, Q1 and Q2: every error is a JSON object with
			// the envelope under error and detail.
			t.Run("ErrorsTheClientsCanShow", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, func(c *config) { c.DefaultRateLimitPerMinute = 30 })
				key := e.register()
				c := e.createCue(key, `{"name":"v","transport":"worker","schedule":{"type":"once","at":"2027-01-01T00:00:00Z"}}`)

				resp, raw := e.raw("PATCH", "/v1/cues/"+c.ID, key, `{"verification":{"mode":"evidence_required"}}`, nil)
				er := requireClientError(t, resp, raw, 422, "validation_error")
				require.True(t, strings.HasPrefix(er["message"].(string), "body.verification.mode: "), er["message"])

				resp, raw = e.raw("GET", "/v1/nope", key, "", nil)
				requireClientError(t, resp, raw, 404, "http_error")
				resp, raw = e.raw("DELETE", "/v1/usage", key, "", nil)
				requireClientError(t, resp, raw, 405, "http_error")
				resp, raw = e.raw("POST", "/v1/billing/checkout", key, `{"plan":"pro","interval":"monthly"}`, nil)
				requireClientError(t, resp, raw, 404, "http_error")
				resp, raw = e.raw("GET", "/v1/cues/cue_doesnotexist", key, "", nil)
				requireClientError(t, resp, raw, 404, "cue_not_found")
				resp, raw = e.raw("GET", "/v1/auth/me", "cue_sk_wrong", "", nil)
				requireClientError(t, resp, raw, 401, codeOf(t, raw))
				resp, raw = e.raw("POST", "/v1/cues", key, `{"name":`, nil)
				requireClientError(t, resp, raw, 400, "invalid_json")
				resp, raw = e.raw("POST", "/v1/cues", key, `{"name":"`+strings.Repeat("x", 1<<20)+`"}`, nil)
				requireClientError(t, resp, raw, 413, "request_too_large")
				for range 40 {
					resp, raw = e.raw("GET", "/v1/usage", key, "", nil)
					if resp.StatusCode == http.StatusTooManyRequests {
						break
					}
				}
				requireClientError(t, resp, raw, 429, codeOf(t, raw))
			})
		})
	}
}

// codeOf is the error code of an envelope (for codes another test pins).
func codeOf(t *testing.T, raw []byte) string {
	t.Helper()
	var env struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(raw, &env), string(raw))
	return env.Error.Code
}
