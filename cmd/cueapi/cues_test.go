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

	"github.com/cueapi/cueapi/api/apiclient"
)

func ptr[T any](v T) *T { return &v }

func createBody(name string) apiclient.CreateCueRequest {
	return apiclient.CreateCueRequest{
		Name:     name,
		Schedule: apiclient.ScheduleInput{Type: "recurring", Cron: ptr("0 9 * * *"), Timezone: ptr("America/Los_Angeles")},
		Callback: &apiclient.CallbackInput{URL: ptr("https://hooks.example.com")},
		Payload:  ptr(json.RawMessage(`{"task":"daily_brief"}`)),
	}
}

func TestCues(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()

			t.Run("CreateRecurringMatchesTheWireShape", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				resp, err := e.client.CreateCueWithResponse(ctx, nil, createBody("morning-brief"), auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
				c := resp.JSON201
				require.Regexp(t, `^cue_[a-z0-9]{12}$`, c.ID)
				require.Equal(t, apiclient.CueStatusActive, c.Status)
				require.Equal(t, apiclient.TransportWebhook, c.Transport)
				require.Equal(t, "https://hooks.example.com/", *c.Callback.URL)
				require.Equal(t, apiclient.HTTPMethodPOST, c.Callback.Method)
				require.Equal(t, map[string]string{}, c.Callback.Headers)
				require.Equal(t, time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC), c.NextRun.UTC())
				require.Equal(t, 3, c.Retry.MaxAttempts)
				require.Equal(t, []int{1, 5, 15}, c.Retry.BackoffMinutes)
				require.Equal(t, &apiclient.OnFailure{Email: true}, c.OnFailure)
				require.Nil(t, c.Verification)
				require.Nil(t, c.Warning)
				require.Nil(t, c.LastRun)
				require.JSONEq(t, `{"task":"daily_brief"}`, string(c.Payload))
				require.Equal(t, apiclient.CatchUpPolicyRunOnceIfMissed, c.CatchUp)

				// Raw shape: always-present nulls, no "at" for recurring cues.
				_, raw := e.raw("GET", "/v1/cues/"+c.ID, key, "", nil)
				var m map[string]any
				require.NoError(t, json.Unmarshal(raw, &m))
				for _, k := range []string{"description", "last_run", "verification", "warning", "executions", "execution_total"} {
					require.Contains(t, m, k)
				}
				require.NotContains(t, m["schedule"], "at")
				require.Equal(t, float64(10), m["execution_limit"])
			})

			t.Run("CreateOnceRendersAtInPythonForm", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				body := apiclient.CreateCueRequest{
					Name:         "one-shot",
					Schedule:     apiclient.ScheduleInput{Type: "once", At: ptr("2026-03-21T08:30:00")},
					Callback:     &apiclient.CallbackInput{URL: ptr("https://hooks.example.com/run"), Method: ptr(apiclient.HTTPMethodPUT), Headers: &map[string]string{"X-Team": "ops"}},
					Verification: &apiclient.VerificationInput{},
				}
				resp, err := e.client.CreateCueWithResponse(ctx, nil, body, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
				require.Equal(t, "2026-03-21T08:30:00+00:00", *resp.JSON201.Schedule.At)
				require.Equal(t, "UTC", resp.JSON201.Schedule.Timezone)
				require.Nil(t, resp.JSON201.Schedule.Cron)
				require.Equal(t, time.Date(2026, 3, 21, 8, 30, 0, 0, time.UTC), resp.JSON201.NextRun.UTC())
				require.Equal(t, apiclient.VerificationModeNone, resp.JSON201.Verification.Mode)
				require.Equal(t, map[string]string{"X-Team": "ops"}, resp.JSON201.Callback.Headers)
			})

			t.Run("WorkerCueWithoutWorkersWarns", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				resp, err := e.client.CreateCueWithResponse(ctx, nil, apiclient.CreateCueRequest{
					Name: "pull", Transport: ptr(apiclient.TransportWorker),
					Schedule: apiclient.ScheduleInput{Type: "recurring", Cron: ptr("*/5 * * * *")},
				}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
				require.Nil(t, resp.JSON201.Callback.URL)
				require.Equal(t, "No active workers found. Start a cueapi-worker to process this cue.", *resp.JSON201.Warning)
				got, err := e.client.GetCueWithResponse(ctx, resp.JSON201.ID, &apiclient.GetCueParams{}, auth(key))
				require.NoError(t, err)
				require.Nil(t, got.JSON200.Warning)
			})

			t.Run("PayloadKeepsNumbersAndUnicode", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				b := createBody("payload")
				b.Payload = ptr(json.RawMessage(`{"big": 123456789012345678901234567890, "f": 1.5, "u": "é😀", "nested": {"a": [1, {"b": null}]}}`))
				resp, err := e.client.CreateCueWithResponse(ctx, nil, b, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
				require.Contains(t, string(resp.JSON201.Payload), "123456789012345678901234567890")
				require.JSONEq(t, `{"big": 123456789012345678901234567890, "f": 1.5, "u": "é😀", "nested": {"a": [1, {"b": null}]}}`, string(resp.JSON201.Payload))
			})

			t.Run("ListPaginatesNewestFirstAndFilters", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, func(c *config) { c.DefaultActiveCueLimit = 100 })
				key := e.register()
				var ids []string
				for i := 0; i < 7; i++ {
					e.clock.Advance(time.Second)
					r, err := e.client.CreateCueWithResponse(ctx, nil, createBody(fmt.Sprintf("c%d", i)), auth(key))
					require.NoError(t, err)
					require.Equal(t, http.StatusCreated, r.StatusCode())
					ids = append(ids, r.JSON201.ID)
				}
				_, err := e.client.UpdateCueWithResponse(ctx, ids[0], apiclient.UpdateCueRequest{Status: ptr("paused")}, auth(key))
				require.NoError(t, err)

				var seen []string
				for off := 0; off < 7; off += 3 {
					l, err := e.client.ListCuesWithResponse(ctx, &apiclient.ListCuesParams{Limit: ptr(3), Offset: ptr(off)}, auth(key))
					require.NoError(t, err)
					require.Equal(t, 7, l.JSON200.Total)
					require.Equal(t, 3, l.JSON200.Limit)
					require.Equal(t, off, l.JSON200.Offset)
					for _, c := range l.JSON200.Cues {
						seen = append(seen, c.ID)
					}
				}
				want := append([]string{}, ids...)
				for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
					want[i], want[j] = want[j], want[i]
				}
				require.Equal(t, want, seen)

				p, err := e.client.ListCuesWithResponse(ctx, &apiclient.ListCuesParams{Status: ptr("paused")}, auth(key))
				require.NoError(t, err)
				require.Equal(t, 1, p.JSON200.Total)
				require.Equal(t, ids[0], p.JSON200.Cues[0].ID)
				require.Equal(t, 50, p.JSON200.Limit)

				past, err := e.client.ListCuesWithResponse(ctx, &apiclient.ListCuesParams{Offset: ptr(100)}, auth(key))
				require.NoError(t, err)
				require.Empty(t, past.JSON200.Cues)
				require.Equal(t, 7, past.JSON200.Total)

				for _, q := range []string{"limit=0", "limit=101", "offset=-1", "limit=abc"} {
					resp, body := e.raw("GET", "/v1/cues?"+q, key, "", nil)
					require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, q)
					require.Equal(t, "validation_error", errorCode(t, 422, body), q)
					// The detail names the parameter (out-of-range values used to be reported as "body").
					var env struct {
						Error struct {
							Details []struct{ Field string } `json:"details"`
						} `json:"error"`
					}
					require.NoError(t, json.Unmarshal(body, &env), q)
					require.NotEmpty(t, env.Error.Details, q)
					require.Equal(t, "query."+strings.SplitN(q, "=", 2)[0], env.Error.Details[0].Field, q)
				}
			})

			t.Run("PatchPausesResumesAndReschedules", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c, err := e.client.CreateCueWithResponse(ctx, nil, createBody("patch-me"), auth(key))
				require.NoError(t, err)
				id := c.JSON201.ID

				p, err := e.client.UpdateCueWithResponse(ctx, id, apiclient.UpdateCueRequest{Status: ptr("paused")}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, p.StatusCode(), string(p.Body))
				require.Equal(t, apiclient.CueStatusPaused, p.JSON200.Status)
				require.Nil(t, p.JSON200.NextRun)

				e.clock.Advance(7 * time.Hour) // 17:00Z, past today's 09:00 PDT run
				r, err := e.client.UpdateCueWithResponse(ctx, id, apiclient.UpdateCueRequest{Status: ptr("active")}, auth(key))
				require.NoError(t, err)
				require.Equal(t, time.Date(2026, 3, 21, 16, 0, 0, 0, time.UTC), r.JSON200.NextRun.UTC())

				// A schedule PATCH without a timezone resets it to UTC (reference).
				s, err := e.client.UpdateCueWithResponse(ctx, id, apiclient.UpdateCueRequest{Schedule: &apiclient.ScheduleInput{Type: "recurring", Cron: ptr("30 18 * * *")}}, auth(key))
				require.NoError(t, err)
				require.Equal(t, "UTC", s.JSON200.Schedule.Timezone)
				require.Equal(t, time.Date(2026, 3, 20, 18, 30, 0, 0, time.UTC), s.JSON200.NextRun.UTC())

				// Callback PATCH: method and headers are always replaced.
				cb, err := e.client.UpdateCueWithResponse(ctx, id, apiclient.UpdateCueRequest{Callback: &apiclient.CallbackInput{Method: ptr(apiclient.HTTPMethodGET)}}, auth(key))
				require.NoError(t, err)
				require.Equal(t, apiclient.HTTPMethodGET, cb.JSON200.Callback.Method)
				require.Equal(t, "https://hooks.example.com/", *cb.JSON200.Callback.URL)

				// Empty body only bumps updated_at.
				e.clock.Advance(time.Minute)
				empty, err := e.client.UpdateCueWithResponse(ctx, id, apiclient.UpdateCueRequest{}, auth(key))
				require.NoError(t, err)
				require.True(t, empty.JSON200.UpdatedAt.After(cb.JSON200.UpdatedAt))
				require.Equal(t, cb.JSON200.NextRun, empty.JSON200.NextRun)
			})

			t.Run("PatchRejectsBadInputWithoutSaving", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c, err := e.client.CreateCueWithResponse(ctx, nil, createBody("keep"), auth(key))
				require.NoError(t, err)
				id := c.JSON201.ID
				_, err = e.client.CreateCueWithResponse(ctx, nil, createBody("taken"), auth(key))
				require.NoError(t, err)

				cases := []struct {
					name, body string
					status     int
					code       string
				}{
					{"UnknownKey", `{"transport":"worker"}`, 422, "validation_error"},
					{"BadStatus", `{"status":"completed"}`, 422, "validation_error"},
					{"DuplicateName", `{"name":"taken"}`, 409, "duplicate_cue_name"},
					{"BadCron", `{"payload":{"x":1},"schedule":{"type":"recurring","cron":"61 * * * *"}}`, 400, "invalid_schedule"},
					{"BadZone", `{"schedule":{"type":"recurring","cron":"* * * * *","timezone":"Mars/Base"}}`, 422, "invalid_timezone"},
					{"BlockedURL", `{"callback":{"url":"https://169.254.169.254/"}}`, 400, "invalid_callback_url"},
					{"NulPayload", `{"payload":{"a":"x\u0000y"}}`, 400, "invalid_payload"},
					{"BadMethod", `{"callback":{"method":"DELETE"}}`, 422, "validation_error"},
				}
				for _, tc := range cases {
					resp, body := e.raw("PATCH", "/v1/cues/"+id, key, tc.body, nil)
					require.Equal(t, tc.status, resp.StatusCode, tc.name+": "+string(body))
					require.Equal(t, tc.code, errorCode(t, tc.status, body), tc.name)
				}
				got, err := e.client.GetCueWithResponse(ctx, id, &apiclient.GetCueParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, "keep", got.JSON200.Name)
				require.JSONEq(t, `{"task":"daily_brief"}`, string(got.JSON200.Payload))
				require.Equal(t, "0 9 * * *", *got.JSON200.Schedule.Cron)
				require.Equal(t, "https://hooks.example.com/", *got.JSON200.Callback.URL)
			})

			t.Run("CreateRejectsBadInputInOrder", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, func(c *config) { c.DefaultActiveCueLimit = 2 })
				key := e.register()
				base := `"callback":{"url":"https://hooks.example.com"}`
				cases := []struct {
					name, body string
					status     int
					code       string
				}{
					{"MissingSchedule", `{"name":"a",` + base + `}`, 422, "validation_error"},
					{"MissingScheduleType", `{"name":"a","schedule":{"cron":"* * * * *"},` + base + `}`, 422, "validation_error"},
					{"UnknownScheduleType", `{"name":"a","schedule":{"type":"weekly"},` + base + `}`, 400, "invalid_schedule"},
					{"WebhookWithoutURL", `{"name":"a","schedule":{"type":"recurring","cron":"* * * * *"}}`, 422, "validation_error"},
					{"TransportInsideCallback", `{"name":"a","schedule":{"type":"recurring","cron":"* * * * *"},"callback":{"url":"https://hooks.example.com","transport":"worker"}}`, 422, "validation_error"},
					{"CronMissing", `{"name":"a","schedule":{"type":"recurring"},` + base + `}`, 400, "invalid_schedule"},
					{"CronInvalid", `{"name":"a","schedule":{"type":"recurring","cron":"every day"},` + base + `}`, 400, "invalid_schedule"},
					{"CronNeverMatches", `{"name":"a","schedule":{"type":"recurring","cron":"0 0 31 2 *"},` + base + `}`, 400, "invalid_schedule"},
					{"CronTooLong", `{"name":"a","schedule":{"type":"recurring","cron":"` + strings.Repeat("1,", 60) + `1 * * * *"},` + base + `}`, 400, "invalid_schedule"},
					{"ZoneUnknown", `{"name":"a","schedule":{"type":"recurring","cron":"* * * * *","timezone":"+05:00"},` + base + `}`, 422, "invalid_timezone"},
					{"AtMissing", `{"name":"a","schedule":{"type":"once"},` + base + `}`, 400, "invalid_schedule"},
					{"AtPast", `{"name":"a","schedule":{"type":"once","at":"2020-01-01T00:00:00Z"},` + base + `}`, 400, "invalid_schedule"},
					{"AtGarbage", `{"name":"a","schedule":{"type":"once","at":"tomorrow"},` + base + `}`, 422, "validation_error"},
					{"NameTooLong", `{"name":"` + strings.Repeat("n", 256) + `","schedule":{"type":"recurring","cron":"* * * * *"},` + base + `}`, 422, "validation_error"},
					{"NameWrongType", `{"name":5,"schedule":{"type":"recurring","cron":"* * * * *"},` + base + `}`, 422, "validation_error"},
					{"PayloadArray", `{"name":"a","payload":[1],"schedule":{"type":"recurring","cron":"* * * * *"},` + base + `}`, 422, "validation_error"},
					{"PayloadNul", `{"name":"a","payload":{"k\u0000":1},"schedule":{"type":"recurring","cron":"* * * * *"},` + base + `}`, 400, "invalid_payload"},
					{"RetryTooMany", `{"name":"a","retry":{"max_attempts":11},"schedule":{"type":"recurring","cron":"* * * * *"},` + base + `}`, 422, "validation_error"},
					{"MethodLowercase", `{"name":"a","schedule":{"type":"recurring","cron":"* * * * *"},"callback":{"url":"https://hooks.example.com","method":"post"}}`, 422, "validation_error"},
					{"HeaderReserved", `{"name":"a","schedule":{"type":"recurring","cron":"* * * * *"},"callback":{"url":"https://hooks.example.com","headers":{"X-CueAPI-Signature":"v1=00"}}}`, 422, "validation_error"},
					{"HeaderCRLF", `{"name":"a","schedule":{"type":"recurring","cron":"* * * * *"},"callback":{"url":"https://hooks.example.com","headers":{"X-A":"a\r\nB: c"}}}`, 422, "validation_error"},
					{"URLNotHTTP", `{"name":"a","schedule":{"type":"recurring","cron":"* * * * *"},"callback":{"url":"ftp://hooks.example.com"}}`, 422, "validation_error"},
					{"URLLoopback", `{"name":"a","schedule":{"type":"recurring","cron":"* * * * *"},"callback":{"url":"http://localhost:8080/"}}`, 400, "invalid_callback_url"},
					{"URLUnresolvable", `{"name":"a","schedule":{"type":"recurring","cron":"* * * * *"},"callback":{"url":"https://nx.example.net/"}}`, 400, "invalid_callback_url"},
					{"OnFailureWebhookBlocked", `{"name":"a","schedule":{"type":"recurring","cron":"* * * * *"},"on_failure":{"webhook":"https://10.0.0.1/"},` + base + `}`, 400, "invalid_callback_url"},
					{"VerificationUnknown", `{"name":"a","verification":{"mode":"evidence_required"},"schedule":{"type":"recurring","cron":"* * * * *"},` + base + `}`, 422, "validation_error"},
				}
				for _, tc := range cases {
					resp, body := e.raw("POST", "/v1/cues", key, tc.body, nil)
					require.Equal(t, tc.status, resp.StatusCode, tc.name+": "+string(body))
					require.Equal(t, tc.code, errorCode(t, tc.status, body), tc.name)
				}
				// Nothing above was stored.
				l, err := e.client.ListCuesWithResponse(ctx, &apiclient.ListCuesParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, 0, l.JSON200.Total)

				// Uniqueness first, then the plan limit.
				for _, n := range []string{"one", "two"} {
					r, err := e.client.CreateCueWithResponse(ctx, nil, createBody(n), auth(key))
					require.NoError(t, err)
					require.Equal(t, http.StatusCreated, r.StatusCode())
				}
				dup, err := e.client.CreateCueWithResponse(ctx, nil, createBody("one"), auth(key))
				require.NoError(t, err)
				require.Equal(t, "duplicate_cue_name", errorCode(t, 409, dup.Body))
				require.Contains(t, string(dup.Body), "A cue named 'one' already exists")
				lim, err := e.client.CreateCueWithResponse(ctx, nil, createBody("three"), auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusForbidden, lim.StatusCode())
				require.Equal(t, "cue_limit_exceeded", errorCode(t, 403, lim.Body))
				require.Contains(t, string(lim.Body), "Active cue limit of 2 reached")
			})

			t.Run("OtherTenantsCuesAreNotFound", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				owner, intruder := e.register(), e.register()
				c, err := e.client.CreateCueWithResponse(ctx, nil, createBody("private"), auth(owner))
				require.NoError(t, err)
				id := c.JSON201.ID
				for _, m := range []string{"GET", "DELETE"} {
					resp, body := e.raw(m, "/v1/cues/"+id, intruder, "", nil)
					require.Equal(t, http.StatusNotFound, resp.StatusCode)
					require.Equal(t, "cue_not_found", errorCode(t, 404, body))
				}
				resp, body := e.raw("PATCH", "/v1/cues/"+id, intruder, `{"name":"mine"}`, nil)
				require.Equal(t, http.StatusNotFound, resp.StatusCode)
				require.Equal(t, "cue_not_found", errorCode(t, 404, body))
				l, err := e.client.ListCuesWithResponse(ctx, &apiclient.ListCuesParams{}, auth(intruder))
				require.NoError(t, err)
				require.Equal(t, 0, l.JSON200.Total)
				// Same name is fine for another tenant.
				o, err := e.client.CreateCueWithResponse(ctx, nil, createBody("private"), auth(intruder))
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, o.StatusCode())
			})

			t.Run("DeleteRemovesTheCue", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c, err := e.client.CreateCueWithResponse(ctx, nil, createBody("bye"), auth(key))
				require.NoError(t, err)
				d, err := e.client.DeleteCueWithResponse(ctx, c.JSON201.ID, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusNoContent, d.StatusCode())
				require.Empty(t, d.Body)
				again, err := e.client.DeleteCueWithResponse(ctx, c.JSON201.ID, auth(key))
				require.NoError(t, err)
				require.Equal(t, "cue_not_found", errorCode(t, 404, again.Body))
			})

			t.Run("CueSurvivesRestart", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				c, err := e.client.CreateCueWithResponse(ctx, nil, createBody("durable"), auth(key))
				require.NoError(t, err)
				e.restart()
				got, err := e.client.GetCueWithResponse(ctx, c.JSON201.ID, &apiclient.GetCueParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, got.StatusCode())
				require.Equal(t, "durable", got.JSON200.Name)
			})
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, backendSQLite, nil)
	key := e.register()

	t.Run("MalformedJSONIs400BeforeAuth", func(t *testing.T) {
		resp, body := e.raw("POST", "/v1/cues", "", `{"name": `, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "invalid_json", errorCode(t, 400, body))
	})
	t.Run("UnknownPathIs404", func(t *testing.T) {
		resp, body := e.raw("GET", "/v1/nope", key, "", nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		require.Equal(t, "http_error", errorCode(t, 404, body))
		require.Contains(t, string(body), `"Not Found"`)
	})
	t.Run("WrongMethodIs405", func(t *testing.T) {
		resp, body := e.raw("PUT", "/v1/cues/cue_doesnotexist", key, `{}`, nil)
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		require.Equal(t, "http_error", errorCode(t, 405, body))
	})
	t.Run("OversizeBodyIs413", func(t *testing.T) {
		big := `{"name":"x","payload":{"a":"` + strings.Repeat("a", 1<<20) + `"}}`
		resp, body := e.raw("POST", "/v1/cues", key, big, nil)
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		require.Equal(t, "request_too_large", errorCode(t, 413, body))
	})
	t.Run("NonJSONContentTypeIs422", func(t *testing.T) {
		resp, body := e.raw("POST", "/v1/auth/register", "", `email=x`, map[string]string{"Content-Type": "text/plain"})
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Equal(t, "validation_error", errorCode(t, 422, body))
	})
	t.Run("EmptyBodyIs422FieldRequired", func(t *testing.T) {
		resp, body := e.raw("POST", "/v1/cues", key, "", nil)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Equal(t, "validation_error", errorCode(t, 422, body))
	})
	t.Run("RequestIDIsFreshPerRequest", func(t *testing.T) {
		r1, _ := e.raw("GET", "/health", "", "", map[string]string{"X-Request-Id": "forged"})
		r2, _ := e.raw("GET", "/health", "", "", nil)
		require.NotEqual(t, "forged", r1.Header.Get("X-Request-Id"))
		require.NotEqual(t, r1.Header.Get("X-Request-Id"), r2.Header.Get("X-Request-Id"))
	})
	t.Run("RateLimitHeadersOnNonExemptPaths", func(t *testing.T) {
		r, _ := e.raw("GET", "/v1/cues", key, "", nil)
		require.Equal(t, "60", r.Header.Get("X-RateLimit-Limit"))
		require.NotEmpty(t, r.Header.Get("X-RateLimit-Remaining"))
		h, _ := e.raw("GET", "/health", "", "", nil)
		require.Empty(t, h.Header.Get("X-RateLimit-Limit"))
	})
	t.Run("HealthAndStatus", func(t *testing.T) {
		h, err := e.client.HealthWithResponse(context.Background())
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, h.StatusCode())
		require.Equal(t, apiclient.HealthServicesPostgresOK, h.JSON200.Services.Postgres)
		s, err := e.client.StatusWithResponse(context.Background())
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, s.StatusCode())
	})
	t.Run("OpenAPIServedOutsideProduction", func(t *testing.T) {
		r, body := e.raw("GET", "/openapi.json", "", "", nil)
		require.Equal(t, http.StatusOK, r.StatusCode)
		require.Contains(t, string(body), `"openapi"`)
	})
}
