package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
	"github.com/cueapi/cueapi/core"
)

// dashClient is a cookie-keeping HTTP client that does not follow
// redirects (so tests see them).
type dashClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newDashClient(t *testing.T, e *testEnv) *dashClient {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &dashClient{t: t, base: e.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (d *dashClient) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	d.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, d.base+path, body)
	require.NoError(d.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := d.c.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	return resp, string(b)
}

// login signs in with key and remembers the CSRF token of the next page.
func (d *dashClient) login(key string) *http.Response {
	d.t.Helper()
	resp, _ := d.do("POST", "/dashboard/login", url.Values{"api_key": {key}}, nil)
	require.Equal(d.t, http.StatusSeeOther, resp.StatusCode)
	_, page := d.do("GET", "/dashboard/cues", nil, nil)
	i := strings.Index(page, `data-csrf="`)
	require.GreaterOrEqual(d.t, i, 0, page)
	rest := page[i+len(`data-csrf="`):]
	d.csrf = rest[:strings.Index(rest, `"`)]
	return resp
}

func TestDashboardHTTP(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, backendSQLite, nil)
	key := e.register()
	otherKey := e.register()
	mine := e.createCue(key, `{"name":"mine","schedule":{"type":"recurring","cron":"0 9 * * *"},"callback":{"url":"https://hooks.example.com/a"}}`)
	theirs := e.createCue(otherKey, `{"name":"theirs","schedule":{"type":"recurring","cron":"0 9 * * *"},"callback":{"url":"https://hooks.example.com/b"}}`)
	d := newDashClient(t, e)

	t.Run("signed out: pages redirect to sign-in, endpoints answer 401", func(t *testing.T) {
		resp, _ := d.do("GET", "/dashboard/cues", nil, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/dashboard/login", resp.Header.Get("Location"))
		resp, _ = d.do("GET", "/dashboard/events", nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp, _ = d.do("GET", "/dashboard/api/cron-preview?cron=*+*+*+*+*", nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	t.Run("security headers", func(t *testing.T) {
		resp, _ := d.do("GET", "/dashboard/login", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		csp := resp.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "script-src 'self';")
		require.Contains(t, csp, "style-src 'self';")
		require.Contains(t, csp, "frame-ancestors 'none'")
		require.NotContains(t, csp, "unsafe-inline")
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	})

	t.Run("a wrong key is refused", func(t *testing.T) {
		resp, body := d.do("POST", "/dashboard/login", url.Values{"api_key": {"cue_sk_" + strings.Repeat("0", 32)}}, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Contains(t, body, "Invalid API key")
		require.Empty(t, resp.Cookies())
	})

	t.Run("sign-in sets a strict session cookie", func(t *testing.T) {
		resp := d.login(key)
		var c *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "cueapi_dashboard" {
				c = ck
			}
		}
		require.NotNil(t, c)
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		require.Equal(t, "/dashboard", c.Path)
		require.Zero(t, c.MaxAge)
		require.True(t, c.Expires.IsZero())
		require.NotContains(t, c.Value, key)
		require.NotEmpty(t, d.csrf)
	})

	status := func(key, id string) string {
		t.Helper()
		_, raw := e.raw("GET", "/v1/cues/"+id, key, "", nil)
		var c struct{ Status string }
		require.NoError(t, json.Unmarshal(raw, &c))
		return c.Status
	}

	t.Run("POSTs need the CSRF token and the same origin", func(t *testing.T) {
		path := "/dashboard/cues/" + mine.ID + "/status"
		resp, _ := d.do("POST", path, url.Values{"status": {"paused"}}, nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		resp, _ = d.do("POST", path, url.Values{"status": {"paused"}, "csrf": {d.csrf + "x"}}, nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		resp, _ = d.do("POST", path, url.Values{"status": {"paused"}, "csrf": {d.csrf}}, map[string]string{"Origin": "https://evil.example"})
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		resp, _ = d.do("POST", path, url.Values{"status": {"paused"}, "csrf": {d.csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"})
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Equal(t, "active", status(key, mine.ID))
		resp, _ = d.do("POST", path, url.Values{"status": {"paused"}, "csrf": {d.csrf}}, map[string]string{"Origin": e.srv.URL})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "paused", status(key, mine.ID))
	})

	t.Run("another tenant's cue is not found, and stays as it was", func(t *testing.T) {
		for _, p := range []string{"/dashboard/cues/" + theirs.ID, "/dashboard/cues/" + theirs.ID + "/edit", "/dashboard/cues/" + theirs.ID + "/delete"} {
			resp, body := d.do("GET", p, nil, nil)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
			require.NotContains(t, body, "theirs")
		}
		for _, action := range []string{"status", "fire", "delete"} {
			resp, _ := d.do("POST", "/dashboard/cues/"+theirs.ID+"/"+action, url.Values{"status": {"paused"}, "confirm_name": {"theirs"}, "csrf": {d.csrf}}, nil)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, action)
		}
		require.Equal(t, "active", status(otherKey, theirs.ID))
		require.Empty(t, e.executions(otherKey, theirs.ID))
	})

	t.Run("the form goes through the API's validation", func(t *testing.T) {
		form := url.Values{"csrf": {d.csrf}, "name": {"bad cron"}, "transport": {"webhook"}, "schedule_type": {"recurring"},
			"cron": {"61 * * * *"}, "timezone": {"UTC"}, "url": {"https://hooks.example.com/x"}, "method": {"POST"},
			"payload": {"{}"}, "max_attempts": {"3"}, "backoff": {"1"}, "verification": {"none"}, "catch_up": {"latest"}}
		resp, body := d.do("POST", "/dashboard/cues", form, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Contains(t, body, `id="form-error"`)
		require.Contains(t, body, `value="61 * * * *"`) // shown again as typed
		form.Set("cron", "0 9 * * *")
		form.Set("url", "http://127.0.0.1/x") // SSRF policy, as the API
		resp, body = d.do("POST", "/dashboard/cues", form, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
		form.Set("url", "https://hooks.example.com/x")
		form.Set("max_attempts", "11")
		resp, _ = d.do("POST", "/dashboard/cues", form, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		form.Set("max_attempts", "3")
		resp, _ = d.do("POST", "/dashboard/cues", form, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Contains(t, resp.Header.Get("Location"), "/dashboard/cues/cue_")
		resp, _ = d.do("POST", "/dashboard/cues", form, nil)
		require.Equal(t, http.StatusConflict, resp.StatusCode) // duplicate name
	})

	t.Run("delete needs the name typed", func(t *testing.T) {
		c := e.createCue(key, `{"name":"doomed","schedule":{"type":"recurring","cron":"0 9 * * *"},"callback":{"url":"https://hooks.example.com/a"}}`)
		resp, _ := d.do("POST", "/dashboard/cues/"+c.ID+"/delete", url.Values{"csrf": {d.csrf}, "confirm_name": {"doome"}}, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "active", status(key, c.ID))
		resp, _ = d.do("POST", "/dashboard/cues/"+c.ID+"/delete", url.Values{"csrf": {d.csrf}, "confirm_name": {"doomed"}}, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		got, _ := e.raw("GET", "/v1/cues/"+c.ID, key, "", nil)
		require.Equal(t, http.StatusNotFound, got.StatusCode)
	})

	t.Run("cron preview: next 5 in the zone, DST-correct", func(t *testing.T) {
		// Sundays 02:30 in Berlin; 2026-03-29 02:30 does not exist (spring
		// forward) and fires at 03:30 CEST.
		resp, body := d.do("GET", "/dashboard/api/cron-preview?"+url.Values{"cron": {"30 2 * * 0"}, "tz": {"Europe/Berlin"}}.Encode(), nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var out struct {
			Times []string
			Words string
		}
		require.NoError(t, json.Unmarshal([]byte(body), &out))
		require.Equal(t, []string{
			"Sun 2026-03-22 02:30 CET (+01:00)",
			"Sun 2026-03-29 03:30 CEST (+02:00)",
			"Sun 2026-04-05 02:30 CEST (+02:00)",
			"Sun 2026-04-12 02:30 CEST (+02:00)",
			"Sun 2026-04-19 02:30 CEST (+02:00)",
		}, out.Times)
		require.Equal(t, "02:30 on Sun, Europe/Berlin", out.Words)
		for _, q := range []url.Values{{"cron": {"not cron"}}, {"cron": {"* * * * *"}, "tz": {"Mars/Olympus"}}} {
			resp, body := d.do("GET", "/dashboard/api/cron-preview?"+q.Encode(), nil, nil)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Contains(t, body, `"error":`)
		}
	})

	t.Run("secrets are revealed on demand and regenerated only when confirmed", func(t *testing.T) {
		_, body := d.do("POST", "/dashboard/settings/secret", url.Values{"csrf": {d.csrf}, "which": {"webhook"}, "action": {"reveal"}}, nil)
		i := strings.Index(body, `id="secret-value">`)
		require.GreaterOrEqual(t, i, 0)
		old := body[i+len(`id="secret-value">`):][:70]
		require.True(t, strings.HasPrefix(old, "whsec_"))
		resp, _ := d.do("POST", "/dashboard/settings/secret", url.Values{"csrf": {d.csrf}, "which": {"webhook"}, "action": {"regenerate"}}, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		_, again := d.do("POST", "/dashboard/settings/secret", url.Values{"csrf": {d.csrf}, "which": {"webhook"}, "action": {"reveal"}}, nil)
		require.Contains(t, again, old)
		resp, body = d.do("POST", "/dashboard/settings/secret", url.Values{"csrf": {d.csrf}, "which": {"webhook"}, "action": {"regenerate"}, "confirm": {"yes"}}, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotContains(t, body, old)
	})

	t.Run("sign-out clears the cookie", func(t *testing.T) {
		resp, _ := d.do("POST", "/dashboard/logout", url.Values{"csrf": {d.csrf}}, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		resp, _ = d.do("GET", "/dashboard/cues", nil, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	})
}

// With DASHBOARD=off nothing is served under /dashboard (the API's 404);
// production defaults to off, development to on.
func TestDashboardSwitch(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, backendSQLite, func(c *config) { c.Dashboard = false })
	resp, body := e.raw("GET", "/dashboard/login", "", "", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.NotContains(t, string(body), "<html")

	load := func(env map[string]string) *config {
		c, err := loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		require.NoError(t, err)
		return c
	}
	secret := strings.Repeat("q7", 20)
	require.True(t, load(map[string]string{}).Dashboard)
	require.False(t, load(map[string]string{"ENV": "production", "SESSION_SECRET": secret}).Dashboard)
	require.True(t, load(map[string]string{"ENV": "production", "SESSION_SECRET": secret, "DASHBOARD": "on"}).Dashboard)
	require.False(t, load(map[string]string{"DASHBOARD": "off"}).Dashboard)
}

// Committed changes reach the change feed: cue edits, fires, deliveries
// and outcomes, each for its own tenant only (both backends).
func TestChangeFeedPublishes(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := engineEnv(t, be)
			rcv := newReceiver(t)
			key, otherKey := e.register(), e.register()
			u, other := e.userOf(key), e.userOf(otherKey)
			mine, cancel := e.app.feed.Subscribe(t.Context(), u.ID)
			defer cancel()
			theirs, cancelTheirs := e.app.feed.Subscribe(t.Context(), other.ID)
			defer cancelTheirs()
			next := func() core.Change {
				t.Helper()
				select {
				case c := <-mine:
					return c
				case <-time.After(10 * time.Second):
					t.Fatal("no change announced")
					return core.Change{}
				}
			}
			c := e.createCue(key, `{"name":"fed","schedule":{"type":"recurring","cron":"0 9 * * *"},"callback":{"url":"`+rcv.url("/")+`"}}`)
			got := next()
			require.Equal(t, core.ChangeCue, got.Kind)
			require.Equal(t, core.CueID(c.ID), got.CueID)

			f, err := e.client.FireCueWithResponse(context.Background(), c.ID, nil, apiclient.FireRequest{}, auth(key))
			require.NoError(t, err)
			got = next()
			require.Equal(t, core.Change{Kind: core.ChangeExecution, TenantID: u.ID, EntityID: f.JSON200.ID, CueID: core.CueID(c.ID)}, got)
			_, n := e.pump()
			require.Equal(t, 1, n)
			require.Equal(t, f.JSON200.ID, next().EntityID) // claimed (delivering)
			require.Equal(t, f.JSON200.ID, next().EntityID) // recorded (success)
			code, body := report(t, e, key, f.JSON200.ID, `{"success":true}`)
			require.Equal(t, http.StatusOK, code, string(body))
			require.Equal(t, f.JSON200.ID, next().EntityID)
			select {
			case c := <-theirs:
				t.Fatalf("another tenant saw %+v", c)
			default:
			}
		})
	}
}

// Magic-link sign-in: the dashboard asks for a link (device-login service,
// fake mailer), the link's page hands the one-time session token to
// /dashboard/login, which exchanges it once for the cookie and consumes
// the device code's hand-off.
func TestDashboardMagicLink(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, backendSQLite, func(c *config) { c.DashboardURL = "http://127.0.0.1/dashboard" })
	d := newDashClient(t, e)
	resp, body := d.do("POST", "/dashboard/login/email", url.Values{"email": {"magic@example.com"}}, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `id="link-sent"`)
	var code string
	for _, c := range resp.Cookies() {
		if c.Name == "cueapi_dashboard_code" {
			code = c.Value
		}
	}
	require.True(t, strings.HasPrefix(code, "DASH-"), code)
	link := e.mailer.link("magic@example.com")
	require.NotEmpty(t, link)
	u, err := url.Parse(link)
	require.NoError(t, err)
	_, page := e.raw("GET", u.RequestURI(), "", "", nil)
	require.Contains(t, string(page), `"http://127.0.0.1/dashboard" + "/login#auth="`)
	i := strings.Index(string(page), `"sessionToken":"`)
	require.GreaterOrEqual(t, i, 0, string(page))
	tok := string(page)[i+len(`"sessionToken":"`):]
	tok = tok[:strings.Index(tok, `"`)]

	resp, _ = d.do("POST", "/dashboard/login", url.Values{"session_token": {"not-the-token"}}, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = d.do("POST", "/dashboard/login", url.Values{"session_token": {tok}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, body = d.do("GET", "/dashboard/settings", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "magic@example.com")
	// The hand-off (the new account's key) was consumed, not left waiting.
	p, err := e.client.PollDeviceCodeWithResponse(context.Background(), apiclient.DeviceCodeRequest{DeviceCode: code})
	require.NoError(t, err)
	require.Equal(t, apiclient.DeviceCodeStatus("claimed"), p.JSON200.Status)
	require.Nil(t, p.JSON200.APIKey)
	// Single use.
	d2 := newDashClient(t, e)
	resp, _ = d2.do("POST", "/dashboard/login", url.Values{"session_token": {tok}}, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// The live feed is a Server-Sent Events stream of the signed-in tenant's
// changes, described through the tenant-scoped services; StopStreams (on
// server shutdown) ends it.
func TestDashboardEventStream(t *testing.T) {
	t.Parallel()
	e := engineEnv(t, backendSQLite)
	rcv := newReceiver(t)
	key, otherKey := e.register(), e.register()
	c := e.createCue(key, `{"name":"streamed","schedule":{"type":"recurring","cron":"0 9 * * *"},"callback":{"url":"`+rcv.url("/")+`"}}`)
	foreign := e.createCue(otherKey, `{"name":"foreign","schedule":{"type":"recurring","cron":"0 9 * * *"},"callback":{"url":"`+rcv.url("/")+`"}}`)
	d := newDashClient(t, e)
	d.login(key)
	req, err := http.NewRequest("GET", e.srv.URL+"/dashboard/events", nil)
	require.NoError(t, err)
	resp, err := d.c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		buf := make([]byte, 4096)
		var pending string
		for {
			n, err := resp.Body.Read(buf)
			pending += string(buf[:n])
			for {
				i := strings.Index(pending, "\n")
				if i < 0 {
					break
				}
				lines <- pending[:i]
				pending = pending[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	nextData := func() map[string]any {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "stream ended")
				if strings.HasPrefix(l, "data: ") {
					var m map[string]any
					require.NoError(t, json.Unmarshal([]byte(l[len("data: "):]), &m))
					return m
				}
			case <-timeout:
				t.Fatal("no event")
			}
		}
	}
	// Wait for the stream to be subscribed (its first comment line).
	select {
	case l := <-lines:
		require.Equal(t, "retry: 2000", l)
	case <-time.After(10 * time.Second):
		t.Fatal("stream did not start")
	}
	_, err = e.client.FireCueWithResponse(context.Background(), foreign.ID, nil, apiclient.FireRequest{}, auth(otherKey))
	require.NoError(t, err)
	_, err = e.client.FireCueWithResponse(context.Background(), c.ID, nil, apiclient.FireRequest{}, auth(key))
	require.NoError(t, err)
	m := nextData() // the foreign fire is never sent
	require.Equal(t, "execution", m["kind"])
	require.Equal(t, c.ID, m["cue_id"])
	require.Equal(t, "streamed", m["cue_name"])
	require.Equal(t, "pending", m["status"])

	e.app.stopStreams()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("stream still open after StopStreams")
		}
	}
}

func TestDashboardOddRequests(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, backendSQLite, nil)
	d := newDashClient(t, e)
	d.login(e.register())
	for _, p := range []string{"/dashboard/nope", "/dashboard/cues/cue_doesnotexist", "/dashboard/cues/" + strings.Repeat("x", 300)} {
		resp, body := d.do("GET", p, nil, nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
		require.Contains(t, body, `id="error-title"`, p)
	}
	for _, q := range []string{"?page=-5", "?page=99999999999999999999", "?page=9223372036854775807", "?status=bogus", "?q=%00"} {
		resp, _ := d.do("GET", "/dashboard/cues"+q, nil, nil)
		require.Less(t, resp.StatusCode, 500, q)
	}
	resp, _ := d.do("GET", "/dashboard/static/app.js", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "javascript")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}

// raiseAlert stores a consecutive_failures alert for the key's account.
func (e *testEnv) raiseAlert(key string, cueID string) string {
	e.t.Helper()
	u := e.userOf(key)
	cid := core.CueID(cueID)
	a := &core.Alert{ID: core.NewUUID(), TenantID: u.ID, CueID: &cid, Type: core.AlertConsecutiveFailures,
		Severity: core.SeverityWarning, Message: "3 consecutive failures", CreatedAt: e.clock.Now()}
	created, err := e.app.store.AlertCreate(context.Background(), &core.AlertCreateParams{Alert: a, DedupWindow: core.AlertDedupWindow, Now: a.CreatedAt})
	require.NoError(e.t, err)
	require.True(e.t, created)
	return a.ID
}

func TestDashboardAlertAcknowledge(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, backendSQLite, nil)
	key, otherKey := e.register(), e.register()
	mine := e.raiseAlert(key, "cue_aaaaaaaaaaaa")
	theirs := e.raiseAlert(otherKey, "cue_bbbbbbbbbbbb")
	d := newDashClient(t, e)
	d.login(key)
	_, page := d.do("GET", "/dashboard/alerts", nil, nil)
	require.Contains(t, page, `action="/dashboard/alerts/`+mine+`/ack"`)
	require.NotContains(t, page, theirs)

	resp, _ := d.do("POST", "/dashboard/alerts/"+theirs+"/ack", url.Values{"csrf": {d.csrf}}, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = d.do("POST", "/dashboard/alerts/"+mine+"/ack", url.Values{"csrf": {d.csrf}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	acked := func(key string) bool {
		t.Helper()
		l, err := e.client.ListAlertsWithResponse(context.Background(), &apiclient.ListAlertsParams{}, auth(key))
		require.NoError(t, err)
		require.Len(t, l.JSON200.Alerts, 1)
		return l.JSON200.Alerts[0].Acknowledged
	}
	require.True(t, acked(key))
	require.False(t, acked(otherKey))
	_, page = d.do("GET", "/dashboard/alerts", nil, nil)
	require.Contains(t, page, "ack-state")
}

// The cue page's fire form: a payload override (merge or replace) reaches
// the receiver; refusals (bad JSON, not an object, the cue's per-fire
// requirements) are shown on the page, escaped, with the form as typed,
// and create nothing.
func TestDashboardFireOverride(t *testing.T) {
	t.Parallel()
	e := engineEnv(t, backendSQLite)
	rcv := newReceiver(t)
	key := e.register()
	d := newDashClient(t, e)
	d.login(key)
	c := e.createCue(key, `{"name":"fire me","schedule":{"type":"recurring","cron":"0 9 * * *"},"callback":{"url":"`+rcv.url("/hook")+`"},`+
		`"payload":{"task":"daily","keep":1}}`)
	strict := e.createCue(key, `{"name":"strict","schedule":{"type":"recurring","cron":"0 9 * * *"},"callback":{"url":"`+rcv.url("/strict")+`"},`+
		`"payload":{"task":"x"},"require_payload_override":true,"required_payload_keys":["task","ticket"]}`)

	// delivered fires the form and returns the payload the receiver got.
	delivered := func(t *testing.T, cueID string, form url.Values) map[string]any {
		t.Helper()
		form.Set("csrf", d.csrf)
		before := len(rcv.requests())
		resp, body := d.do("POST", "/dashboard/cues/"+cueID+"/fire", form, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
		loc := resp.Header.Get("Location")
		require.True(t, strings.HasPrefix(loc, "/dashboard/cues/"+cueID+"?flash="), loc)
		_, page := d.do("GET", loc, nil, nil)
		i := strings.Index(page, `id="flash">Fired: execution `)
		require.GreaterOrEqual(t, i, 0, page)
		id := page[i+len(`id="flash">Fired: execution `):]
		id = id[:strings.Index(id, "<")]
		ex := e.execution(key, id)
		require.Equal(t, cueID, ex.CueID)
		require.Equal(t, "manual_fire", ex.TriggeredBy)
		// Same-instant fires get distinct microseconds: step past them.
		e.clock.Set(e.clock.Now().Add(time.Second))
		require.Contains(t, page, `data-execution="`+id+`"`)
		_, n := e.pump()
		require.Equal(t, 1, n)
		reqs := rcv.requests()
		require.Len(t, reqs, before+1)
		var got struct{ Payload map[string]any }
		require.NoError(t, json.Unmarshal(reqs[before].body, &got), string(reqs[before].body))
		if form.Get("payload_override") != "" { // stored as the execution's payload
			var stored map[string]any
			require.NoError(t, json.Unmarshal(ex.Payload, &stored))
			require.Equal(t, got.Payload, stored)
		} else {
			require.Empty(t, ex.Payload)
		}
		return got.Payload
	}
	// refused fires the form and returns the page's error text.
	refused := func(t *testing.T, cueID string, form url.Values) string {
		t.Helper()
		form.Set("csrf", d.csrf)
		n := len(e.executions(key, cueID))
		resp, body := d.do("POST", "/dashboard/cues/"+cueID+"/fire", form, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
		require.Equal(t, n, len(e.executions(key, cueID)), "a refused fire creates nothing")
		i := strings.Index(body, `id="fire-error" role="alert">`)
		require.GreaterOrEqual(t, i, 0, body)
		rest := body[i+len(`id="fire-error" role="alert">`):]
		require.Contains(t, body, "<details open>", "the form stays open")
		require.NotContains(t, body, `name="back" value="/dashboard/cues/`+cueID+`/fire"`, "forms go back to the cue's page")
		return rest[:strings.Index(rest, "</p>")]
	}

	t.Run("the cue page has the form with the CSRF token", func(t *testing.T) {
		_, page := d.do("GET", "/dashboard/cues/"+c.ID, nil, nil)
		require.Contains(t, page, `id="fire-form"`)
		require.Contains(t, page, `name="payload_override"`)
		require.Contains(t, page, `<option value="replace"`)
		require.Contains(t, page, `name="csrf" value="`+d.csrf+`"`)
		resp, _ := d.do("POST", "/dashboard/cues/"+c.ID+"/fire", url.Values{"payload_override": {`{"a":1}`}}, nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Empty(t, e.executions(key, c.ID))
	})
	t.Run("no override: the cue's payload", func(t *testing.T) {
		require.Equal(t, map[string]any{"task": "daily", "keep": float64(1)}, delivered(t, c.ID, url.Values{"merge_strategy": {"merge"}}))
	})
	t.Run("merge: the override's keys over the cue's payload", func(t *testing.T) {
		got := delivered(t, c.ID, url.Values{"payload_override": {` {"task":"manual","extra":[1,2]} `}, "merge_strategy": {"merge"}})
		require.Equal(t, map[string]any{"task": "manual", "keep": float64(1), "extra": []any{float64(1), float64(2)}}, got)
	})
	t.Run("replace: the override alone", func(t *testing.T) {
		got := delivered(t, c.ID, url.Values{"payload_override": {`{"only":true}`}, "merge_strategy": {"replace"}})
		require.Equal(t, map[string]any{"only": true}, got)
	})
	t.Run("invalid JSON is a form error, shown as typed and escaped", func(t *testing.T) {
		msg := refused(t, c.ID, url.Values{"payload_override": {`{"x":</textarea><script>1</script>`}, "merge_strategy": {"replace"}})
		require.Equal(t, "Payload override is not valid JSON.", msg)
		_, body := d.do("GET", "/dashboard/cues/"+c.ID, nil, nil)
		require.NotContains(t, body, "<script>1</script>")
	})
	t.Run("the typed override is shown again escaped", func(t *testing.T) {
		resp, body := d.do("POST", "/dashboard/cues/"+c.ID+"/fire", url.Values{"csrf": {d.csrf}, "payload_override": {`{"x":</textarea><script>1</script>`}, "merge_strategy": {"replace"}}, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.NotContains(t, body, "<script>1</script>")
		require.Contains(t, body, `{&#34;x&#34;:&lt;/textarea&gt;&lt;script&gt;1&lt;/script&gt;</textarea>`)
		require.Contains(t, body, `<option value="replace" selected>`)
	})
	t.Run("the refused page's address leads back to the cue", func(t *testing.T) {
		resp, _ := d.do("GET", "/dashboard/cues/"+c.ID+"/fire", nil, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/dashboard/cues/"+c.ID, resp.Header.Get("Location"))
		_, body := d.do("POST", "/dashboard/cues/"+c.ID+"/fire", url.Values{"csrf": {d.csrf}, "payload_override": {`{`}}, nil)
		require.Contains(t, body, `name="back" value="/dashboard/cues/`+c.ID+`"`) // the replay forms
	})
	t.Run("an override that is not an object", func(t *testing.T) {
		msg := refused(t, c.ID, url.Values{"payload_override": {`[1,2]`}, "merge_strategy": {"merge"}})
		require.Contains(t, msg, "payload_override")
	})
	t.Run("a bad merge strategy", func(t *testing.T) {
		msg := refused(t, c.ID, url.Values{"payload_override": {`{"a":1}`}, "merge_strategy": {"deep"}})
		require.Contains(t, msg, "merge_strategy")
	})
	t.Run("a cue that requires an override refuses a fire without one", func(t *testing.T) {
		_, page := d.do("GET", "/dashboard/cues/"+strict.ID, nil, nil)
		require.Contains(t, page, "<details open>", "the form is open for a cue that needs it")
		require.Contains(t, page, "(required by this cue)")
		msg := refused(t, strict.ID, url.Values{"merge_strategy": {"merge"}})
		require.Equal(t, "This cue requires payload_override on every fire", msg)
	})
	t.Run("missing required keys are named", func(t *testing.T) {
		msg := refused(t, strict.ID, url.Values{"payload_override": {`{"note":"hi"}`}, "merge_strategy": {"replace"}})
		require.Equal(t, "Missing required payload keys: task, ticket", msg)
		got := delivered(t, strict.ID, url.Values{"payload_override": {`{"ticket":"T-1"}`}, "merge_strategy": {"merge"}})
		require.Equal(t, map[string]any{"task": "x", "ticket": "T-1"}, got)
	})
}
