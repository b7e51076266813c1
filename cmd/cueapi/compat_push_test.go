package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// Push delivery of messages (spec/clients.md §2.12, §4 row 64) through the
// one delivery engine, on both stores.

// pushWorld is a user whose agent b pushes to a loopback receiver.
type pushWorld struct {
	*msgWorld
	recv   *receiver
	secret string
}

func newPushWorld(t *testing.T, be backend, statuses ...int) *pushWorld {
	w := newMsgWorld(t, be, func(c *config) {
		c.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	p := &pushWorld{msgWorld: w, recv: newReceiver(t, statuses...)}
	up := w.e.getJSON("PATCH", "/v1/agents/"+w.b, w.key, `{"webhook_url":"`+p.recv.url("/inbox")+`"}`, nil, http.StatusOK)
	require.NotNil(t, up["webhook_url"])
	p.secret = w.e.getJSON("GET", "/v1/agents/"+w.b+"/webhook-secret", w.key, "", nil, http.StatusOK)["webhook_secret"].(string)
	return p
}

// pushOnce runs the delivery engine once at the stub clock's time.
func (p *pushWorld) pushOnce() int {
	p.e.t.Helper()
	_, n := p.e.pump()
	return n
}

func (p *pushWorld) message(id string) map[string]any {
	p.e.t.Helper()
	return p.e.getJSON("GET", "/v1/messages/"+id, p.key, "", nil, http.StatusOK)
}

// verify checks a push the way a receiver does: v1=HMAC-SHA256(secret,
// "<ts>." + body), computed here independently.
func verify(t *testing.T, secret string, r *receivedReq) {
	t.Helper()
	ts := r.header.Get("X-CueAPI-Timestamp")
	_, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(r.body)
	require.Equal(t, "v1="+hex.EncodeToString(mac.Sum(nil)), r.header.Get("X-CueAPI-Signature"))
}

func TestClientsMessagePush(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			// §4 row 64 and the acceptance criterion: a receiver that fails
			// twice then succeeds gets exactly one more attempt after each
			// failure, each signed with the agent's secret; 503 with
			// Retry-After: 120 delays the next attempt to 120 s.
			t.Run("RetriesSignedUntilDelivered", func(t *testing.T) {
				t.Parallel()
				p := newPushWorld(t, be, http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusOK)
				p.recv.hdrs[http.StatusServiceUnavailable] = http.Header{"Retry-After": []string{"120"}}
				m := p.sendOK(p.a, `{"to":"`+p.bAddr+`","subject":"s","body":"héllo ✓","metadata":{"k":1}}`, http.StatusCreated)
				require.Equal(t, "webhook", m["effective_delivery_mode"])
				id := m["id"].(string)

				require.Equal(t, 1, p.pushOnce())
				reqs := p.recv.requests()
				require.Len(t, reqs, 1)
				r := reqs[0]
				verify(t, p.secret, r)
				require.Equal(t, "POST", r.method)
				require.Equal(t, "/inbox", r.path)
				require.Equal(t, "message.created", r.header.Get("X-CueAPI-Event-Type"))
				require.Equal(t, "1", r.header.Get("X-CueAPI-Attempt"))
				require.Equal(t, id, r.header.Get("X-CueAPI-Message-Id"))
				require.Equal(t, p.b, r.header.Get("X-CueAPI-Agent-Id"))
				require.Equal(t, id, r.header.Get("X-CueAPI-Thread-Id"))
				require.Equal(t, "CueAPI/1.0", r.header.Get("User-Agent"))
				var body map[string]any
				require.NoError(t, json.Unmarshal(r.body, &body))
				require.Equal(t, "héllo ✓", body["body"])
				require.Equal(t, map[string]any{"agent_id": p.a, "slug": p.aAddr}, body["from"])
				require.Equal(t, map[string]any{"agent_id": p.b, "slug": p.bAddr}, body["to"])
				require.Equal(t, map[string]any{"k": float64(1)}, body["metadata"])
				require.Equal(t, "2026-03-20T10:00:00+00:00", body["created_at"])
				require.Contains(t, string(r.body), `"body": "h\u00e9llo \u2713"`, "canonical JSON, ASCII escapes")
				require.Equal(t, "retry_ready", p.message(id)["state"])

				// Not before Retry-After (longer than the 1-minute backoff).
				p.e.clock.Advance(119 * time.Second)
				p.pushOnce()
				require.Len(t, p.recv.requests(), 1)
				p.e.clock.Advance(time.Second)
				p.pushOnce()
				reqs = p.recv.requests()
				require.Len(t, reqs, 2)
				require.Equal(t, "2", reqs[1].header.Get("X-CueAPI-Attempt"))
				verify(t, p.secret, reqs[1])

				// 500: the 5-minute backoff.
				p.e.clock.Advance(5*time.Minute - time.Second)
				p.pushOnce()
				require.Len(t, p.recv.requests(), 2)
				p.e.clock.Advance(time.Second)
				p.pushOnce()
				reqs = p.recv.requests()
				require.Len(t, reqs, 3)
				verify(t, p.secret, reqs[2])
				got := p.message(id)
				require.Equal(t, "delivered", got["state"])
				require.NotNil(t, got["delivered_at"])

				// Delivered exactly once: nothing more, ever.
				p.e.clock.Advance(time.Hour)
				p.pushOnce()
				require.Len(t, p.recv.requests(), 3)
				require.EqualValues(t, 1, p.inbox(p.b, "?state=delivered&count_only=true")["count"])
			})

			// §4 row 64: 404 is final.
			t.Run("NotFoundFailsWithoutRetry", func(t *testing.T) {
				t.Parallel()
				p := newPushWorld(t, be, http.StatusNotFound)
				id := p.sendOK(p.a, `{"to":"`+p.bAddr+`","body":"x"}`, http.StatusCreated)["id"].(string)
				p.pushOnce()
				got := p.message(id)
				require.Equal(t, "failed", got["state"])
				require.NotNil(t, got["failed_at"])
				p.e.clock.Advance(time.Hour)
				p.pushOnce()
				require.Len(t, p.recv.requests(), 1)
				// failed stays readable and ackable.
				require.EqualValues(t, 1, p.inbox(p.b, "?state=failed&count_only=true")["count"])
				p.e.getJSON("POST", "/v1/messages/"+id+"/ack", p.key, `{}`, nil, http.StatusOK)
			})

			// Four attempts at most.
			t.Run("GivesUpAfterFourAttempts", func(t *testing.T) {
				t.Parallel()
				p := newPushWorld(t, be, 500, 500, 500, 500, 500)
				id := p.sendOK(p.a, `{"to":"`+p.bAddr+`","body":"x"}`, http.StatusCreated)["id"].(string)
				for range 6 {
					p.pushOnce()
					p.e.clock.Advance(16 * time.Minute)
				}
				require.Len(t, p.recv.requests(), 4)
				require.Equal(t, "failed", p.message(id)["state"])
			})

			// A URL cleared before the attempt: no push, the message stays
			// queued for the inbox.
			t.Run("ClearedURLLeavesItQueued", func(t *testing.T) {
				t.Parallel()
				p := newPushWorld(t, be)
				id := p.sendOK(p.a, `{"to":"`+p.bAddr+`","body":"x"}`, http.StatusCreated)["id"].(string)
				p.e.getJSON("PATCH", "/v1/agents/"+p.b, p.key, `{"webhook_url":null}`, nil, http.StatusOK)
				p.pushOnce()
				require.Empty(t, p.recv.requests())
				require.Equal(t, "queued", p.message(id)["state"])
				p.e.clock.Advance(time.Hour)
				p.pushOnce()
				require.Empty(t, p.recv.requests())
				require.Equal(t, []string{id}, msgIDs(p.inbox(p.b, "")))
			})

			// send_at defers the push.
			t.Run("SendAtDefersThePush", func(t *testing.T) {
				t.Parallel()
				p := newPushWorld(t, be)
				at := testNow.Add(10 * time.Minute).Format(time.RFC3339)
				p.sendOK(p.a, `{"to":"`+p.bAddr+`","body":"later","send_at":"`+at+`"}`, http.StatusCreated)
				p.pushOnce()
				require.Empty(t, p.recv.requests())
				p.e.clock.Advance(10 * time.Minute)
				p.pushOnce()
				require.Len(t, p.recv.requests(), 1)
			})

			// The SSRF policy at dial time: a host that resolved to a public
			// address when saved and to a private one now is never reached.
			t.Run("DialTimeSSRFGuardFails", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				w.e.resolver.Set("rebind.example.com", publicAddr.String())
				w.e.getJSON("PATCH", "/v1/agents/"+w.b, w.key, `{"webhook_url":"http://rebind.example.com/hook"}`, nil, http.StatusOK)
				w.e.resolver.Set("rebind.example.com", "10.0.0.7")
				id := w.sendOK(w.a, `{"to":"`+w.bAddr+`","body":"x"}`, http.StatusCreated)["id"].(string)
				w.e.pump()
				got := w.e.getJSON("GET", "/v1/messages/"+id, w.key, "", nil, http.StatusOK)
				require.Equal(t, "failed", got["state"])
			})
		})
	}
}

// TestMessageLifetime: a process that died after claiming a push (kill -9
// mid-push) leaves a lease; once it expires the push is sent and recorded
// once. Lifetime jobs expire, purge and release keys off the request path
// (clients.md §2.14).
func TestMessageLifetime(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			t.Run("LostLeaseIsDeliveredAfterExpiry", func(t *testing.T) {
				t.Parallel()
				p := newPushWorld(t, be)
				id := p.sendOK(p.a, `{"to":"`+p.bAddr+`","body":"x"}`, http.StatusCreated)["id"].(string)
				// The claim of a process that then died: never sent, never recorded.
				lease := p.e.app.Dispatcher.Config().Lease
				claimed, err := p.e.app.store.MessagePushClaim(t.Context(), &core.MessagePushClaimParams{Now: p.e.clock.Now(), Lease: lease, Limit: 10})
				require.NoError(t, err)
				require.Len(t, claimed, 1)
				p.pushOnce()
				require.Empty(t, p.recv.requests(), "leased")
				p.e.clock.Advance(lease)
				p.pushOnce()
				reqs := p.recv.requests()
				require.Len(t, reqs, 1)
				require.Equal(t, "2", reqs[0].header.Get("X-CueAPI-Attempt"), "the lost attempt counted")
				require.Equal(t, "delivered", p.message(id)["state"])
			})

			t.Run("ExpiresPurgesAndReleasesKeys", func(t *testing.T) {
				t.Parallel()
				w := newMsgWorld(t, be, nil)
				resp, raw := w.send(w.a, `{"to":"`+w.bAddr+`","body":"x"}`, map[string]string{"Idempotency-Key": "life"})
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(raw))
				var m map[string]any
				require.NoError(t, json.Unmarshal(raw, &m))
				id := m["id"].(string)
				require.Equal(t, "2026-04-19T10:00:00Z", m["expires_at"], "30 days")
				w.e.clock.Advance(25 * time.Hour)
				r, err := w.e.app.MessageSweeper.SweepOnce(t.Context())
				require.NoError(t, err)
				require.Equal(t, 1, r.Released)
				require.Nil(t, w.e.getJSON("GET", "/v1/messages/"+id, w.key, "", nil, http.StatusOK)["idempotency_key"])
				w.e.clock.Advance(30 * 24 * time.Hour)
				r, err = w.e.app.MessageSweeper.SweepOnce(t.Context())
				require.NoError(t, err)
				require.Equal(t, 1, r.Expired)
				require.Equal(t, "expired", w.e.getJSON("GET", "/v1/messages/"+id, w.key, "", nil, http.StatusOK)["state"])
				resp, raw = w.e.raw("POST", "/v1/messages/"+id+"/ack", w.key, `{}`, nil)
				requireClientError(t, resp, raw, http.StatusConflict, "invalid_state_transition")
				w.e.clock.Advance(8 * 24 * time.Hour)
				r, err = w.e.app.MessageSweeper.SweepOnce(t.Context())
				require.NoError(t, err)
				require.Equal(t, 1, r.Purged)
				resp, raw = w.e.raw("GET", "/v1/messages/"+id, w.key, "", nil)
				requireClientError(t, resp, raw, http.StatusNotFound, "message_not_found")
			})
		})
	}
}

// TestMessagePushUserCap: over MAX_CONCURRENT_DELIVERIES_PER_USER pushes of
// one sending account in flight, an attempt is postponed by 30 s without
// using an attempt (clients.md §2.12, K2).
func TestMessagePushUserCap(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			p := newPushWorld(t, be)
			first := p.sendOK(p.a, `{"to":"`+p.bAddr+`","body":"1"}`, http.StatusCreated)["id"].(string)
			p.e.clock.Advance(time.Second)
			second := p.sendOK(p.a, `{"to":"`+p.bAddr+`","body":"2"}`, http.StatusCreated)["id"].(string)
			cfg := p.e.app.Dispatcher.Config()
			src := core.NewMessagePushSource(p.e.app.store, p.e.app.Agents, cfg, 1, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
			now := p.e.clock.Now()
			jobs, err := src.Claim(t.Context(), &core.DeliveryClaim{Now: now, Lease: cfg.Lease, Limit: 10})
			require.NoError(t, err)
			require.Len(t, jobs, 2)
			require.Equal(t, first, jobs[0].ID, "oldest first")
			req, err := src.Request(t.Context(), jobs[0], now)
			require.NoError(t, err)
			require.NotNil(t, req, "within the cap")
			req, err = src.Request(t.Context(), jobs[1], now)
			require.NoError(t, err)
			require.Nil(t, req, "over the cap: not sent")
			attempts := []*core.DeliveryAttempt{
				{Job: jobs[0], Outcome: core.AttemptDelivered, Status: 200, Started: now, At: now},
				{Job: jobs[1], Outcome: core.AttemptSkipped, Started: now, At: now},
			}
			for _, a := range attempts {
				src.Settle(a)
			}
			applied, err := src.Record(t.Context(), now, attempts)
			require.NoError(t, err)
			require.Equal(t, []bool{true, true}, applied)
			require.Equal(t, "delivered", p.message(first)["state"])
			require.Equal(t, "retry_ready", p.message(second)["state"])
			// The slot is free again; the postponed push is due 30 s later
			// with its attempt not used.
			later := now.Add(core.MessagePushCapDelay)
			jobs, err = src.Claim(t.Context(), &core.DeliveryClaim{Now: later.Add(-time.Microsecond), Lease: cfg.Lease, Limit: 10})
			require.NoError(t, err)
			require.Empty(t, jobs)
			jobs, err = src.Claim(t.Context(), &core.DeliveryClaim{Now: later, Lease: cfg.Lease, Limit: 10})
			require.NoError(t, err)
			require.Len(t, jobs, 1)
			require.Equal(t, 1, jobs[0].Attempt, "the postponed attempt was not counted")
			req, err = src.Request(t.Context(), jobs[0], later)
			require.NoError(t, err)
			require.NotNil(t, req)
		})
	}
}
