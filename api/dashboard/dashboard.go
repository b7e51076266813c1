// Package dashboard is the built-in web dashboard served under /dashboard:
// server-rendered html/template pages (auto-escaped), a small static
// script and style sheet, all embedded in the binary. It is an inbound
// HTTP adapter: every read and every mutation goes through the same core
// services, validation and tenant scoping as the JSON API.
//
// Security: sign-in exchanges an API key (posted once) for a session JWT in
// an HttpOnly, SameSite=Strict cookie scoped to /dashboard; every POST
// carries a CSRF token bound to the session (HMAC) and a same-origin
// check; pages send a strict Content-Security-Policy (no inline script or
// style), X-Frame-Options: DENY and Cache-Control: no-store.
package dashboard

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cueapi/cueapi/core"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is the path every dashboard URL starts with.
const Prefix = "/dashboard"

const (
	cookieName = "cueapi_dashboard"
	// codeCookie remembers the device code of a magic link this browser
	// asked for, so the hand-off is consumed once it is used.
	codeCookie = "cueapi_dashboard_code"
)

// csp is the Content-Security-Policy of every dashboard response.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Deps are the core services the dashboard calls.
type Deps struct {
	Log        core.Logger
	Clock      core.Clock
	Accounts   *core.Accounts
	Cues       *core.Cues
	Executions *core.Executions
	Outcomes   *core.Outcomes
	Workers    *core.Workers
	Alerts     *core.Alerts
	Usage      *core.UsageService
	Feed       core.ChangeFeed
	// Sessions issues and verifies the dashboard's session cookies.
	Sessions *core.Sessions
	// CSRFKey keys the CSRF tokens (at least 32 bytes; shared by replicas).
	CSRFKey []byte
	// WorkerHeartbeatTimeout: a worker seen within it is alive.
	WorkerHeartbeatTimeout time.Duration
	// SecureCookie marks the session cookie Secure (served over TLS).
	SecureCookie bool
	// DeviceLogin enables magic-link sign-in (nil: API keys only). The
	// magic link's page sends the browser to DASHBOARD_URL/login, so
	// DASHBOARD_URL must be BASE_URL/dashboard for it to land here.
	DeviceLogin *core.DeviceLogin
}

// Handler serves /dashboard/…
type Handler struct {
	d        Deps
	mux      *http.ServeMux
	pages    map[string]*template.Template
	stopping chan struct{}
	stopOnce sync.Once
}

// StopStreams ends every open live-feed stream (server shutdown: the
// browsers reconnect to another replica or after the restart). Register
// it with http.Server.RegisterOnShutdown, which does not end long-lived
// responses by itself.
func (h *Handler) StopStreams() { h.stopOnce.Do(func() { close(h.stopping) }) }

// New builds the dashboard handler.
func New(d Deps) (*Handler, error) {
	if d.Log == nil || d.Clock == nil || d.Accounts == nil || d.Cues == nil || d.Executions == nil || d.Outcomes == nil ||
		d.Workers == nil || d.Alerts == nil || d.Usage == nil || d.Feed == nil || !d.Sessions.Enabled() || len(d.CSRFKey) < 32 {
		return nil, errors.New("dashboard: missing dependency")
	}
	h := &Handler{d: d, mux: http.NewServeMux(), pages: map[string]*template.Template{}, stopping: make(chan struct{})}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("dashboard: parse %s: %w", n, err)
		}
		h.pages[strings.TrimSuffix(base, ".html")] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h.mux.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET "+Prefix+"/login", h.loginPage)
	h.mux.HandleFunc("POST "+Prefix+"/login", h.login)
	h.mux.HandleFunc("POST "+Prefix+"/login/email", h.emailLink)
	h.mux.HandleFunc("GET "+Prefix+"/{$}", h.authed(func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, Prefix+"/cues", http.StatusSeeOther)
	}))
	h.mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
	h.route("POST /logout", h.logout)
	h.route("GET /cues", h.cuesPage)
	h.route("GET /cues/new", h.newCuePage)
	h.route("POST /cues", h.createCue)
	h.route("GET /cues/{id}", h.cuePage)
	h.route("GET /cues/{id}/edit", h.editCuePage)
	h.route("POST /cues/{id}", h.updateCue)
	h.route("POST /cues/{id}/status", h.setCueStatus)
	h.route("POST /cues/{id}/fire", h.fireCue)
	// A refused fire's page sits at .../fire: its live refresh and a
	// reload land on the cue's page.
	h.route("GET /cues/{id}/fire", func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, Prefix+"/cues/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
	})
	h.route("GET /cues/{id}/delete", h.deleteCuePage)
	h.route("POST /cues/{id}/delete", h.deleteCue)
	h.route("POST /executions/{id}/replay", h.replay)
	h.route("POST /executions/{id}/verify", h.verify)
	h.route("GET /workers", h.workersPage)
	h.route("GET /alerts", h.alertsPage)
	h.route("POST /alerts/{id}/ack", h.ackAlert)
	h.route("GET /usage", h.usagePage)
	h.route("GET /settings", h.settingsPage)
	h.route("POST /settings/secret", h.secret)
	h.route("GET /api/cron-preview", h.cronPreview)
	h.route("GET /events", h.events)
	return h, nil
}

func (h *Handler) route(pattern string, fn func(http.ResponseWriter, *http.Request, *session)) {
	method, path, _ := strings.Cut(pattern, " ")
	h.mux.HandleFunc(method+" "+Prefix+path, h.authed(fn))
}

// ServeHTTP applies the security headers and the same-origin rule for
// POSTs, then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
		hd.Set("Cache-Control", "no-store")
	}
	if r.Method == http.MethodPost && !sameOrigin(r) {
		h.fail(w, r, nil, http.StatusForbidden, "Cross-site request refused.")
		return
	}
	if r.URL.Path == Prefix {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// sameOrigin refuses requests a browser marks as cross-site, and requests
// whose Origin names another host.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// session is a signed-in browser.
type session struct {
	User  *core.User
	token string
	CSRF  string
}

func (h *Handler) csrfFor(token string) string {
	m := hmac.New(sha256.New, h.d.CSRFKey)
	m.Write([]byte("dashboard-csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *Handler) current(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	claims, err := h.d.Sessions.Verify(c.Value, h.d.Clock.Now())
	if err != nil {
		return nil
	}
	u, err := h.d.Accounts.UserByID(r.Context(), core.TenantID(claims.Sub))
	if err != nil {
		return nil
	}
	return &session{User: u, token: c.Value, CSRF: h.csrfFor(c.Value)}
}

// authed requires a session, and a valid CSRF token on every POST.
func (h *Handler) authed(fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := h.current(r)
		if s == nil {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, Prefix+"/api/") && r.URL.Path != Prefix+"/events" {
				http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
				return
			}
			h.fail(w, r, nil, http.StatusUnauthorized, "Sign in first.")
			return
		}
		if r.Method == http.MethodPost {
			got := r.PostFormValue("csrf")
			if got == "" {
				got = r.Header.Get("X-CSRF-Token")
			}
			if !hmac.Equal([]byte(got), []byte(s.CSRF)) {
				h.fail(w, r, s, http.StatusForbidden, "The form expired or came from elsewhere. Reload the page and try again.")
				return
			}
		}
		fn(w, r, s)
	}
}

func (h *Handler) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: Prefix, HttpOnly: true, Secure: h.d.SecureCookie,
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge,
	})
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if h.current(r) != nil {
		http.Redirect(w, r, Prefix+"/cues", http.StatusSeeOther)
		return
	}
	h.render(w, r, nil, http.StatusOK, "login", map[string]any{"Title": "Sign in", "Magic": h.d.DeviceLogin != nil})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	fail := func(msg string) {
		h.render(w, r, nil, http.StatusUnauthorized, "login", map[string]any{"Title": "Sign in", "Error": msg, "Magic": h.d.DeviceLogin != nil})
	}
	if tok := r.PostFormValue("session_token"); tok != "" && h.d.DeviceLogin != nil {
		h.magicLogin(w, r, tok, fail)
		return
	}
	if !strings.HasPrefix(key, "cue_sk_") {
		fail("Paste an API key (it starts with cue_sk_).")
		return
	}
	p, err := h.d.Accounts.Authenticate(r.Context(), "Bearer "+key)
	if err != nil {
		fail(errorMessage(err))
		return
	}
	tok, err := h.d.Sessions.Issue(p.User, h.d.Clock.Now())
	if err != nil {
		h.fail(w, r, nil, http.StatusServiceUnavailable, "Sessions are not available.")
		return
	}
	// No Max-Age: the cookie ends with the browser session; the JWT inside
	// expires after core.SessionTTL in any case.
	h.setCookie(w, tok, 0)
	http.Redirect(w, r, Prefix+"/cues", http.StatusSeeOther)
}

// magicLogin exchanges a magic link's one-time session token (single use,
// through the same service as POST /v1/auth/session) for the cookie.
func (h *Handler) magicLogin(w http.ResponseWriter, r *http.Request, tok string, fail func(string)) {
	jwt, _, err := h.d.DeviceLogin.ExchangeSession(r.Context(), tok)
	if err != nil {
		fail(errorMessage(err))
		return
	}
	if _, err := h.d.Sessions.Verify(jwt, h.d.Clock.Now()); err != nil {
		fail("This server's dashboard sessions need SESSION_SECRET.")
		return
	}
	if c, err := r.Cookie(codeCookie); err == nil && c.Value != "" {
		// Consume the hand-off (a new account's key) the browser never
		// needs: it is not kept until the code's purge.
		_, _ = h.d.DeviceLogin.Poll(r.Context(), c.Value)
		http.SetCookie(w, &http.Cookie{Name: codeCookie, Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: h.d.SecureCookie, SameSite: http.SameSiteStrictMode})
	}
	h.setCookie(w, jwt, 0)
	http.Redirect(w, r, Prefix+"/cues", http.StatusSeeOther)
}

// emailLink starts a magic-link sign-in: a device code of the dashboard's
// own and the email, through the device-login service (its limits apply).
func (h *Handler) emailLink(w http.ResponseWriter, r *http.Request) {
	data := map[string]any{"Title": "Sign in", "Magic": h.d.DeviceLogin != nil}
	if h.d.DeviceLogin == nil {
		h.fail(w, r, nil, http.StatusNotFound, "Magic-link sign-in is not enabled.")
		return
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	code := "DASH-" + strings.ToUpper(core.RandomHex(8))
	if _, err = h.d.DeviceLogin.Create(r.Context(), code, ip); err == nil {
		err = h.d.DeviceLogin.SubmitEmail(r.Context(), code, r.PostFormValue("email"), ip)
	}
	if err != nil {
		data["Error"] = errorMessage(err)
		h.render(w, r, nil, statusOf(err), "login", data)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: codeCookie, Value: code, Path: Prefix, MaxAge: int(core.DeviceCodeTTL.Seconds()),
		HttpOnly: true, Secure: h.d.SecureCookie, SameSite: http.SameSiteLaxMode})
	data["Sent"] = true
	h.render(w, r, nil, http.StatusOK, "login", data)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	h.setCookie(w, "", -1)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// errorMessage is the client-facing text of a core error.
func errorMessage(err error) string {
	var ce *core.Error
	if errors.As(err, &ce) {
		if len(ce.Details) > 0 {
			var parts []string
			for _, d := range ce.Details {
				parts = append(parts, problemText(d))
			}
			return strings.Join(parts, "; ")
		}
		return ce.Message
	}
	var rej *core.URLRejection
	if errors.As(err, &rej) {
		return rej.Message
	}
	return "Something went wrong."
}

// statusOf maps a core error to the page's HTTP status.
func statusOf(err error) int {
	var ce *core.Error
	if errors.As(err, &ce) {
		switch ce.Kind {
		case core.KindNotFound:
			return http.StatusNotFound
		case core.KindInvalid, core.KindUnprocessable, core.KindTooLarge:
			return http.StatusBadRequest
		case core.KindConflict:
			return http.StatusConflict
		case core.KindForbidden:
			return http.StatusForbidden
		case core.KindUnauthorized:
			return http.StatusUnauthorized
		case core.KindRateLimited:
			return http.StatusTooManyRequests
		}
	}
	switch {
	case errors.Is(err, core.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

// fail renders the error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	title := "Error"
	if status == http.StatusNotFound {
		title = "Not found"
	}
	h.render(w, r, s, status, "error", map[string]any{"Title": title, "Status": status, "Message": msg})
}

// failErr renders err (internal errors are logged, not shown).
func (h *Handler) failErr(w http.ResponseWriter, r *http.Request, s *session, err error) {
	st := statusOf(err)
	if st >= 500 {
		h.d.Log.Error("dashboard request failed", "path", r.URL.Path, "err", err)
		h.fail(w, r, s, http.StatusInternalServerError, "Something went wrong.")
		return
	}
	h.fail(w, r, s, st, errorMessage(err))
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *session, status int, page string, data map[string]any) {
	t := h.pages[page]
	if t == nil {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	data["Session"] = s
	if _, ok := data["Path"]; !ok {
		data["Path"] = r.URL.Path
	}
	data["Now"] = h.d.Clock.Now()
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		h.d.Log.Error("dashboard render failed", "page", page, "err", err)
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
