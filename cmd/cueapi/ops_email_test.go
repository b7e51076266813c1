package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/smtp/smtptest"
	"github.com/cueapi/cueapi/api/apiclient"
)

// withSMTP restarts e with the in-test SMTP server as its only mail path
// (no fake mailer) and runs the notifier.
func (e *testEnv) withSMTP(srv *smtptest.Server, env string) {
	e.t.Helper()
	e.stop()
	e.mailer = nil
	e.cfg.Env = env
	e.cfg.SMTPURL, e.cfg.SMTPFrom = srv.URL(), "CueAPI <noreply@example.com>"
	e.start()
	e.runNotifier()
}

// runNotifier sends queued emails until the test ends.
func (e *testEnv) runNotifier() {
	e.t.Helper()
	require.NotNil(e.t, e.app.Notifier, "SMTP_URL builds a notifier")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	n := e.app.Notifier
	go func() { defer close(done); n.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

var linkRE = regexp.MustCompile(`https?://\S+/v1/auth/verify\?\S+`)

// noSecrets fails when a message carries an API key, a signing secret or a
// session token.
func noSecrets(t *testing.T, m *smtptest.Message, extra ...string) {
	t.Helper()
	for _, s := range append([]string{"cue_sk_", "whsec_", "eyJ"}, extra...) {
		require.NotContains(t, m.Raw, s)
	}
}

func TestEmailOverSMTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			t.Run("ProductionDeviceLoginEndToEnd", func(t *testing.T) {
				t.Parallel()
				srv := smtptest.Start(t, smtptest.Options{User: "relay", Pass: "relay-pass"})
				e := newTestEnv(t, be, nil)
				e.withSMTP(srv, "production")
				const code = "WXYZ-2345"
				c, err := e.client.CreateDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: code})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, c.StatusCode(), string(c.Body))
				s, err := e.client.SubmitDeviceCodeEmailWithResponse(ctx, apiclient.SubmitDeviceCodeEmailRequest{DeviceCode: code, Email: "Grace@Example.com"})
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, s.StatusCode(), string(s.Body))

				m := srv.Next(t)
				require.Equal(t, "Your CueAPI sign-in link", m.Subject)
				require.Equal(t, []string{"Grace@example.com"}, m.To)
				require.Equal(t, "noreply@example.com", m.From)
				link := linkRE.FindString(m.Text)
				require.NotEmpty(t, link, m.Text)
				require.True(t, strings.HasPrefix(link, e.cfg.BaseURL+"/v1/auth/verify?token="), link)
				require.Contains(t, m.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`)
				noSecrets(t, m)

				u, err := url.Parse(link)
				require.NoError(t, err)
				resp, body := e.raw("GET", u.RequestURI(), "", "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				p, err := e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: code})
				require.NoError(t, err)
				require.Equal(t, apiclient.DeviceCodeStatus("approved"), p.JSON200.Status)
				require.NotNil(t, p.JSON200.APIKey)
				me, err := e.client.GetMeWithResponse(ctx, auth(*p.JSON200.APIKey))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, me.StatusCode())

				// The rotation notice names no key.
				rot, body := e.raw("POST", "/v1/auth/key/regenerate", *p.JSON200.APIKey, "", map[string]string{"X-Confirm-Destructive": "true"})
				require.Equal(t, http.StatusOK, rot.StatusCode, string(body))
				n := srv.Next(t)
				require.Equal(t, "[CueAPI] Your API key was regenerated", n.Subject)
				require.Equal(t, []string{"Grace@example.com"}, n.To)
				require.Contains(t, n.Text, "regenerated at 2026-03-20 10:00:00 UTC")
				noSecrets(t, n, *p.JSON200.APIKey)
			})

			t.Run("FailureAndAlertEmails", func(t *testing.T) {
				t.Parallel()
				srv := smtptest.Start(t, smtptest.Options{})
				e := engineEnv(t, be)
				e.withSMTP(srv, "development")
				key := e.register()
				me, err := e.client.GetMeWithResponse(ctx, auth(key))
				require.NoError(t, err)
				email := me.JSON200.Email

				// A webhook that fails its only attempt: on_failure.email is on by default.
				bad := newReceiver(t, 500)
				name := `nightly <b>&"x"</b>`
				c := e.createCue(key, fmt.Sprintf(`{"name":%q,"schedule":{"type":"once","at":"2027-01-01T00:00:00Z"},"callback":{"url":%q},"retry":{"max_attempts":1}}`, name, bad.url("/")))
				f, err := e.client.FireCueWithResponse(ctx, c.ID, nil, apiclient.FireRequest{}, auth(key))
				require.NoError(t, err)
				_, n := e.pump()
				require.Equal(t, 1, n)
				m := srv.Next(t)
				require.Equal(t, "[CueAPI] Execution failed: "+name, m.Subject)
				require.Equal(t, []string{email}, m.To)
				require.Contains(t, m.Text, c.ID)
				require.Contains(t, m.Text, f.JSON200.ID)
				require.Contains(t, m.Text, "Webhook endpoint returned server error (500)")
				require.NotContains(t, m.HTML, "<b>", "user-controlled values are escaped")
				require.Contains(t, m.HTML, "nightly &lt;b&gt;&amp;&#34;x&#34;&lt;/b&gt;")
				noSecrets(t, m, key, webhookSecret(t, e, key))

				// A success without the required evidence raises verification_failed.
				good := newReceiver(t)
				id := deliveredExecution(t, e, key, good, "require_external_id")
				status, body := report(t, e, key, id, `{"success":true}`)
				require.Equal(t, http.StatusOK, status, string(body))
				a := srv.Next(t)
				require.Equal(t, "[CueAPI] Alert: verification failed", a.Subject)
				require.Equal(t, []string{email}, a.To)
				require.Contains(t, a.Text, "Execution "+id+" reported success but failed verification")
				noSecrets(t, a, key)
			})
		})
	}
}
