package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
	"github.com/cueapi/cueapi/core"
)

// workerExecution creates a worker cue and fires it; returns (cue, execution).
func workerExecution(t *testing.T, e *testEnv, key, name, payload string) (string, string) {
	t.Helper()
	if payload == "" {
		payload = `{}`
	}
	c := e.createCue(key, fmt.Sprintf(`{"name":%q,"transport":"worker","schedule":{"type":"once","at":"2027-01-01T00:00:00Z"},"payload":%s,"retry":{"max_attempts":2}}`, name, payload))
	f, err := e.client.FireCueWithResponse(context.Background(), c.ID, nil, apiclient.FireRequest{}, auth(key))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, f.StatusCode(), string(f.Body))
	return c.ID, f.JSON200.ID
}

func TestWorkers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			t.Run("HeartbeatListDelete", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key, other := e.register(), e.register()
				h, err := e.client.WorkerHeartbeatWithResponse(ctx, apiclient.WorkerHeartbeatRequest{WorkerID: "w1", Handlers: &[]string{"nightly"}}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, h.StatusCode(), string(h.Body))
				require.True(t, h.JSON200.Acknowledged)
				e.clock.Advance(200 * time.Second)
				_, err = e.client.WorkerHeartbeatWithResponse(ctx, apiclient.WorkerHeartbeatRequest{WorkerID: "w2"}, auth(key))
				require.NoError(t, err)
				l, err := e.client.ListWorkersWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Len(t, l.JSON200.Workers, 2)
				require.Equal(t, "w2", l.JSON200.Workers[0].WorkerID)
				require.Equal(t, apiclient.HeartbeatStatus("active"), l.JSON200.Workers[0].HeartbeatStatus)
				require.Equal(t, apiclient.HeartbeatStatus("stale"), l.JSON200.Workers[1].HeartbeatStatus)
				require.Equal(t, 200, l.JSON200.Workers[1].SecondsSinceHeartbeat)
				require.Equal(t, []string{"nightly"}, *l.JSON200.Workers[1].Handlers)
				d, err := e.client.DeleteWorkerWithResponse(ctx, "w1", auth(other))
				require.NoError(t, err)
				require.Equal(t, "worker_not_found", errorCode(t, 404, d.Body))
				d, err = e.client.DeleteWorkerWithResponse(ctx, "w1", auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusNoContent, d.StatusCode())
				// A worker seen recently silences the create-time warning.
				c, err := e.client.CreateCueWithResponse(ctx, nil, apiclient.CreateCueRequest{Name: "pull", Transport: ptr(apiclient.TransportWorker), Schedule: apiclient.ScheduleInput{Type: "recurring", Cron: ptr("0 * * * *")}}, auth(key))
				require.NoError(t, err)
				require.Nil(t, c.JSON201.Warning)
			})

			t.Run("ConcurrentClaimsHaveExactlyOneWinner", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				_, id := workerExecution(t, e, key, "race", "")
				var wg sync.WaitGroup
				results := make(chan string, 40)
				for i := 0; i < 40; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						path := "/v1/executions/claim"
						if i%2 == 1 {
							path = "/v1/executions/" + id + "/claim"
						}
						resp, body := e.raw("POST", path, key, fmt.Sprintf(`{"worker_id":"w%d"}`, i), nil)
						results <- fmt.Sprintf("%d %s", resp.StatusCode, body)
					}()
				}
				wg.Wait()
				close(results)
				won := 0
				for r := range results {
					switch {
					case r[:3] == "200":
						won++
						require.Contains(t, r, `"claimed":true`)
						require.Contains(t, r, `"lease_seconds":900`)
					default:
						require.Equal(t, "409", r[:3], r)
						require.Contains(t, r, "claim_failed")
					}
				}
				require.Equal(t, 1, won)
			})

			t.Run("LeasesAreRealAndExpire", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				_, id := workerExecution(t, e, key, "lease", `{"task":"build"}`)
				_, idB := workerExecution(t, e, key, "lease-b", `{"task":"other"}`)

				cl, err := e.client.ListClaimableExecutionsWithResponse(ctx, &apiclient.ListClaimableExecutionsParams{Task: ptr("build")}, auth(key))
				require.NoError(t, err)
				require.Len(t, cl.JSON200.Executions, 1)
				require.Equal(t, id, cl.JSON200.Executions[0].ExecutionID)
				require.Equal(t, "build", *cl.JSON200.Executions[0].Task)
				require.Equal(t, 0, cl.JSON200.Executions[0].Attempt)

				for _, x := range []string{id, idB} {
					c, err := e.client.ClaimExecutionWithResponse(ctx, x, apiclient.ClaimRequest{WorkerID: "w1"}, auth(key))
					require.NoError(t, err)
					require.Equal(t, http.StatusOK, c.StatusCode(), string(c.Body))
				}
				hb, err := e.client.HeartbeatExecutionWithResponse(ctx, id, &apiclient.HeartbeatExecutionParams{XWorkerID: ptr(apiclient.XWorkerID("w2"))}, auth(key))
				require.NoError(t, err)
				require.Equal(t, "not_execution_owner", errorCode(t, 403, hb.Body))

				// A renews its lease just before it ends; B does not.
				e.clock.Advance(800 * time.Second)
				hb, err = e.client.HeartbeatExecutionWithResponse(ctx, id, &apiclient.HeartbeatExecutionParams{XWorkerID: ptr(apiclient.XWorkerID("w1"))}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, hb.StatusCode(), string(hb.Body))
				require.Equal(t, testNow.Add(1700*time.Second).Format("2006-01-02T15:04:05")+"+00:00", hb.JSON200.LeaseExtendedUntil)
				e.clock.Advance(200 * time.Second)
				require.NoError(t, e.app.Sweeper.SweepOnce(ctx))

				a := e.execution(key, id)
				require.Equal(t, apiclient.ExecutionStatusDelivering, a.Status, "a heartbeating claim is not taken away")
				b := e.execution(key, idB)
				require.Equal(t, apiclient.ExecutionStatusPending, b.Status, "an expired lease returns the execution to the pool")
				require.Equal(t, 1, b.Attempts, "with the attempt counted")
				require.Nil(t, b.ClaimedByWorker)
				c, err := e.client.ClaimNextExecutionWithResponse(ctx, apiclient.ClaimRequest{WorkerID: "w3"}, auth(key))
				require.NoError(t, err)
				require.Equal(t, idB, c.JSON200.ExecutionID)
				require.Equal(t, 2, e.execution(key, idB).Attempts)

				// Out of attempts (max 2): the next expiry fails it for good.
				e.clock.Advance(901 * time.Second)
				require.NoError(t, e.app.Sweeper.SweepOnce(ctx))
				b = e.execution(key, idB)
				require.Equal(t, apiclient.ExecutionStatusFailed, b.Status)
			})

			t.Run("WorkerOutcomeCompletesTheExecution", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				cueID, id := workerExecution(t, e, key, "done", `{"task":"t"}`)
				_, err := e.client.ClaimExecutionWithResponse(ctx, id, apiclient.ClaimRequest{WorkerID: "w"}, auth(key))
				require.NoError(t, err)
				code, body := report(t, e, key, id, `{"success":true,"result":"42","external_id":"run-7"}`)
				require.Equal(t, http.StatusOK, code, string(body))
				ex := e.execution(key, id)
				require.Equal(t, apiclient.ExecutionStatusSuccess, ex.Status)
				require.NotNil(t, ex.DeliveredAt)
				require.Equal(t, "42", *ex.Outcome.Result)
				require.Equal(t, "run-7", *ex.Evidence.ExternalID)
				got, err := e.client.GetCueWithResponse(ctx, cueID, &apiclient.GetCueParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, 1, got.JSON200.RunCount)
				hb, err := e.client.HeartbeatExecutionWithResponse(ctx, id, &apiclient.HeartbeatExecutionParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, "execution_not_claiming", errorCode(t, 409, hb.Body))
				u, err := e.client.GetUsageWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, 1, u.JSON200.Executions.Used, "worker executions count when claimed")
			})

			t.Run("UnclaimedBecomesMissedAndEscalates", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be)
				alarm := newReceiver(t)
				key := e.register()
				c := e.createCue(key, `{"name":"nobody","transport":"worker","schedule":{"type":"once","at":"2026-03-20T10:00:30Z"},"on_failure":{"email":false,"webhook":"`+alarm.url("/f")+`"}}`)
				e.clock.Set(testNow.Add(30 * time.Second))
				e.pump()
				e.clock.Advance(899 * time.Second)
				require.NoError(t, e.app.Sweeper.SweepOnce(ctx))
				require.Equal(t, apiclient.ExecutionStatusPending, e.executions(key, c.ID)[0].Status)
				e.clock.Advance(2 * time.Second)
				require.NoError(t, e.app.Sweeper.SweepOnce(ctx))
				e.app.Dispatcher.Wait()
				ex := e.executions(key, c.ID)[0]
				require.Equal(t, apiclient.ExecutionStatusMissed, ex.Status)
				require.Equal(t, "No worker claimed this execution within timeout window", *ex.ErrorMessage)
				got, err := e.client.GetCueWithResponse(ctx, c.ID, &apiclient.GetCueParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, apiclient.CueStatusFailed, got.JSON200.Status)
				require.Len(t, alarm.requests(), 1)
				var ev map[string]any
				require.NoError(t, json.Unmarshal(alarm.requests()[0].body, &ev))
				require.Equal(t, "cue.failed", ev["event"])
			})

			t.Run("ClaimsAreTenantScoped", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				a, b := e.register(), e.register()
				_, id := workerExecution(t, e, a, "mine", "")
				for _, path := range []string{"/v1/executions/" + id + "/claim", "/v1/executions/claim", "/v1/executions/not-a-uuid/claim"} {
					resp, body := e.raw("POST", path, b, `{"worker_id":"x"}`, nil)
					require.Equal(t, http.StatusConflict, resp.StatusCode, path)
					require.Equal(t, "claim_failed", errorCode(t, 409, body))
				}
				resp, body := e.raw("POST", "/v1/executions/"+id+"/heartbeat", b, `{}`, nil)
				require.Equal(t, http.StatusNotFound, resp.StatusCode)
				require.Equal(t, "execution_not_found", errorCode(t, 404, body))
				cl, err := e.client.ListClaimableExecutionsWithResponse(ctx, &apiclient.ListClaimableExecutionsParams{}, auth(b))
				require.NoError(t, err)
				require.Empty(t, cl.JSON200.Executions)
				resp, _ = e.raw("POST", "/v1/executions/"+id+"/claim", a, `{"worker_id":""}`, nil)
				require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
			})
		})
	}
}

// TestHeartbeatRenewsOnlyWorkerLeases: an execution heartbeat on a webhook
// delivery in progress must not stretch the dispatcher's lease (review
// finding).
func TestHeartbeatRenewsOnlyWorkerLeases(t *testing.T) {
	t.Parallel()
	e := engineEnv(t, backendSQLite)
	rcv := newReceiver(t)
	key := e.register()
	c := e.createCue(key, `{"name":"hook","schedule":{"type":"once","at":"2027-01-01T00:00:00Z"},"callback":{"url":"`+rcv.url("/")+`"}}`)
	f, err := e.client.FireCueWithResponse(context.Background(), c.ID, nil, apiclient.FireRequest{}, auth(key))
	require.NoError(t, err)
	claimed, err := e.app.store.ExecutionClaimDeliveries(context.Background(), &core.ExecutionClaimDeliveriesParams{Now: e.clock.Now(), Lease: time.Minute, Limit: 1})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	hb, err := e.client.HeartbeatExecutionWithResponse(context.Background(), f.JSON200.ID, &apiclient.HeartbeatExecutionParams{}, auth(key))
	require.NoError(t, err)
	require.Equal(t, "execution_not_claiming", errorCode(t, 409, hb.Body))
}
