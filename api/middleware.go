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
	"runtime/debug"
	"sort"
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

const (
	ctxRequestID ctxKey = iota
	ctxAuth
	ctxClientIP
	ctxHeader
	ctxNonce
)

// htmlPages get a nonce-based Content-Security-Policy.
var htmlPages = map[string]bool{"/auth/device": true, "/v1/auth/verify": true}

// cspNonce is the request's script/style nonce ("" outside HTML pages).
func cspNonce(ctx context.Context) string {
	s, _ := ctx.Value(ctxNonce).(string)
	return s
}

// requestHeader returns the request's headers (the echo sink stores them).
func requestHeader(ctx context.Context) http.Header {
	h, _ := ctx.Value(ctxHeader).(http.Header)
	return h
}

// RequestID returns the request's id ("" outside a request).
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(ctxRequestID).(string)
	return s
}

// authResult is the outcome of authenticating the request's credentials,
// computed at most once per request.
type authResult struct {
	principal *core.Principal
	err       error
}

func principalFrom(ctx context.Context) *core.Principal {
	if a, ok := ctx.Value(ctxAuth).(*authResult); ok && a.err == nil {
		return a.principal
	}
	return nil
}

// rateExempt are the paths the global limiter ignores (exact match).
var rateExempt = map[string]bool{
	"/health": true, "/status": true, "/docs": true, "/openapi.json": true, "/redoc": true,
	"/auth/device": true, "/v1/auth/verify": true,
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
}

func (p *pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := core.NewUUID() // an incoming X-Request-Id is ignored (log forging)
	ctx := context.WithValue(r.Context(), ctxRequestID, id)
	ctx = context.WithValue(ctx, ctxClientIP, p.clientIP(r))
	ctx = context.WithValue(ctx, ctxHeader, r.Header)
	if htmlPages[r.URL.Path] {
		nonce := core.RandomHex(16)
		ctx = context.WithValue(ctx, ctxNonce, nonce)
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+"'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		w.Header().Set("Cache-Control", "no-store")
	}
	r = r.WithContext(ctx)
	rec := &statusRecorder{ResponseWriter: w}
	h := rec.Header()
	h.Set("X-Request-Id", id)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
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
		p.log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "bytes", rec.bytes, "duration_ms", time.Since(start).Milliseconds())
	}()
	// CORS before everything that can answer (413, 429, 404, 401): those
	// answers carry the headers, and preflights are never counted.
	if p.cors.apply(rec, r) {
		return
	}
	p.serve(rec, r)
}

// noStore reports whether responses to path must not be cached: every
// /v1/auth/* answer (keys, signing secrets, session tokens — security.md
// §1.7) and the device-login page.
func noStore(path string) bool {
	return strings.HasPrefix(path, "/v1/auth/") || path == "/auth/device"
}

func (p *pipeline) serve(w http.ResponseWriter, r *http.Request) {
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
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))

	// 2. Global rate limit (also counts unknown paths).
	if !rateExempt[r.URL.Path] {
		if !p.rateLimit(w, r) {
			return
		}
	}

	if p.serveSpec && r.URL.Path == "/openapi.json" && r.Method == http.MethodGet {
		p.next.ServeHTTP(w, r)
		return
	}

	// 3. Routing.
	route, pathParams, err := p.router.FindRoute(r)
	if err != nil {
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			WriteError(w, r, p.log, core.NewError(core.KindMethodNotAllowed, "http_error", "Method Not Allowed"))
			return
		}
		WriteError(w, r, p.log, core.NotFound("http_error", "Not Found"))
		return
	}
	op := route.Operation

	// Identifiers and query values that no store can hold (NUL, invalid
	// UTF-8) are bad input: the path is simply not found, a query value is a
	// validation error.
	if !storable(r.URL.Path) {
		WriteError(w, r, p.log, core.NotFound("http_error", "Not Found"))
		return
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			if !storable(k) || !storable(v) {
				WriteError(w, r, p.log, core.Unprocessable("query."+strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", ""), ""), "String should not contain null or invalid characters"))
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

	// 6. Validation of path/query/header/body against the spec.
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: pathParams, Route: route,
		Options: &openapi3filter.Options{
			MultiError:          true,
			SkipSettingDefaults: true,
			AuthenticationFunc:  func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
		},
	}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		WriteError(w, r, p.log, validationError(err))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if pr := principalFrom(r.Context()); pr != nil && pr.KeyHash != "" && p.usage != nil && p.usage.ApproachingLimit(r.Context(), pr.User) {
		w.Header().Set("X-CueAPI-Usage-Warning", "approaching_limit")
	}
	p.next.ServeHTTP(w, r)
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
// result in the context.
func (p *pipeline) authenticate(r *http.Request) *authResult {
	if a, ok := r.Context().Value(ctxAuth).(*authResult); ok {
		return a
	}
	pr, err := p.accounts.Authenticate(r.Context(), r.Header.Get("Authorization"))
	a := &authResult{principal: pr, err: err}
	*r = *r.WithContext(context.WithValue(r.Context(), ctxAuth, a))
	return a
}

// rateLimit applies the global sliding window. A valid API key has its own
// bucket at the user's limit; anything else (no credentials, session JWTs,
// invalid or made-up keys) shares the client IP's bucket, so inventing keys
// never buys fresh buckets.
func (p *pipeline) rateLimit(w http.ResponseWriter, r *http.Request) bool {
	bucket, limit := "ip:"+clientIP(r.Context()), 60
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer cue_sk_") {
		if a := p.authenticate(r); a.err == nil && a.principal != nil {
			bucket, limit = "key:"+a.principal.KeyHash, a.principal.User.RateLimitPerMinute
		}
	}
	now := p.clock.Now()
	d, err := p.limiter.Allow(r.Context(), bucket, limit, time.Minute, now)
	if err != nil {
		p.log.Error("rate limiter failed", "request_id", RequestID(r.Context()), "err", err)
		return true
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(d.ResetAt.Unix(), 10))
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
	s, _ := ctx.Value(ctxClientIP).(string)
	return s
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

// validationError converts kin-openapi's request errors into the 422
// validation envelope with pydantic-style messages.
func validationError(err error) error {
	var details []core.FieldError
	collectRequestErrors(err, &details)
	if len(details) == 0 {
		details = append(details, core.FieldError{Field: "body", Message: "Invalid request"})
	}
	sort.SliceStable(details, func(i, j int) bool { return false })
	first := details[0]
	msg := first.Message
	if first.Field != "" {
		msg = first.Field + ": " + first.Message
	}
	return &core.Error{Kind: core.KindUnprocessable, Code: "validation_error", Message: msg, Details: details}
}

func collectRequestErrors(err error, out *[]core.FieldError) {
	// A type assertion, not errors.As: a RequestError unwraps to the
	// MultiError of its schema errors, which must keep its location.
	if me, ok := err.(openapi3.MultiError); ok {
		for _, e := range me {
			collectRequestErrors(e, out)
		}
		return
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		*out = append(*out, core.FieldError{Field: "body", Message: "Invalid request"})
		return
	}
	loc := "body"
	if re.Parameter != nil {
		loc = re.Parameter.In + "." + re.Parameter.Name
	}
	if re.Err == nil {
		msg := re.Reason
		if strings.Contains(msg, "value is required but missing") || strings.Contains(msg, "must have a value") {
			msg = "Field required"
		}
		*out = append(*out, core.FieldError{Field: loc, Message: msg})
		return
	}
	collectSchemaErrors(loc, re.Err, out)
}

func collectSchemaErrors(loc string, err error, out *[]core.FieldError) {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			collectSchemaErrors(loc, e, out)
		}
		return
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		field := loc
		for _, p := range se.JSONPointer() {
			field += "." + p
		}
		msg := schemaMessage(se)
		if se.SchemaField == "properties" && strings.HasPrefix(se.Reason, "property ") {
			if name, ok := quoted(se.Reason); ok {
				field += "." + name
			}
		}
		*out = append(*out, core.FieldError{Field: field, Message: msg})
		return
	}
	var pe *openapi3filter.ParseError
	if errors.As(err, &pe) {
		*out = append(*out, core.FieldError{Field: loc, Message: "Input should be a valid integer, unable to parse string as an integer"})
		return
	}
	msg := err.Error()
	if errors.Is(err, openapi3filter.ErrInvalidRequired) || strings.Contains(msg, "value is required") {
		msg = "Field required"
	} else if strings.Contains(msg, "Content-Type") || strings.Contains(msg, "content type") {
		msg = "Input should be a valid dictionary"
	}
	*out = append(*out, core.FieldError{Field: loc, Message: msg})
}

func quoted(s string) (string, bool) {
	i := strings.IndexByte(s, '"')
	j := strings.LastIndexByte(s, '"')
	if i < 0 || j <= i {
		return "", false
	}
	return s[i+1 : j], true
}

// schemaMessage renders a schema violation in pydantic v2 wording where the
// clients might show it.
func schemaMessage(se *openapi3.SchemaError) string {
	s := se.Schema
	switch se.SchemaField {
	case "required":
		return "Field required"
	case "properties":
		if strings.HasSuffix(se.Reason, "is unsupported") {
			return "Extra inputs are not permitted"
		}
	case "maxLength":
		if s != nil && s.MaxLength != nil {
			return fmt.Sprintf("String should have at most %d characters", *s.MaxLength)
		}
	case "minLength":
		if s != nil {
			return fmt.Sprintf("String should have at least %d character", s.MinLength) + plural(s.MinLength)
		}
	case "maximum":
		if s != nil && s.Max != nil {
			return fmt.Sprintf("Input should be less than or equal to %s", num(*s.Max))
		}
	case "minimum":
		if s != nil && s.Min != nil {
			return fmt.Sprintf("Input should be greater than or equal to %s", num(*s.Min))
		}
	case "enum":
		if s != nil && len(s.Enum) > 0 {
			return "Input should be " + enumList(s.Enum)
		}
	case "type", "nullable":
		if s != nil && s.Type != nil {
			switch {
			case s.Type.Is("object"):
				return "Input should be a valid dictionary"
			case s.Type.Is("integer"):
				return "Input should be a valid integer"
			case s.Type.Is("string"):
				return "Input should be a valid string"
			case s.Type.Is("boolean"):
				return "Input should be a valid boolean"
			case s.Type.Is("array"):
				return "Input should be a valid list"
			case s.Type.Is("number"):
				return "Input should be a valid number"
			}
		}
	case "maxItems":
		if s != nil && s.MaxItems != nil {
			return fmt.Sprintf("List should have at most %d items", *s.MaxItems)
		}
	case "maxProperties":
		if s != nil && s.MaxProps != nil {
			return fmt.Sprintf("Dictionary should have at most %d items", *s.MaxProps)
		}
	}
	return se.Reason
}

func plural(n uint64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func enumList(vals []any) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = fmt.Sprintf("'%v'", v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
