package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/netguard"
	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/api"
	"github.com/cueapi/cueapi/api/apiclient"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

// backend selects the store (and cache/limiter) a component test runs on.
type backend string

const (
	backendSQLite   backend = "sqlite"
	backendPostgres backend = "postgres" // PostgreSQL + Redis
)

func backends() []backend { return []backend{backendSQLite, backendPostgres} }

// testEnv is a running server on httptest with a stub clock and a fake
// resolver; every response the clients see is validated against openapi.yaml.
type testEnv struct {
	t        *testing.T
	cfg      *config
	app      *app
	srv      *httptest.Server
	clock    *coretest.StubClock
	resolver *netguard.FakeResolver
	mailer   *fakeMailer
	logOut   io.Writer                   // captures the server's logs (newTestEnvWithLog)
	wrap     func(core.Store) core.Store // fault injection (shutdown_test.go)
	client   *apiclient.ClientWithResponses
	http     *http.Client
}

// testNow is the stub clock's start: a fixed instant.
var testNow = time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)

// publicAddr is what the fake resolver answers for every public test host.
// No test ever dials it: webhook receivers in tests are loopback httptest
// servers reached through WEBHOOK_ALLOWED_CIDRS.
var publicAddr = netip.MustParseAddr("93.184.216.34")

func newTestEnv(t *testing.T, be backend, mutate func(*config)) *testEnv {
	t.Helper()
	env := map[string]string{"ENV": "development", "CUEAPI_DATA_DIR": t.TempDir(), "SESSION_SECRET": "component-test-secret-0123456789abcdef",
		// The clock is a stub that tests move; claiming ahead waits for a
		// due time on the real clock (tested on its own: TestClaimAhead…).
		"DELIVERY_CLAIM_AHEAD_MS": "0"}
	if be == backendPostgres {
		env["DATABASE_URL"] = pgtest.SchemaURL(t)
		env["REDIS_URL"] = redisURL(t)
		env["REDIS_PREFIX"] = "t" + strings.ReplaceAll(core.NewUUID(), "-", "")[:12] + ":"
	}
	cfg, err := loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err)
	if mutate != nil {
		mutate(cfg)
	}
	e := &testEnv{t: t, cfg: cfg, clock: coretest.NewStubClock(testNow), mailer: &fakeMailer{}}
	e.resolver = netguard.NewFakeResolver()
	for _, h := range []string{"hooks.example.com", "alerts.example.com", "example.com"} {
		e.resolver.Set(h, publicAddr.String())
	}
	e.start()
	return e
}

func (e *testEnv) start() {
	t := e.t
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if os.Getenv("CUEAPI_TEST_LOG") != "" {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if e.logOut != nil {
		log = slog.New(slog.NewJSONHandler(e.logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := newApp(context.Background(), e.cfg, log, e.overrides())
	require.NoError(t, err)
	e.app = a
	e.srv = httptest.NewServer(a.handler)
	e.http = &http.Client{Transport: &validatingTransport{t: t, router: specRouter(t)}}
	e.client, err = apiclient.NewClientWithResponses(e.srv.URL, apiclient.WithHTTPClient(e.http))
	require.NoError(t, err)
	t.Cleanup(e.stop)
}

func (e *testEnv) overrides() overrides {
	ov := overrides{clock: e.clock, resolver: e.resolver, wrapStore: e.wrap}
	if e.mailer != nil {
		ov.mailer = e.mailer
	}
	return ov
}

func (e *testEnv) stop() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
	if e.app != nil {
		e.app.close()
		e.app = nil
	}
}

// restart stops the server and starts a new process-equivalent on the same
// configuration (same data directory / database).
func (e *testEnv) restart() {
	e.stop()
	e.start()
}

// restartWithoutMailer restarts the server with no email provider.
func (e *testEnv) restartWithoutMailer() {
	e.stop()
	e.mailer = nil
	e.start()
}

// auth returns a request editor that sends the bearer token.
func auth(token string) apiclient.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func header(k, v string) apiclient.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set(k, v)
		return nil
	}
}

var emailSeq struct {
	sync.Mutex
	n int
}

// register creates an account and returns its API key.
func (e *testEnv) register() string {
	e.t.Helper()
	emailSeq.Lock()
	emailSeq.n++
	n := emailSeq.n
	emailSeq.Unlock()
	resp, err := e.client.RegisterWithResponse(context.Background(), apiclient.RegisterRequest{Email: "user" + strconv.Itoa(n) + "@Example.COM"})
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	require.True(e.t, strings.HasPrefix(resp.JSON201.APIKey, "cue_sk_"))
	return resp.JSON201.APIKey
}

// raw sends an arbitrary request (validated like every other).
func (e *testEnv) raw(method, path, token, body string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, b
}

// errorCode decodes an error envelope and returns its code, checking that
// status matches the HTTP status.
func errorCode(t *testing.T, status int, body []byte) string {
	t.Helper()
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Status  *int   `json:"status"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &env), string(body))
	require.NotEmpty(t, env.Error.Code, string(body))
	require.NotEmpty(t, env.Error.Message, string(body))
	if env.Error.Status != nil {
		require.Equal(t, status, *env.Error.Status, string(body))
	}
	return env.Error.Code
}

var registerHTMLDecoder sync.Once

func specRouter(t *testing.T) routers.Router {
	registerHTMLDecoder.Do(func() { openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) })
	doc, err := api.Spec()
	require.NoError(t, err)
	r, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return r
}

// validatingTransport checks every response against the OpenAPI document:
// status declared, body matching the schema. Responses to unknown routes
// must be the error envelope.
type validatingTransport struct {
	t      *testing.T
	router routers.Router
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if resp.Header.Get("X-Request-Id") == "" {
		v.t.Errorf("%s %s: response without X-Request-Id", req.Method, req.URL.Path)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented && resp.StatusCode != http.StatusServiceUnavailable {
		v.t.Errorf("%s %s: server error %d: %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	route, params, ferr := v.router.FindRoute(req)
	if ferr != nil {
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed &&
			resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusTooManyRequests &&
			req.URL.Path != "/openapi.json" {
			v.t.Errorf("%s %s: unrouted request answered %d", req.Method, req.URL.Path, resp.StatusCode)
		}
		return resp, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		v.t.Errorf("%s %s: response %d does not match openapi.yaml: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	return resp, nil
}

func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(u)
	require.NoError(t, err)
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s is unreachable (CI=true): %v", u, err)
		}
		t.Skipf("Redis at %s is unreachable; set TEST_REDIS_URL or start redis-server: %v", u, err)
	}
	return u
}

// fakeMailer records magic links instead of sending them.
type fakeMailer struct {
	mu    sync.Mutex
	links map[string]string // email -> last link
}

func (m *fakeMailer) SendMagicLink(_ context.Context, to, link string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.links == nil {
		m.links = map[string]string{}
	}
	m.links[to] = link
	return nil
}

func (m *fakeMailer) link(to string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.links[to]
}
