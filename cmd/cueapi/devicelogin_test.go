package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
)

func TestDeviceLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			// login runs the CLI's flow up to the magic link and returns the
			// link's path and query.
			login := func(t *testing.T, e *testEnv, code, email string) string {
				t.Helper()
				c, err := e.client.CreateDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: code})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, c.StatusCode(), string(c.Body))
				require.Equal(t, 900, c.JSON201.ExpiresIn)
				require.True(t, strings.HasSuffix(c.JSON201.VerificationURL, "/auth/device?code="+url.QueryEscape(code)))
				p, err := e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: code})
				require.NoError(t, err)
				require.Equal(t, apiclient.DeviceCodeStatus("pending"), p.JSON200.Status)
				s, err := e.client.SubmitDeviceCodeEmailWithResponse(ctx, apiclient.SubmitDeviceCodeEmailRequest{DeviceCode: code, Email: email})
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, s.StatusCode(), string(s.Body))
				link := e.mailer.link(email)
				require.NotEmpty(t, link)
				u, err := url.Parse(link)
				require.NoError(t, err)
				return u.RequestURI()
			}

			t.Run("NewAccountGetsKeyAndSessionOnce", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				path := login(t, e, "ABCD-EFGH", "new-user@example.com")
				resp, body := e.raw("GET", path, "", "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
				require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
				require.Contains(t, string(body), "CueAPI - Verified")

				p, err := e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "ABCD-EFGH"})
				require.NoError(t, err)
				require.Equal(t, apiclient.DeviceCodeStatus("approved"), p.JSON200.Status)
				require.NotNil(t, p.JSON200.APIKey)
				require.Equal(t, "new-user@example.com", *p.JSON200.Email)
				require.NotNil(t, p.JSON200.SessionToken)
				key, one := *p.JSON200.APIKey, *p.JSON200.SessionToken

				again, err := e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "ABCD-EFGH"})
				require.NoError(t, err)
				require.Equal(t, apiclient.DeviceCodeStatus("claimed"), again.JSON200.Status)
				require.Nil(t, again.JSON200.APIKey)

				me, err := e.client.GetMeWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, me.StatusCode())

				s, err := e.client.CreateSessionWithResponse(ctx, apiclient.CreateSessionRequest{Token: one})
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, s.StatusCode(), string(s.Body))
				rv, err := e.client.RevealKeyWithResponse(ctx, auth(s.JSON200.SessionToken))
				require.NoError(t, err)
				require.Equal(t, key, *rv.JSON200.APIKey, "device-login accounts keep a sealed copy")
				reuse, err := e.client.CreateSessionWithResponse(ctx, apiclient.CreateSessionRequest{Token: one})
				require.NoError(t, err)
				require.Equal(t, "invalid_token", errorCode(t, 401, reuse.Body), "single use")
			})

			t.Run("ExistingAccountIsBoundWithoutRotation", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				me, err := e.client.GetMeWithResponse(ctx, auth(key))
				require.NoError(t, err)
				path := login(t, e, "EXIST-0001", me.JSON200.Email)
				resp, _ := e.raw("GET", path, "", "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				p, err := e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "EXIST-0001"})
				require.NoError(t, err)
				require.Nil(t, p.JSON200.APIKey, "a registered account has no recoverable key")
				require.True(t, *p.JSON200.ExistingUser)
				still, err := e.client.GetMeWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, still.StatusCode(), "the key was not rotated")
			})

			t.Run("VerifyErrorsRenderEscapedPages", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				path := login(t, e, "WRONG-TOK1", "w@example.com")
				u, _ := url.Parse(path)
				q := u.Query()
				q.Set("token", strings.Repeat("0", 64))
				resp, body := e.raw("GET", "/v1/auth/verify?"+q.Encode(), "", "", nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.Contains(t, string(body), "Invalid verification token")
				p, _ := e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "WRONG-TOK1"})
				require.Equal(t, apiclient.DeviceCodeStatus("email_sent"), p.JSON200.Status, "a wrong token does not burn the code")
				resp, body = e.raw("GET", "/v1/auth/verify?token=x&device_code=nope-nope", "", "", nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.Contains(t, string(body), "Device code not found")
			})

			t.Run("DevicePageEscapesTheCode", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				for _, code := range []string{"</span><script>alert(1)</script>", "x'+alert(1)+'"} {
					resp, body := e.raw("GET", "/auth/device?code="+url.QueryEscape(code), "", "", nil)
					require.Equal(t, http.StatusOK, resp.StatusCode)
					require.NotContains(t, string(body), "<script>alert(1)</script>")
					require.NotContains(t, string(body), "'+alert(1)+'")
					require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'nonce-")
				}
			})

			t.Run("CodeRulesAndConflicts", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				for _, c := range []string{"ABCDE", strings.Repeat("A", 129)} {
					r, err := e.client.CreateDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: c})
					require.NoError(t, err)
					require.Equal(t, "invalid_device_code", errorCode(t, 400, r.Body))
				}
				r, err := e.client.CreateDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "DUPL-0001"})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, r.StatusCode())
				r, err = e.client.CreateDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "DUPL-0001"})
				require.NoError(t, err)
				require.Equal(t, "device_code_exists", errorCode(t, 409, r.Body))
				for i := 0; i < 3; i++ {
					_, _ = e.client.CreateDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "RATE-000" + string(rune('a'+i))})
				}
				r, err = e.client.CreateDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "RATE-LAST"})
				require.NoError(t, err)
				require.Equal(t, "rate_limit_exceeded", errorCode(t, 429, r.Body), "sixth creation from one IP within the hour")

				for _, junk := range []string{"x", strings.Repeat("J", 500), "NUL\u0000-code"} {
					p, err := e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: junk})
					require.NoError(t, err)
					require.Equal(t, apiclient.DeviceCodeStatus("expired"), p.JSON200.Status, "junk codes read as unknown")
				}
				resp, body := e.raw("GET", "/v1/auth/verify?token=x&device_code=AB%00CDEFG", "", "", nil)
				require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, string(body))
				require.Equal(t, "validation_error", errorCode(t, 422, body))
				p, err := e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "UNKNOWN-1"})
				require.NoError(t, err)
				require.Equal(t, apiclient.DeviceCodeStatus("expired"), p.JSON200.Status)
				s, err := e.client.SubmitDeviceCodeEmailWithResponse(ctx, apiclient.SubmitDeviceCodeEmailRequest{DeviceCode: "UNKNOWN-1", Email: "a@example.com"})
				require.NoError(t, err)
				require.Equal(t, "device_code_not_found", errorCode(t, 404, s.Body))

				e.clock.Advance(3601 * time.Second) // past the code's expiry and the hourly creation limit
				p, err = e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "DUPL-0001"})
				require.NoError(t, err)
				require.Equal(t, apiclient.DeviceCodeStatus("expired"), p.JSON200.Status)
				r, err = e.client.CreateDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "DUPL-0001"})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, r.StatusCode(), "an expired code may be reused")
			})

			t.Run("RegistrationClosedStopsDeviceSignUps", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, func(c *config) { c.Env = "test"; c.AllowRegister = false })
				path := login(t, e, "CLOSED-01", "stranger@example.com")
				resp, body := e.raw("GET", path, "", "", nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.Contains(t, string(body), "Registration is closed")
			})

			t.Run("NoEmailProviderOutsideDevelopmentIs503", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, func(c *config) { c.Env = "test" })
				e.restartWithoutMailer()
				c, err := e.client.CreateDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "NOMAIL-01"})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, c.StatusCode())
				s, err := e.client.SubmitDeviceCodeEmailWithResponse(ctx, apiclient.SubmitDeviceCodeEmailRequest{DeviceCode: "NOMAIL-01", Email: "x@example.com"})
				require.NoError(t, err)
				require.Equal(t, "email_not_configured", errorCode(t, 503, s.Body))
				p, _ := e.client.PollDeviceCodeWithResponse(ctx, apiclient.DeviceCodeRequest{DeviceCode: "NOMAIL-01"})
				require.Equal(t, apiclient.DeviceCodeStatus("pending"), p.JSON200.Status)
			})
		})
	}
}
