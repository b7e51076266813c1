package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
	"github.com/cueapi/cueapi/core"
)

// TestAlertWebhooksShareFairDelivery: alert webhooks are deliveries of the
// one engine. 40 alerts due to a destination whose receiver blocks (the
// alerts older) do not delay 50 cue deliveries to another destination —
// those all complete while every alert webhook is still blocked, and the
// blocked destination never holds more than all slots but one share —
// and once released every alert is delivered exactly once.
func TestAlertWebhooksShareFairDelivery(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			const conc, perDest, nAlerts, nFast = 16, 4, 40, 50
			e := newTestEnv(t, be, func(c *config) {
				c.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				c.WebhookConcurrency = conc
				c.DeliveryPerDestination = perDest
				c.ShutdownGrace = time.Minute
			})
			release := make(chan struct{})
			var once sync.Once
			releaseSlow := func() { once.Do(func() { close(release) }) }
			t.Cleanup(releaseSlow)
			slow := newKeyedReceiver(t, "X-CueAPI-Alert-Id", nAlerts, release)
			fast := newCountingReceiver(t, nFast, nil)

			key := e.register()
			u := e.userOf(key)
			url := slow.srv.URL + "/alerts"
			up, err := e.client.UpdateMeWithResponse(context.Background(), apiclient.UpdateMeRequest{AlertWebhookURL: &url}, auth(key))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, up.StatusCode(), string(up.Body))
			e.raiseAlerts(u, nAlerts)
			at := testNow.Add(time.Hour).Format(time.RFC3339)
			fastCue := e.createCue(key, `{"name":"fast","schedule":{"type":"once","at":"`+at+`"},"callback":{"url":"`+fast.srv.URL+`/hook"}}`)
			e.fireMany(u, fastCue.ID, nFast)

			stop := runDispatcher(t, e, releaseSlow)

			failsafe(t, fast.all, "every cue delivery while the alert receiver blocks")
			total, _ := slow.requests()
			require.Positive(t, total, "alert webhooks were being sent")
			require.LessOrEqual(t, total, conc-perDest, "the alert destination never holds more than all slots but one share")

			releaseSlow()
			failsafe(t, slow.all, "every alert webhook after the release")
			stop()

			total, distinct := slow.requests()
			require.Equal(t, nAlerts, distinct)
			require.Equal(t, nAlerts, total, "every alert delivered exactly once")
			alerts, _, err := e.app.store.AlertList(context.Background(), &core.AlertListParams{TenantID: u.ID})
			require.NoError(t, err)
			require.Len(t, alerts, nAlerts)
			for _, a := range alerts {
				require.Equal(t, core.AlertDeliveryDelivered, *a.DeliveryStatus, "alert %s", a.ID)
				require.Equal(t, 1, a.DeliveryAttempts)
			}
			for _, ex := range e.storedExecutions(u, fastCue.ID) {
				require.Equal(t, core.ExecSuccess, ex.Status)
			}
		})
	}
}

// raiseAlerts stores n due alerts of tenant u, one stub-clock millisecond
// apart.
func (e *testEnv) raiseAlerts(u *core.User, n int) {
	e.t.Helper()
	for range n {
		cid := core.NewCueID()
		created, err := e.app.store.AlertCreate(context.Background(), &core.AlertCreateParams{Now: e.clock.Now(), DedupWindow: core.AlertDedupWindow, Alert: &core.Alert{
			ID: core.NewUUID(), TenantID: u.ID, CueID: &cid, Type: core.AlertConsecutiveFailures, Severity: core.SeverityWarning,
			Message: "failing", Metadata: json.RawMessage(`{"consecutive_failures":3}`), CreatedAt: e.clock.Now(),
		}})
		require.NoError(e.t, err)
		require.True(e.t, created)
		e.clock.Advance(time.Millisecond)
	}
}

// TestAlertWebhooksCircuitBreaker: alert webhooks obey the per-destination
// limit and circuit breaker. Three 503s with Retry-After 120 s open the
// alert destination's breaker; the other due alerts are parked (not sent,
// counted as an attempt, due no earlier than the Retry-After — beyond the
// alert schedule's 30 s backoff); after it one probe closes the breaker and
// the rest are delivered.
func TestAlertWebhooksCircuitBreaker(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, be, func(c *config) {
				c.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				c.DeliveryPerDestination = 3
				c.DeliveryBreakerFailures = 3
				c.DeliveryBreakerCooldown = 30 * time.Second
			})
			rcv := newKeyedReceiver(t, "X-CueAPI-Alert-Id", 6, nil)
			rcv.answer(http.StatusServiceUnavailable, "120")
			key := e.register()
			u := e.userOf(key)
			url := rcv.srv.URL + "/alerts"
			up, err := e.client.UpdateMeWithResponse(context.Background(), apiclient.UpdateMeRequest{AlertWebhookURL: &url}, auth(key))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, up.StatusCode(), string(up.Body))
			e.raiseAlerts(u, 6)
			runOnce := func(want int) {
				t.Helper()
				n, err := e.app.Dispatcher.RunOnce(context.Background())
				require.NoError(t, err)
				require.Equal(t, want, n, "claimed")
			}
			alerts := func() []*core.Alert {
				list, _, err := e.app.store.AlertList(context.Background(), &core.AlertListParams{TenantID: u.ID})
				require.NoError(t, err)
				return list
			}

			t0 := e.clock.Now()
			runOnce(3) // the per-destination limit
			total, _ := rcv.requests()
			require.Equal(t, 3, total)
			runOnce(3) // parked
			total, _ = rcv.requests()
			require.Equal(t, 3, total, "parked alerts are not sent")
			var parked, failed int
			for _, a := range alerts() {
				require.Equal(t, core.AlertDeliveryPending, *a.DeliveryStatus)
				require.Equal(t, 1, a.DeliveryAttempts, "a parked alert counts an attempt")
				require.NotNil(t, a.LastDeliveryErr)
				if strings.Contains(*a.LastDeliveryErr, "circuit breaker") {
					parked++
				} else {
					require.Contains(t, *a.LastDeliveryErr, "503")
					failed++
				}
			}
			require.Equal(t, 3, parked)
			require.Equal(t, 3, failed)

			e.clock.Set(t0.Add(119 * time.Second))
			runOnce(0) // the Retry-After holds them all, not the 30 s backoff

			rcv.answer(http.StatusOK, "")
			e.clock.Set(t0.Add(121 * time.Second))
			runOnce(1) // one probe
			runOnce(5)
			failsafe(t, rcv.all, "every alert after recovery")
			total, distinct := rcv.requests()
			require.Equal(t, 6, distinct)
			require.Equal(t, 3+6, total, "3 failed sends, then each alert once; parked ones never sent")
			for _, a := range alerts() {
				require.Equal(t, core.AlertDeliveryDelivered, *a.DeliveryStatus)
				require.Equal(t, 2, a.DeliveryAttempts)
			}
		})
	}
}
