package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// The rows of clients.md §4 "Events" (65-71): subscriptions, the pull feed
// with cursors and acknowledgement, long-poll, webhook fan-out, digests, on
// both stores.

// eventsUser is a registered account with an agent (the recipient of the
// events under test) and a second agent that sends it messages.
type eventsUser struct {
	key    string
	tenant core.TenantID
	agent  *core.Agent
	sender string
}

func (e *testEnv) eventsUser(slug string) *eventsUser {
	e.t.Helper()
	key := e.register()
	p, err := e.app.Accounts.Authenticate(context.Background(), "Bearer "+key)
	require.NoError(e.t, err)
	mk := func(slug string) string {
		code, m := e.obj("POST", "/v1/agents", key, fmt.Sprintf(`{"display_name":%q,"slug":%q}`, slug, slug), nil)
		require.Equal(e.t, http.StatusCreated, code, "%v", m)
		return m["id"].(string)
	}
	id := mk(slug)
	sender := mk(slug + "-sender")
	a, err := e.app.Agents.AgentByID(context.Background(), core.AgentID(id), false)
	require.NoError(e.t, err)
	return &eventsUser{key: key, tenant: p.User.ID, agent: a, sender: sender}
}

// emitMessage sends a message to u's agent (POST /v1/messages): the send
// writes its message.delivered event in the same transaction. It returns
// the message id.
func (e *testEnv) emitMessage(u *eventsUser, prio int, body string) string {
	e.t.Helper()
	b, err := json.Marshal(map[string]any{"to": string(u.agent.ID), "body": body, "priority": prio, "subject": "hi"})
	require.NoError(e.t, err)
	code, m := e.obj("POST", "/v1/messages", u.key, string(b), map[string]string{"X-Cueapi-From-Agent": u.sender})
	require.Equal(e.t, http.StatusCreated, code, "%v", m)
	return m["id"].(string)
}

type eventPage struct {
	Events []struct {
		ID               int64          `json:"id"`
		EventType        string         `json:"event_type"`
		RecipientAgentID string         `json:"recipient_agent_id"`
		Payload          map[string]any `json:"payload"`
		EmittedAt        string         `json:"emitted_at"`
	} `json:"events"`
	NextCursor *int64 `json:"next_cursor"`
	HasMore    bool   `json:"has_more"`
}

func (e *testEnv) pull(key, ref, query string) eventPage {
	e.t.Helper()
	resp, body := e.raw("GET", "/v1/agents/"+ref+"/events"+query, key, "", nil)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(body))
	var p eventPage
	require.NoError(e.t, json.Unmarshal(body, &p))
	return p
}

// pullNoFail is pull for another goroutine: failures give an empty page.
func (e *testEnv) pullNoFail(key, ref, query string) eventPage {
	var p eventPage
	req, err := http.NewRequest("GET", e.srv.URL+"/v1/agents/"+ref+"/events"+query, nil)
	if err != nil {
		return p
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := e.http.Do(req)
	if err != nil {
		return p
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return p
}

// runEventHub runs the app's event hub (component tests drive the engine
// themselves) until the test ends.
func (e *testEnv) runEventHub() *core.EventHub {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.app.EventHub.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
	<-e.app.EventHub.Ready()
	return e.app.EventHub
}

func (e *testEnv) subscriptions(key, ref string) []map[string]any {
	e.t.Helper()
	code, m := e.obj("GET", "/v1/agents/"+ref+"/subscriptions", key, "", nil)
	require.Equal(e.t, http.StatusOK, code, "%v", m)
	var out []map[string]any
	for _, s := range m["subscriptions"].([]any) {
		out = append(out, s.(map[string]any))
	}
	return out
}

func TestCompatEvents(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			t.Run("InlineBodySubscription", func(t *testing.T) { // row 65
				t.Parallel()
				e := newTestEnv(t, be, nil)
				b := e.eventsUser("bee")
				code, m := e.obj("POST", "/v1/agents/"+string(b.agent.ID)+"/subscriptions", b.key,
					`{"event_type":"message.delivered","delivery_target":"pull","inline_body":true}`, nil)
				require.Equal(t, http.StatusCreated, code, "%v", m)
				require.Equal(t, true, m["inline_body"])
				require.Equal(t, "pull", m["delivery_target"])
				require.Nil(t, m["webhook_secret"])
				require.Equal(t, string(b.agent.ID), m["subscriber_agent_id"])
				e.emitMessage(b, 3, "hello body")
				big := e.emitMessage(b, 3, strings.Repeat("é", core.EventInlineBodyMax/2)) // the largest body a send accepts
				p := e.pull(b.key, string(b.agent.ID), "")
				require.Len(t, p.Events, 2)
				require.Equal(t, "hello body", p.Events[0].Payload["body"])
				require.Equal(t, "message.delivered", p.Events[0].EventType)
				require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`, p.Events[0].EmittedAt)
				require.Equal(t, big, p.Events[1].Payload["message_id"])
				require.Equal(t, string(b.agent.ID), p.Events[1].Payload["recipient_agent_id"])
				require.Equal(t, b.sender, p.Events[1].Payload["sender_agent_id"])
				require.Equal(t, big, p.Events[1].Payload["thread_id"])
				require.Equal(t, "hi", p.Events[1].Payload["subject"])
				require.Equal(t, float64(3), p.Events[1].Payload["priority"])
				require.Contains(t, p.Events[1].Payload, "reply_to")
				require.Contains(t, p.Events[1].Payload, "correlation_id")
				require.Equal(t, strings.Repeat("é", core.EventInlineBodyMax/2), p.Events[1].Payload["body"])
			})

			t.Run("CreateRefusals", func(t *testing.T) { // row 66
				t.Parallel()
				e := newTestEnv(t, be, nil)
				b := e.eventsUser("bee")
				path := "/v1/agents/" + string(b.agent.ID) + "/subscriptions"
				code, m := e.obj("POST", path, b.key, `{"event_type":"foo","delivery_target":"pull"}`, nil)
				require.Contains(t, errOf(t, code, m, http.StatusBadRequest, "unknown_event_type")["message"], "foo")
				code, m = e.obj("POST", path, b.key, `{"event_type":"message.delivered","delivery_target":"pull","webhook_url":"https://hooks.example.com/x"}`, nil)
				errOf(t, code, m, http.StatusBadRequest, "invalid_delivery_target")
				code, m = e.obj("POST", path, b.key, `{"event_type":"message.delivered","delivery_target":"webhook"}`, nil)
				errOf(t, code, m, http.StatusBadRequest, "invalid_delivery_target")
				code, m = e.obj("POST", path, b.key, `{"event_type":"message.delivered","delivery_target":"webhook","webhook_url":"http://10.0.0.1/x"}`, nil)
				errOf(t, code, m, http.StatusBadRequest, "invalid_webhook_url")
				code, m = e.obj("POST", path, b.key, `{"event_type":"message.delivered","delivery_target":"email"}`, nil)
				errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
				code, m = e.obj("POST", path, b.key, `{"event_type":"message.delivered","delivery_target":"pull","bogus":1}`, nil)
				errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
				code, m = e.obj("POST", path, b.key, `{"event_type":"message.digest","delivery_target":"pull"}`, nil)
				require.Equal(t, http.StatusCreated, code, "%v", m)
				code, m = e.obj("POST", path, b.key, `{"event_type":"message.digest","delivery_target":"pull"}`, nil)
				errOf(t, code, m, http.StatusConflict, "subscription_exists")
				// A webhook subscription reveals its secret once; the URL is redacted.
				code, m = e.obj("POST", path, b.key, `{"event_type":"message.digest","delivery_target":"webhook","webhook_url":"https://hooks.example.com:8443/x/y?token=s3cret"}`, nil)
				require.Equal(t, http.StatusCreated, code, "%v", m)
				require.Regexp(t, `^whsec_[0-9a-f]{64}$`, m["webhook_secret"])
				require.Equal(t, "https://hooks.example.com:8443", m["webhook_url"])
				subs := e.subscriptions(b.key, string(b.agent.ID))
				require.Len(t, subs, 2)
				for _, s := range subs {
					require.Nil(t, s["webhook_secret"])
					require.NotContains(t, fmt.Sprint(s["webhook_url"]), "s3cret")
				}
			})

			t.Run("CursorsAndAcknowledgement", func(t *testing.T) { // row 67, M7
				t.Parallel()
				e := newTestEnv(t, be, nil)
				b := e.eventsUser("bee")
				ref := string(b.agent.ID)
				for range 3 {
					e.emitMessage(b, 3, "x")
				}
				var ids []int64 // read before any subscription exists: nothing acknowledged
				for _, ev := range e.pull(b.key, ref, "").Events {
					ids = append(ids, ev.ID)
				}
				require.Len(t, ids, 3)
				code, sub := e.obj("POST", "/v1/agents/"+ref+"/subscriptions", b.key, `{"event_type":"message.delivered","delivery_target":"pull"}`, nil)
				require.Equal(t, http.StatusCreated, code, "%v", sub)
				require.Nil(t, sub["last_acked_event_id"])
				p := e.pull(b.key, ref, "?limit=2")
				require.Len(t, p.Events, 2)
				require.True(t, p.HasMore)
				require.Equal(t, ids[1], *p.NextCursor)
				require.Equal(t, float64(ids[1]), e.subscriptions(b.key, ref)[0]["last_acked_event_id"])
				p = e.pull(b.key, ref, fmt.Sprintf("?since=%d", *p.NextCursor))
				require.Len(t, p.Events, 1)
				require.Equal(t, ids[2], p.Events[0].ID)
				require.False(t, p.HasMore)
				require.Equal(t, float64(ids[2]), e.subscriptions(b.key, ref)[0]["last_acked_event_id"])
				empty := e.pull(b.key, ref, fmt.Sprintf("?since=%d", ids[2]))
				require.Empty(t, empty.Events)
				require.Nil(t, empty.NextCursor)
				require.Equal(t, float64(ids[2]), e.subscriptions(b.key, ref)[0]["last_acked_event_id"], "an empty pull changes nothing")
				// Peeking from the start never lowers the watermark.
				e.pull(b.key, ref, "?limit=1")
				require.Equal(t, float64(ids[2]), e.subscriptions(b.key, ref)[0]["last_acked_event_id"])
				// A type filter reads only that type.
				require.Empty(t, e.pull(b.key, ref, "?event_type=message.digest").Events)
				// Explicit ack raises, never lowers; always 200.
				ackPath := "/v1/agents/" + ref + "/subscriptions/" + sub["id"].(string) + "/ack"
				code, m := e.obj("PATCH", ackPath, b.key, fmt.Sprintf(`{"acked_event_id":%d}`, ids[2]+100), nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, map[string]any{"acked": true}, m)
				code, m = e.obj("PATCH", ackPath, b.key, `{"acked_event_id":1}`, nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				require.Equal(t, float64(ids[2]+100), e.subscriptions(b.key, ref)[0]["last_acked_event_id"])
				code, m = e.obj("PATCH", "/v1/agents/"+ref+"/subscriptions/"+core.NewUUID()+"/ack", b.key, `{"acked_event_id":5}`, nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				code, m = e.obj("PATCH", ackPath, b.key, `{"acked_event_id":-1}`, nil)
				errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
				code, m = e.obj("PATCH", ackPath, b.key, `{"acked_event_id":1,"x":2}`, nil)
				errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
				// Query validation.
				for _, q := range []string{"?limit=0", "?limit=1001", "?since=-1", "?wait=short"} {
					code, m = e.obj("GET", "/v1/agents/"+ref+"/events"+q, b.key, "", nil)
					errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
				}
			})

			t.Run("LongPollTimesOut", func(t *testing.T) { // row 68
				t.Parallel()
				e := newTestEnv(t, be, func(c *config) { c.EventLongPoll = time.Second })
				b := e.eventsUser("bee")
				// Nothing pending: the documented empty answer after the hold.
				resp, body := e.raw("GET", "/v1/agents/"+string(b.agent.ID)+"/events?wait=long", b.key, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.JSONEq(t, `{"events":[],"next_cursor":null,"has_more":false}`, string(body))
				require.Equal(t, 0, e.app.EventHub.Waiting(), "the poll unregistered")
			})

			t.Run("LongPollReleasedOnShutdown", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil) // a 30 s hold
				b := e.eventsUser("bee")
				hub := e.runEventHub()
				got := make(chan eventPage, 1)
				go func() { got <- e.pullNoFail(b.key, string(b.agent.ID), "?wait=long") }()
				eventually(t, 10*time.Second, func() bool { return hub.Waiting() > 0 })
				e.app.Events.Release()
				select {
				case p := <-got:
					require.Empty(t, p.Events)
				case <-time.After(10 * time.Second):
					t.Fatal("a released poll was still held")
				}
			})

			t.Run("LongPollWakes", func(t *testing.T) { // row 68
				t.Parallel()
				e := newTestEnv(t, be, nil)
				b := e.eventsUser("bee")
				ref := string(b.agent.ID)
				// An event emitted while a poll is held is returned by it.
				got := make(chan eventPage, 1)
				hub := e.runEventHub()
				go func() { got <- e.pullNoFail(b.key, ref, "?wait=long") }()
				eventually(t, 10*time.Second, func() bool { return hub.Waiting() > 0 })
				msg := e.emitMessage(b, 3, "x")
				select {
				case p := <-got:
					require.Len(t, p.Events, 1)
					require.Equal(t, msg, p.Events[0].Payload["message_id"])
					require.Positive(t, hub.Woken(), "the event woke the poll (not its periodic re-read)")
				case <-time.After(10 * time.Second):
					t.Fatal("held poll did not return the event")
				}
			})

			t.Run("DetachIsIdempotent", func(t *testing.T) { // row 69
				t.Parallel()
				e := newTestEnv(t, be, nil)
				b := e.eventsUser("bee")
				ref := string(b.agent.ID)
				code, sub := e.obj("POST", "/v1/agents/"+ref+"/subscriptions", b.key, `{"event_type":"message.delivered","delivery_target":"pull"}`, nil)
				require.Equal(t, http.StatusCreated, code, "%v", sub)
				for range 2 {
					code, m := e.obj("DELETE", "/v1/agents/"+ref+"/subscriptions/"+sub["id"].(string), b.key, "", nil)
					require.Equal(t, http.StatusOK, code, "%v", m)
					require.Equal(t, map[string]any{"detached": true}, m)
				}
				require.Empty(t, e.subscriptions(b.key, ref))
				code, m := e.obj("DELETE", "/v1/agents/"+ref+"/subscriptions/"+core.NewUUID(), b.key, "", nil)
				require.Equal(t, http.StatusOK, code, "%v", m)
				code, m = e.obj("DELETE", "/v1/agents/"+ref+"/subscriptions/not-a-uuid", b.key, "", nil)
				errOf(t, code, m, http.StatusUnprocessableEntity, "validation_error")
			})

			t.Run("Digest", func(t *testing.T) { // row 71
				t.Parallel()
				e := newTestEnv(t, be, nil)
				b := e.eventsUser("bee")
				ref := string(b.agent.ID)
				e.emitMessage(b, 1, "a")
				e.emitMessage(b, 1, "b")
				e.emitMessage(b, 3, "c") // not low priority: not bundled
				e.clock.Advance(600 * time.Second)
				require.NoError(t, e.app.EventJobs.RunOnce(context.Background()))
				p := e.pull(b.key, ref, "?event_type=message.digest")
				require.Len(t, p.Events, 1)
				d := p.Events[0].Payload
				require.Equal(t, float64(2), d["bundle_count"])
				require.Equal(t, ref, d["recipient_agent_id"])
				require.Len(t, d["bundled_messages"], 2)
				require.Equal(t, "2026-03-20T10:10:00+00:00", d["digest_period_end"])
				// Bundled once: the next period has nothing to digest.
				e.clock.Advance(600 * time.Second)
				require.NoError(t, e.app.EventJobs.RunOnce(context.Background()))
				require.Len(t, e.pull(b.key, ref, "?event_type=message.digest").Events, 1)
			})

			t.Run("Retention", func(t *testing.T) { // M11
				t.Parallel()
				e := newTestEnv(t, be, nil)
				b := e.eventsUser("bee")
				e.emitMessage(b, 3, "old")
				e.clock.Advance(6 * 24 * time.Hour)
				fresh := e.emitMessage(b, 3, "fresh")
				require.Len(t, e.pull(b.key, string(b.agent.ID), "").Events, 2)
				e.clock.Advance(24*time.Hour + time.Minute)
				require.NoError(t, e.app.EventJobs.RunOnce(context.Background()))
				p := e.pull(b.key, string(b.agent.ID), "")
				require.Len(t, p.Events, 1, "events older than 7 days are deleted")
				require.Equal(t, fresh, p.Events[0].Payload["message_id"])
			})

			t.Run("Tenancy", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				b := e.eventsUser("bee")
				other := e.eventsUser("bee")
				code, sub := e.obj("POST", "/v1/agents/"+string(other.agent.ID)+"/subscriptions", other.key, `{"event_type":"message.delivered","delivery_target":"pull"}`, nil)
				require.Equal(t, http.StatusCreated, code, "%v", sub)
				sid := sub["id"].(string)
				foreign := string(other.agent.ID)
				for _, r := range []struct{ method, path, body string }{
					{"POST", "/subscriptions", `{"event_type":"message.delivered","delivery_target":"pull"}`},
					{"GET", "/subscriptions", ""},
					{"DELETE", "/subscriptions/" + sid, ""},
					{"PATCH", "/subscriptions/" + sid + "/ack", `{"acked_event_id":5}`},
					{"GET", "/events", ""},
					{"GET", "/events?wait=long", ""},
				} {
					code, m := e.obj(r.method, "/v1/agents/"+foreign+r.path, b.key, r.body, nil)
					errOf(t, code, m, http.StatusNotFound, "agent_not_found")
					code, m = e.obj(r.method, "/v1/agents/agt_nobodyhere00"+r.path, b.key, r.body, nil)
					errOf(t, code, m, http.StatusNotFound, "agent_not_found")
					code, m = e.obj(r.method, "/v1/agents/bogus"+r.path, b.key, r.body, nil)
					errOf(t, code, m, http.StatusBadRequest, "invalid_agent_address")
				}
				// Nothing of the other tenant changed.
				subs := e.subscriptions(other.key, foreign)
				require.Len(t, subs, 1)
				require.Nil(t, subs[0]["last_acked_event_id"])
			})
		})
	}
}

// TestEventLongPollAcrossReplicas holds a poll on replica A and writes the
// event through replica B (PostgreSQL, two app instances, each with its own
// LISTEN connection): the poll returns it, woken by the notification.
func TestEventLongPollAcrossReplicas(t *testing.T) {
	t.Parallel()
	a := newTestEnv(t, backendPostgres, nil)
	b := &testEnv{t: t, cfg: a.cfg, clock: a.clock, mailer: &fakeMailer{}, resolver: a.resolver}
	b.start()
	u := a.eventsUser("bee")
	ref := string(u.agent.ID)
	hub := a.runEventHub()
	got := make(chan eventPage, 1)
	go func() { got <- a.pullNoFail(u.key, ref, "?wait=long") }()
	eventually(t, 10*time.Second, func() bool { return hub.Waiting() > 0 })
	require.Equal(t, 0, b.app.EventHub.Waiting())
	msg := b.emitMessage(u, 3, "from replica B")
	select {
	case p := <-got:
		require.Len(t, p.Events, 1)
		require.Equal(t, msg, p.Events[0].Payload["message_id"])
		require.NotContains(t, p.Events[0].Payload, "body", "no inline subscription: no body")
		require.Positive(t, hub.Woken(), "replica B's notification woke replica A's poll")
	case <-time.After(10 * time.Second):
		t.Fatal("the poll held on replica A did not return the event written on replica B")
	}
}

// TestCompatEventWebhooks is row 70 and M9: webhook subscriptions go out
// through the delivery engine as signed batches; ten failures in a row
// pause the subscription for an hour; a later 2xx clears the counter and
// advances both watermarks.
func TestCompatEventWebhooks(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := engineEnv(t, be)
			b := e.eventsUser("bee")
			ref := string(b.agent.ID)
			statuses := make([]int, 40)
			for i := range statuses {
				statuses[i] = http.StatusInternalServerError
			}
			r := newReceiver(t, statuses...)
			code, sub := e.obj("POST", "/v1/agents/"+ref+"/subscriptions", b.key,
				fmt.Sprintf(`{"event_type":"message.delivered","delivery_target":"webhook","webhook_url":%q}`, r.url("/hook")), nil)
			require.Equal(t, http.StatusCreated, code, "%v", sub)
			secret := sub["webhook_secret"].(string)
			msg := e.emitMessage(b, 3, "x")
			state := func() map[string]any { return e.subscriptions(b.key, ref)[0] }

			for i := 0; i < 300 && state()["consecutive_failures"] != float64(10); i++ {
				e.pump()
				e.clock.Advance(10 * time.Second)
			}
			s := state()
			require.Equal(t, float64(10), s["consecutive_failures"])
			require.Nil(t, s["last_dispatched_event_id"], "a failure never advances the watermark")
			paused, err := time.Parse("2006-01-02T15:04:05.999999-07:00", s["paused_until"].(string))
			require.NoError(t, err)
			require.WithinDuration(t, e.clock.Now().Add(time.Hour), paused, 15*time.Second)

			reqs := r.requests()
			require.NotEmpty(t, reqs)
			first := reqs[0]
			verifyLikeSDK(t, secret, first)
			require.Equal(t, "1", first.header.Get("X-CueAPI-Event-Count"))
			var body struct {
				DeliveryID     string `json:"delivery_id"`
				SubscriptionID string `json:"subscription_id"`
				Events         []struct {
					ID        int64          `json:"id"`
					EventType string         `json:"event_type"`
					Payload   map[string]any `json:"payload"`
					EmittedAt string         `json:"emitted_at"`
				} `json:"events"`
			}
			require.NoError(t, json.Unmarshal(first.body, &body))
			require.Len(t, body.Events, 1)
			ev := body.Events[0]
			require.Equal(t, msg, ev.Payload["message_id"])
			require.Equal(t, fmt.Sprintf("dlv_%s_%d_%d", sub["id"], ev.ID, ev.ID), body.DeliveryID)
			require.Equal(t, sub["id"], body.SubscriptionID)

			// Paused: nothing is sent.
			sent := len(r.requests())
			e.pump()
			require.Len(t, r.requests(), sent)

			// After the pause a 2xx clears the counter and advances both watermarks.
			r.mu.Lock()
			r.next = nil
			r.mu.Unlock()
			e.clock.Advance(time.Hour + time.Minute)
			for i := 0; i < 20 && state()["last_dispatched_event_id"] == nil; i++ {
				e.pump()
				e.clock.Advance(10 * time.Second)
			}
			s = state()
			require.Equal(t, float64(0), s["consecutive_failures"])
			require.Equal(t, float64(ev.ID), s["last_dispatched_event_id"])
			require.Equal(t, float64(ev.ID), s["last_acked_event_id"])
			require.NotNil(t, s["last_dispatched_at"])
			require.Nil(t, s["paused_until"])
			// Delivered once: nothing more to send.
			sent = len(r.requests())
			e.pump()
			require.Len(t, r.requests(), sent)
		})
	}
}
