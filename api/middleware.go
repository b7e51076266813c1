package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/cueapi/cueapi/core"
)

// MaxBodyBytes is the request body limit for every route.
const MaxBodyBytes = 1 << 20

type ctxKey int

const ctxState ctxKey = 0

// requestState is what the pipeline knows about a request, kept in its
// context as one value (one context and request copy per request instead of
// one per item). Its fields are set as the pipeline learns them; handlers
// read them through the accessors below. The observing wrapper, when there
// is one, allocates it and puts it in the context first, with the route it
// found: the pipeline then fills it in place instead of copying the
// request again.
type requestState struct {
	started bool // the pipeline has taken it (id, clientIP, header set)
	matched bool // match holds the router's answer
	match   routeMatch

	id       string
	clientIP string
	header   http.Header
	nonce    string         // CSP nonce of HTML pages
	auth     *authResult    // nil until authenticated
	route    *routers.Route // nil until routed

	// Allocated with the state rather than one by one: the response
	// writers' recorders, the backing arrays of the fixed and rate-limit
	// response headers, and the validator's input.
	observed  statusOnly
	rec       statusRecorder
	fixed     [4]string
	rateLimit [3]string
	validate  openapi3filter.RequestValidationInput
}

func stateFrom(ctx context.Context) *requestState {
	s, _ := ctx.Value(ctxState).(*requestState)
	return s
}

func withState(ctx context.Context, s *requestState) context.Context {
	return context.WithValue(ctx, ctxState, s)
}

// htmlPages get a nonce-based Content-Security-Policy.
var htmlPages = map[string]bool{"/auth/device": true, "/v1/auth/verify": true}

// cspNonce is the request's script/style nonce ("" outside HTML pages).
func cspNonce(ctx context.Context) string {
	if s := stateFrom(ctx); s != nil {
		return s.nonce
	}
	return ""
}

// requestHeader returns the request's headers (the echo sink stores them).
func requestHeader(ctx context.Context) http.Header {
	if s := stateFrom(ctx); s != nil {
		return s.header
	}
	return nil
}

// RequestID returns the request's id ("" outside a request).
func RequestID(ctx context.Context) string {
	if s := stateFrom(ctx); s != nil {
		return s.id
	}
	return ""
}

// authResult is the outcome of authenticating the request's credentials,
// computed at most once per request.
type authResult struct {
	principal *core.Principal
	err       error
}

func principalFrom(ctx context.Context) *core.Principal {
	if s := stateFrom(ctx); s != nil && s.auth != nil && s.auth.err == nil {
		return s.auth.principal
	}
	return nil
}

// rateExempt are the paths the global limiter ignores (exact match).
var rateExempt = map[string]bool{
	"/health": true, "/status": true, "/docs": true, "/openapi.json": true, "/redoc": true,
	"/auth/device": true, "/v1/auth/verify": true, "/v1/info": true,
}

// statusRecorder remembers the status written.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// pipeline is the request pipeline of security.md §0.2 and api.md §1.5:
// request id → recover → headers → 413 → 429 → 404/405 → 400 invalid_json →
// 401 → 422 → handler.
type pipeline struct {
	log            *slog.Logger
	accounts       *core.Accounts
	limiter        core.RateLimiter
	clock          core.Clock
	router         routers.Router
	trustedProxies []netip.Prefix
	hsts           bool
	serveSpec      bool
	usage          *core.UsageService
	cors           *cors
	next           http.Handler
	// ops are the generated handlers by operation (route once: dispatch
	// reuses the validator's match).
	ops map[*openapi3.Operation]http.HandlerFunc
}

func (p *pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := core.NewUUID() // an incoming X-Request-Id is ignored (log forging)
	st := stateFrom(r.Context())
	if st == nil || st.started {
		st = &requestState{}
		r = r.WithContext(withState(r.Context(), st))
	}
	st.started, st.id, st.clientIP, st.header = true, id, p.clientIP(r), r.Header
	if htmlPages[r.URL.Path] {
		nonce := core.RandomHex(16)
		st.nonce = nonce
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+"'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		w.Header().Set("Cache-Control", "no-store")
	}
	st.rec.ResponseWriter = w
	rec := &st.rec
	h := rec.Header()
	// One backing array for the fixed headers (canonical keys, as Set
	// would write them; each value slice has capacity 1, so a later Add
	// copies instead of writing into its neighbour).
	st.fixed = [4]string{id, "nosniff", "DENY", "no-referrer"}
	v := &st.fixed
	h["X-Request-Id"] = v[0:1:1]
	h["X-Content-Type-Options"] = v[1:2:2]
	h["X-Frame-Options"] = v[2:3:3]
	h["Referrer-Policy"] = v[3:4:4]
	if p.hsts {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	if noStore(r.URL.Path) {
		h.Set("Cache-Control", "no-store")
	}
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("panic", "request_id", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec.status == 0 {
				WriteError(rec, r, p.log, errors.New("panic"))
			}
		}
		p.log.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("request_id", id),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes), slog.Int64("duration_ms", time.Since(start).Milliseconds()))
	}()
	// CORS before everything that can answer (413, 429, 404, 401): those
	// answers carry the headers, and preflights are never counted.
	if p.cors.apply(rec, r) {
		return
	}
	p.serve(rec, r, st)
}

// noStore reports whether responses to path must not be cached: every
// /v1/auth/* answer (keys, signing secrets, session tokens — security.md
// §1.7) and the device-login page.
func noStore(path string) bool {
	return strings.HasPrefix(path, "/v1/auth/") || path == "/auth/device"
}

// serve runs the pipeline's steps; st is the request's state, in r's
// context.
func (p *pipeline) serve(w http.ResponseWriter, r *http.Request, st *requestState) {
	// 1. Body size: declared or streamed, 413 before anything else.
	if r.ContentLength > MaxBodyBytes {
		WriteError(w, r, p.log, tooLarge())
		return
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			WriteError(w, r, p.log, core.Invalid("http_error", "There was an error parsing the body"))
			return
		}
		if len(b) > MaxBodyBytes {
			WriteError(w, r, p.log, tooLarge())
			return
		}
		body = b
	}
	r.Body = bodyReader(body)
	r.ContentLength = int64(len(body))

	// 2. Global rate limit (also counts unknown paths).
	if !rateExempt[r.URL.Path] {
		if !p.rateLimit(w, r, st) {
			return
		}
	}

	if p.serveSpec && r.URL.Path == "/openapi.json" && r.Method == http.MethodGet {
		p.next.ServeHTTP(w, r)
		return
	}

	// 3. Routing.
	route, pathParams, err := p.findRoute(r)
	if err != nil {
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			WriteError(w, r, p.log, core.NewError(core.KindMethodNotAllowed, "http_error", "Method Not Allowed"))
			return
		}
		WriteError(w, r, p.log, core.NotFound("http_error", "Not Found"))
		return
	}
	op := route.Operation
	st.route = route

	// Identifiers and query values that no store can hold (NUL, invalid
	// UTF-8) are bad input: the path is simply not found, a query value is a
	// validation error.
	if !storable(r.URL.Path) {
		WriteError(w, r, p.log, core.NotFound("http_error", "Not Found"))
		return
	}
	for k, vs := range queryValues(r) {
		for _, v := range vs {
			if !storable(k) || !storable(v) {
				WriteError(w, r, p.log, core.Query(strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", ""), "")).Unstorable().Err())
				return
			}
		}
	}

	// 4. Malformed JSON before authentication (endpoints with a body only).
	if op.RequestBody != nil && len(bytes.TrimSpace(body)) > 0 && isJSONContent(r.Header.Get("Content-Type")) {
		if !json.Valid(body) {
			WriteError(w, r, p.log, core.Invalid("invalid_json", "Request body is not valid JSON"))
			return
		}
	}
	if op.RequestBody != nil && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/json")
	}

	// 5. Authentication.
	if requiresAuth(route) {
		a := p.authenticate(r)
		if a.err != nil {
			WriteError(w, r, p.log, a.err)
			return
		}
	}

	if r.Method == http.MethodPost && route.Path == "/v1/cues" && len(body) > 0 {
		// The MCP server's flat create body (clients.md §2.1.11).
		flat, err := normalizeFlatCreate(body)
		if err != nil {
			WriteError(w, r, p.log, err)
			return
		}
		body = flat
		r.Body = bodyReader(body)
		r.ContentLength = int64(len(body))
	}

	// 6. Validation of path/query/header/body against the spec.
	in := &st.validate
	*in = openapi3filter.RequestValidationInput{
		Request: r, PathParams: pathParams, Route: route, Options: validationOptions,
	}
	if err := validateRequest(r.Context(), in); err != nil {
		WriteError(w, r, p.log, validationError(err))
		return
	}
	r.Body = bodyReader(body)
	if pr := principalFrom(r.Context()); pr != nil && pr.KeyHash != "" && p.usage != nil && p.usage.ApproachingLimit(r.Context(), pr.User) {
		w.Header().Set("X-CueAPI-Usage-Warning", "approaching_limit")
	}
	next := p.dispatcher(r, route, pathParams)
	if wantsVerifyEcho(r) {
		serveWithVerifyEcho(next, w, r, op.OperationID, body)
		return
	}
	next.ServeHTTP(w, r)
}

// validationOptions are the request validator's options (shared: the
// validator only reads them).
var validationOptions = &openapi3filter.Options{
	MultiError:          true,
	SkipSettingDefaults: true,
}

// validateRequest is openapi3filter.ValidateRequest without its security
// pass: the pipeline authenticates itself (step 5), and kin-openapi's pass,
// given an authentication function that accepts everything, could only fail
// for a security scheme the spec does not declare — checkSecuritySchemes
// rules that out when the handler is built. Path item parameters the
// operation overrides are skipped, the request body is validated when the
// operation has one, errors are collected (MultiError), exactly as there.
func validateRequest(ctx context.Context, in *openapi3filter.RequestValidationInput) error {
	var me openapi3.MultiError
	op := in.Route.Operation
	for _, ref := range in.Route.PathItem.Parameters {
		param := ref.Value
		if op.Parameters != nil && op.Parameters.GetByInAndName(param.In, param.Name) != nil {
			continue
		}
		if err := openapi3filter.ValidateParameter(ctx, in, param); err != nil {
			me = append(me, err)
		}
	}
	for _, ref := range op.Parameters {
		if err := openapi3filter.ValidateParameter(ctx, in, ref.Value); err != nil {
			me = append(me, err)
		}
	}
	if op.RequestBody != nil {
		if err := openapi3filter.ValidateRequestBody(ctx, in, op.RequestBody.Value); err != nil {
			me = append(me, err)
		}
	}
	if len(me) > 0 {
		return me
	}
	return nil
}

// checkSecuritySchemes reports a security requirement (global or of an
// operation) naming a scheme doc does not declare.
func checkSecuritySchemes(doc *openapi3.T) error {
	declared := func(name string) bool {
		return doc.Components != nil && doc.Components.SecuritySchemes[name] != nil && doc.Components.SecuritySchemes[name].Value != nil
	}
	check := func(where string, srs openapi3.SecurityRequirements) error {
		for _, sr := range srs {
			for name := range sr {
				if !declared(name) {
					return fmt.Errorf("api: %s: security scheme %q is not declared", where, name)
				}
			}
		}
		return nil
	}
	if err := check("spec", doc.Security); err != nil {
		return err
	}
	for tmpl, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil {
				if err := check(method+" "+tmpl, *op.Security); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// bodyReader reads the request body the pipeline has read (http.NoBody
// when empty: nothing to allocate).
func bodyReader(body []byte) io.ReadCloser {
	if len(body) == 0 {
		return http.NoBody
	}
	return io.NopCloser(bytes.NewReader(body))
}

// queryValues is r's parsed query; nil (no parsing) without one.
func queryValues(r *http.Request) url.Values {
	if r.URL.RawQuery == "" {
		return nil
	}
	return r.URL.Query()
}

// storable reports whether s is valid UTF-8 without NUL.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func tooLarge() error {
	return core.NewError(core.KindTooLarge, "request_too_large", fmt.Sprintf("Request body exceeds %d bytes", MaxBodyBytes))
}

func requiresAuth(route *routers.Route) bool {
	sec := route.Operation.Security
	if sec == nil {
		sec = &route.Spec.Security
	}
	return sec != nil && len(*sec) > 0
}

func isJSONContent(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// authenticate resolves the request's credentials once and caches the
// result in the request state.
func (p *pipeline) authenticate(r *http.Request) *authResult {
	st := stateFrom(r.Context())
	if st != nil && st.auth != nil {
		return st.auth
	}
	pr, err := p.accounts.Authenticate(r.Context(), r.Header.Get("Authorization"))
	a := &authResult{principal: pr, err: err}
	if st != nil {
		st.auth = a
	} else {
		*r = *r.WithContext(withState(r.Context(), &requestState{auth: a}))
	}
	return a
}

// rateLimit applies the global sliding window. A valid API key has its own
// bucket at the user's limit; anything else (no credentials, session JWTs,
// invalid or made-up keys) shares the client IP's bucket, so inventing keys
// never buys fresh buckets.
func (p *pipeline) rateLimit(w http.ResponseWriter, r *http.Request, st *requestState) bool {
	bucket, limit := "", 60
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer cue_sk_") {
		if a := p.authenticate(r); a.err == nil && a.principal != nil {
			bucket, limit = "key:"+a.principal.KeyHash, a.principal.User.RateLimitPerMinute
		}
	}
	if bucket == "" {
		bucket = "ip:" + st.clientIP
	}
	now := p.clock.Now()
	d, err := p.limiter.Allow(r.Context(), bucket, limit, time.Minute, now)
	if err != nil {
		p.log.Error("rate limiter failed", "request_id", RequestID(r.Context()), "err", err)
		return true
	}
	h := w.Header()
	// The three numbers share one string and the request state's array.
	var buf [3 * 20]byte
	b := strconv.AppendInt(buf[:0], int64(d.Limit), 10)
	n1 := len(b)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	n2 := len(b)
	b = strconv.AppendInt(b, d.ResetAt.Unix(), 10)
	all := string(b)
	v := &st.rateLimit
	*v = [3]string{all[:n1], all[n1:n2], all[n2:]}
	h["X-Ratelimit-Limit"] = v[0:1:1] // canonical forms of X-RateLimit-*
	h["X-Ratelimit-Remaining"] = v[1:2:2]
	h["X-Ratelimit-Reset"] = v[2:3:3]
	if !d.Allowed {
		secs := int((d.RetryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		WriteError(w, r, p.log, core.RateLimited(fmt.Sprintf("Too many requests. Retry after %d seconds.", secs), time.Duration(secs)*time.Second))
		return false
	}
	return true
}

func clientIP(ctx context.Context) string {
	if s := stateFrom(ctx); s != nil {
		return s.clientIP
	}
	return ""
}

// clientIP is the peer address, or — when the peer is a trusted proxy — the
// right-most X-Forwarded-For entry that is not itself a trusted proxy.
func (p *pipeline) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !p.trusted(peer) {
		return peer.String()
	}
	xff := r.Header.Values("X-Forwarded-For")
	var hops []string
	for _, v := range xff {
		for _, part := range strings.Split(v, ",") {
			if s := strings.TrimSpace(part); s != "" {
				hops = append(hops, s)
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break
		}
		a = a.Unmap()
		if !p.trusted(a) {
			return a.String()
		}
	}
	return peer.String()
}

func (p *pipeline) trusted(a netip.Addr) bool {
	for _, pfx := range p.trustedProxies {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}
