package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mistake is one bad request and the exact error the API must answer.
type mistake struct {
	name         string
	method, path string // {cue} and {exec} are replaced by real ids
	body         string
	noKey        bool              // send no credentials
	hdr          map[string]string // extra headers
	status       int               // 0 means 422 validation_error
	code         string            // for non-validation errors
	message      string            // the envelope's message
	details      []string          // "<field>: <message>" per detail; nil means just message
}

// TestValidationMessages asserts, on the real HTTP pipeline, the exact
// message and details of mistakes across cues, executions, workers, auth
// and query parameters (spec/api.md §1.5): every validation error names its
// field, in the reference's wording, and details lists every problem.
func TestValidationMessages(t *testing.T) {
	sched := `"schedule":{"type":"recurring","cron":"0 9 * * *"}`
	cb := `"callback":{"url":"https://hooks.example.com/x"}`
	cue := func(extra string) string { return `{"name":"v",` + sched + `,` + cb + extra + `}` }
	longName := strings.Repeat("n", 256)
	mistakes := []mistake{
		// ---- cues: create
		{name: "CreateMissingSchedule", method: "POST", path: "/v1/cues", body: `{"name":"a",` + cb + `}`,
			message: "body.schedule: Field required"},
		{name: "CreateEmptyObjectListsEveryField", method: "POST", path: "/v1/cues", body: `{}`,
			message: "body.name: Field required", details: []string{"body.name: Field required", "body.schedule: Field required"}},
		{name: "CreateMissingBody", method: "POST", path: "/v1/cues", body: ``,
			message: "body: Field required"},
		{name: "CreateBodyNotObject", method: "POST", path: "/v1/cues", body: `[]`,
			message: "body: Input should be a valid dictionary"},
		{name: "CreateBodyNotJSONContentType", method: "POST", path: "/v1/cues", body: `name=a`, hdr: map[string]string{"Content-Type": "text/plain"},
			message: "body: Input should be a valid dictionary"},
		{name: "CreateBadTransport", method: "POST", path: "/v1/cues", body: cue(`,"transport":"email"`),
			message: "body.transport: Input should be 'webhook' or 'worker'"},
		{name: "CreateMaxAttemptsZero", method: "POST", path: "/v1/cues", body: cue(`,"retry":{"max_attempts":0}`),
			message: "body.retry.max_attempts: Input should be greater than or equal to 1"},
		{name: "CreateMaxAttemptsEleven", method: "POST", path: "/v1/cues", body: cue(`,"retry":{"max_attempts":11}`),
			message: "body.retry.max_attempts: Input should be less than or equal to 10"},
		{name: "CreateMaxAttemptsString", method: "POST", path: "/v1/cues", body: cue(`,"retry":{"max_attempts":"3"}`),
			message: "body.retry.max_attempts: Input should be a valid integer, unable to parse string as an integer"},
		{name: "CreateMaxAttemptsFraction", method: "POST", path: "/v1/cues", body: cue(`,"retry":{"max_attempts":1.5}`),
			message: "body.retry.max_attempts: Input should be a valid integer, got a number with a fractional part"},
		{name: "CreateNameTooLong", method: "POST", path: "/v1/cues", body: `{"name":"` + longName + `",` + sched + `,` + cb + `}`,
			message: "body.name: String should have at most 255 characters"},
		{name: "CreateWrongTypesListsEveryField", method: "POST", path: "/v1/cues", body: `{"name":5,"schedule":"daily",` + cb + `}`,
			message: "body.name: Input should be a valid string",
			details: []string{"body.name: Input should be a valid string", "body.schedule: Input should be a valid dictionary"}},
		{name: "CreateNameNull", method: "POST", path: "/v1/cues", body: `{"name":null,` + sched + `,` + cb + `}`,
			message: "body.name: Input should be a valid string"},
		{name: "CreateScheduleWithoutType", method: "POST", path: "/v1/cues", body: `{"name":"a","schedule":{"cron":"* * * * *"},` + cb + `}`,
			message: "body.schedule.type: Field required"},
		{name: "CreateBadMethod", method: "POST", path: "/v1/cues", body: `{"name":"a",` + sched + `,"callback":{"url":"https://hooks.example.com/","method":"DELETE"}}`,
			message: "body.callback.method: Input should be 'POST', 'GET', 'PUT' or 'PATCH'"},
		{name: "CreateBadVerificationMode", method: "POST", path: "/v1/cues", body: cue(`,"verification":{"mode":"evidence_required"}`),
			message: "body.verification.mode: Input should be 'none', 'require_external_id', 'require_result_url', 'require_artifacts' or 'manual'"},
		{name: "CreateBadCatchUp", method: "POST", path: "/v1/cues", body: cue(`,"catch_up":"some"`),
			message: "body.catch_up: Input should be 'run_once_if_missed', 'skip_missed', 'replay_all', 'latest', 'skip' or 'all'"},
		{name: "CreateDeadlineZero", method: "POST", path: "/v1/cues", body: cue(`,"outcome_deadline_seconds":0`),
			message: "body.outcome_deadline_seconds: Input should be greater than or equal to 1"},
		{name: "CreatePayloadArray", method: "POST", path: "/v1/cues", body: cue(`,"payload":[1]`),
			message: "body.payload: Input should be a valid dictionary"},
		{name: "CreateHeaderValueNotString", method: "POST", path: "/v1/cues", body: `{"name":"a",` + sched + `,"callback":{"url":"https://hooks.example.com/","headers":{"X-A":1}}}`,
			message: "body.callback.headers.X-A: Input should be a valid string"},
		{name: "CreateWebhookWithoutURL", method: "POST", path: "/v1/cues", body: `{"name":"a",` + sched + `}`,
			message: "body: Value error, callback.url is required for webhook transport"},
		{name: "CreateTransportInsideCallback", method: "POST", path: "/v1/cues", body: `{"name":"a",` + sched + `,"callback":{"url":"https://hooks.example.com/","transport":"worker"}}`,
			message: "body: Value error, transport must be specified at the top level, not inside callback"},
		{name: "CreateURLScheme", method: "POST", path: "/v1/cues", body: `{"name":"a",` + sched + `,"callback":{"url":"ftp://hooks.example.com/"}}`,
			message: "body.callback.url: URL scheme should be 'http' or 'https'"},
		{name: "CreateURLRelative", method: "POST", path: "/v1/cues", body: `{"name":"a",` + sched + `,"callback":{"url":"/hooks"}}`,
			message: "body.callback.url: Input should be a valid URL, relative URL without a base"},
		{name: "CreateReservedHeader", method: "POST", path: "/v1/cues", body: `{"name":"a",` + sched + `,"callback":{"url":"https://hooks.example.com/","headers":{"X-CueAPI-Signature":"v1=00"}}}`,
			message: "body.callback.headers.X-CueAPI-Signature: Header is reserved and cannot be overridden"},
		{name: "CreateAtNotDatetime", method: "POST", path: "/v1/cues", body: `{"name":"a","schedule":{"type":"once","at":"tomorrow"},` + cb + `}`,
			message: "body.schedule.at: Input should be a valid datetime"},
		{name: "CreateBackoffListsEveryEntry", method: "POST", path: "/v1/cues", body: cue(`,"retry":{"backoff_minutes":[-1,5,99999999]}`),
			message: "body.retry.backoff_minutes.0: Input should be greater than or equal to 0",
			details: []string{"body.retry.backoff_minutes.0: Input should be greater than or equal to 0", "body.retry.backoff_minutes.2: Input should be less than or equal to 10080"}},
		{name: "CreateNameNul", method: "POST", path: "/v1/cues", body: `{"name":"a\u0000b",` + sched + `,` + cb + `}`,
			message: "body.name: String should not contain null characters"},

		// ---- cues: update
		{name: "UpdateUnknownKey", method: "PATCH", path: "/v1/cues/{cue}", body: `{"nmae":"x"}`,
			message: "body.nmae: Extra inputs are not permitted"},
		{name: "UpdateTransportIsUnknown", method: "PATCH", path: "/v1/cues/{cue}", body: `{"transport":"worker"}`,
			message: "body.transport: Extra inputs are not permitted"},
		{name: "UpdateUnknownKeysListsEveryKey", method: "PATCH", path: "/v1/cues/{cue}", body: `{"zeta":1,"alpha":2,"name":"ok"}`,
			message: "body.alpha: Extra inputs are not permitted",
			details: []string{"body.alpha: Extra inputs are not permitted", "body.zeta: Extra inputs are not permitted"}},
		{name: "UpdateUnknownKeyBeforeOwnership", method: "PATCH", path: "/v1/cues/cue_000000000000", body: `{"nmae":"x"}`,
			message: "body.nmae: Extra inputs are not permitted"},
		{name: "UpdateScheduleWithoutType", method: "PATCH", path: "/v1/cues/{cue}", body: `{"schedule":{}}`,
			message: "body.schedule.type: Field required"},
		{name: "UpdateBadStatus", method: "PATCH", path: "/v1/cues/{cue}", body: `{"status":"completed"}`,
			message: "body: Value error, status must be 'active' or 'paused'"},
		{name: "UpdateNameTooLong", method: "PATCH", path: "/v1/cues/{cue}", body: `{"name":"` + longName + `"}`,
			message: "body.name: String should have at most 255 characters"},
		{name: "UpdateRetryNested", method: "PATCH", path: "/v1/cues/{cue}", body: `{"retry":{"max_attempts":0,"backoff_minutes":"1,5"}}`,
			message: "body.retry.backoff_minutes: Input should be a valid list",
			details: []string{"body.retry.backoff_minutes: Input should be a valid list", "body.retry.max_attempts: Input should be greater than or equal to 1"}},
		{name: "UpdateOnFailurePauseNotBool", method: "PATCH", path: "/v1/cues/{cue}", body: `{"on_failure":{"pause":"sometimes"}}`,
			message: "body.on_failure.pause: Input should be a valid boolean, unable to interpret input"},

		// ---- query parameters
		{name: "ListCuesLimitZero", method: "GET", path: "/v1/cues?limit=0",
			message: "query.limit: Input should be greater than or equal to 1"},
		{name: "ListCuesLimitTooHigh", method: "GET", path: "/v1/cues?limit=101",
			message: "query.limit: Input should be less than or equal to 100"},
		{name: "ListCuesOffsetNegative", method: "GET", path: "/v1/cues?offset=-1",
			message: "query.offset: Input should be greater than or equal to 0"},
		{name: "ListCuesLimitNotInteger", method: "GET", path: "/v1/cues?limit=abc",
			message: "query.limit: Input should be a valid integer, unable to parse string as an integer"},
		{name: "ListCuesLimitFraction", method: "GET", path: "/v1/cues?limit=1.5",
			message: "query.limit: Input should be a valid integer, unable to parse string as an integer"},
		{name: "ListExecutionsListsEveryParameter", method: "GET", path: "/v1/executions?limit=0&offset=-1",
			message: "query.limit: Input should be greater than or equal to 1",
			details: []string{"query.limit: Input should be greater than or equal to 1", "query.offset: Input should be greater than or equal to 0"}},
		{name: "GetCueExecutionLimit", method: "GET", path: "/v1/cues/{cue}?execution_limit=0",
			message: "query.execution_limit: Input should be greater than or equal to 1"},
		{name: "ListAlertsSinceNotDatetime", method: "GET", path: "/v1/alerts?since=yesterday",
			message: "query.since: Input should be a valid datetime"},
		{name: "ListAlertsLimitTooHigh", method: "GET", path: "/v1/alerts?limit=500",
			message: "query.limit: Input should be less than or equal to 100"},
		{name: "ListAlertsUnknownType", method: "GET", path: "/v1/alerts?alert_type=fire", status: 400, code: "invalid_filter",
			message: "alert_type must be one of: consecutive_failures, outcome_timeout, verification_failed"},
		{name: "QueryValueNul", method: "GET", path: "/v1/cues?status=a%00b",
			message: "query.status: String should not contain null or invalid characters"},

		// ---- executions
		{name: "OutcomeMissingSuccess", method: "POST", path: "/v1/executions/{exec}/outcome", body: `{"result":"done"}`,
			message: "body.success: Field required"},
		{name: "OutcomeSuccessNotBool", method: "POST", path: "/v1/executions/{exec}/outcome", body: `{"success":"yes"}`,
			message: "body.success: Input should be a valid boolean, unable to interpret input"},
		{name: "OutcomeResultTooLong", method: "POST", path: "/v1/executions/{exec}/outcome", body: `{"success":true,"result":"` + strings.Repeat("r", 2001) + `"}`,
			message: "body.result: String should have at most 2000 characters"},
		{name: "OutcomeListsEveryField", method: "POST", path: "/v1/executions/{exec}/outcome", body: `{"success":true,"external_id":7,"metadata":[1]}`,
			message: "body.external_id: Input should be a valid string",
			details: []string{"body.external_id: Input should be a valid string", "body.metadata: Input should be a valid dictionary"}},
		{name: "OutcomeResultURLScheme", method: "POST", path: "/v1/executions/{exec}/outcome", body: `{"success":true,"result_url":"ftp://x"}`,
			message: "body.result_url: URL scheme should be 'http' or 'https'"},
		{name: "OutcomeNulEverywhere", method: "POST", path: "/v1/executions/{exec}/outcome", body: `{"success":true,"result":"a\u0000","metadata":{"k":"\u0000"}}`,
			message: "body.result: String should not contain null characters",
			details: []string{"body.result: String should not contain null characters", "body.metadata: Values should not contain null characters"}},
		{name: "EvidenceExternalIDNotString", method: "PATCH", path: "/v1/executions/{exec}/evidence", body: `{"external_id":5}`,
			message: "body.external_id: Input should be a valid string"},
		{name: "EvidenceResultTypeTooLong", method: "PATCH", path: "/v1/executions/{exec}/evidence", body: `{"result_type":"` + strings.Repeat("t", 101) + `"}`,
			message: "body.result_type: String should have at most 100 characters"},
		{name: "VerifyValidNotBool", method: "POST", path: "/v1/executions/{exec}/verify", body: `{"valid":"maybe"}`,
			message: "body.valid: Input should be a valid boolean, unable to interpret input"},

		// ---- workers
		{name: "HeartbeatMissingWorkerID", method: "POST", path: "/v1/worker/heartbeat", body: `{}`,
			message: "body.worker_id: Field required"},
		{name: "HeartbeatWorkerIDTooLong", method: "POST", path: "/v1/worker/heartbeat", body: `{"worker_id":"` + strings.Repeat("w", 256) + `"}`,
			message: "body.worker_id: String should have at most 255 characters"},
		{name: "HeartbeatHandlersNotList", method: "POST", path: "/v1/worker/heartbeat", body: `{"worker_id":"w","handlers":"send"}`,
			message: "body.handlers: Input should be a valid list"},
		{name: "HeartbeatHandlersListsEveryItem", method: "POST", path: "/v1/worker/heartbeat", body: `{"worker_id":"w","handlers":[1,"ok",true]}`,
			message: "body.handlers.0: Input should be a valid string",
			details: []string{"body.handlers.0: Input should be a valid string", "body.handlers.2: Input should be a valid string"}},
		{name: "HeartbeatHandlerTooLong", method: "POST", path: "/v1/worker/heartbeat", body: `{"worker_id":"w","handlers":["ok","` + strings.Repeat("h", 256) + `"]}`,
			message: "body.handlers.1: String should have at most 255 characters"},
		{name: "HeartbeatWorkerIDNul", method: "POST", path: "/v1/worker/heartbeat", body: `{"worker_id":"w\u0000"}`,
			message: "body.worker_id: String should not contain null characters"},
		{name: "ClaimEmptyObject", method: "POST", path: "/v1/executions/claim", body: `{}`,
			message: "body.worker_id: Field required"},
		{name: "ClaimEmptyWorkerID", method: "POST", path: "/v1/executions/claim", body: `{"worker_id":""}`,
			message: "body.worker_id: String should have at least 1 character"},
		{name: "ClaimOneWorkerIDNotString", method: "POST", path: "/v1/executions/{exec}/claim", body: `{"worker_id":42}`,
			message: "body.worker_id: Input should be a valid string"},

		// ---- auth
		{name: "RegisterMissingEmail", method: "POST", path: "/v1/auth/register", body: `{}`, noKey: true,
			message: "body.email: Field required"},
		{name: "RegisterEmailWithoutAt", method: "POST", path: "/v1/auth/register", body: `{"email":"nope"}`, noKey: true,
			message: "body.email: value is not a valid email address: An email address must have an @-sign."},
		{name: "MeEmailNotString", method: "PATCH", path: "/v1/auth/me", body: `{"email":5}`,
			message: "body.email: Input should be a valid string"},
		{name: "MeEmailWithoutDomain", method: "PATCH", path: "/v1/auth/me", body: `{"email":"a@"}`,
			message: "body.email: value is not a valid email address: There must be something after the @-sign."},
		{name: "DeviceCodeEmptyObject", method: "POST", path: "/v1/auth/device-code", body: `{}`, noKey: true,
			message: "body.device_code: Field required"},
		{name: "DeviceCodeSubmitListsEveryField", method: "POST", path: "/v1/auth/device-code/submit-email", body: `{}`, noKey: true,
			message: "body.device_code: Field required",
			details: []string{"body.device_code: Field required", "body.email: Field required"}},
		{name: "SessionTokenNotString", method: "POST", path: "/v1/auth/session", body: `{"token":["x"]}`, noKey: true,
			message: "body.token: Input should be a valid string"},
	}

	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, be, nil)
			key := e.register()
			resp, body := e.raw("POST", "/v1/cues", key, `{"name":"target",`+sched+`,`+cb+`}`, nil)
			require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
			var created struct{ ID string }
			require.NoError(t, json.Unmarshal(body, &created))
			resp, body = e.raw("POST", "/v1/cues/"+created.ID+"/fire", key, "", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			var fired struct{ ID string }
			require.NoError(t, json.Unmarshal(body, &fired))

			seen := map[string]bool{}
			for _, m := range mistakes {
				require.False(t, seen[m.name], "duplicate case name %s", m.name)
				seen[m.name] = true
				// A fresh rate-limit window per case: the cases are many more
				// than one minute's allowance.
				e.clock.Advance(time.Minute)
				path := strings.NewReplacer("{cue}", created.ID, "{exec}", fired.ID).Replace(m.path)
				token := key
				if m.noKey {
					token = ""
				}
				resp, body := e.raw(m.method, path, token, m.body, m.hdr)
				if m.status != 0 {
					require.Equal(t, m.status, resp.StatusCode, m.name+": "+string(body))
					require.Equal(t, m.code, errorCode(t, m.status, body), m.name)
					require.Equal(t, m.message, envelopeMessage(t, body), m.name)
					continue
				}
				require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, m.name+": "+string(body))
				require.Equal(t, "validation_error", errorCode(t, 422, body), m.name)
				msg, details := validationEnvelope(t, body)
				want := m.details
				if want == nil {
					want = []string{m.message}
				}
				require.Equal(t, m.message, msg, m.name+": "+string(body))
				require.Equal(t, want, details, m.name+": "+string(body))
			}
			require.GreaterOrEqual(t, len(seen), 20)
		})
	}
}

// envelopeMessage is the error envelope's message.
func envelopeMessage(t *testing.T, body []byte) string {
	t.Helper()
	msg, _ := validationEnvelope(t, body)
	return msg
}

// validationEnvelope decodes a validation envelope: its message and each
// detail as "<field>: <message>" (just the message for an empty field).
func validationEnvelope(t *testing.T, body []byte) (string, []string) {
	t.Helper()
	var env struct {
		Error struct {
			Message string `json:"message"`
			Details []struct {
				Field   string `json:"field"`
				Message string `json:"message"`
			} `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &env), string(body))
	var details []string
	for _, d := range env.Error.Details {
		if d.Field == "" {
			details = append(details, d.Message)
			continue
		}
		details = append(details, d.Field+": "+d.Message)
	}
	return env.Error.Message, details
}
