package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/authcache"
	"github.com/cueapi/cueapi/adapters/fernet"
	"github.com/cueapi/cueapi/adapters/netguard"
	"github.com/cueapi/cueapi/adapters/sqlite"
	"github.com/cueapi/cueapi/api"
	"github.com/cueapi/cueapi/core"
)

// allowAll is a RateLimiter that never refuses: the fuzzer sends far more
// than 60 requests a minute, and 429s would hide the paths behind the
// limiter.
type allowAll struct{}

func (allowAll) Allow(_ context.Context, _ string, limit int, window time.Duration, now time.Time) (core.RateDecision, error) {
	return core.RateDecision{Allowed: true, Limit: limit, Remaining: limit, ResetAt: now.Add(window)}, nil
}

func (allowAll) Count(context.Context, string, time.Duration, time.Time) (int, error) { return 0, nil }

// noDelivery is a Deliverer that never sends anything: no outbound request
// may leave a fuzz run.
type noDelivery struct{}

func (noDelivery) Send(context.Context, *core.OutboundRequest) (*core.OutboundResponse, error) {
	return nil, &core.DeliveryError{Kind: core.DeliveryBlocked, Message: "Callback URL resolved to blocked IP"}
}

// fuzzTarget is one endpoint that takes a JSON body.
type fuzzTarget struct {
	method, path string
	auth         bool
}

// pipelineEnv is the real HTTP handler on an embedded SQLite store with the
// production SSRF policy; the fake resolver answers a public address for
// every name and nothing is ever delivered (no dispatcher runs).
type pipelineEnv struct {
	handler http.Handler
	key     string
	targets []fuzzTarget
}

func newPipelineEnv(tb testing.TB) *pipelineEnv {
	tb.Helper()
	return newPipelineEnvWith(tb, nil)
}

// newPipelineEnvWith is newPipelineEnv with set (when not nil) changing the
// handler's dependencies before it is built.
func newPipelineEnvWith(tb testing.TB, set func(*api.Deps)) *pipelineEnv {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.New(ctx, sqlite.Config{Path: filepath.Join(tb.TempDir(), "fuzz.db")})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = store.Close() })

	clock := core.SystemClock{}
	var logOut io.Writer = io.Discard
	if os.Getenv("CUEAPI_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewJSONHandler(logOut, nil))
	const secret = "fuzz-session-secret-0123456789abcdefgh"
	box := fernet.New(fernet.KeyFromSecret(secret), nil)
	guard := netguard.New(netguard.Config{Production: true, Resolver: netguard.NewFakeResolver().SetFallback("93.184.216.34")})
	accCfg := core.DefaultAccountsConfig()
	accCfg.DefaultActiveCueLimit = 1 << 20
	accounts := core.NewAccounts(accCfg, store, authcache.NewMemory(clock), box, guard, core.NewSessions(secret), clock, log)
	alerts := core.NewAlerts(store, noDelivery{}, box, clock, log)
	agents := core.NewAgents(store, store, guard, box, clock)
	deps := api.Deps{
		Log: log, Clock: clock, Accounts: accounts,
		Cues:        core.NewCues(core.CuesConfig{}, store, guard, clock, nil),
		Executions:  core.NewExecutions(store, clock, nil),
		Workers:     core.NewWorkers(core.WorkersConfig{ClaimLease: 15 * time.Minute, UnclaimedTimeout: 15 * time.Minute}, store, clock),
		Outcomes:    core.NewOutcomes(store, alerts, clock, nil),
		Alerts:      alerts,
		Usage:       core.NewUsage(store, store, allowAll{}, clock),
		Echo:        core.NewEcho(store, allowAll{}, clock),
		DeviceLogin: core.NewDeviceLogin(core.DeviceLoginConfig{BaseURL: "https://cueapi.example"}, store, store, accounts, allowAll{}, nil, clock, log),
		Limiter:     allowAll{},
		Agents:      agents,
		Messages:    core.NewMessages(core.DefaultMessagingConfig(), store, agents, allowAll{}, clock, log, nil),
		Health:      &api.Health{Service: core.NewHealth(core.HealthConfig{}, store, nil, clock)},
	}
	if set != nil {
		set(&deps)
	}
	h, err := api.NewHandler(deps)
	require.NoError(tb, err)
	e := &pipelineEnv{handler: h}

	status, body := e.do("POST", "/v1/auth/register", "", []byte(`{"email":"fuzz@example.com"}`))
	require.Equal(tb, http.StatusCreated, status, string(body))
	var reg struct {
		APIKey string `json:"api_key"`
	}
	require.NoError(tb, json.Unmarshal(body, &reg))
	e.key = reg.APIKey

	status, body = e.do("POST", "/v1/cues", e.key, []byte(`{"name":"fuzz-target","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/x"}}`))
	require.Equal(tb, http.StatusCreated, status, string(body))
	var cue struct {
		ID string `json:"id"`
	}
	require.NoError(tb, json.Unmarshal(body, &cue))

	e.targets = []fuzzTarget{
		{"POST", "/v1/cues", true},
		{"PATCH", "/v1/cues/" + cue.ID, true},
		{"POST", "/v1/auth/register", false},
		{"POST", "/v1/echo/fuzz-echo-token-0123456789", false},
	}
	return e
}

func (e *pipelineEnv) do(method, path, key string, body []byte) (int, []byte) {
	rec := e.serve(method, path, key, body)
	return rec.Code, rec.Body.Bytes()
}

func (e *pipelineEnv) serve(method, path, key string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// check asserts the pipeline's promise for any body: no server error, and
// a JSON answer — the error envelope for every 4xx.
func (e *pipelineEnv) check(t *testing.T, tg fuzzTarget, body []byte) {
	key := ""
	if tg.auth {
		key = e.key
	}
	rec := e.serve(tg.method, tg.path, key, body)
	out := rec.Body.Bytes()
	where := tg.method + " " + tg.path + " " + strconvQuote(body)
	// Regression: nesting deeper than SQLite's json_valid limit used to
	// surface as a 500; core now bounds the depth (4xx).
	require.NotEqual(t, http.StatusInternalServerError, rec.Code, where+": "+string(out))
	require.NotEmpty(t, rec.Header().Get("X-Request-Id"), where)
	require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), where)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"), where+": "+string(out))
	require.True(t, json.Valid(out), where+": "+string(out))
	if rec.Code < 400 {
		require.True(t, rec.Code == http.StatusOK || rec.Code == http.StatusCreated, where+": %d", rec.Code)
		var obj map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(out, &obj), where)
		return
	}
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Status  *int   `json:"status"`
			Details []struct {
				Field   string `json:"field"`
				Message string `json:"message"`
			} `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(out, &env), where)
	require.NotEmpty(t, env.Error.Code, where+": "+string(out))
	require.NotEmpty(t, env.Error.Message, where+": "+string(out))
	require.NotContains(t, env.Error.Message, "Invalid request", where+": "+string(out))
	if env.Error.Code == "validation_error" {
		// api.md §1.5 (b): details list every problem, each naming its
		// field; message is the first one's "<field>: <message>".
		require.NotEmpty(t, env.Error.Details, where+": "+string(out))
		first := env.Error.Details[0]
		want := first.Message
		if first.Field != "" {
			want = first.Field + ": " + first.Message
		}
		require.Equal(t, want, env.Error.Message, where)
		for _, d := range env.Error.Details {
			require.NotEmpty(t, d.Message, where+": "+string(out))
		}
	}
	if env.Error.Status != nil {
		require.Equal(t, rec.Code, *env.Error.Status, where)
	}
	if rec.Code == http.StatusNotImplemented && env.Error.Code == "not_implemented" {
		return // an endpoint whose service is not wired yet
	}
	require.Less(t, rec.Code, 500, where+": "+string(out))
}

// jsonDepth is the deepest bracket nesting in b, ignoring string contents.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

func strconvQuote(b []byte) string {
	if len(b) > 300 {
		b = append(b[:300:300], "…"...)
	}
	q, _ := json.Marshal(string(b))
	return string(q)
}

// fuzzSeeds are bodies that have broken JSON handling somewhere: NUL
// escapes, lone and reversed surrogates, numbers beyond float64 and int64,
// deep nesting, invalid UTF-8, duplicate keys, wrong types at every field,
// and URLs of the SSRF vectors.
func fuzzSeeds() []string {
	n := 0
	cue := func(extra string) string {
		n++ // distinct names, so creates get past the duplicate-name check
		return `{"name":"s` + strconv.Itoa(n) + `","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/x"}` + extra + `}`
	}
	return []string{
		``, ` `, `null`, `true`, `0`, `"x"`, `[]`, `{}`, `{`, `}`, `{"name": `, `{"a":1}{"b":2}`, "\xef\xbb\xbf{}",
		`{"email":"a@example.com"}`, `{"email":"a\u0000@example.com"}`, `{"email":"\ud800@example.com"}`,
		`{"email":"` + strings.Repeat("a", 300) + `@example.com"}`, `{"email":1e999}`, `{"email":["a@b.co"]}`,
		"{\"email\":\"\xff\xfe@example.com\"}", `{"email":"a@example.com","email":"b@example.com"}`,
		cue(``), cue(`,"payload":{"a":"x\u0000y"}`), cue(`,"payload":{"k\u0000":1}`), cue(`,"payload":{"a":{"b":["\u0000"]}}`),
		cue(`,"payload":{"a":"\ud800"}`), cue(`,"payload":{"\udc00":"x"}`), cue(`,"payload":{"a":"\udc00\ud800"}`),
		cue(`,"payload":{"a":"\ud83d\ude00"}`), cue(`,"payload":{"n":123456789012345678901234567890}`),
		cue(`,"payload":{"n":1e400}`), cue(`,"payload":{"n":-1e-400}`), cue(`,"payload":{"n":-0}`),
		cue(`,"payload":{"n":9223372036854775808}`), cue(`,"payload":` + strings.Repeat(`{"a":`, 2000) + `1` + strings.Repeat(`}`, 2000)),
		cue(`,"payload":{"a":` + strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000) + `}`),
		cue(`,"payload":{"a":1,"a":2}`), cue(`,"payload":[1]`), cue(`,"payload":"x"`), cue(`,"payload":null`),
		"{\"name\":\"\xc3\x28\",\"schedule\":{\"type\":\"once\",\"at\":\"2099-01-01T00:00:00Z\"},\"callback\":{\"url\":\"https://hooks.example.com/\"}}",
		`{"name":"a\u0000b","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/"}}`,
		`{"name":"s","name":"t","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/"}}`,
		`{"name":"s","schedule":{"type":"recurring","cron":"` + strings.Repeat("0,", 60) + `0 9 * * *"},"callback":{"url":"https://hooks.example.com/"}}`,
		`{"name":"s","schedule":{"type":"recurring","cron":"* * * * * *"},"callback":{"url":"https://hooks.example.com/"}}`,
		`{"name":"s","schedule":{"type":"recurring","cron":"0 9 * * *","timezone":"Local"},"callback":{"url":"https://hooks.example.com/"}}`,
		`{"name":"s","schedule":{"type":"recurring","cron":"0 9 * * *","timezone":"../../etc/passwd"},"callback":{"url":"https://hooks.example.com/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"99999-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-02-30T25:61:61+99:99"},"callback":{"url":"https://hooks.example.com/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00.` + strings.Repeat("9", 100) + `Z"},"callback":{"url":"https://hooks.example.com/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://[::ffff:127.0.0.1]/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://0x7f.1/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://[fe80::1%25eth0]/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://%6c%6f%63%61%6c%68%6f%73%74/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://\u24dbocalhost/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://xn--/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://a\u0000b.example/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://8.8.8.8\\@127.0.0.1/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/","headers":{"X-A":"a\r\nB: c","":"x"}}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/","headers":{"X-A\u0000":"x"}}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/","method":"TRACE"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/"},"retry":{"max_attempts":1e10,"backoff_minutes":[-1,0,1e9]}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/"},"on_failure":{"webhook":"https://169.254.169.254/"}}`,
		`{"name":"s","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"transport":"worker","callback":{"url":"https://127.0.0.1/"}}`,
		`{"status":"paused"}`, `{"status":null}`, `{"schedule":null}`, `{"callback":{}}`, `{"callback":{"url":null}}`,
		`{"name":` + strings.Repeat("9", 5000) + `}`, `{"name":"` + strings.Repeat(`\u0041`, 300) + `"}`,
	}
}

// FuzzRequestPipeline sends arbitrary bodies through the whole pipeline
// (size limit, JSON check, authentication, validation, handlers, core and a
// real SQLite store) to the endpoints that take user JSON: no input may
// produce a server error or a non-JSON answer. Without -fuzz the seed corpus
// runs as an ordinary test.
func FuzzRequestPipeline(f *testing.F) {
	e := newPipelineEnv(f)
	for _, s := range fuzzSeeds() {
		for i := range e.targets {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, target uint8, body []byte) {
		e.check(t, e.targets[int(target)%len(e.targets)], body)
	})
}
