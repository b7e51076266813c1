package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
)

// chromiumPath is Debian's chromium (installed by .ci/run when missing).
const chromiumPath = "/usr/bin/chromium"

// browserWait bounds every wait for the page; the live feed is expected
// well within 2 s (the measured figure is logged).
const browserWait = 15 * time.Second

// screenshotDir is where the browser tests leave PNGs of every page
// (git-ignored); DASHBOARD_SCREENSHOTS overrides it.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("DASHBOARD_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// browser is a headless Chromium tab that records every console error,
// uncaught exception, CSP violation and JavaScript dialog.
type browser struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errs   []string
	allow  map[string]bool // URLs whose failed loads are expected (404 pages)
	shots  string
	prefix string
	notify chan struct{} // signaled on every record
}

func newBrowser(t *testing.T, prefix string) *browser {
	t.Helper()
	path := chromiumPath
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found at %s (CI=true): .ci/run installs Debian's chromium package", path)
		}
		t.Skipf("chromium not found at %s: install Debian's chromium package (apt-get install -y chromium) to run the dashboard browser tests", path)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, allow: map[string]bool{}, shots: screenshotDir(t), prefix: prefix, notify: make(chan struct{}, 1)}
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	b.ctx = ctx
	// Start the browser on a context without a deadline (it lives as long
	// as the first Run's context).
	require.NoError(t, chromedp.Do(ctx))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	return b
}

// listen records console errors, exceptions, error log entries (CSP
// violations, failed loads) and dialogs. It runs on the tab's reader
// goroutine: no commands here.
func (b *browser) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			b.record("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		b.record(fmt.Sprintf("exception: %s %+v", ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception))
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			b.mu.Lock()
			allowed := ev.Entry.Source == cdplog.EntrySourceNetwork && b.allow[ev.Entry.URL]
			b.mu.Unlock()
			if !allowed {
				b.record(fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	case *page.EventJavascriptDialogOpening:
		b.record("dialog opened: " + ev.Message)
		go func() {
			_ = chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := cdp.Call(ctx, t, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
				return err
			}))
		}()
	}
}

func (b *browser) record(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, s)
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// takeRecorded waits (bounded) until a recorded error contains substr,
// then clears the record and returns it.
func (b *browser) takeRecorded(substr string) []string {
	b.t.Helper()
	timeout := time.After(browserWait)
	for {
		b.mu.Lock()
		for _, e := range b.errs {
			if strings.Contains(e, substr) {
				got := b.errs
				b.errs = nil
				b.mu.Unlock()
				return got
			}
		}
		b.mu.Unlock()
		select {
		case <-b.notify:
		case <-timeout:
			b.t.Fatalf("no recorded browser error contains %q", substr)
		}
	}
}

// expectNotFound lets the next load of url answer 404 without it counting
// as a console error.
func (b *browser) expectNotFound(url string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allow[url] = true
}

func (b *browser) requireClean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(b.t, b.errs, "browser console errors, CSP violations or dialogs")
}

// run runs actions with the wait bound.
func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...))
}

// get runs one action that returns a value, with the wait bound.
func get[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(b.t, err)
	return v
}

// shot saves a full-page PNG.
func (b *browser) shot(name string) []byte {
	b.t.Helper()
	png := get(b, chromedp.FullScreenshot(100))
	require.NoError(b.t, os.WriteFile(filepath.Join(b.shots, b.prefix+name+".png"), png, 0o644))
	return png
}

// text is the trimmed textContent of the first element matching sel,
// once there is one.
func (b *browser) text(sel string) string {
	b.t.Helper()
	q, err := json.Marshal(sel)
	require.NoError(b.t, err)
	b.waitJS(`!!document.querySelector(` + string(q) + `)`)
	return strings.TrimSpace(get(b, chromedp.Evaluate[string](`document.querySelector(`+string(q)+`).textContent`)))
}

// waitJS polls a boolean expression until it is true, across page loads
// (a poll does not survive a navigation), within the wait bound.
func (b *browser) waitJS(expr string) {
	b.t.Helper()
	deadline := time.Now().Add(browserWait)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(b.ctx, deadline)
		ok, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
	}
	b.t.Fatalf("not true within %s: %s (last error: %v)", browserWait, expr, last)
}

// clearField empties an input (the form comes pre-filled).
func clearField(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(document.getElementById('`+id+`').value = '') === ''`)(ctx, t)
		return err
	})
}

func (b *browser) signIn(base, key string) {
	b.t.Helper()
	b.run(
		chromedp.Navigate(base+"/dashboard/"),
		chromedp.WaitVisible(chromedp.CSS("#api_key")),
	)
	b.shot("login")
	b.run(
		chromedp.SendKeys(chromedp.CSS("#api_key"), key),
		chromedp.Submit(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#cues")),
	)
}

// TestDashboardBrowser drives the dashboard in headless Chromium across
// two replicas on PostgreSQL: the browser talks to one, deliveries and
// outcomes happen on the other, and the live feed (LISTEN/NOTIFY) carries
// them across.
func TestDashboardBrowser(t *testing.T) {
	e := engineEnv(t, backendPostgres)
	other := e.replica()
	br := newBrowser(t, "")
	rcv := newReceiver(t)
	key := e.register()
	foreignKey := e.register()
	foreign := e.createCue(foreignKey, `{"name":"someone else's","schedule":{"type":"recurring","cron":"0 * * * *"},"callback":{"url":"`+rcv.url("/x")+`"}}`)
	base := other.srv.URL

	br.signIn(base, key)
	br.shot("cues-empty")

	// Create a cue through the form; the preview shows the next 5 runs in
	// the cue's zone (the stub clock is 2026-03-20 10:00 UTC, 03:00 PDT).
	br.run(
		chromedp.Click(chromedp.CSS("#new-cue")),
		chromedp.WaitVisible(chromedp.CSS("#cue-form")),
		clearField("cron"), clearField("timezone"),
		chromedp.SendKeys(chromedp.CSS("#name"), "nightly report"),
		chromedp.SendKeys(chromedp.CSS("#cron"), "0 9 * * 1-5"),
		chromedp.SendKeys(chromedp.CSS("#timezone"), "America/Los_Angeles"),
		chromedp.SendKeys(chromedp.CSS("#url"), rcv.url("/hook")),
	)
	br.waitJS(`document.querySelectorAll('#cron-times li').length === 5 && document.querySelector('#cron-words').textContent.includes('America/Los_Angeles')`)
	require.Equal(t, "Fri 2026-03-20 09:00 PDT (-07:00)", br.text("#cron-times li:nth-child(1)"))
	require.Equal(t, "Mon 2026-03-23 09:00 PDT (-07:00)", br.text("#cron-times li:nth-child(2)"))
	require.Equal(t, "09:00 on weekdays, America/Los_Angeles", br.text("#cron-words"))
	br.shot("cue-form")
	br.run(
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#cue-title")),
	)
	require.Equal(t, "nightly report", br.text("#cue-title"))
	loc := get(br, chromedp.Location())
	cueID, _, _ := strings.Cut(loc[strings.LastIndex(loc, "/")+1:], "?")
	require.True(t, strings.HasPrefix(cueID, "cue_"), loc)
	br.waitJS(`document.querySelector('#live-state').textContent === 'live'`)

	// Fire from the browser (replica B) with a payload override, deliver
	// on replica A: the override reaches the receiver and the delivery
	// appears in B's live feed.
	br.run(
		chromedp.Click(chromedp.CSS("#fire-form summary")),
		chromedp.WaitVisible(chromedp.CSS("#fire-override")),
		chromedp.SendKeys(chromedp.CSS("#fire-override"), `{"run":"from the browser"}`),
		chromedp.Click(chromedp.CSS("#fire")),
	)
	br.waitJS(`document.querySelectorAll('#executions tr[data-execution]').length === 1`)
	require.Contains(t, br.text("#flash"), "Fired: execution ")
	br.waitJS(`document.querySelector('#live-state').textContent === 'live'`)
	start := time.Now()
	_, n := e.pump()
	require.Equal(t, 1, n)
	require.Len(t, rcv.requests(), 1)
	var delivered struct{ Payload map[string]any }
	require.NoError(t, json.Unmarshal(rcv.requests()[0].body, &delivered))
	require.Equal(t, map[string]any{"run": "from the browser"}, delivered.Payload)
	br.waitJS(`!!document.querySelector('#feed li[data-status="success"]')`)
	t.Logf("live feed: delivery on the other replica shown after %s", time.Since(start).Round(time.Millisecond))
	require.Contains(t, br.text(`#feed li[data-status="success"]`), "HTTP 200")
	require.Contains(t, br.text(`#feed li[data-status="success"]`), "nightly report")
	br.waitJS(`!!document.querySelector('#executions .exec-status') && document.querySelector('#executions .exec-status').textContent === 'success'`)
	br.shot("cue-detail")

	// Report an outcome through the API (replica A): the list's badge
	// changes live.
	br.run(chromedp.Navigate(base+"/dashboard/cues"), chromedp.WaitVisible(chromedp.CSS("#cues")))
	row := `tr[data-cue="` + cueID + `"]`
	require.Equal(t, "success", br.text(row+" .last-outcome"))
	br.waitJS(`document.querySelector('#live-state').textContent === 'live'`)
	execs := e.executions(key, cueID)
	require.Len(t, execs, 1)
	code, body := report(t, e, key, execs[0].ID, `{"success":false,"error":"disk full"}`)
	require.Equal(t, http.StatusOK, code, string(body))
	br.waitJS(`document.querySelector('` + row + ` .last-outcome').textContent === 'reported failure'`)
	br.shot("cues")

	// Pause from the list.
	br.run(chromedp.Click(chromedp.CSS(row+" button.pause")), chromedp.WaitVisible(chromedp.CSS("#cues")))
	br.waitJS(`document.querySelector('` + row + ` .cue-status').textContent === 'paused'`)
	got, raw := e.raw("GET", "/v1/cues/"+cueID, key, "", nil)
	require.Equal(t, http.StatusOK, got.StatusCode)
	var c struct{ Status string }
	require.NoError(t, json.Unmarshal(raw, &c))
	require.Equal(t, "paused", c.Status)

	// Another tenant's cue: not found, exactly like the API.
	foreignURL := base + "/dashboard/cues/" + foreign.ID
	br.expectNotFound(foreignURL)
	br.run(chromedp.Navigate(foreignURL), chromedp.WaitVisible(chromedp.CSS("#error-title")))
	require.Equal(t, "Not found", br.text("#error-title"))
	br.shot("not-found")

	// An alert appears live on the alerts page and is acknowledged there.
	br.run(chromedp.Navigate(base+"/dashboard/alerts"), chromedp.WaitVisible(chromedp.CSS("#alerts")))
	br.waitJS(`document.querySelector('#live-state').textContent === 'live'`)
	alertID := e.raiseAlert(key, cueID)
	br.waitJS(`!!document.querySelector('tr[data-alert="` + alertID + `"] button.ack')`)
	br.shot("alerts")
	br.run(chromedp.Click(chromedp.CSS(`tr[data-alert="` + alertID + `"] button.ack`)))
	br.waitJS(`!!document.querySelector('tr[data-alert="` + alertID + `"] .ack-state')`)

	// The other pages.
	for _, p := range []string{"workers", "usage", "settings"} {
		br.run(chromedp.Navigate(base+"/dashboard/"+p), chromedp.WaitVisible(chromedp.CSS("main h1")))
		br.shot(p)
	}
	br.run(chromedp.Click(chromedp.CSS("#reveal-webhook")), chromedp.WaitVisible(chromedp.CSS("#secret-value")))
	require.True(t, strings.HasPrefix(br.text("#secret-value"), "whsec_"), br.text("#secret-value"))
	br.run(chromedp.Navigate(base+"/dashboard/cues/"+cueID+"/edit"), chromedp.WaitVisible(chromedp.CSS("#cue-form")))
	br.shot("cue-edit")

	// Sign out, then land from a magic link: the page's script takes the
	// one-time token from the fragment, clears it and signs in.
	br.run(chromedp.Click(chromedp.CSS(".signout button")))
	br.waitJS(`!!document.querySelector('#api_key')`)
	ctx := context.Background()
	_, err := e.client.CreateDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "BRWS-12345"})
	require.NoError(t, err)
	_, err = e.client.SubmitDeviceCodeEmailWithResponse(ctx, apiclient.SubmitDeviceCodeEmailRequest{DeviceCode: "BRWS-12345", Email: "browser-magic@example.com"})
	require.NoError(t, err)
	link, err := url.Parse(e.mailer.link("browser-magic@example.com"))
	require.NoError(t, err)
	e.raw("GET", link.RequestURI(), "", "", nil)
	p, err := e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "BRWS-12345"})
	require.NoError(t, err)
	require.NotNil(t, p.JSON200.SessionToken)
	auth, err := json.Marshal(map[string]string{"sessionToken": *p.JSON200.SessionToken, "email": "browser-magic@example.com"})
	require.NoError(t, err)
	br.run(chromedp.Navigate(base + "/dashboard/login#auth=" + url.QueryEscape(string(auth))))
	br.waitJS(`location.pathname === '/dashboard/cues' && !!document.querySelector('#cues')`)
	require.Equal(t, "browser-magic@example.com", br.text(".who"))
	require.Empty(t, get(br, chromedp.Evaluate[string](`location.hash`)))

	br.requireClean()

	if os.Getenv("DASHBOARD_DOCS_SCREENSHOT") != "" {
		br.run(chromedp.Navigate(base+"/dashboard/cues/"+cueID), chromedp.WaitVisible(chromedp.CSS("#timeline")))
		require.NoError(t, os.WriteFile(filepath.Join("..", "..", "docs", "dashboard.png"), br.shot("docs"), 0o644))
	}
}

// TestDashboardXSS: a cue name, a payload and outcome evidence carrying
// markup render as text — asserted in the browser (no element, no script
// run, no dialog), not only in the HTML.
func TestDashboardXSS(t *testing.T) {
	e := engineEnv(t, backendSQLite)
	br := newBrowser(t, "xss-")
	rcv := newReceiver(t)
	key := e.register()
	name := `<img src=x onerror=alert(1)>`
	body, err := json.Marshal(map[string]any{
		"name": name, "schedule": map[string]any{"type": "recurring", "cron": "*/5 * * * *"},
		"callback": map[string]any{"url": rcv.url("/")},
		"payload":  map[string]any{"note": `</pre><script>alert(2)</script><b id="injected">x</b>`},
	})
	require.NoError(t, err)
	cue := e.createCue(key, string(body))
	f, err := e.client.FireCueWithResponse(context.Background(), cue.ID, nil, apiclient.FireRequest{}, auth(key))
	require.NoError(t, err)
	_, n := e.pump()
	require.Equal(t, 1, n)
	code, raw := report(t, e, key, f.JSON200.ID, `{"success":true,"result":"<script>alert(3)</script>","result_url":"https://example.com/x?q=\"><script>alert(4)</script>","summary":"<svg onload=alert(5)>","external_id":"<b id=\"injected2\">y</b>"}`)
	require.Equal(t, http.StatusOK, code, string(raw))

	br.signIn(e.srv.URL, key)
	// The checks can fail: an inline script is refused by the CSP and the
	// violation is recorded.
	ran := get(br, chromedp.Evaluate[bool](`(() => { const s = document.createElement('script'); s.textContent = 'window.__ran = true'; document.body.appendChild(s); s.remove(); return window.__ran === true; })()`))
	require.False(t, ran, "an inline script ran despite the CSP")
	require.NotEmpty(t, br.takeRecorded("Content Security Policy"))

	require.Equal(t, name, br.text(`tr[data-cue="`+cue.ID+`"] .cue-name`))
	br.waitJS(`document.querySelectorAll('img[src="x"], script:not([src]), #injected, #injected2, svg[onload]').length === 0`)
	br.shot("cues")

	br.run(chromedp.Navigate(e.srv.URL+"/dashboard/cues/"+cue.ID), chromedp.WaitVisible(chromedp.CSS("#payload")))
	require.Equal(t, name, br.text("#cue-title"))
	require.Contains(t, br.text("#payload"), `<script>alert(2)</script>`)
	require.Contains(t, br.text("#executions .outcome-text"), `<script>alert(3)</script>`)
	br.waitJS(`document.querySelectorAll('img[src="x"], script:not([src]), #injected, #injected2, svg[onload]').length === 0`)
	// The URL stays one attribute value.
	href := get(br, chromedp.AttributeValue(chromedp.CSS(`#executions .evidence a`), "href"))
	require.True(t, href.Exists)
	require.True(t, strings.HasPrefix(href.Value, "https://example.com/x?q="), href.Value)
	br.shot("cue-detail")
	br.requireClean()
}
