package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
	"github.com/cueapi/cueapi/core"
)

func confirmTrue() *apiclient.XConfirmDestructive {
	v := apiclient.XConfirmDestructive("true")
	return &v
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()

			t.Run("RegisterNormalizesEmailAndRejectsDuplicates", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				resp, err := e.client.RegisterWithResponse(ctx, apiclient.RegisterRequest{Email: "Ada@Example.COM"})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode())
				require.Equal(t, "Ada@example.com", resp.JSON201.Email)
				require.Regexp(t, `^cue_sk_[0-9a-f]{32}$`, resp.JSON201.APIKey)

				dup, err := e.client.RegisterWithResponse(ctx, apiclient.RegisterRequest{Email: "Ada@example.com"})
				require.NoError(t, err)
				require.Equal(t, http.StatusConflict, dup.StatusCode())
				require.Equal(t, "duplicate_email", errorCode(t, 409, dup.Body))

				bad, err := e.client.RegisterWithResponse(ctx, apiclient.RegisterRequest{Email: "not-an-email"})
				require.NoError(t, err)
				require.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode())
				require.Equal(t, "validation_error", errorCode(t, 422, bad.Body))
			})

			t.Run("RegisterClosedOutsideDevelopment", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, func(c *config) { c.Env = "test"; c.AllowRegister = false })
				resp, err := e.client.RegisterWithResponse(ctx, apiclient.RegisterRequest{Email: "x@example.com"})
				require.NoError(t, err)
				require.Equal(t, http.StatusNotFound, resp.StatusCode())
				require.Equal(t, "not_found", errorCode(t, 404, resp.Body))
			})

			t.Run("MeReportsAccount", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				me, err := e.client.GetMeWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, me.StatusCode())
				require.Equal(t, key[:12], me.JSON200.APIKeyPrefix)
				require.Equal(t, "free", me.JSON200.Plan)
				require.Equal(t, 10, me.JSON200.ActiveCueLimit)
				require.Equal(t, 300, me.JSON200.MonthlyExecutionLimit)
				require.Equal(t, 60, me.JSON200.RateLimitPerMinute)
				require.True(t, me.JSON200.HasWebhookSecret)
			})

			t.Run("AuthFailuresAnswer401Envelopes", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				for _, tc := range []struct{ name, hdr, code string }{
					{"Missing", "", "invalid_api_key"},
					{"NotBearer", "Basic abc", "invalid_api_key"},
					{"LowercaseBearer", "bearer cue_sk_00000000000000000000000000000000", "invalid_api_key"},
					{"UnknownKey", "Bearer cue_sk_00000000000000000000000000000000", "invalid_api_key"},
					{"GarbageJWT", "Bearer not.a.jwt", "invalid_session"},
				} {
					hdr := map[string]string{}
					if tc.hdr != "" {
						hdr["Authorization"] = tc.hdr
					}
					resp, body := e.raw("GET", "/v1/auth/me", "", "", hdr)
					require.Equal(t, http.StatusUnauthorized, resp.StatusCode, tc.name)
					require.Equal(t, tc.code, errorCode(t, 401, body), tc.name)
				}
			})

			t.Run("RegeneratedKeyRevokesPredecessorImmediately", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				oldKey := e.register()
				// Warm the auth cache with the old key.
				me, err := e.client.GetMeWithResponse(ctx, auth(oldKey))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, me.StatusCode())

				noConfirm, err := e.client.RegenerateKeyWithResponse(ctx, &apiclient.RegenerateKeyParams{}, auth(oldKey))
				require.NoError(t, err)
				require.Equal(t, http.StatusBadRequest, noConfirm.StatusCode())
				require.Equal(t, "confirmation_required", errorCode(t, 400, noConfirm.Body))

				regen, err := e.client.RegenerateKeyWithResponse(ctx, &apiclient.RegenerateKeyParams{XConfirmDestructive: confirmTrue()}, auth(oldKey))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, regen.StatusCode())
				newKey := regen.JSON200.APIKey
				require.NotEqual(t, oldKey, newKey)
				require.True(t, regen.JSON200.PreviousKeyRevoked)

				old, err := e.client.GetMeWithResponse(ctx, auth(oldKey))
				require.NoError(t, err)
				require.Equal(t, http.StatusUnauthorized, old.StatusCode())
				require.Equal(t, "key_rotated", errorCode(t, 401, old.Body))

				cur, err := e.client.GetMeWithResponse(ctx, auth(newKey))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, cur.StatusCode())
				require.Equal(t, newKey[:12], cur.JSON200.APIKeyPrefix)

				// The rotated key reads "key_rotated" for 24 h, then "invalid_api_key".
				e.clock.Advance(core.DefaultAccountsConfig().RotatedKeyGrace + 1)
				later, err := e.client.GetMeWithResponse(ctx, auth(oldKey))
				require.NoError(t, err)
				require.Equal(t, "invalid_api_key", errorCode(t, 401, later.Body))
			})

			t.Run("RevealKeyOnlyAfterRegeneration", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				rv, err := e.client.RevealKeyWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, rv.StatusCode())
				require.Nil(t, rv.JSON200.APIKey)
				require.Equal(t, key[:12], *rv.JSON200.Prefix)
				require.Equal(t, "Key not available. Regenerate to enable Reveal.", *rv.JSON200.Message)

				regen, err := e.client.RegenerateKeyWithResponse(ctx, &apiclient.RegenerateKeyParams{XConfirmDestructive: confirmTrue()}, auth(key))
				require.NoError(t, err)
				newKey := regen.JSON200.APIKey
				rv, err = e.client.RevealKeyWithResponse(ctx, auth(newKey))
				require.NoError(t, err)
				require.NotNil(t, rv.JSON200.APIKey)
				require.Equal(t, newKey, *rv.JSON200.APIKey)
				require.Nil(t, rv.JSON200.Prefix)
			})

			t.Run("WebhookSecretRegenerates", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				got, err := e.client.GetWebhookSecretWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Regexp(t, `^whsec_[0-9a-f]{64}$`, got.JSON200.WebhookSecret)
				bad, err := e.client.RegenerateWebhookSecretWithResponse(ctx, &apiclient.RegenerateWebhookSecretParams{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, "confirmation_required", errorCode(t, 400, bad.Body))
				regen, err := e.client.RegenerateWebhookSecretWithResponse(ctx, &apiclient.RegenerateWebhookSecretParams{XConfirmDestructive: confirmTrue()}, auth(key))
				require.NoError(t, err)
				require.NotEqual(t, got.JSON200.WebhookSecret, regen.JSON200.WebhookSecret)
				again, err := e.client.GetWebhookSecretWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, regen.JSON200.WebhookSecret, again.JSON200.WebhookSecret)
			})

			t.Run("AlertSecretIsLazyAndStable", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				a, err := e.client.GetAlertWebhookSecretWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Regexp(t, `^[0-9a-f]{64}$`, a.JSON200.AlertWebhookSecret)
				b, err := e.client.GetAlertWebhookSecretWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, a.JSON200.AlertWebhookSecret, b.JSON200.AlertWebhookSecret)
				r, err := e.client.RegenerateAlertWebhookSecretWithResponse(ctx, &apiclient.RegenerateAlertWebhookSecretParams{XConfirmDestructive: confirmTrue()}, auth(key))
				require.NoError(t, err)
				require.NotEqual(t, a.JSON200.AlertWebhookSecret, r.JSON200.AlertWebhookSecret)
				require.True(t, r.JSON200.PreviousSecretRevoked)
			})

			t.Run("UpdateMeValidatesAndConflicts", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				other := e.register()
				empty, err := e.client.UpdateMeWithResponse(ctx, apiclient.UpdateMeRequest{}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusUnprocessableEntity, empty.StatusCode())
				require.Equal(t, "no_fields", errorCode(t, 422, empty.Body))

				ssrf := "https://127.0.0.1/hook"
				blocked, err := e.client.UpdateMeWithResponse(ctx, apiclient.UpdateMeRequest{AlertWebhookURL: &ssrf}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusBadRequest, blocked.StatusCode())
				require.Equal(t, "invalid_alert_webhook_url", errorCode(t, 400, blocked.Body))

				me, err := e.client.GetMeWithResponse(ctx, auth(other))
				require.NoError(t, err)
				taken := me.JSON200.Email
				dup, err := e.client.UpdateMeWithResponse(ctx, apiclient.UpdateMeRequest{Email: &taken}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusConflict, dup.StatusCode())
				require.Equal(t, "duplicate_email", errorCode(t, 409, dup.Body))

				url, email := "https://alerts.example.com/in", "new-address@example.org"
				ok, err := e.client.UpdateMeWithResponse(ctx, apiclient.UpdateMeRequest{AlertWebhookURL: &url, Email: &email}, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, ok.StatusCode())
				require.True(t, strings.HasSuffix(ok.JSON200.UpdatedAt, "+00:00"))
				me2, err := e.client.GetMeWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, email, me2.JSON200.Email)
			})

			t.Run("SessionRefreshIssuesAWorkingJWT", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				s, err := e.client.RefreshSessionWithResponse(ctx, auth(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, s.StatusCode())
				me, err := e.client.GetMeWithResponse(ctx, auth(s.JSON200.SessionToken))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, me.StatusCode())
				e.clock.Advance(core.SessionTTL)
				exp, err := e.client.GetMeWithResponse(ctx, auth(s.JSON200.SessionToken))
				require.NoError(t, err)
				require.Equal(t, "session_expired", errorCode(t, 401, exp.Body))
			})
		})
	}
}
