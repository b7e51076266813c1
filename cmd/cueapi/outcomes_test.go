package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
	"github.com/cueapi/cueapi/core"
)

// deliveredExecution creates a webhook cue with the verification mode,
// fires it and delivers it to a loopback receiver; it returns the execution.
func deliveredExecution(t *testing.T, e *testEnv, key string, rcv *receiver, mode string) string {
	t.Helper()
	ver := ""
	if mode != "" {
		ver = `,"verification":{"mode":"` + mode + `"}`
	}
	c := e.createCue(key, fmt.Sprintf(`{"name":"v-%s-%d","schedule":{"type":"once","at":"2027-01-01T00:00:00Z"},"callback":{"url":"%s"}%s}`, mode, time.Now().UnixNano(), rcv.url("/"), ver))
	f, err := e.client.FireCueWithResponse(context.Background(), c.ID, nil, apiclient.FireRequest{}, auth(key))
	require.NoError(t, err)
	_, n := e.pump()
	require.Equal(t, 1, n)
	return f.JSON200.ID
}

func report(t *testing.T, e *testEnv, key, id, body string) (int, []byte) {
	t.Helper()
	resp, b := e.raw("POST", "/v1/executions/"+id+"/outcome", key, body, nil)
	return resp.StatusCode, b
}

func TestOutcomes(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()

			t.Run("EveryVerificationModeEndToEnd", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				cases := []struct {
					mode, body, state string
				}{
					{"", `{"success":true,"result":"ok"}`, "reported_success"},
					{"none", `{"success":false,"error":"boom"}`, "reported_failure"},
					{"require_external_id", `{"success":true,"external_id":"JIRA-1"}`, "verified_success"},
					{"require_external_id", `{"success":true}`, "verification_failed"},
					{"require_result_url", `{"success":true,"result_url":"https://example.com/r/1"}`, "verified_success"},
					{"require_artifacts", `{"success":true,"artifacts":[{"name":"a.txt"}]}`, "verified_success"},
					{"require_artifacts", `{"success":true,"artifacts":[]}`, "verification_failed"},
					{"manual", `{"success":true,"summary":"did it"}`, "verification_pending"},
				}
				for _, tc := range cases {
					id := deliveredExecution(t, e, key, rcv, tc.mode)
					code, body := report(t, e, key, id, tc.body)
					require.Equal(t, http.StatusOK, code, string(body))
					var r apiclient.OutcomeReportResponse
					require.NoError(t, json.Unmarshal(body, &r))
					require.Equal(t, tc.state, string(r.OutcomeState), tc.mode+" "+tc.body)
					require.True(t, r.OutcomeRecorded)
					ex := e.execution(key, id)
					require.Equal(t, apiclient.ExecutionStatusSuccess, ex.Status, "delivery status is separate from the outcome")
					require.Equal(t, tc.state, *ex.OutcomeState)
					require.NotNil(t, ex.Outcome)
					if tc.mode == "manual" {
						v, err := e.client.VerifyExecutionWithResponse(ctx, id, apiclient.VerifyExecutionRequest{}, auth(key))
						require.NoError(t, err)
						require.Equal(t, http.StatusOK, v.StatusCode(), string(v.Body))
						require.Equal(t, apiclient.OutcomeState("verified_success"), v.JSON200.OutcomeState)
						again, err := e.client.VerifyExecutionWithResponse(ctx, id, apiclient.VerifyExecutionRequest{}, auth(key))
						require.NoError(t, err)
						require.Equal(t, "invalid_state", errorCode(t, 409, again.Body))
						p, err := e.client.MarkVerificationPendingWithResponse(ctx, id, auth(key))
						require.NoError(t, err)
						require.Equal(t, apiclient.OutcomeState("verification_pending"), p.JSON200.OutcomeState)
						rej, err := e.client.VerifyExecutionWithResponse(ctx, id, apiclient.VerifyExecutionRequest{Valid: ptr(false), Reason: ptr("wrong file")}, auth(key))
						require.NoError(t, err)
						require.Equal(t, apiclient.OutcomeState("verification_failed"), rej.JSON200.OutcomeState)
						ex = e.execution(key, id)
						require.Equal(t, "did it | verification rejected: wrong file", *ex.Evidence.Summary)
					}
				}
				list, err := e.client.ListExecutionsWithResponse(ctx, &apiclient.ListExecutionsParams{OutcomeState: ptr("verification_failed")}, auth(key))
				require.NoError(t, err)
				require.Equal(t, 3, list.JSON200.Total)
				alerts, err := e.client.ListAlertsWithResponse(ctx, &apiclient.ListAlertsParams{AlertType: ptr("verification_failed")}, auth(key))
				require.NoError(t, err)
				require.Equal(t, 2, alerts.JSON200.Total, "reported-but-unverified outcomes alert; manual rejections do not")
			})

			t.Run("WriteOnceUnderConcurrency", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				id := deliveredExecution(t, e, key, rcv, "")
				var wg sync.WaitGroup
				codes := make(chan int, 50)
				for i := 0; i < 50; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						resp, _ := e.raw("POST", "/v1/executions/"+id+"/outcome", key, fmt.Sprintf(`{"success":true,"result":"r%d"}`, i), nil)
						codes <- resp.StatusCode
					}()
				}
				wg.Wait()
				close(codes)
				counts := map[int]int{}
				for c := range codes {
					counts[c]++
				}
				require.Equal(t, map[int]int{200: 1, 409: 49}, counts)
			})

			t.Run("ValidationAndErrors", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				id := deliveredExecution(t, e, key, rcv, "")
				for _, tc := range []struct {
					body   string
					status int
					code   string
				}{
					{`{"success":true,"result":"` + strings.Repeat("r", 2001) + `"}`, 422, "validation_error"},
					{`{"success":true,"external_id":"` + strings.Repeat("x", 501) + `"}`, 422, "validation_error"},
					{`{"success":true,"result":"a\u0000b"}`, 422, "validation_error"},
					{`{"success":true,"metadata":{"k":"a\u0000"}}`, 422, "validation_error"},
					{`{"success":true,"result_url":"ftp://x"}`, 422, "validation_error"},
					{`{"result":"missing success"}`, 422, "validation_error"},
					{`{"success":true,"metadata":{"k":"` + strings.Repeat("x", 10232) + `"}}`, 400, "metadata_too_large"},
				} {
					code, body := report(t, e, key, id, tc.body)
					require.Equal(t, tc.status, code, string(body))
					require.Equal(t, tc.code, errorCode(t, tc.status, body))
				}
				code, body := report(t, e, key, id, `{"success":true,"metadata":{"k":"`+strings.Repeat("x", 10231)+`"}}`)
				require.Equal(t, http.StatusOK, code, string(body), "10,240 bytes exactly is accepted")
				other := e.register()
				code, body = report(t, e, other, id, `{"success":true}`)
				require.Equal(t, "execution_not_found", errorCode(t, 404, body))
				code, body = report(t, e, key, "not-a-uuid", `{"success":true}`)
				require.Equal(t, http.StatusNotFound, code)
				ev, err := e.client.UpdateEvidenceWithResponse(ctx, id, apiclient.UpdateEvidenceRequest{ExternalID: ptr("X-9"), Summary: ptr(strings.Repeat("s", 600))}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, ev.StatusCode(), string(ev.Body))
				ex := e.execution(key, id)
				require.Equal(t, "X-9", *ex.Evidence.ExternalID)
				require.Len(t, *ex.Evidence.Summary, 500)
				id2 := deliveredExecution(t, e, key, rcv, "")
				np, err := e.client.UpdateEvidenceWithResponse(ctx, id2, apiclient.UpdateEvidenceRequest{ExternalID: ptr("x")}, auth(key))
				require.NoError(t, err)
				require.Equal(t, "no_outcome", errorCode(t, 409, np.Body))
				vp, err := e.client.MarkVerificationPendingWithResponse(ctx, id2, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusConflict, vp.StatusCode())
				require.Equal(t, "no_outcome", errorCode(t, 409, vp.Body))
			})

			t.Run("ConsecutiveFailuresAlertOnceSignedToTheReceiver", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				hooks := newReceiver(t, 500, 500, 500)
				alertRcv := newReceiver(t)
				key := e.register()
				url := alertRcv.url("/alerts")
				up, err := e.client.UpdateMeWithResponse(ctx, apiclient.UpdateMeRequest{AlertWebhookURL: &url}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, up.StatusCode(), string(up.Body))
				sec, err := e.client.GetAlertWebhookSecretWithResponse(ctx, auth(key))
				require.NoError(t, err)
				c := e.createCue(key, `{"name":"flaky","schedule":{"type":"recurring","cron":"* * * * *"},"callback":{"url":"`+hooks.url("/")+`"},"retry":{"max_attempts":1},"on_failure":{"email":false}}`)
				for i := 1; i <= 3; i++ {
					e.clock.Set(testNow.Add(time.Duration(i) * time.Minute))
					e.pump()
				}
				ex := e.executions(key, c.ID)
				require.Len(t, ex, 3)
				for _, x := range ex {
					require.Equal(t, apiclient.ExecutionStatusFailed, x.Status)
				}
				// The third run's escalation raises the alert in the
				// background, and the same pump's alert claim may already
				// see it: the alert goes out then or now, once either way.
				n, err := e.app.Dispatcher.RunOnce(ctx)
				require.NoError(t, err)
				require.LessOrEqual(t, n, 1)
				alerts, err := e.client.ListAlertsWithResponse(ctx, &apiclient.ListAlertsParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, 1, alerts.JSON200.Total, "three failed runs, one alert")
				require.Equal(t, apiclient.AlertType("consecutive_failures"), alerts.JSON200.Alerts[0].AlertType)
				reqs := alertRcv.requests()
				require.Len(t, reqs, 1)
				verifyLikeSDK(t, sec.JSON200.AlertWebhookSecret, reqs[0])
				require.Equal(t, "consecutive_failures", reqs[0].header.Get("X-CueAPI-Alert-Type"))
				require.Equal(t, alerts.JSON200.Alerts[0].ID, reqs[0].header.Get("X-CueAPI-Alert-Id"))
			})

			t.Run("AlertDeliveryRetriesWithBackoff", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				alertRcv := newReceiver(t, 503)
				key := e.register()
				url := alertRcv.url("/a")
				_, err := e.client.UpdateMeWithResponse(ctx, apiclient.UpdateMeRequest{AlertWebhookURL: &url}, auth(key))
				require.NoError(t, err)
				id := deliveredExecution(t, e, key, rcv, "require_external_id")
				code, _ := report(t, e, key, id, `{"success":true}`)
				require.Equal(t, http.StatusOK, code)
				n, err := e.app.Dispatcher.RunOnce(ctx)
				require.NoError(t, err)
				require.Equal(t, 1, n)
				n, err = e.app.Dispatcher.RunOnce(ctx)
				require.NoError(t, err)
				require.Equal(t, 0, n, "not before its backoff")
				e.clock.Advance(31 * time.Second)
				n, err = e.app.Dispatcher.RunOnce(ctx)
				require.NoError(t, err)
				require.Equal(t, 1, n)
				require.Len(t, alertRcv.requests(), 2)
			})

			t.Run("OutcomeDeadlineRaisesOneTimeoutAlert", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				c := e.createCue(key, `{"name":"deadline","schedule":{"type":"recurring","cron":"1 10 * * *"},"callback":{"url":"`+rcv.url("/")+`"},"outcome_deadline_seconds":60}`)
				e.clock.Set(testNow.Add(time.Minute))
				e.pump()
				require.NoError(t, e.app.Sweeper.SweepOnce(ctx))
				ex := e.executions(key, c.ID)[0]
				require.Equal(t, apiclient.ExecutionStatusSuccess, ex.Status)
				e.clock.Advance(61 * time.Second)
				require.NoError(t, e.app.Sweeper.SweepOnce(ctx))
				require.NoError(t, e.app.Sweeper.SweepOnce(ctx))
				ex = e.execution(key, ex.ID)
				require.Equal(t, apiclient.ExecutionStatusOutcomeTimeout, ex.Status)
				alerts, err := e.client.ListAlertsWithResponse(ctx, &apiclient.ListAlertsParams{AlertType: ptr("outcome_timeout")}, auth(key))
				require.NoError(t, err)
				require.Equal(t, 1, alerts.JSON200.Total)
				bad, err := e.client.ListAlertsWithResponse(ctx, &apiclient.ListAlertsParams{AlertType: ptr("nope")}, auth(key))
				require.NoError(t, err)
				require.Equal(t, "invalid_filter", errorCode(t, 400, bad.Body))
			})

			t.Run("UsageMatchesAKnownScenario", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				// 3 delivered webhook executions, 2 outcomes (1 success, 1 failure), 1 paused cue.
				var ids []string
				for i := 0; i < 3; i++ {
					ids = append(ids, deliveredExecution(t, e, key, rcv, ""))
				}
				report(t, e, key, ids[0], `{"success":true}`)
				report(t, e, key, ids[1], `{"success":false}`)
				c := e.createCue(key, `{"name":"paused","schedule":{"type":"recurring","cron":"0 0 * * *"},"callback":{"url":"`+rcv.url("/")+`"}}`)
				_, err := e.client.UpdateCueWithResponse(ctx, c.ID, apiclient.UpdateCueRequest{Status: ptr("paused")}, auth(key))
				require.NoError(t, err)
				u, err := e.client.GetUsageWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, u.StatusCode(), string(u.Body))
				us := u.JSON200
				require.Equal(t, "free", us.Plan)
				require.Equal(t, "2026-03-01", us.BillingPeriod.Start.String())
				require.Equal(t, "2026-03-31", us.BillingPeriod.End.String())
				require.Equal(t, 11, us.BillingPeriod.DaysRemaining)
				require.Equal(t, 4, us.Cues.Used, "three one-time cues still active plus one paused")
				require.Equal(t, 10, us.Cues.Limit)
				require.Equal(t, 6, us.Cues.Remaining)
				require.Equal(t, 40, us.Cues.PercentUsed)
				require.Equal(t, 3, us.Executions.Used)
				require.Equal(t, 300, us.Executions.Limit)
				require.Equal(t, 297, us.Executions.Remaining)
				require.Equal(t, 1, us.Executions.PercentUsed)
				require.Equal(t, "1.0", us.Executions.Percentage.String())
				require.Equal(t, 5, us.Executions.ProjectedMonthEnd, "3 / 20 days × 31")
				require.Equal(t, apiclient.UsageOutcomes{Reported: 2, Succeeded: 1, Failed: 1}, us.Outcomes)
				require.Equal(t, 60, us.RateLimit.RequestsPerMinute)
				require.GreaterOrEqual(t, us.RateLimit.CurrentUsage, 1)
				me, err := e.client.GetMeWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, 3, me.JSON200.ExecutionsThisMonth)
			})

			t.Run("MonthlyLimitBlocksAfterGrace", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				rcv := newReceiver(t)
				key := e.register()
				u, err := e.app.Accounts.Authenticate(ctx, "Bearer "+key)
				require.NoError(t, err)
				_, err = e.app.store.UserUpdate(ctx, &core.UserUpdateParams{ID: u.User.ID, Fn: func(x *core.User) error { x.MonthlyExecutionLimit = 1; return nil }})
				require.NoError(t, err)
				c := e.createCue(key, `{"name":"lim","schedule":{"type":"recurring","cron":"* * * * *"},"callback":{"url":"`+rcv.url("/")+`"}}`)
				e.clock.Set(testNow.Add(time.Minute))
				e.pump() // 1st: counted, reaches the limit
				e.clock.Set(testNow.Add(2 * time.Minute))
				e.pump() // 2nd: over the limit, inside the grace period: delivered
				e.clock.Set(testNow.Add(25 * time.Hour))
				e.pump() // after the grace period: blocked
				ex := e.executions(key, c.ID)
				require.Equal(t, apiclient.ExecutionStatusFailed, ex[0].Status)
				require.Equal(t, "Monthly execution limit reached", *ex[0].ErrorMessage)
				require.Equal(t, 0, ex[0].Attempts, "nothing was sent")
				require.Len(t, rcv.requests(), 2)
			})
		})
	}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, backendSQLite, nil)
	key := e.register()
	resp, body := e.raw("POST", "/v1/echo/short", "", `{}`, nil)
	require.Equal(t, "invalid_token", errorCode(t, resp.StatusCode, body))
	resp, body = e.raw("GET", "/v1/echo/qs-0123456789abcdef", key, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"status":"waiting"}`, string(body))
	resp, body = e.raw("POST", "/v1/echo/qs-0123456789abcdef", "", `{"hello":"é"}`, map[string]string{"Authorization": "Bearer secret-x", "X-CueAPI-Attempt": "1"})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	resp, body = e.raw("GET", "/v1/echo/qs-0123456789abcdef", key, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got map[string]any
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, "delivered", got["status"])
	require.Equal(t, map[string]any{"hello": "é"}, got["payload"])
	hdrs := got["headers"].(map[string]any)
	require.NotContains(t, hdrs, "authorization")
	require.Equal(t, "1", hdrs["x-cueapi-attempt"])
	resp, body = e.raw("POST", "/v1/echo/qs-0123456789abcdef", "", `not json`, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "invalid_json", errorCode(t, 400, body))
	e.clock.Advance(301 * time.Second)
	_, body = e.raw("GET", "/v1/echo/qs-0123456789abcdef", key, "", nil)
	require.JSONEq(t, `{"status":"waiting"}`, string(body))
}
