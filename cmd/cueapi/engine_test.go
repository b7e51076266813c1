package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/core/canonjson"
)

// receiver is a loopback webhook handler that records requests and answers
// from a script (default 200).
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*receivedReq
	next []int
	hdrs map[int]http.Header
}

type receivedReq struct {
	method string
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{next: statuses, hdrs: map[int]http.Header{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, &receivedReq{method: req.Method, path: req.URL.Path, header: req.Header.Clone(), body: b})
		status := http.StatusOK
		if len(r.next) > 0 {
			status, r.next = r.next[0], r.next[1:]
		}
		for k, v := range r.hdrs[status] {
			w.Header()[k] = v
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []*receivedReq {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*receivedReq{}, r.reqs...)
}

func (r *receiver) url(path string) string { return r.srv.URL + path }

// engineEnv is a test server whose outbound requests may reach loopback.
func engineEnv(t *testing.T, be backend) *testEnv {
	return newTestEnv(t, be, func(c *config) {
		c.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
}

// pump runs the scheduler and the dispatcher once at the stub clock's time.
func (e *testEnv) pump() (fired, delivered int) {
	e.t.Helper()
	ctx := context.Background()
	res, err := e.app.Scheduler.Tick(ctx)
	require.NoError(e.t, err)
	n, err := e.app.Dispatcher.RunOnce(ctx)
	require.NoError(e.t, err)
	e.app.Dispatcher.Wait()
	return res.Inserted, n
}

func (e *testEnv) createCue(key string, body string) apiclient.Cue {
	e.t.Helper()
	resp, raw := e.raw("POST", "/v1/cues", key, body, nil)
	require.Equal(e.t, http.StatusCreated, resp.StatusCode, string(raw))
	var c apiclient.Cue
	require.NoError(e.t, json.Unmarshal(raw, &c))
	return c
}

func (e *testEnv) execution(key, id string) apiclient.Execution {
	e.t.Helper()
	resp, err := e.client.GetExecutionWithResponse(context.Background(), id, auth(key))
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return *resp.JSON200
}

func (e *testEnv) executions(key, cueID string) []apiclient.Execution {
	e.t.Helper()
	resp, err := e.client.ListExecutionsWithResponse(context.Background(), &apiclient.ListExecutionsParams{CueID: &cueID}, auth(key))
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return resp.JSON200.Executions
}

// verifyLikeSDK reproduces cueapi-python's verify_webhook: re-serialize the
// parsed body with json.dumps(sort_keys=True) and compare the v1 HMAC.
func verifyLikeSDK(t *testing.T, secret string, r *receivedReq) {
	t.Helper()
	canon, err := canonjson.Canonical(r.body)
	require.NoError(t, err)
	require.Equal(t, string(r.body), string(canon), "the body is already in canonical form")
	ts := r.header.Get("X-CueAPI-Timestamp")
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(canon)
	require.Equal(t, "v1="+hex.EncodeToString(m.Sum(nil)), r.header.Get("X-CueAPI-Signature"))
}

func webhookSecret(t *testing.T, e *testEnv, key string) string {
	s, err := e.client.GetWebhookSecretWithResponse(context.Background(), auth(key))
	require.NoError(t, err)
	return s.JSON200.WebhookSecret
}

func TestEngine(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			t.Run("DeliversOnTimeSignedLikeTheSDKExpects", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				at := testNow.Add(30 * time.Second).Format(time.RFC3339)
				c := e.createCue(key, `{"name":"once","schedule":{"type":"once","at":"`+at+`"},"callback":{"url":"`+rcv.url("/hook")+`","headers":{"X-Team":"ops"}},
					"payload":{"nested":{"b":[1,2.5,{"z":null}],"a":"é😀"},"big":123456789012345678901234567890,"f":1e-05}}`)

				fired, delivered := e.pump()
				require.Equal(t, 0, fired+delivered, "nothing is due yet")

				e.clock.Set(testNow.Add(29500 * time.Millisecond)) // inside the look-ahead
				fired, delivered = e.pump()
				require.Equal(t, 1, fired)
				require.Equal(t, 0, delivered, "never delivered before its time")

				e.clock.Set(testNow.Add(30 * time.Second))
				_, delivered = e.pump()
				require.Equal(t, 1, delivered)

				reqs := rcv.requests()
				require.Len(t, reqs, 1)
				r := reqs[0]
				require.Equal(t, "POST", r.method)
				require.Equal(t, "ops", r.header.Get("X-Team"))
				require.Equal(t, c.ID, r.header.Get("X-CueAPI-Cue-Id"))
				require.Equal(t, "1", r.header.Get("X-CueAPI-Attempt"))
				require.Equal(t, "CueAPI/1.0", r.header.Get("User-Agent"))
				require.Equal(t, "application/json", r.header.Get("Content-Type"))
				require.Equal(t, strconv.FormatInt(testNow.Add(30*time.Second).Unix(), 10), r.header.Get("X-CueAPI-Timestamp"))
				verifyLikeSDK(t, webhookSecret(t, e, key), r)
				var body map[string]any
				require.NoError(t, json.Unmarshal(r.body, &body))
				require.Equal(t, "once", body["name"])
				require.Equal(t, float64(1), body["attempt"])
				require.Equal(t, testNow.Add(30*time.Second).Format("2006-01-02T15:04:05")+"+00:00", body["scheduled_for"])
				require.Contains(t, string(r.body), `"big": 123456789012345678901234567890`)
				require.Contains(t, string(r.body), `"f": 1e-05`)
				require.Contains(t, string(r.body), `"a": "\u00e9\ud83d\ude00"`)

				ex := e.executions(key, c.ID)
				require.Len(t, ex, 1)
				require.Equal(t, apiclient.ExecutionStatusSuccess, ex[0].Status)
				require.Equal(t, 1, ex[0].Attempts)
				require.Equal(t, 200, *ex[0].HTTPStatus)
				require.Nil(t, ex[0].ErrorMessage)
				require.NotNil(t, ex[0].DeliveredAt)

				got, err := e.client.GetCueWithResponse(context.Background(), c.ID, &apiclient.GetCueParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, apiclient.CueStatusCompleted, got.JSON200.Status)
				require.Equal(t, 1, got.JSON200.RunCount)
				require.Equal(t, 1, got.JSON200.FiredCount)
				require.Nil(t, got.JSON200.NextRun)
				require.NotNil(t, got.JSON200.LastRun)
				require.Equal(t, 1, got.JSON200.ExecutionTotal)
			})

			t.Run("RetriesPerBackoffThenSucceeds", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t, 500, 200)
				key := e.register()
				c := e.createCue(key, `{"name":"r","schedule":{"type":"recurring","cron":"1 10 * * *"},"callback":{"url":"`+rcv.url("/")+`"},"retry":{"max_attempts":3,"backoff_minutes":[2,7]}}`)
				e.clock.Set(testNow.Add(time.Minute))
				_, n := e.pump()
				require.Equal(t, 1, n)
				ex := e.executions(key, c.ID)[0]
				require.Equal(t, apiclient.ExecutionStatusRetrying, ex.Status)
				require.Equal(t, "Webhook endpoint returned server error (500)", *ex.ErrorMessage)
				require.Equal(t, 500, *ex.HTTPStatus)
				require.Equal(t, testNow.Add(3*time.Minute), ex.NextRetry.UTC())

				e.clock.Set(testNow.Add(3*time.Minute - time.Microsecond))
				_, n = e.pump()
				require.Equal(t, 0, n, "not before its backoff")
				e.clock.Set(testNow.Add(3 * time.Minute))
				_, n = e.pump()
				require.Equal(t, 1, n)

				ex = e.execution(key, ex.ID)
				require.Equal(t, apiclient.ExecutionStatusSuccess, ex.Status)
				require.Equal(t, 2, ex.Attempts)
				require.Len(t, rcv.requests(), 2)
				require.Equal(t, "2", rcv.requests()[1].header.Get("X-CueAPI-Attempt"))
				got, err := e.client.GetCueWithResponse(context.Background(), c.ID, &apiclient.GetCueParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, 2, got.JSON200.RunCount, "every attempt counts")
				require.Equal(t, apiclient.CueStatusActive, got.JSON200.Status)
			})

			t.Run("HonoursRetryAfterOn429", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t, 429)
				rcv.hdrs[429] = http.Header{"Retry-After": {"600"}}
				key := e.register()
				c := e.createCue(key, `{"name":"ra","schedule":{"type":"recurring","cron":"1 10 * * *"},"callback":{"url":"`+rcv.url("/")+`"}}`)
				e.clock.Set(testNow.Add(time.Minute))
				e.pump()
				ex := e.executions(key, c.ID)[0]
				require.Equal(t, apiclient.ExecutionStatusRetrying, ex.Status)
				require.Equal(t, "Webhook endpoint rejected request (429)", *ex.ErrorMessage)
				require.Equal(t, testNow.Add(11*time.Minute), ex.NextRetry.UTC())
			})

			t.Run("FinalFailureEscalates", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t, 404)
				alarm := newReceiver(t)
				key := e.register()
				c := e.createCue(key, `{"name":"f","schedule":{"type":"recurring","cron":"1 10 * * *"},"callback":{"url":"`+rcv.url("/")+`"},
					"retry":{"max_attempts":1},"on_failure":{"pause":true,"email":false,"webhook":"`+alarm.url("/failed")+`"}}`)
				e.clock.Set(testNow.Add(time.Minute))
				e.pump()
				ex := e.executions(key, c.ID)[0]
				require.Equal(t, apiclient.ExecutionStatusFailed, ex.Status)
				require.Equal(t, "Webhook endpoint not found (404)", *ex.ErrorMessage)
				got, err := e.client.GetCueWithResponse(context.Background(), c.ID, &apiclient.GetCueParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, apiclient.CueStatusPaused, got.JSON200.Status)
				require.Nil(t, got.JSON200.NextRun)

				reqs := alarm.requests()
				require.Len(t, reqs, 1)
				verifyLikeSDK(t, webhookSecret(t, e, key), reqs[0])
				var ev map[string]any
				require.NoError(t, json.Unmarshal(reqs[0].body, &ev))
				require.Equal(t, "cue.failed", ev["event"])
				require.Equal(t, c.ID, ev["cue_id"])
				require.Equal(t, float64(404), ev["last_http_status"])
				require.Equal(t, float64(1), ev["attempts"])
			})

			t.Run("ExpiredLeaseRedeliversWithTheAttemptCounted", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				c := e.createCue(key, `{"name":"crash","schedule":{"type":"recurring","cron":"1 10 * * *"},"callback":{"url":"`+rcv.url("/")+`"}}`)
				e.clock.Set(testNow.Add(time.Minute))
				_, err := e.app.Scheduler.Tick(context.Background())
				require.NoError(t, err)
				// A process claims the delivery and dies before recording.
				claimed, err := e.app.store.ExecutionClaimDeliveries(context.Background(), &core.ExecutionClaimDeliveriesParams{Now: e.clock.Now(), Lease: time.Minute, Limit: 10})
				require.NoError(t, err)
				require.Len(t, claimed, 1)
				_, n := e.pump()
				require.Equal(t, 0, n, "the lease is still held")
				e.clock.Advance(time.Minute)
				_, n = e.pump()
				require.Equal(t, 1, n)
				require.Equal(t, "2", rcv.requests()[0].header.Get("X-CueAPI-Attempt"))
				ex := e.executions(key, c.ID)[0]
				require.Equal(t, apiclient.ExecutionStatusSuccess, ex.Status)
				require.Equal(t, 2, ex.Attempts)
			})

			t.Run("ManualFireAndReplay", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				c := e.createCue(key, `{"name":"m","schedule":{"type":"once","at":"2027-01-01T00:00:00Z"},"callback":{"url":"`+rcv.url("/")+`"}}`)
				f, err := e.client.FireCueWithResponse(context.Background(), c.ID, nil, apiclient.FireRequest{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, f.StatusCode(), string(f.Body))
				require.Equal(t, "manual_fire", f.JSON200.TriggeredBy)
				require.Equal(t, apiclient.ExecutionStatusPending, f.JSON200.Status)
				require.Equal(t, "2026-03-20T10:00:00+00:00", f.JSON200.ScheduledFor)

				rp, err := e.client.ReplayExecutionWithResponse(context.Background(), f.JSON200.ID, auth(key))
				require.NoError(t, err)
				require.Equal(t, "execution_in_flight", errorCode(t, 409, rp.Body))

				_, n := e.pump()
				require.Equal(t, 1, n)
				ex := e.execution(key, f.JSON200.ID)
				require.Equal(t, apiclient.ExecutionStatusSuccess, ex.Status)
				require.Equal(t, "manual_fire", ex.TriggeredBy)
				got, err := e.client.GetCueWithResponse(context.Background(), c.ID, &apiclient.GetCueParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, apiclient.CueStatusActive, got.JSON200.Status, "a manual run does not complete a one-time cue")
				require.Equal(t, 0, got.JSON200.FiredCount)

				e.clock.Advance(time.Second)
				rp, err = e.client.ReplayExecutionWithResponse(context.Background(), f.JSON200.ID, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, rp.StatusCode(), string(rp.Body))
				require.Equal(t, f.JSON200.ID, rp.JSON200.ReplayedFrom)
				require.Equal(t, "replay", rp.JSON200.TriggeredBy)
				_, n = e.pump()
				require.Equal(t, 1, n)
				require.Len(t, rcv.requests(), 2)

				list, err := e.client.ListExecutionsWithResponse(context.Background(), &apiclient.ListExecutionsParams{Status: ptr("success"), Limit: ptr(1)}, auth(key))
				require.NoError(t, err)
				require.Equal(t, 2, list.JSON200.Total)
				require.True(t, list.JSON200.HasMore)
				require.Equal(t, rp.JSON200.ID, list.JSON200.Executions[0].ID, "newest first")

				other := e.register()
				for _, id := range []string{f.JSON200.ID, "not-a-uuid", "00000000-0000-4000-8000-000000000000"} {
					resp, body := e.raw("GET", "/v1/executions/"+id, other, "", nil)
					require.Equal(t, http.StatusNotFound, resp.StatusCode, id)
					require.Equal(t, "execution_not_found", errorCode(t, 404, body))
				}
				resp, body := e.raw("POST", "/v1/cues/"+c.ID+"/fire", other, `{}`, nil)
				require.Equal(t, http.StatusNotFound, resp.StatusCode)
				require.Equal(t, "cue_not_found", errorCode(t, 404, body))
			})

			t.Run("DeliveryTimeSSRFBlocksRebinding", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil) // no allow-list
				key := e.register()
				e.resolver.Set("rebind.example.com", publicAddr.String())
				c := e.createCue(key, `{"name":"rb","schedule":{"type":"recurring","cron":"1 10 * * *"},"callback":{"url":"https://rebind.example.com/x"},"retry":{"max_attempts":1}}`)
				// The name now points at a private address: the dialer refuses
				// it, so no connection is ever attempted.
				e.resolver.Set("rebind.example.com", "10.1.2.3")
				e.clock.Set(testNow.Add(time.Minute))
				e.pump()
				ex := e.executions(key, c.ID)[0]
				require.Equal(t, apiclient.ExecutionStatusFailed, ex.Status)
				require.Equal(t, "Callback URL resolved to blocked IP", *ex.ErrorMessage)
				require.Nil(t, ex.HTTPStatus)
			})

			t.Run("PausingCancelsLookAheadExecutions", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				c := e.createCue(key, `{"name":"p","schedule":{"type":"recurring","cron":"1 10 * * *"},"callback":{"url":"`+rcv.url("/")+`"}}`)
				e.clock.Set(testNow.Add(time.Minute - 500*time.Millisecond))
				fired, _ := e.pump()
				require.Equal(t, 1, fired)
				_, err := e.client.UpdateCueWithResponse(context.Background(), c.ID, apiclient.UpdateCueRequest{Status: ptr("paused")}, auth(key))
				require.NoError(t, err)
				e.clock.Set(testNow.Add(2 * time.Minute))
				_, n := e.pump()
				require.Equal(t, 0, n)
				require.Empty(t, rcv.requests())
				require.Empty(t, e.executions(key, c.ID))
			})
		})
	}
}

// TestBadBytesNeverReachTheStore: a receiver's binary response body, and
// NUL or invalid UTF-8 in paths and query strings, are handled as data or
// as bad input — never a failed batch or a 500 (regressions found in review).
func TestBadBytesNeverReachTheStore(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := engineEnv(t, be)
			bin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte("GIF89a\x00\x01\xff\xfe"))
			}))
			t.Cleanup(bin.Close)
			rcv := newReceiver(t)
			key := e.register()
			a := e.createCue(key, `{"name":"binary","schedule":{"type":"recurring","cron":"1 10 * * *"},"callback":{"url":"`+bin.URL+`/"}}`)
			b := e.createCue(key, `{"name":"plain","schedule":{"type":"recurring","cron":"1 10 * * *"},"callback":{"url":"`+rcv.url("/")+`"}}`)
			e.clock.Set(testNow.Add(time.Minute))
			_, n := e.pump()
			require.Equal(t, 2, n, "both in one recorded batch")
			require.Equal(t, apiclient.ExecutionStatusSuccess, e.executions(key, a.ID)[0].Status)
			require.Equal(t, apiclient.ExecutionStatusSuccess, e.executions(key, b.ID)[0].Status)

			for _, path := range []string{"/v1/cues/%00", "/v1/cues/%ff%fe", "/v1/workers/%00", "/v1/echo/0123456789abcdef%00"} {
				resp, body := e.raw("GET", path, key, "", nil)
				if path == "/v1/workers/%00" {
					resp, body = e.raw("DELETE", path, key, "", nil)
				}
				require.Equal(t, http.StatusNotFound, resp.StatusCode, path+": "+string(body))
			}
			for _, q := range []string{"/v1/executions?cue_id=%ff", "/v1/executions/claimable?task=%00", "/v1/cues?status=a%00"} {
				resp, body := e.raw("GET", q, key, "", nil)
				require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, q+": "+string(body))
				require.Equal(t, "validation_error", errorCode(t, 422, body))
			}
		})
	}
}
