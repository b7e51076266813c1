package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/core"
)

// The rows of clients.md §4 "Cues and fire" (hosted cue fields, fire
// options, idempotency, chaining, bulk delete), on both stores.

// obj sends a request and decodes the JSON object answered.
func (e *testEnv) obj(method, path, key, body string, hdr map[string]string) (int, map[string]any) {
	e.t.Helper()
	resp, raw := e.raw(method, path, key, body, hdr)
	var m map[string]any
	require.NoError(e.t, json.Unmarshal(raw, &m), string(raw))
	return resp.StatusCode, m
}

// errOf returns the error envelope's inner object, checking the status.
func errOf(t *testing.T, code int, m map[string]any, status int, wantCode string) map[string]any {
	t.Helper()
	require.Equal(t, status, code, "%v", m)
	inner, ok := m["error"].(map[string]any)
	require.True(t, ok, "%v", m)
	require.Equal(t, wantCode, inner["code"], "%v", m)
	return inner
}

// webhookCue is a create body of a webhook cue delivering to url.
func webhookCue(name, url, extra string) string {
	return fmt.Sprintf(`{"name":%q,"schedule":{"type":"once","at":"2027-01-01T00:00:00Z"},"callback":{"url":%q},"retry":{"max_attempts":1}%s}`, name, url, extra)
}

// workerCue is a create body of a worker cue.
func workerCue(name, extra string) string {
	return fmt.Sprintf(`{"name":%q,"transport":"worker","schedule":{"type":"once","at":"2027-01-01T00:00:00Z"}%s}`, name, extra)
}

func (e *testEnv) fire(key, cueID, body string) (int, map[string]any) {
	e.t.Helper()
	return e.obj("POST", "/v1/cues/"+cueID+"/fire", key, body, nil)
}

func (e *testEnv) getCue(key, id string) map[string]any {
	e.t.Helper()
	code, m := e.obj("GET", "/v1/cues/"+id, key, "", nil)
	require.Equal(e.t, http.StatusOK, code, "%v", m)
	return m
}

// webhookPayloads decodes the "payload" of every request the receiver got.
func webhookPayloads(t *testing.T, r *receiver) []string {
	t.Helper()
	var out []string
	for _, req := range r.requests() {
		var b struct {
			Payload json.RawMessage `json:"payload"`
		}
		require.NoError(t, json.Unmarshal(req.body, &b))
		var v any
		require.NoError(t, json.Unmarshal(b.Payload, &v))
		c, err := json.Marshal(v)
		require.NoError(t, err)
		out = append(out, string(c))
	}
	return out
}

func TestCompatCues(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			t.Run("HostedFieldsCreateUpdateGet", func(t *testing.T) { // rows 1-6
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c := e.createCue(key, `{"name":"a","schedule":{"type":"recurring","cron":"0 9 * * *"},"callback":{"url":"https://hooks.example.com/x"},`+
					`"catch_up":"skip_missed","require_payload_override":true,"required_payload_keys":["message","task"]}`)
				got := e.getCue(key, c.ID)
				require.Equal(t, "skip_missed", got["catch_up"])
				require.Equal(t, true, got["require_payload_override"])
				require.Equal(t, []any{"message", "task"}, got["required_payload_keys"])
				require.Nil(t, got["delivery"])
				require.Nil(t, got["alerts"])
				require.Nil(t, got["on_success_fire"])
				require.Contains(t, got, "stats")

				code, m := e.obj("PATCH", "/v1/cues/"+c.ID, key, `{"catch_up":"replay_all","delivery":{"timeout_seconds":60},"alerts":{}}`, nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				got = e.getCue(key, c.ID)
				require.Equal(t, "replay_all", got["catch_up"])
				require.Equal(t, map[string]any{"timeout_seconds": float64(60), "outcome_deadline_seconds": float64(300)}, got["delivery"])
				require.Equal(t, map[string]any{}, got["alerts"])
				require.Equal(t, true, got["require_payload_override"], "absent keys stay unchanged")

				// Today's vocabulary is still accepted and answered in the clients'.
				code, m = e.obj("PATCH", "/v1/cues/"+c.ID, key, `{"catch_up":"latest","delivery":null,"alerts":null}`, nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, "run_once_if_missed", m["catch_up"])
				require.Nil(t, m["delivery"])
				require.Nil(t, m["alerts"])

				b := e.createCue(key, webhookCue("b", "https://hooks.example.com/b", ""))
				code, m = e.obj("PATCH", "/v1/cues/"+c.ID, key, `{"on_success_fire":"`+b.ID+`"}`, nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, b.ID, e.getCue(key, c.ID)["on_success_fire"])
				code, m = e.obj("PATCH", "/v1/cues/"+c.ID, key, `{"on_success_fire":null}`, nil) // row 3
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Nil(t, e.getCue(key, c.ID)["on_success_fire"])

				code, m = e.obj("PATCH", "/v1/cues/"+c.ID, key, `{"bogus":1}`, nil) // row 5
				errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")

				code, m = e.obj("PATCH", "/v1/cues/"+c.ID, key, `{"verification":{"mode":"none","required_assertions":["done"]}}`, nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, map[string]any{"mode": "none", "required_assertions": []any{"done"}}, m["verification"])

				// Row 4: [] clears the requirement; a fire without the keys now succeeds.
				code, m = e.obj("PATCH", "/v1/cues/"+c.ID, key, `{"required_payload_keys":[],"require_payload_override":false}`, nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, []any{}, m["required_payload_keys"])
				code, m = e.fire(key, c.ID, "")
				require.Equal(t, http.StatusOK, code, "%v", m)
			})

			t.Run("HostedFieldRejections", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				for _, tc := range []struct{ extra, field string }{
					{`,"catch_up":"sometimes"`, "body.catch_up"},
					{`,"delivery":{"timeout_seconds":0}`, "body.delivery.timeout_seconds"},
					{`,"delivery":{"timeout_seconds":301}`, "body.delivery.timeout_seconds"},
					{`,"required_payload_keys":[""]`, "body.required_payload_keys.0"},
					{`,"alerts":[1]`, "body.alerts"},
					{`,"verification":{"mode":"evidence_required"}`, "body.verification.mode"},
					{`,"require_payload_override":"yes"`, "body.require_payload_override"},
				} {
					code, m := e.obj("POST", "/v1/cues", key, webhookCue("r", "https://hooks.example.com/x", tc.extra), nil)
					inner := errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
					require.True(t, strings.HasPrefix(inner["message"].(string), tc.field+":"), "%s: %v", tc.extra, inner["message"])
				}
				code, m := e.obj("GET", "/v1/cues", key, "", nil)
				require.Equal(t, http.StatusOK, code)
				require.Equal(t, float64(0), m["total"], "nothing half-written")
			})

			t.Run("FireBodies", func(t *testing.T) { // rows 9, 10, 13, 14, 24, 25
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c := e.createCue(key, webhookCue("f", "https://hooks.example.com/x", `,"payload":{"task":"brief"}`))
				for _, body := range []string{"", "{}"} {
					code, m := e.fire(key, c.ID, body)
					require.Equal(t, http.StatusOK, code, "%v", m)
				}
				code, m := e.obj("POST", "/v1/cues/"+c.ID+"/fire", key, "", map[string]string{"Content-Type": "application/json"})
				require.Equal(t, http.StatusOK, code, "%v", m)
				code, m = e.fire(key, c.ID, `[]`)
				errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")

				e.clock.Advance(time.Second)
				code, m = e.fire(key, c.ID, `{"send_at":"2020-01-01T00:00:00Z","exit_criteria":[]}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, core.PyTime(testNow.Add(time.Second)), m["scheduled_for"], "a past send_at fires now")
				require.Equal(t, m["id"], m["execution_id"])
				require.Equal(t, c.ID, m["cue_id"])
				require.Equal(t, "pending", m["status"])
				require.Equal(t, "manual_fire", m["triggered_by"])
				require.Equal(t, map[string]any{"task": "brief"}, m["payload"])

				code, m = e.fire(key, c.ID, `{"send_at":"2030-01-01T09:00:00"}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, "2030-01-01T09:00:00+00:00", m["scheduled_for"])
				code, m = e.fire(key, c.ID, `{"send_at":"2030-01-01T10:00:00+01:00"}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, "2030-01-01T09:00:00.000001+00:00", m["scheduled_for"], "converted to UTC (the same instant, a microsecond later: one per cue)")
			})

			t.Run("FireRejectionsNameTheField", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c := e.createCue(key, webhookCue("f", "https://hooks.example.com/x", ""))
				for _, tc := range []struct{ body, message string }{
					{`{"idempotency_key":"` + strings.Repeat("k", 257) + `"}`, "body.idempotency_key: String should have at most 256 characters"},
					{`{"idempotency_key":""}`, "body.idempotency_key: String should have at least 1 character"},
					{`{"send_at":"next tuesday"}`, "body.send_at: Input should be a valid datetime"},
					{`{"merge_strategy":"deep","payload_override":{"a":1}}`, "body.merge_strategy: Input should be 'merge' or 'replace'"},
					{`{"payload_override":[1]}`, "body.payload_override: Input should be a valid dictionary"},
					{`{"exit_criteria":["` + strings.Repeat("x", 101) + `"]}`, "body.exit_criteria.0: String should have at most 100 characters"},
				} {
					code, m := e.fire(key, c.ID, tc.body)
					inner := errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
					require.Equal(t, tc.message, inner["message"], tc.body)
				}
				code, m := e.obj("POST", "/v1/cues/"+c.ID+"/fire", key, "", map[string]string{"Idempotency-Key": strings.Repeat("k", 257)})
				inner := errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
				require.Contains(t, inner["message"], "Idempotency-Key")
				code, m = e.fire(key, "cue_doesnotexist", `{}`)
				errOf(t, code, m, http.StatusNotFound, "cue_not_found")
				require.Empty(t, e.executions(key, c.ID), "nothing half-written")
			})

			t.Run("MergedOverrideReachesTheReceiver", func(t *testing.T) { // rows 15, 16
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				c := e.createCue(key, webhookCue("m", rcv.url("/"), `,"payload":{"a":1,"b":{"x":1}}`))
				code, m := e.fire(key, c.ID, `{"payload_override":{"b":{"y":2},"c":3}}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, map[string]any{"a": float64(1), "b": map[string]any{"y": float64(2)}, "c": float64(3)}, m["payload"])
				merged := m["id"].(string)
				e.clock.Advance(time.Millisecond)
				code, m = e.fire(key, c.ID, `{"payload_override":{"b":{"y":2},"c":3},"merge_strategy":"replace"}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				e.clock.Advance(time.Millisecond)
				code, m = e.fire(key, c.ID, `{"payload_override":{"z":1},"merge_strategy":"deep"}`)
				errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
				_, n := e.pump()
				require.Equal(t, 2, n)
				require.ElementsMatch(t, []string{`{"a":1,"b":{"y":2},"c":3}`, `{"b":{"y":2},"c":3}`}, webhookPayloads(t, rcv))
				ex := e.execution(key, merged)
				require.JSONEq(t, `{"a":1,"b":{"y":2},"c":3}`, string(ex.Payload))
				require.JSONEq(t, `{"a":1,"b":{"x":1}}`, string(e.getCueRaw(key, c.ID)), "the cue payload is untouched")

				// A replay carries the fire's effective payload forward (C8).
				e.clock.Advance(time.Millisecond)
				code, m = e.obj("POST", "/v1/executions/"+merged+"/replay", key, "", nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				replayID := m["execution_id"].(string)
				require.Equal(t, m["id"], replayID)
				require.NotEqual(t, merged, replayID)
				_, n = e.pump()
				require.Equal(t, 1, n)
				got := webhookPayloads(t, rcv)
				require.Len(t, got, 3)
				require.Equal(t, 2, countOf(got, `{"a":1,"b":{"y":2},"c":3}`), "the replay delivered the merged payload, not the cue's")
				require.JSONEq(t, `{"a":1,"b":{"y":2},"c":3}`, string(e.execution(key, replayID).Payload))
			})

			t.Run("DeferredWebhookFire", func(t *testing.T) { // row 11
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				c := e.createCue(key, webhookCue("d", rcv.url("/"), ""))
				at := testNow.Add(120 * time.Second)
				code, m := e.fire(key, c.ID, `{"send_at":"`+at.Format(time.RFC3339)+`"}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, core.PyTime(at), m["scheduled_for"])
				e.clock.Advance(119 * time.Second)
				_, n := e.pump()
				require.Equal(t, 0, n, "not delivered before send_at")
				require.Empty(t, rcv.requests())
				e.clock.Advance(time.Second)
				_, n = e.pump()
				require.Equal(t, 1, n, "delivered at send_at")
				require.Len(t, rcv.requests(), 1)
			})

			t.Run("DeferredWorkerFire", func(t *testing.T) { // row 12
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c := e.createCue(key, workerCue("w", `,"payload":{"task":"t1"}`))
				at := testNow.Add(10 * time.Minute)
				code, m := e.fire(key, c.ID, `{"send_at":"`+at.Format(time.RFC3339)+`"}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				id := m["id"].(string)
				_, list := e.obj("GET", "/v1/executions/claimable", key, "", nil)
				require.Empty(t, list["executions"])
				code, m = e.obj("POST", "/v1/executions/claim", key, `{"worker_id":"w1"}`, nil)
				require.Equal(t, http.StatusConflict, code, "%v", m)
				code, m = e.obj("POST", "/v1/executions/"+id+"/claim", key, `{"worker_id":"w1"}`, nil)
				require.Equal(t, http.StatusConflict, code, "%v", m)
				// Not missed 900 s after creation: the unclaimed timeout runs from send_at.
				e.clock.Advance(10*time.Minute + 899*time.Second)
				require.NoError(t, e.app.Sweeper.SweepOnce(t.Context()))
				require.Equal(t, "pending", string(e.execution(key, id).Status))
				_, list = e.obj("GET", "/v1/executions/claimable", key, "", nil)
				require.Len(t, list["executions"], 1)
				code, m = e.obj("POST", "/v1/executions/"+id+"/claim", key, `{"worker_id":"w1"}`, nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
			})

			t.Run("WorkerOverrideTask", func(t *testing.T) { // row 17
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c := e.createCue(key, workerCue("w", `,"payload":{"task":"t1","k":1}`))
				code, m := e.fire(key, c.ID, `{"payload_override":{"task":"t2"}}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				id := m["id"].(string)
				_, list := e.obj("GET", "/v1/executions/claimable?task=t2", key, "", nil)
				items := list["executions"].([]any)
				require.Len(t, items, 1)
				item := items[0].(map[string]any)
				require.Equal(t, "t2", item["task"])
				require.Equal(t, map[string]any{"task": "t2", "k": float64(1)}, item["payload"])
				_, list = e.obj("GET", "/v1/executions/claimable?task=t1", key, "", nil)
				require.Empty(t, list["executions"], "the task filter looks at the effective payload")
				require.JSONEq(t, `{"task":"t2","k":1}`, string(e.execution(key, id).Payload))
			})

			t.Run("Enforcement", func(t *testing.T) { // rows 18-20
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c := e.createCue(key, webhookCue("e", "https://hooks.example.com/x", `,"require_payload_override":true,"payload":{"message":"m"}`))
				code, m := e.fire(key, c.ID, `{}`)
				inner := errOf(t, code, m, http.StatusBadRequest, "payload_override_required")
				require.Equal(t, "This cue requires payload_override on every fire", inner["message"])
				code, m = e.fire(key, c.ID, `{"payload_override":{"x":1}}`)
				require.Equal(t, http.StatusOK, code, "%v", m)

				k := e.createCue(key, webhookCue("k", "https://hooks.example.com/x", `,"required_payload_keys":["message","instruction","task"],"payload":{"task":"t"}`))
				code, m = e.fire(key, k.ID, `{"payload_override":{"instruction":"i"}}`)
				inner = errOf(t, code, m, http.StatusBadRequest, "missing_required_payload_keys")
				require.Equal(t, []any{"message"}, inner["missing_keys"])
				require.Equal(t, "Missing required payload keys: message", inner["message"])
				code, m = e.fire(key, k.ID, `{"payload_override":{"message":"a","instruction":"b"}}`)
				inner = errOf(t, code, m, http.StatusBadRequest, "inconsistent_message_instruction")
				require.Equal(t, "payload.message and payload.instruction must be identical", inner["message"])
				code, m = e.fire(key, k.ID, `{"payload_override":{"message":"a","instruction":"a"}}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				// replace drops the stored task: required keys must come from the override.
				code, m = e.fire(key, k.ID, `{"payload_override":{"message":"a","instruction":"a"},"merge_strategy":"replace"}`)
				inner = errOf(t, code, m, http.StatusBadRequest, "missing_required_payload_keys")
				require.Equal(t, []any{"task"}, inner["missing_keys"])
				require.Len(t, e.executions(key, k.ID), 1, "rejected fires write nothing")
			})

			t.Run("FireIdempotency", func(t *testing.T) { // rows 21, 22
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c := e.createCue(key, webhookCue("i", "https://hooks.example.com/x", ""))
				d := e.createCue(key, webhookCue("j", "https://hooks.example.com/x", ""))
				body := `{"idempotency_key":"k1","payload_override":{"n":1}}`
				code, first := e.fire(key, c.ID, body)
				require.Equal(t, http.StatusOK, code, "%v", first)
				e.clock.Advance(time.Second)
				code, again := e.fire(key, c.ID, `{"payload_override":{"n":1},"idempotency_key":"k1"}`)
				require.Equal(t, http.StatusOK, code, "%v", again)
				require.Equal(t, first["id"], again["id"])
				require.Equal(t, first["scheduled_for"], again["scheduled_for"])
				require.Len(t, e.executions(key, c.ID), 1)

				code, m := e.fire(key, c.ID, `{"idempotency_key":"k1","payload_override":{"n":2}}`)
				inner := errOf(t, code, m, http.StatusConflict, "idempotency_key_conflict")
				require.Equal(t, "Idempotency key reused with a different request body. Existing execution: "+first["id"].(string), inner["message"])
				code, other := e.fire(key, d.ID, body)
				require.Equal(t, http.StatusOK, code, "%v", other)
				require.NotEqual(t, first["id"], other["id"], "keys are per cue")

				// The header is equivalent to the body field (the body wins).
				code, h1 := e.obj("POST", "/v1/cues/"+c.ID+"/fire", key, `{}`, map[string]string{"Idempotency-Key": "hk"})
				require.Equal(t, http.StatusOK, code, "%v", h1)
				code, h2 := e.obj("POST", "/v1/cues/"+c.ID+"/fire", key, `{"idempotency_key":"hk"}`, nil)
				require.Equal(t, http.StatusOK, code, "%v", h2)
				require.Equal(t, h1["id"], h2["id"])

				if be == backendPostgres {
					// Concurrent fires with one key on two replicas: one execution.
					r := e.replica()
					ids := make(chan any, 8)
					var wg sync.WaitGroup
					for i := 0; i < 8; i++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							env := e
							if i%2 == 1 {
								env = r
							}
							code, m := env.fire(key, d.ID, `{"idempotency_key":"race"}`)
							if code == http.StatusOK {
								ids <- m["id"]
							}
						}()
					}
					wg.Wait()
					close(ids)
					var got []any
					for id := range ids {
						got = append(got, id)
					}
					require.Len(t, got, 8)
					for _, id := range got {
						require.Equal(t, got[0], id)
					}
					require.Len(t, e.executions(key, d.ID), 2)
				}

				// After a restart the key still holds; after 24 h it is free.
				e.restart()
				code, m = e.fire(key, c.ID, body)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, first["id"], m["id"])
				e.clock.Advance(core.IdempotencyWindow)
				code, m = e.fire(key, c.ID, `{"idempotency_key":"k1","payload_override":{"n":2}}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.NotEqual(t, first["id"], m["id"])
			})

			t.Run("CreateIdempotencyKey", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				body := webhookCue("c", "https://hooks.example.com/x", "")
				hdr := map[string]string{"Idempotency-Key": "create-1"}
				resp, raw := e.raw("POST", "/v1/cues", key, body, hdr)
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(raw))
				var first map[string]any
				require.NoError(t, json.Unmarshal(raw, &first))
				e.restart()
				code, again := e.obj("POST", "/v1/cues", key, body, hdr)
				require.Equal(t, http.StatusOK, code, "%v", again)
				require.Equal(t, first["id"], again["id"])
				code, m := e.obj("POST", "/v1/cues", key, webhookCue("other", "https://hooks.example.com/x", ""), hdr)
				inner := errOf(t, code, m, http.StatusConflict, "idempotency_key_conflict")
				require.Contains(t, inner["message"], first["id"].(string))
				_, list := e.obj("GET", "/v1/cues", key, "", nil)
				require.Equal(t, float64(1), list["total"])
				if be == backendPostgres {
					r := e.replica()
					code, m = r.obj("POST", "/v1/cues", key, body, hdr)
					require.Equal(t, http.StatusOK, code, "%v", m)
					require.Equal(t, first["id"], m["id"], "another replica answers the original")
				}
			})

			t.Run("ExitCriteria", func(t *testing.T) { // row 23
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				c := e.createCue(key, webhookCue("x", rcv.url("/"), ""))
				var ids []string
				for i := 0; i < 3; i++ {
					body := `{"exit_criteria":["done"]}`
					if i == 2 {
						body = `{"exit_criteria":[]}`
					}
					code, m := e.fire(key, c.ID, body)
					require.Equal(t, http.StatusOK, code, "%v", m)
					ids = append(ids, m["id"].(string))
					e.clock.Advance(time.Millisecond)
				}
				_, n := e.pump()
				require.Equal(t, 3, n)
				code, body := report(t, e, key, ids[0], `{"success":true}`)
				require.Equal(t, http.StatusOK, code, string(body))
				require.Contains(t, string(body), `"outcome_state":"verification_failed"`)
				code, body = report(t, e, key, ids[1], `{"success":true,"assertions":{"done":true}}`)
				require.Equal(t, http.StatusOK, code, string(body))
				require.Contains(t, string(body), `"outcome_state":"reported_success"`)
				code, body = report(t, e, key, ids[2], `{"success":true}`)
				require.Equal(t, http.StatusOK, code, string(body))
				require.Contains(t, string(body), `"outcome_state":"reported_success"`, "[] opts out")
			})

			t.Run("OnSuccessFireChains", func(t *testing.T) { // rows 26, 27
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key, other := e.register(), e.register()
				b := e.createCue(key, webhookCue("b", rcv.url("/b"), ""))
				a := e.createCue(key, webhookCue("a", rcv.url("/a"), `,"on_success_fire":"`+b.ID+`"`))
				require.Equal(t, b.ID, *a.OnSuccessFire)

				code, m := e.fire(key, a.ID, `{"payload_override":{"only":"a"}}`)
				require.Equal(t, http.StatusOK, code, "%v", m)
				parent := m["id"].(string)
				require.Empty(t, e.executions(key, b.ID), "nothing chained before the parent succeeded")
				_, n := e.pump()
				require.Equal(t, 1, n)
				chained := e.executions(key, b.ID)
				require.Len(t, chained, 1)
				x := chained[0]
				require.Equal(t, "chain", x.TriggeredBy)
				require.Equal(t, parent, *x.ChainParentID)
				require.Equal(t, 1, x.ChainDepth)
				require.Empty(t, x.Payload, "the override is not inherited")
				require.Equal(t, 0, e.execution(key, parent).ChainDepth)

				// A failed parent chains nothing.
				fail := newReceiver(t, http.StatusInternalServerError)
				f := e.createCue(key, webhookCue("f", fail.url("/"), `,"on_success_fire":"`+b.ID+`"`))
				e.clock.Advance(time.Second)
				code, m = e.fire(key, f.ID, "")
				require.Equal(t, http.StatusOK, code, "%v", m)
				_, _ = e.pump()
				require.Equal(t, "failed", string(e.execution(key, m["id"].(string)).Status))
				e.clock.Advance(time.Minute)
				_, _ = e.pump()
				require.Len(t, e.executions(key, b.ID), 1)

				// Loops and other tenants' cues are refused, naming the field.
				code, m = e.obj("PATCH", "/v1/cues/"+b.ID, key, `{"on_success_fire":"`+a.ID+`"}`, nil)
				inner := errOf(t, code, m, http.StatusBadRequest, "invalid_on_success_fire")
				require.Equal(t, "on_success_fire would form a loop: "+b.ID+" -> "+a.ID+" -> "+b.ID, inner["message"])
				code, m = e.obj("PATCH", "/v1/cues/"+b.ID, key, `{"on_success_fire":"`+b.ID+`"}`, nil)
				errOf(t, code, m, http.StatusBadRequest, "invalid_on_success_fire")
				foreign := e.createCue(other, webhookCue("z", rcv.url("/z"), ""))
				for _, target := range []string{foreign.ID, "cue_doesnotexist"} {
					code, m = e.obj("POST", "/v1/cues", key, webhookCue("g", rcv.url("/g"), `,"on_success_fire":"`+target+`"`), nil)
					inner = errOf(t, code, m, http.StatusBadRequest, "invalid_on_success_fire")
					require.Equal(t, "on_success_fire: cue '"+target+"' not found", inner["message"], "another tenant's cue reads like a missing one")
				}
				require.Nil(t, e.getCue(key, b.ID)["on_success_fire"], "nothing half-written")
			})

			t.Run("ChainDepthIsBounded", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, func(c *config) {
					c.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
					c.DefaultActiveCueLimit = 20
				})
				rcv := newReceiver(t)
				key := e.register()
				// A chain of 12 cues: links from depth >= 10 do not fire.
				ids := make([]string, 12)
				for i := len(ids) - 1; i >= 0; i-- {
					extra := ""
					if i < len(ids)-1 {
						extra = `,"on_success_fire":"` + ids[i+1] + `"`
					}
					ids[i] = e.createCue(key, webhookCue(fmt.Sprintf("c%02d", i), rcv.url("/"), extra)).ID
				}
				code, m := e.fire(key, ids[0], "")
				require.Equal(t, http.StatusOK, code, "%v", m)
				for i := 0; i < 15; i++ {
					e.clock.Advance(time.Second)
					_, _ = e.pump()
				}
				for i, id := range ids {
					n := len(e.executions(key, id))
					if i <= core.MaxChainDepth {
						require.Equal(t, 1, n, "cue %d", i)
					} else {
						require.Equal(t, 0, n, "cue %d is beyond the depth bound", i)
					}
				}
				require.Equal(t, core.MaxChainDepth, e.executions(key, ids[core.MaxChainDepth])[0].ChainDepth)
			})

			t.Run("WorkerOutcomeChains", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				b := e.createCue(key, workerCue("b", ""))
				a := e.createCue(key, workerCue("a", `,"on_success_fire":"`+b.ID+`"`))
				code, m := e.fire(key, a.ID, "")
				require.Equal(t, http.StatusOK, code, "%v", m)
				id := m["id"].(string)
				code, m = e.obj("POST", "/v1/executions/"+id+"/claim", key, `{"worker_id":"w1"}`, nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Empty(t, e.executions(key, b.ID))
				code, body := report(t, e, key, id, `{"success":true}`)
				require.Equal(t, http.StatusOK, code, string(body))
				x := e.executions(key, b.ID)
				require.Len(t, x, 1)
				require.Equal(t, id, *x[0].ChainParentID)
			})

			t.Run("DeliveryTimeoutIsPerCue", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				release := make(chan struct{})
				hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select { // held until the client gives up or the test ends (bounded)
					case <-r.Context().Done():
					case <-release:
					case <-time.After(30 * time.Second):
					}
				}))
				t.Cleanup(hang.Close)
				t.Cleanup(func() { close(release) }) // runs first
				key := e.register()
				c := e.createCue(key, webhookCue("t", hang.URL+"/", `,"delivery":{"timeout_seconds":1}`))
				code, m := e.fire(key, c.ID, "")
				require.Equal(t, http.StatusOK, code, "%v", m)
				_, n := e.pump()
				require.Equal(t, 1, n)
				ex := e.execution(key, m["id"].(string))
				require.Equal(t, "failed", string(ex.Status))
				require.Equal(t, "Webhook endpoint timed out", *ex.ErrorMessage, "the cue's 1 s, not the 30 s default")
			})

			t.Run("BulkDelete", func(t *testing.T) { // rows 28, 29
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key, other := e.register(), e.register()
				own1 := e.createCue(key, webhookCue("o1", "https://hooks.example.com/x", ""))
				own2 := e.createCue(key, webhookCue("o2", "https://hooks.example.com/x", ""))
				keep := e.createCue(key, webhookCue("o3", "https://hooks.example.com/x", ""))
				foreign := e.createCue(other, webhookCue("f", "https://hooks.example.com/x", ""))
				code, m := e.fire(key, own1.ID, "")
				require.Equal(t, http.StatusOK, code, "%v", m)
				fired := m["id"].(string)
				body := fmt.Sprintf(`{"ids":[%q,%q,"cue_doesnotexist",%q,%q]}`, own1.ID, own2.ID, foreign.ID, own1.ID)

				code, m = e.obj("POST", "/v1/cues/bulk-delete", key, body, nil)
				inner := errOf(t, code, m, http.StatusBadRequest, "confirmation_required")
				require.NotEmpty(t, inner["message"])
				require.Len(t, e.executions(key, own1.ID), 1, "nothing deleted without confirmation")

				confirm := map[string]string{"X-Confirm-Destructive": "true"}
				code, m = e.obj("POST", "/v1/cues/bulk-delete", key, body, confirm)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, []any{own1.ID, own2.ID}, m["deleted"])
				require.Equal(t, []any{"cue_doesnotexist", foreign.ID}, m["skipped"])
				code, m = e.obj("GET", "/v1/executions/"+fired, key, "", nil)
				errOf(t, code, m, http.StatusNotFound, "execution_not_found")
				e.getCue(key, keep.ID)
				e.getCue(other, foreign.ID)

				for _, bad := range []string{`{"ids":[]}`, `{"ids":[1]}`, `{"ids":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 101), ",") + `]}`} {
					code, m = e.obj("POST", "/v1/cues/bulk-delete", key, bad, confirm)
					errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
				}
			})

			t.Run("Stats", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t, http.StatusOK, http.StatusInternalServerError)
				key := e.register()
				c := e.createCue(key, webhookCue("s", rcv.url("/"), ""))
				for i := 0; i < 2; i++ {
					code, m := e.fire(key, c.ID, "")
					require.Equal(t, http.StatusOK, code, "%v", m)
					e.clock.Advance(time.Millisecond)
				}
				_, _ = e.pump()
				st := e.getCue(key, c.ID)["stats"].(map[string]any)
				require.Equal(t, map[string]any{"window_days": float64(7), "executions": float64(2), "succeeded": float64(1),
					"failed": float64(1), "missed": float64(0), "success_rate": 0.5, "miss_rate": float64(0)}, st)
				_, list := e.obj("GET", "/v1/cues", key, "", nil)
				require.NotContains(t, list["cues"].([]any)[0], "stats", "detail only")
			})
		})
	}
}

// getCueRaw returns the cue's stored payload.
func (e *testEnv) getCueRaw(key, id string) json.RawMessage {
	e.t.Helper()
	resp, raw := e.raw("GET", "/v1/cues/"+id, key, "", nil)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(raw))
	var c struct {
		Payload json.RawMessage `json:"payload"`
	}
	require.NoError(e.t, json.Unmarshal(raw, &c))
	return c.Payload
}

// TestCompatMCPFlatCreate is clients.md §4 rows 7 and 8: the MCP server's
// flat create body.
func TestCompatMCPFlatCreate(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, be, nil)
			key := e.register()
			code, m := e.obj("POST", "/v1/cues", key, `{"name":"digest","cron":"*/5 * * * *","callback_url":"https://hooks.example.com/run","payload":{"task":"x"},"require_payload_override":true,"required_payload_keys":["message"]}`, nil)
			require.Equal(t, http.StatusCreated, code, "%v", m)
			require.Equal(t, map[string]any{"type": "recurring", "cron": "*/5 * * * *", "timezone": "UTC"}, m["schedule"])
			require.Equal(t, "https://hooks.example.com/run", m["callback"].(map[string]any)["url"])
			require.Equal(t, "webhook", m["transport"])
			require.Equal(t, true, m["require_payload_override"])
			require.Equal(t, []any{"message"}, m["required_payload_keys"])

			code, m = e.obj("POST", "/v1/cues", key, `{"name":"later","at":"2027-01-01T00:00:00Z","worker":true,"timezone":"Europe/Paris","callback_url":"https://hooks.example.com/ignored"}`, nil)
			require.Equal(t, http.StatusCreated, code, "%v", m)
			require.Equal(t, "once", m["schedule"].(map[string]any)["type"])
			require.Equal(t, "Europe/Paris", m["schedule"].(map[string]any)["timezone"])
			require.Equal(t, "worker", m["transport"])
			require.Nil(t, m["callback"].(map[string]any)["url"])

			code, m = e.obj("POST", "/v1/cues", key, `{"name":"both","cron":"* * * * *","at":"2027-01-01T00:00:00Z","callback_url":"https://hooks.example.com/x"}`, nil)
			inner := errOf(t, code, m, http.StatusBadRequest, "invalid_schedule")
			require.Equal(t, "Specify either cron or at, not both", inner["message"])
			code, m = e.obj("POST", "/v1/cues", key, `{"name":"neither","callback_url":"https://hooks.example.com/x"}`, nil)
			inner = errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
			require.Equal(t, "body.schedule: Field required", inner["message"])
			code, m = e.obj("POST", "/v1/cues", "", `{"name":"both","cron":"* * * * *","at":"x"}`, nil)
			errOf(t, code, m, http.StatusUnauthorized, errorCodeOf(m))
			_, list := e.obj("GET", "/v1/cues", key, "", nil)
			require.Equal(t, float64(2), list["total"])
		})
	}
}

func errorCodeOf(m map[string]any) string {
	inner, _ := m["error"].(map[string]any)
	code, _ := inner["code"].(string)
	return code
}

// TestIdempotentFireAcrossProcesses: two `cueapi serve` processes on one
// PostgreSQL database answer one execution for concurrent fires with the
// same idempotency key, and a process started after both were killed
// answers it too.
func TestIdempotentFireAcrossProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	env := map[string]string{
		"ENV": "development", "PORT": "0", "CUEAPI_DATA_DIR": t.TempDir(), "SESSION_SECRET": "idem-test-secret-0123456789abcdefghij",
		"DATABASE_URL": pgtest.SchemaURL(t), "REDIS_URL": redisURL(t),
		"REDIS_PREFIX": "t" + strings.ReplaceAll(core.NewUUID(), "-", "")[:12] + ":", "DEFAULT_RATE_LIMIT_PER_MINUTE": "10000",
	}
	a, b := startServer(t, env), startServer(t, env)
	code, body := a.do(t, "POST", "/v1/auth/register", "", `{"email":"idem@example.com"}`)
	require.Equal(t, http.StatusCreated, code, string(body))
	var reg struct {
		APIKey string `json:"api_key"`
	}
	require.NoError(t, json.Unmarshal(body, &reg))
	code, body = b.do(t, "POST", "/v1/cues", reg.APIKey, workerCue("idem", ""))
	require.Equal(t, http.StatusCreated, code, string(body))
	var cue struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &cue))

	fire := `{"idempotency_key":"once","payload_override":{"n":1}}`
	const n = 10
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := a
			if i%2 == 1 {
				p = b
			}
			req, err := http.NewRequest("POST", "http://"+p.addr+"/v1/cues/"+cue.ID+"/fire", strings.NewReader(fire))
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+reg.APIKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			var m struct {
				ID string `json:"id"`
			}
			if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&m) == nil {
				ids[i] = m.ID
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		require.NotEmpty(t, ids[i], "fire %d answered 200", i)
		require.Equal(t, ids[0], ids[i])
	}
	a.kill()
	b.kill()

	c := startServer(t, env)
	code, body = c.do(t, "POST", "/v1/cues/"+cue.ID+"/fire", reg.APIKey, fire)
	require.Equal(t, http.StatusOK, code, string(body))
	require.Contains(t, string(body), `"id":"`+ids[0]+`"`)
	code, body = c.do(t, "GET", "/v1/executions?cue_id="+cue.ID, reg.APIKey, "")
	require.Equal(t, http.StatusOK, code, string(body))
	require.Contains(t, string(body), `"total":1`)
}

// countOf counts the entries of list equal to v.
func countOf(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}
