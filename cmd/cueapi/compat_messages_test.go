package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The message, inbox and quota rows of spec/clients.md §4 (39, 40, 42,
// 52–63), on both stores.

// msgWorld is a user with two agents a and b (and c).
type msgWorld struct {
	e          *testEnv
	key, slug  string
	a, b, c    string // agent ids
	aAddr      string
	bAddr      string
	cAddr      string
	otherKey   string
	otherAgent string
}

func newMsgWorld(t *testing.T, be backend, mutate func(*config)) *msgWorld {
	e := newTestEnv(t, be, mutate)
	w := &msgWorld{e: e, key: e.register()}
	w.slug = e.userSlug(w.key)
	w.a = e.createAgent(w.key, `{"display_name":"A","slug":"a"}`)["id"].(string)
	w.b = e.createAgent(w.key, `{"display_name":"B","slug":"b"}`)["id"].(string)
	w.c = e.createAgent(w.key, `{"display_name":"C","slug":"c"}`)["id"].(string)
	w.aAddr, w.bAddr, w.cAddr = "a@"+w.slug, "b@"+w.slug, "c@"+w.slug
	w.otherKey = e.register()
	w.otherAgent = e.createAgent(w.otherKey, `{"display_name":"X","slug":"x"}`)["id"].(string)
	return w
}

// send posts a message from agent from and returns the response.
func (w *msgWorld) send(from, body string, hdr map[string]string) (*http.Response, []byte) {
	w.e.t.Helper()
	h := map[string]string{"X-Cueapi-From-Agent": from}
	for k, v := range hdr {
		h[k] = v
	}
	return w.e.raw("POST", "/v1/messages", w.key, body, h)
}

// sendOK sends and requires the status; it returns the message.
func (w *msgWorld) sendOK(from, body string, status int) map[string]any {
	w.e.t.Helper()
	resp, raw := w.send(from, body, nil)
	require.Equal(w.e.t, status, resp.StatusCode, string(raw))
	var m map[string]any
	require.NoError(w.e.t, json.Unmarshal(raw, &m))
	return m
}

func (w *msgWorld) inbox(agent, query string) map[string]any {
	w.e.t.Helper()
	return w.e.getJSON("GET", "/v1/agents/"+agent+"/inbox"+query, w.key, "", nil, http.StatusOK)
}

func msgIDs(page map[string]any) []string {
	var ids []string
	for _, m := range page["messages"].([]any) {
		ids = append(ids, m.(map[string]any)["id"].(string))
	}
	return ids
}

func TestClientsMessages(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			// §4 rows 39, 40, 42: verify-echo is exactly the body string.
			t.Run("VerifyEchoIsTheBodyString", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				body := "héllo ✓ \"quoted\" $(not expanded)"
				req, _ := json.Marshal(map[string]any{"to": w.bAddr, "body": body})
				resp, raw := w.send(w.a, string(req), map[string]string{"x-cueapi-verify-echo": " TRUE "})
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(raw))
				var m map[string]any
				require.NoError(t, json.Unmarshal(raw, &m))
				require.Equal(t, body, m["body_received"])
				require.Equal(t, sha256Hex([]byte(body)), m["body_received_sha256"])
				resp, raw = w.send(w.a, `{"to":"`+w.bAddr+`","body":"plain"}`, nil)
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(raw))
				require.NotContains(t, string(raw), "body_received")
			})

			// §4 row 52: the sender header.
			t.Run("FromAgentRequiredAndOwned", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				resp, raw := w.e.raw("POST", "/v1/messages", w.key, `{"to":"`+w.bAddr+`","body":"hi"}`, nil)
				env := requireClientError(t, resp, raw, http.StatusBadRequest, "missing_from_agent")
				require.Equal(t, "X-Cueapi-From-Agent header is required", env["message"])
				resp, raw = w.send(w.otherAgent, `{"to":"`+w.bAddr+`","body":"hi"}`, nil)
				requireClientError(t, resp, raw, http.StatusForbidden, "from_agent_not_owned")
				resp, raw = w.send(w.a, `{"to":"`+w.otherAgent+`","body":"hi"}`, nil)
				requireClientError(t, resp, raw, http.StatusForbidden, "cross_tenant_messaging_forbidden")
				resp, raw = w.send("nope", `{"to":"`+w.bAddr+`","body":"hi"}`, nil)
				requireClientError(t, resp, raw, http.StatusBadRequest, "invalid_agent_address")
				resp, raw = w.send(w.a, `{"to":"zz@`+w.slug+`","body":"hi"}`, nil)
				requireClientError(t, resp, raw, http.StatusNotFound, "agent_not_found")
			})

			// §4 rows 53–54: idempotency.
			t.Run("IdempotencyKey", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				k := map[string]string{"Idempotency-Key": "k1"}
				resp, raw := w.send(w.a, `{"to":"`+w.bAddr+`","body":"hi"}`, k)
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(raw))
				var first map[string]any
				require.NoError(t, json.Unmarshal(raw, &first))
				require.Equal(t, "k1", first["idempotency_key"])
				resp, raw = w.send(w.a, `{"to":"`+w.bAddr+`","body":"hi"}`, k)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
				var again map[string]any
				require.NoError(t, json.Unmarshal(raw, &again))
				require.Equal(t, first["id"], again["id"])
				require.Equal(t, map[string]any{"agent_id": w.a, "slug": w.aAddr}, first["from"])
				require.Equal(t, first["from"], again["from"])
				// Keys are the user's: another of the user's agents repeating the
				// send gets the original, still from a.
				resp, raw = w.send(w.c, `{"to":"`+w.bAddr+`","body":"hi"}`, k)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
				var byC map[string]any
				require.NoError(t, json.Unmarshal(raw, &byC))
				require.Equal(t, first["id"], byC["id"])
				require.Equal(t, map[string]any{"agent_id": w.a, "slug": w.aAddr}, byC["from"])
				resp, raw = w.send(w.a, `{"to":"`+w.bAddr+`","body":"other"}`, k)
				env := requireClientError(t, resp, raw, http.StatusConflict, "idempotency_key_conflict")
				require.Contains(t, env["message"], first["id"].(string))
				sent := w.e.getJSON("GET", "/v1/agents/"+w.a+"/sent", w.key, "", nil, http.StatusOK)
				require.EqualValues(t, 1, sent["total"])
				resp, raw = w.send(w.a, `{"to":"`+w.bAddr+`","body":"hi"}`, map[string]string{"Idempotency-Key": strings.Repeat("k", 256)})
				requireClientError(t, resp, raw, http.StatusBadRequest, "invalid_idempotency_key")
				// After 24 h the key is free again without any cleanup job.
				w.e.clock.Advance(24*time.Hour + time.Second)
				resp, raw = w.send(w.a, `{"to":"`+w.bAddr+`","body":"other"}`, k)
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(raw))
			})

			// §4 row 55: threading.
			t.Run("Threading", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				root := w.sendOK(w.a, `{"to":"`+w.bAddr+`","body":"root"}`, http.StatusCreated)
				require.Equal(t, root["id"], root["thread_id"])
				reply := w.sendOK(w.b, `{"to":"`+w.aAddr+`","body":"re","reply_to":"`+root["id"].(string)+`"}`, http.StatusCreated)
				require.Equal(t, root["id"], reply["thread_id"])
				require.Equal(t, root["id"], reply["reply_to"])
				resp, raw := w.send(w.a, `{"to":"`+w.bAddr+`","body":"x","reply_to":"msg_000000000000"}`, nil)
				env := requireClientError(t, resp, raw, http.StatusNotFound, "reply_to_not_found")
				require.Equal(t, "reply_to message msg_000000000000 not found", env["message"])
				page := w.inbox(w.a, "?thread_id="+root["id"].(string))
				require.Equal(t, []string{reply["id"].(string)}, msgIDs(page))
			})

			// §4 row 56: send_at.
			t.Run("SendAtHidesUntilDue", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				at := testNow.Add(60 * time.Second).Format("2006-01-02T15:04:05") // no zone = UTC
				m := w.sendOK(w.a, `{"to":"`+w.bAddr+`","body":"later","send_at":"`+at+`"}`, http.StatusCreated)
				require.Equal(t, "2026-03-20T10:01:00Z", m["send_at"])
				require.EqualValues(t, 0, w.inbox(w.b, "?count_only=true")["count"])
				require.EqualValues(t, 0, w.inbox(w.b, "")["total"])
				sent := w.e.getJSON("GET", "/v1/agents/"+w.a+"/sent", w.key, "", nil, http.StatusOK)
				require.EqualValues(t, 1, sent["total"])
				w.e.clock.Advance(61 * time.Second)
				page := w.inbox(w.b, "")
				require.EqualValues(t, 1, page["total"])
				require.Equal(t, "delivered", page["messages"].([]any)[0].(map[string]any)["state"])
				resp, raw := w.send(w.a, `{"to":"`+w.bAddr+`","body":"x","send_at":"tomorrow"}`, nil)
				env := requireClientError(t, resp, raw, http.StatusUnprocessableEntity, "validation_error")
				require.Contains(t, env["message"], "send_at")
			})

			// §4 rows 57–58: inbox poll delivers; filters.
			t.Run("InboxDeliversAndFilters", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				m1 := w.sendOK(w.a, `{"to":"`+w.bAddr+`","body":"from a"}`, http.StatusCreated)
				require.Equal(t, "queued", m1["delivery_state"])
				require.Equal(t, "inbox", m1["effective_delivery_mode"])
				w.e.clock.Advance(time.Second)
				m2 := w.sendOK(w.c, `{"to":"`+w.bAddr+`","body":"from c"}`, http.StatusCreated)
				require.EqualValues(t, 2, w.inbox(w.b, "?count_only=true")["count"])
				// count_only changed nothing.
				got := w.e.getJSON("GET", "/v1/messages/"+m1["id"].(string), w.key, "", nil, http.StatusOK)
				require.Equal(t, "queued", got["state"])
				page := w.inbox(w.b, "?counterpart="+w.aAddr)
				require.Equal(t, []string{m1["id"].(string)}, msgIDs(page))
				msg := page["messages"].([]any)[0].(map[string]any)
				require.Equal(t, "delivered", msg["delivery_state"])
				require.Equal(t, "delivered", msg["state"])
				require.Equal(t, map[string]any{"agent_id": w.a, "slug": w.aAddr}, msg["from"])
				require.Equal(t, w.b, msg["to"])
				// The counterpart-restricted poll delivered only a's message.
				got = w.e.getJSON("GET", "/v1/messages/"+m2["id"].(string), w.key, "", nil, http.StatusOK)
				require.Equal(t, "queued", got["state"])
				page = w.inbox(w.b, "")
				require.Equal(t, []string{m2["id"].(string), m1["id"].(string)}, msgIDs(page), "newest first")
				resp, raw := w.e.raw("GET", "/v1/agents/"+w.b+"/inbox?state=bogus", w.key, "", nil)
				requireClientError(t, resp, raw, http.StatusBadRequest, "invalid_state_filter")
				page = w.inbox(w.b, "?state=queued")
				require.EqualValues(t, 0, page["total"])
				// Presence: b was seen by its polls.
				p := w.e.getJSON("GET", "/v1/agents/"+w.b+"/presence", w.key, "", nil, http.StatusOK)
				require.Equal(t, "online", p["derived_status"])
				require.Equal(t, "active now", p["bucketed_seen"])
			})

			// §4 row 59: read and ack.
			t.Run("ReadAndAck", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				id := w.sendOK(w.a, `{"to":"`+w.bAddr+`","body":"hi"}`, http.StatusCreated)["id"].(string)
				r := w.e.getJSON("POST", "/v1/messages/"+id+"/read", w.key, `{}`, nil, http.StatusOK)
				require.Equal(t, "read", r["delivery_state"])
				require.NotNil(t, r["read_at"])
				r = w.e.getJSON("POST", "/v1/messages/"+id+"/read", w.key, `{}`, nil, http.StatusOK)
				require.Equal(t, "read", r["delivery_state"])
				r = w.e.getJSON("POST", "/v1/messages/"+id+"/ack", w.key, `{}`, nil, http.StatusOK)
				require.Equal(t, "acked", r["delivery_state"])
				require.NotNil(t, r["acked_at"])
				resp, raw := w.e.raw("POST", "/v1/messages/"+id+"/read", w.key, `{}`, nil)
				env := requireClientError(t, resp, raw, http.StatusConflict, "invalid_state_transition")
				require.Equal(t, "cannot mark read on terminal state 'acked'", env["message"])
				require.EqualValues(t, 0, w.inbox(w.b, "")["total"], "acked is out of the default inbox")
				require.EqualValues(t, 1, w.inbox(w.b, "?state=acked")["total"])
			})

			// §4 row 60: per-minute rate by plan.
			t.Run("PerMinuteRate", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				for i := range 10 {
					w.sendOK(w.a, fmt.Sprintf(`{"to":"%s","body":"m%d"}`, w.bAddr, i), http.StatusCreated)
				}
				resp, raw := w.send(w.a, `{"to":"`+w.bAddr+`","body":"m11"}`, nil)
				env := requireClientError(t, resp, raw, http.StatusTooManyRequests, "rate_limit_exceeded")
				require.EqualValues(t, 10, env["limit"])
				require.EqualValues(t, 60, env["window_seconds"])
				require.Equal(t, "Message rate limit (10/min) exceeded.", env["message"])
				w.e.clock.Advance(61 * time.Second)
				w.sendOK(w.a, `{"to":"`+w.bAddr+`","body":"again"}`, http.StatusCreated)
			})

			// §4 row 61: priority downgrade and the hourly limit.
			t.Run("HighPriorityLimits", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				send := func(to string, status int) (*http.Response, map[string]any) {
					resp, raw := w.send(w.a, `{"to":"`+to+`","body":"urgent","priority":5}`, nil)
					require.Equal(t, status, resp.StatusCode, string(raw))
					var m map[string]any
					require.NoError(t, json.Unmarshal(raw, &m))
					w.e.clock.Advance(7 * time.Second) // stay under 10/min
					return resp, m
				}
				for range 5 {
					resp, m := send(w.bAddr, http.StatusCreated)
					require.EqualValues(t, 5, m["priority"])
					require.Empty(t, resp.Header.Get("X-CueAPI-Priority-Downgraded"))
				}
				resp, m := send(w.bAddr, http.StatusCreated)
				require.EqualValues(t, 3, m["priority"])
				require.Equal(t, "true", resp.Header.Get("X-CueAPI-Priority-Downgraded"))
				for range 4 {
					send(w.cAddr, http.StatusCreated)
				}
				_, m = send(w.cAddr, http.StatusTooManyRequests)
				require.Equal(t, "priority_high_rate_limit", m["error"].(map[string]any)["code"])
				require.EqualValues(t, 10, m["error"].(map[string]any)["limit"])
			})

			// §4 row 62: monthly quota.
			t.Run("MonthlyQuota", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				first := w.sendOK(w.a, `{"to":"`+w.bAddr+`","body":"kept"}`, http.StatusCreated)
				resp, raw := w.send(w.a, `{"to":"`+w.bAddr+`","body":"keyed"}`, map[string]string{"Idempotency-Key": "q"})
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(raw))
				for i := 2; i < 300; i++ {
					if i%10 == 0 {
						w.e.clock.Advance(61 * time.Second)
					}
					w.sendOK(w.a, fmt.Sprintf(`{"to":"%s","body":"m%d"}`, w.bAddr, i), http.StatusCreated)
				}
				w.e.clock.Advance(61 * time.Second)
				resp, raw = w.send(w.a, `{"to":"`+w.bAddr+`","body":"over"}`, nil)
				env := requireClientError(t, resp, raw, http.StatusPaymentRequired, "quota_exceeded")
				require.EqualValues(t, 300, env["limit"])
				require.EqualValues(t, 300, env["current"])
				require.Equal(t, "Monthly message quota of 300 exceeded (300 sent this month).", env["message"])
				resp, raw = w.send(w.a, `{"to":"`+w.bAddr+`","body":"keyed"}`, map[string]string{"Idempotency-Key": "q"})
				require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
				require.NotEmpty(t, first["id"])
			})

			// §4 row 63: notify copies.
			t.Run("NotifyCopies", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				m := w.sendOK(w.a, `{"to":"`+w.bAddr+`","subject":"status","body":"the full body","notify":["`+w.cAddr+`","`+w.bAddr+`","`+w.c+`"]}`, http.StatusCreated)
				bcc := m["bcc_emitted"].([]any)
				require.Len(t, bcc, 1)
				cp := w.e.getJSON("GET", "/v1/messages/"+bcc[0].(string), w.key, "", nil, http.StatusOK)
				require.Equal(t, w.c, cp["to_agent_id"])
				require.Equal(t, m["thread_id"], cp["thread_id"])
				require.Equal(t, map[string]any{"notification_for": m["id"]}, cp["metadata"])
				require.Equal(t, w.aAddr+" → "+w.bAddr+": status", cp["body"])
				require.EqualValues(t, 3, cp["priority"])
				resp, raw := w.send(w.a, `{"to":"`+w.bAddr+`","body":"x","notify":["nobody@`+w.slug+`"]}`, nil)
				requireClientError(t, resp, raw, http.StatusNotFound, "agent_not_found")
				require.EqualValues(t, 1, w.inbox(w.c, "?count_only=true")["count"], "nothing half-written")
			})

			// Bad input names the field, writes nothing.
			t.Run("BadInputNamesTheField", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				cases := []struct {
					name, body, field string
				}{
					{"EmptyBody", `{"to":"B","body":""}`, "body.body"},
					{"NulInBody", `{"to":"B","body":"a\u0000b"}`, "body.body"},
					{"TooManyBytes", `{"to":"B","body":"` + strings.Repeat("é", 16385) + `"}`, "body.body"},
					{"PriorityOutOfRange", `{"to":"B","body":"x","priority":9}`, "body.priority"},
					{"BadReplyTo", `{"to":"B","body":"x","reply_to":"nope"}`, "body.reply_to"},
					{"UnknownKey", `{"to":"B","body":"x","bogus":1}`, "body.bogus"},
					{"BadDeliveryMode", `{"to":"B","body":"x","delivery_mode":"carrier-pigeon"}`, "body.delivery_mode"},
				}
				for _, tc := range cases {
					resp, raw := w.send(w.a, strings.Replace(tc.body, `"B"`, `"`+w.bAddr+`"`, 1), nil)
					env := requireClientError(t, resp, raw, http.StatusUnprocessableEntity, "validation_error")
					require.True(t, strings.HasPrefix(env["message"].(string), tc.field), "%s: %s", tc.name, env["message"])
				}
				resp, raw := w.send(w.a, `{"to":"`+w.bAddr+`","body":"x","metadata":{"k":"`+strings.Repeat("v", 10300)+`"}}`, nil)
				requireClientError(t, resp, raw, http.StatusBadRequest, "metadata_too_large")
				require.EqualValues(t, 0, w.inbox(w.b, "?count_only=true")["count"])
			})
		})
	}
}
