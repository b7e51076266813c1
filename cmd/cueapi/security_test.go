package main

// Black-box checks of the security specification's test checklist
// (spec/security.md §10), over HTTP against the real server on both
// backends. Profile P (ENV=production, a known SESSION_SECRET) unless a test
// says otherwise. Callback URLs in profile P are https://… on public
// addresses (8.8.8.8, or hooks.example.com, which the fake resolver maps to
// 93.184.216.34); no scheduler or dispatcher ever runs in these tests, so
// nothing is ever delivered to them.
//
// Items covered elsewhere (not repeated here):
//
//	A2  accounts_test.go RegisterNormalizesEmailAndRejectsDuplicates
//	A5  accounts_test.go AuthFailuresAnswer401Envelopes (GarbageJWT)
//	A6  every test that uses a key
//	A9  accounts_test.go RegeneratedKeyRevokesPredecessorImmediately
//	A10 accounts_test.go RegeneratedKeyRevokesPredecessorImmediately
//	A11 accounts_test.go RevealKeyOnlyAfterRegeneration
//	A12 accounts_test.go RevealKeyOnlyAfterRegeneration
//	B17 accounts_test.go SessionRefreshIssuesAWorkingJWT (here B16 also checks the email)
//	B24 devicelogin_test.go CodeRulesAndConflicts
//	B25 devicelogin_test.go login helper (expires_in, verification_url)
//	B26 devicelogin_test.go CodeRulesAndConflicts
//	B27 devicelogin_test.go CodeRulesAndConflicts (sixth creation → 429)
//	B28 devicelogin_test.go CodeRulesAndConflicts, login helper
//	B30 devicelogin_test.go CodeRulesAndConflicts (unknown code → 404)
//	B33 devicelogin_test.go VerifyErrorsRenderEscapedPages
//	B34 devicelogin_test.go DevicePageEscapesTheCode
//	B35 devicelogin_test.go DevicePageEscapesTheCode
//	B36 devicelogin_test.go NoEmailProviderOutsideDevelopmentIs503 (logs: TestSecurityLogs)
//	B37 accounts_test.go RegisterClosedOutsideDevelopment (ENV=test takes the production path)
//	C47 engine_test.go DeliveryTimeSSRFBlocksRebinding
//	C48 engine_test.go DeliveryTimeSSRFBlocksRebinding (ENV=development, still blocked)
//	C49 adapters/netguard dial_test.go (rebinding between check and connect)
//	C50 adapters/webhook webhook_test.go (redirects are returned, never followed)
//	D52 accounts_test.go WebhookSecretRegenerates
//	D53 accounts_test.go WebhookSecretRegenerates
//	D54 accounts_test.go AlertSecretIsLazyAndStable (here: the missing-confirmation 400)
//	D55 engine_test.go DeliversOnTimeSignedLikeTheSDKExpects
//	D56 engine_test.go DeliversOnTimeSignedLikeTheSDKExpects (é arrives as \u00e9)
//	D57, D60 here, on profile D with a loopback receiver (WEBHOOK_ALLOWED_CIDRS)
//	D58 engine_test.go DeliversOnTimeSignedLikeTheSDKExpects
//	E72 devicelogin (Redis down) — not covered: needs the device-code limiter wired to Redis
//	F78 cues_test.go MalformedJSONIs400BeforeAuth
//	F81 outcomes_test.go ValidationAndErrors (10,231 / 10,232 bytes)
//	F82 outcomes_test.go ValidationAndErrors, WriteOnceUnderConcurrency
//	F86 cues_test.go CreateRejectsBadInputInOrder (CronInvalid, CronMissing); "" here
//	F89 cues_test.go CreateRejectsBadInputInOrder (AtPast)
//	F90 engine_test.go ManualFireAndReplay (not-a-uuid → 404 execution_not_found)
//	H101 not applicable: configuration comes only from the environment (one source)
//
// Other files: TestSecurityCORS (H102, E70 with CORS_ORIGINS), TestSecurityConfig (H105),
// TestSecurityLogs (H107), TestSecurityReplicaRotation and TestSecuritySecretsAtRest.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/core/canonjson"
)

// pSecret is profile P's SESSION_SECRET: 32+ characters, not a sample.
const pSecret = "checklist-session-secret-5f1c0e9a7b3d2468ace0"

// pEnv starts a server in profile P. Plan limits are raised so that tests
// are not cut short by them; rate-limit tests set the limit back to 60.
func pEnv(t *testing.T, be backend, mutate func(*config)) *testEnv {
	t.Helper()
	return newTestEnv(t, be, func(c *config) {
		c.Env = "production"
		c.SessionSecret = pSecret
		c.AllowRegister = true
		c.DefaultActiveCueLimit = 1000
		c.DefaultRateLimitPerMinute = 100_000
		if mutate != nil {
			mutate(c)
		}
	})
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// leakMarkers are fragments of stack traces, SQL and driver errors that must
// never reach a client (H106).
var leakMarkers = []string{
	"goroutine ", ".go:", "runtime.", "panic", "SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", "WHERE ",
	"sqlite", "SQLSTATE", "pgx", "pq:", "postgres:", "constraint", "redis:",
}

// sec sends a request like e.raw (validated against openapi.yaml) and checks
// what every answer must satisfy: a fresh UUID request id (H103), nosniff
// (H104), and for errors a JSON envelope with no stack trace, SQL or
// presented credential (H106).
func (e *testEnv) sec(method, path, token, body string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	resp, b := e.raw(method, path, token, body, hdr)
	secCheckAnswer(e.t, resp, b, presented(token, hdr))
	return resp, b
}

// presented lists the credentials a request carried.
func presented(token string, hdr map[string]string) []string {
	var out []string
	if token != "" {
		out = append(out, token)
	}
	if a := hdr["Authorization"]; a != "" {
		if i := strings.IndexByte(a, ' '); i >= 0 && len(a[i+1:]) >= 8 {
			out = append(out, a[i+1:])
		}
	}
	return out
}

func secCheckAnswer(t *testing.T, resp *http.Response, body []byte, creds []string) {
	t.Helper()
	require.Regexp(t, uuidV4, resp.Header.Get("X-Request-Id"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	if resp.StatusCode < 400 {
		return
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		errorCode(t, resp.StatusCode, body)
	}
	for _, m := range leakMarkers {
		require.NotContains(t, string(body), m, "error body leaks %q", m)
	}
	for _, c := range creds {
		require.NotContains(t, string(body), c, "error body echoes a presented credential")
	}
}

// plain sends a request without the OpenAPI validating transport (for
// answers the contract does not describe, such as CORS preflights).
func (e *testEnv) plain(req *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, b
}

func (e *testEnv) newRequest(method, path string, body io.Reader, hdr map[string]string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	require.NoError(e.t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

var secSeq struct {
	sync.Mutex
	n int
}

func secName(prefix string) string {
	secSeq.Lock()
	defer secSeq.Unlock()
	secSeq.n++
	return fmt.Sprintf("%s-%d", prefix, secSeq.n)
}

// cueC is C(U) of the checklist: a one-time cue far in the future.
func cueC(name, url string, extra map[string]any) string {
	m := map[string]any{
		"name":     name,
		"schedule": map[string]any{"type": "once", "at": "2099-01-01T00:00:00Z"},
		"callback": map[string]any{"url": url},
	}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return m
}

func errorMessage(t *testing.T, b []byte) string {
	t.Helper()
	var env struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(b, &env), string(b))
	return env.Error.Message
}

// skipIf501 skips a test whose endpoint is not wired yet.
func skipIf501(t *testing.T, resp *http.Response, body []byte, why string) {
	t.Helper()
	if resp.StatusCode == http.StatusNotImplemented {
		t.Skip(why + ": " + string(body))
	}
}

// secWorkerExecution is the checklist's E: a worker cue of key's user,
// fired by hand. No outbound traffic results.
func (e *testEnv) secWorkerExecution(key string, extra map[string]any) (cueID, execID string) {
	e.t.Helper()
	m := map[string]any{"name": secName("worker"), "schedule": map[string]any{"type": "once", "at": "2099-01-01T00:00:00Z"}, "transport": "worker"}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	require.NoError(e.t, err)
	resp, body := e.sec("POST", "/v1/cues", key, string(b), nil)
	require.Equal(e.t, http.StatusCreated, resp.StatusCode, string(body))
	cueID = decodeMap(e.t, body)["id"].(string)
	resp, body = e.sec("POST", "/v1/cues/"+cueID+"/fire", key, `{}`, nil)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(body))
	return cueID, decodeMap(e.t, body)["id"].(string)
}

// userOf returns the stored user of an API key.
func (e *testEnv) userOf(key string) *core.User {
	e.t.Helper()
	u, err := e.app.store.UserGetByAPIKeyHash(context.Background(), &core.UserGetByAPIKeyHashParams{Hash: core.HashAPIKey(key)})
	require.NoError(e.t, err)
	return u
}

// mintJWT signs header.claims with secret (HS256), as an attacker who knows
// or guesses the secret would.
func mintJWT(t *testing.T, secret string, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	c, err := json.Marshal(claims)
	require.NoError(t, err)
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func jwtPart(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	require.NoError(t, err)
	return decodeMap(t, b)
}

func (e *testEnv) sessionJWT(key string) string {
	e.t.Helper()
	resp, body := e.sec("POST", "/v1/auth/session/refresh", key, "", nil)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(body))
	return decodeMap(e.t, body)["session_token"].(string)
}

// exhaust sends n requests that must all pass the limiter (any status but 429).
func (e *testEnv) exhaust(n int, path, token string) {
	e.t.Helper()
	for i := 0; i < n; i++ {
		resp, body := e.sec("GET", path, token, "", nil)
		require.NotEqual(e.t, http.StatusTooManyRequests, resp.StatusCode, "request %d: %s", i+1, body)
	}
}

func randomKey() string { return "cue_sk_" + core.RandomHex(16) }

func TestSecurityChecklist(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()

			// ---- A. API keys and authentication ----

			t.Run("A01_RegisterAnswerHoldsOnlyTheKeyAndEmail", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				resp, body := e.sec("POST", "/v1/auth/register", "", `{"email":"a01@example.com"}`, nil)
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
				m := decodeMap(t, body)
				require.Regexp(t, `^cue_sk_[0-9a-f]{32}$`, m["api_key"])
				require.ElementsMatch(t, []string{"api_key", "email"}, mapKeys(m))
				require.NotContains(t, string(body), "whsec_")
			})

			t.Run("A03_LowercaseBearerWithAValidKeyIs401", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				resp, body := e.sec("GET", "/v1/cues", "", "", map[string]string{"Authorization": "bearer " + key})
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.Equal(t, "invalid_api_key", errorCode(t, 401, body))
			})

			t.Run("A04_ErrorBodiesNeverContainThePresentedToken", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				made := "cue_sk_00000000000000000000000000000000"
				resp, body := e.sec("GET", "/v1/cues", made, "", nil)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.Equal(t, "invalid_api_key", errorCode(t, 401, body))
				require.NotContains(t, string(body), made)
				require.NotContains(t, string(body), made[7:])

				// A rotated key, a garbage JWT and a forged JWT are not echoed either.
				key := e.register()
				resp, body = e.sec("POST", "/v1/auth/key/regenerate", key, "", map[string]string{"X-Confirm-Destructive": "true"})
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				resp, body = e.sec("GET", "/v1/cues", key, "", nil)
				require.Equal(t, "key_rotated", errorCode(t, resp.StatusCode, body))
				for _, tok := range []string{"not-a-jwt-but-long-enough", mintJWT(t, "wrong-secret", map[string]any{"alg": "HS256"}, map[string]any{"sub": "x", "type": "session"})} {
					resp, body = e.sec("GET", "/v1/cues", tok, "", nil)
					require.Equal(t, "invalid_session", errorCode(t, resp.StatusCode, body))
				}
			})

			t.Run("A07_MeExposesNoSecret", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				secret := webhookSecret(t, e, key)
				resp, body := e.sec("GET", "/v1/auth/me", key, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				m := decodeMap(t, body)
				require.Equal(t, key[:12], m["api_key_prefix"])
				require.Equal(t, true, m["has_webhook_secret"])
				for _, s := range []string{key, key[12:], core.HashAPIKey(key), secret, secret[6:], e.userOf(key).WebhookSecretSealed} {
					require.NotContains(t, string(body), s)
				}
			})

			t.Run("A08_OnlyALowercaseTrueConfirmsRegeneration", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, v := range []string{"", "True", "TRUE", "1", "yes", "on"} {
					hdr := map[string]string{}
					if v != "" {
						hdr["X-Confirm-Destructive"] = v
					}
					resp, body := e.sec("POST", "/v1/auth/key/regenerate", key, "", hdr)
					require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%q: %s", v, body)
					require.Equal(t, "confirmation_required", errorCode(t, 400, body))
				}
				resp, _ := e.sec("GET", "/v1/cues", key, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, "the key still works")
			})

			t.Run("A13_RevealWithoutCredentialsIs401", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				resp, body := e.sec("GET", "/v1/auth/key", "", "", nil)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.Equal(t, "invalid_api_key", errorCode(t, 401, body))
			})

			t.Run("A14_AnswersCarryingSecretsAreNotStored", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				resp, body := e.sec("POST", "/v1/auth/register", "", `{"email":"a14@example.com"}`, nil)
				require.Equal(t, http.StatusCreated, resp.StatusCode)
				require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "register")
				key := decodeMap(t, body)["api_key"].(string)
				confirm := map[string]string{"X-Confirm-Destructive": "true"}

				resp, body = e.sec("POST", "/v1/auth/key/regenerate", key, "", confirm)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "regenerate")
				key = decodeMap(t, body)["api_key"].(string)
				for _, c := range []struct{ method, path string }{
					{"GET", "/v1/auth/key"},
					{"GET", "/v1/auth/webhook-secret"},
					{"POST", "/v1/auth/webhook-secret/regenerate"},
					{"GET", "/v1/auth/alert-webhook-secret"},
					{"POST", "/v1/auth/alert-webhook-secret/regenerate"},
					{"POST", "/v1/auth/session/refresh"},
					{"GET", "/v1/auth/me"},
				} {
					resp, body := e.sec(c.method, c.path, key, "", confirm)
					require.Equal(t, http.StatusOK, resp.StatusCode, c.path+": "+string(body))
					require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), c.path)
				}
				// The device-code poll and the session exchange, whatever they
				// answer, and both HTML pages (not JSON: sent unvalidated).
				for _, c := range []struct{ method, path, body string }{
					{"POST", "/v1/auth/device-code/poll", `{"device_code":"A14-NOSTORE"}`},
					{"POST", "/v1/auth/session", `{"token":"` + strings.Repeat("0", 64) + `"}`},
				} {
					resp, _ := e.sec(c.method, c.path, "", c.body, nil)
					require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), c.path)
				}
				for _, path := range []string{"/auth/device?code=ABCD-EFGH", "/v1/auth/verify?token=x&device_code=A14-NOSTORE"} {
					resp, body := e.plain(e.newRequest("GET", path, nil, nil))
					secCheckAnswer(t, resp, body, nil)
					require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), path)
				}
			})

			// ---- B. Sessions ----

			t.Run("B15_RefreshWithoutCredentialsIs401", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				resp, body := e.sec("POST", "/v1/auth/session/refresh", "", "", nil)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				errorCode(t, 401, body)
			})

			t.Run("B16_SessionJWTIsHS256For24Hours", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				resp, body := e.sec("POST", "/v1/auth/session/refresh", key, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				m := decodeMap(t, body)
				require.ElementsMatch(t, []string{"session_token", "email"}, mapKeys(m))
				tok := m["session_token"].(string)
				require.Regexp(t, `^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`, tok)
				require.Equal(t, "HS256", jwtPart(t, tok, 0)["alg"])
				claims := jwtPart(t, tok, 1)
				require.Equal(t, "session", claims["type"])
				require.Equal(t, float64(86400), claims["exp"].(float64)-claims["iat"].(float64))
				me, body := e.sec("GET", "/v1/auth/me", tok, "", nil)
				require.Equal(t, http.StatusOK, me.StatusCode)
				require.Equal(t, m["email"], decodeMap(t, body)["email"])
			})

			t.Run("B18_TamperedSignatureIsInvalidSession", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				tok := e.sessionJWT(e.register())
				last := tok[len(tok)-1]
				repl := byte('A')
				if last == 'A' {
					repl = 'B'
				}
				resp, body := e.sec("GET", "/v1/auth/me", tok[:len(tok)-1]+string(repl), "", nil)
				require.Equal(t, "invalid_session", errorCode(t, resp.StatusCode, body))
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			})

			t.Run("B19_AlgNoneIsInvalidSession", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				tok := e.sessionJWT(e.register())
				hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
				parts := strings.Split(tok, ".")
				for _, forged := range []string{hdr + "." + parts[1] + ".", hdr + "." + parts[1] + "." + parts[2]} {
					resp, body := e.sec("GET", "/v1/auth/me", forged, "", nil)
					require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
					require.Equal(t, "invalid_session", errorCode(t, 401, body))
				}
			})

			t.Run("B20_ExpiredSessionIsSessionExpired", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				sub := jwtPart(t, e.sessionJWT(e.register()), 1)["sub"]
				now := e.clock.Now().Unix()
				tok := mintJWT(t, pSecret, map[string]any{"alg": "HS256", "typ": "JWT"},
					map[string]any{"sub": sub, "type": "session", "iat": now - 90000, "exp": now - 1})
				resp, body := e.sec("GET", "/v1/auth/me", tok, "", nil)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.Equal(t, "session_expired", errorCode(t, 401, body))
			})

			t.Run("B21_WrongTypeSecretOrSubjectIsRefused", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				sub := jwtPart(t, e.sessionJWT(e.register()), 1)["sub"]
				now := e.clock.Now().Unix()
				hdr := map[string]any{"alg": "HS256", "typ": "JWT"}
				for _, tc := range []struct {
					name, secret string
					claims       map[string]any
					code         string
				}{
					{"RefreshType", pSecret, map[string]any{"sub": sub, "type": "refresh", "iat": now, "exp": now + 3600}, "invalid_session"},
					{"OtherSecret", "another-secret-0123456789abcdef0123", map[string]any{"sub": sub, "type": "session", "iat": now, "exp": now + 3600}, "invalid_session"},
					{"UnknownSubject", pSecret, map[string]any{"sub": core.NewUUID(), "type": "session", "iat": now, "exp": now + 3600}, "user_not_found"},
				} {
					resp, body := e.sec("GET", "/v1/auth/me", mintJWT(t, tc.secret, hdr, tc.claims), "", nil)
					require.Equal(t, http.StatusUnauthorized, resp.StatusCode, tc.name)
					require.Equal(t, tc.code, errorCode(t, 401, body), tc.name)
				}
			})

			t.Run("B22_SessionWithoutExpiryIsInvalid", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				sub := jwtPart(t, e.sessionJWT(e.register()), 1)["sub"]
				tok := mintJWT(t, pSecret, map[string]any{"alg": "HS256", "typ": "JWT"}, map[string]any{"sub": sub, "type": "session", "iat": e.clock.Now().Unix()})
				resp, body := e.sec("GET", "/v1/auth/me", tok, "", nil)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.Equal(t, "invalid_session", errorCode(t, 401, body))
			})

			t.Run("B23_UnknownOneTimeTokenIsInvalidToken", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				resp, body := e.sec("POST", "/v1/auth/session", "", `{"token":"`+core.RandomHex(32)+`"}`, nil)
				skipIf501(t, resp, body, "waiting for the device-code login")
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.Equal(t, "invalid_token", errorCode(t, 401, body))
				resp, body = e.sec("POST", "/v1/auth/session", "", `{}`, nil)
				require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
				errorCode(t, 422, body)
			})

			t.Run("B29_ThirtyFirstPollInAMinuteIs429", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				code := `{"device_code":"POLL-LIMIT-1"}`
				resp, body := e.sec("POST", "/v1/auth/device-code", "", code, nil)
				skipIf501(t, resp, body, "waiting for the device-code login")
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
				for i := 0; i < 30; i++ {
					resp, body = e.sec("POST", "/v1/auth/device-code/poll", "", code, nil)
					require.Equal(t, http.StatusOK, resp.StatusCode, "poll %d: %s", i+1, body)
				}
				resp, body = e.sec("POST", "/v1/auth/device-code/poll", "", code, nil)
				require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
				require.Equal(t, "rate_limit_exceeded", errorCode(t, 429, body))
			})

			// ---- C. SSRF ----

			t.Run("C38_ReferenceVectorsGetTheReferenceAnswers", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				long := "https://8.8.8.8/" + strings.Repeat("a", 2083-len("https://8.8.8.8/"))
				for _, tc := range []struct {
					url    string
					status int // 201, 400 (invalid_callback_url) or 422 (validation_error)
					alt    int // another acceptable status (§3.8 "400 or 422"), 0 if none
					msg    string
					stored string // expected canonical callback.url on 201
				}{
					{url: "https://localhost/hook", status: 400, msg: "Blocked hostname: localhost"},
					{url: "https://127.0.0.1/hook", status: 400, msg: "Callback URL resolves to blocked address range"},
					{url: "https://metadata.google.internal/computeMetadata/v1/", status: 400},
					{url: "https://user:pass@example.com/webhook", status: 400, msg: "Credentials"},
					{url: "https://admin@example.com/webhook", status: 400, msg: "Credentials"},
					{url: "https://user%40:p%40ss@example.com/webhook", status: 400},
					{url: "https://[::1]/webhook", status: 400},
					{url: "https://[fc00::1]/webhook", status: 400},
					{url: "https://[fe80::1]/webhook", status: 400},
					{url: "ftp://example.com/data", status: 422, alt: 400},
					{url: "file:///etc/passwd", status: 422, alt: 400},
					{url: "javascript:alert(1)", status: 422, alt: 400},
					{url: "data:text/html,<h1>hi</h1>", status: 422, alt: 400},
					{url: "http://example.com/webhook", status: 400, msg: "URL must use https:// in production"},
					{url: "https://metadata.internal/", status: 400},
					{url: "https://LOCALHOST/webhook", status: 400},
					{url: "https://LocalHost/webhook", status: 400},
					{url: "https:///webhook", status: 400, alt: 422},
					{url: "https://127.1/", status: 400},
					{url: "https://2130706433/", status: 400},
					{url: "https://0x7f000001/", status: 400},
					{url: "https://0177.0.0.1/", status: 400},
					{url: "https://0x7f.1/", status: 400},
					{url: "https://017700000001/", status: 400},
					{url: "https://127.000.000.001/", status: 400},
					{url: "https://0/", status: 400},
					{url: "https://0.0.0.0/", status: 400},
					{url: "https://[::ffff:127.0.0.1]/", status: 400},
					{url: "https://[::ffff:7f00:1]/", status: 400},
					{url: "https://[::ffff:169.254.169.254]/", status: 400},
					{url: "https://[0:0:0:0:0:0:0:1]/", status: 400},
					{url: "https://169.254.169.254/latest/meta-data/", status: 400},
					{url: "https://100.64.0.1/", status: 400},
					{url: "https://100.100.100.200/", status: 400},
					{url: "https://198.18.0.1/", status: 400},
					{url: "https://198.19.255.255/", status: 400},
					{url: "https://172.31.255.255/", status: 400},
					{url: "https://[fd00:ec2::254]/", status: 400},
					{url: "https://%6c%6f%63%61%6c%68%6f%73%74/", status: 400},
					{url: "https://ⓛocalhost/", status: 400},
					{url: "https://:pw@8.8.8.8/", status: 400, msg: "Credentials"},
					{url: "https://[fe80::1%25eth0]/", status: 422, alt: 400},
					{url: long + "a", status: 422},
					{url: long, status: 201},
					{url: "https://172.15.255.255/", status: 201},
					{url: "https://172.32.0.1/", status: 201},
					{url: "https://100.128.0.1/", status: 201},
					{url: "https://198.20.0.1/", status: 201},
					{url: "https://11.0.0.1/", status: 201},
					{url: "https://8.8.8.8/", status: 201, stored: "https://8.8.8.8/"},
					{url: "https://134744072/", status: 201, stored: "https://8.8.8.8/"},
					{url: "https://[::ffff:8.8.8.8]/", status: 201},
					{url: "https://8.8.8.8:22/", status: 201},
					{url: "https://@8.8.8.8/", status: 201, stored: "https://8.8.8.8/"},
					{url: "https://8.8.8.8#@127.0.0.1/", status: 201},
					{url: `https://8.8.8.8\@127.0.0.1/`, status: 201, alt: 400},
				} {
					resp, body := e.sec("POST", "/v1/cues", key, cueC(secName("c38"), tc.url, nil), nil)
					if resp.StatusCode != tc.status {
						require.Equal(t, tc.alt, resp.StatusCode, "%s: %s", tc.url, body)
					}
					switch resp.StatusCode {
					case http.StatusCreated:
						cb := decodeMap(t, body)["callback"].(map[string]any)["url"].(string)
						if tc.stored != "" {
							require.Equal(t, tc.stored, cb, tc.url)
						}
						require.NotContains(t, hostOf(cb), "127.0.0.1", tc.url)
					case http.StatusBadRequest:
						require.Equal(t, "invalid_callback_url", errorCode(t, 400, body), tc.url)
						if tc.msg != "" {
							require.Contains(t, errorMessage(t, body), tc.msg, tc.url)
						}
					case http.StatusUnprocessableEntity:
						require.Equal(t, "validation_error", errorCode(t, 422, body), tc.url)
					}
				}
				// Row 23: the alert webhook URL follows the same policy.
				resp, body := e.sec("PATCH", "/v1/auth/me", key, `{"alert_webhook_url":"http://169.254.169.254/latest/meta-data"}`, nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.Equal(t, "invalid_alert_webhook_url", errorCode(t, 400, body))
			})

			t.Run("C39_AddressesTheReferenceMissedAreRefused", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, u := range []string{
					"https://[::]/", "https://[::0]/", "https://[::127.0.0.1]/", "https://[::ffff:0:7f00:1]/",
					"https://[64:ff9b::7f00:1]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:7f00:1::]/", "https://[2002:a9fe:a9fe::]/",
					"https://[fec0::1]/", "https://[ff02::1]/", "https://[100::1]/", "https://224.0.0.1/", "https://239.255.255.250/",
					"https://255.255.255.255/", "https://240.0.0.1/", "https://192.0.0.170/", "https://192.0.2.1/", "https://198.51.100.1/",
					"https://203.0.113.1/", "https://[2001:db8::1]/", "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
					"https://localhost./", "https://foo.localhost/",
				} {
					resp, body := e.sec("POST", "/v1/cues", key, cueC(secName("c39"), u, nil), nil)
					require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", u, body)
					require.Equal(t, "invalid_callback_url", errorCode(t, 400, body), u)
				}
			})

			t.Run("C40_PlainHTTPOnlyInDevelopment", func(t *testing.T) {
				t.Parallel()
				p := pEnv(t, be, nil)
				resp, body := p.sec("POST", "/v1/cues", p.register(), cueC("c40", "http://8.8.8.8/", nil), nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.Equal(t, "invalid_callback_url", errorCode(t, 400, body))
				require.Equal(t, "URL must use https:// in production", errorMessage(t, body))

				d := newTestEnv(t, be, nil) // profile D
				resp, body = d.sec("POST", "/v1/cues", d.register(), cueC("c40", "http://8.8.8.8/", nil), nil)
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
			})

			t.Run("C41_CredentialsAreRefusedByName", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				resp, body := e.sec("POST", "/v1/cues", e.register(), cueC("c41", "https://user:pass@8.8.8.8/", nil), nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.Equal(t, "invalid_callback_url", errorCode(t, 400, body))
				require.Contains(t, errorMessage(t, body), "Credentials")
				require.NotContains(t, string(body), "pass")
			})

			t.Run("C42_RejectedPatchKeepsTheCallback", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				resp, body := e.sec("POST", "/v1/cues", key, cueC("c42", "https://8.8.8.8/a", nil), nil)
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
				id := decodeMap(t, body)["id"].(string)
				resp, body = e.sec("PATCH", "/v1/cues/"+id, key, `{"callback":{"url":"https://127.0.0.1/"}}`, nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.Equal(t, "invalid_callback_url", errorCode(t, 400, body))
				_, body = e.sec("GET", "/v1/cues/"+id, key, "", nil)
				require.Equal(t, "https://8.8.8.8/a", decodeMap(t, body)["callback"].(map[string]any)["url"])
			})

			t.Run("C43_FailureWebhookIsVettedWithAPrefix", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, tc := range []struct{ url, msg string }{
					{"https://127.0.0.1/x", "on_failure.webhook: Callback URL resolves to blocked address range"},
					{`https://8.8.8.8\@127.0.0.1/`, "on_failure.webhook: "},
					{"https://user:pw@8.8.8.8/", "on_failure.webhook: Credentials in callback URLs are not allowed"},
					{"http://8.8.8.8/", "on_failure.webhook: URL must use https:// in production"},
				} {
					resp, body := e.sec("POST", "/v1/cues", key, cueC(secName("c43"), "https://8.8.8.8/", map[string]any{"on_failure": map[string]any{"webhook": tc.url}}), nil)
					if strings.Contains(tc.url, `\`) && resp.StatusCode == http.StatusCreated {
						// §3.4: the WHATWG reading (backslash = path separator,
						// host 8.8.8.8) is as acceptable as the reference's 400.
						stored := decodeMap(t, body)["on_failure"].(map[string]any)["webhook"].(string)
						require.Equal(t, "8.8.8.8", hostOf(stored))
						continue
					}
					require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", tc.url, body)
					require.Equal(t, "invalid_callback_url", errorCode(t, 400, body))
					require.True(t, strings.HasPrefix(errorMessage(t, body), tc.msg), "%s: %s", tc.url, body)
				}
			})

			t.Run("C44_AlertWebhookURLIsVetted", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, tc := range []struct {
					body   string
					status int
				}{
					{`{"alert_webhook_url":"https://169.254.169.254/latest/meta-data"}`, 400},
					{`{"alert_webhook_url":"https://2130706433/"}`, 400},
					{`{"alert_webhook_url":"https://[64:ff9b::a9fe:a9fe]/"}`, 400},
					{`{"alert_webhook_url":"https://8.8.8.8/alerts"}`, 200},
					{`{"alert_webhook_url":""}`, 200},
				} {
					resp, body := e.sec("PATCH", "/v1/auth/me", key, tc.body, nil)
					require.Equal(t, tc.status, resp.StatusCode, "%s: %s", tc.body, body)
					if tc.status == 400 {
						require.Equal(t, "invalid_alert_webhook_url", errorCode(t, 400, body))
					}
				}
			})

			t.Run("C45_IntegerHostIsStoredCanonical", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				resp, body := e.sec("POST", "/v1/cues", key, cueC("c45", "https://134744072/", nil), nil)
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
				id := decodeMap(t, body)["id"].(string)
				_, body = e.sec("GET", "/v1/cues/"+id, key, "", nil)
				require.Equal(t, "https://8.8.8.8/", decodeMap(t, body)["callback"].(map[string]any)["url"])
			})

			t.Run("C46_WorkerCueCallbackIsVetted", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				body := `{"name":"c46","transport":"worker","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://127.0.0.1/"}}`
				resp, out := e.sec("POST", "/v1/cues", e.register(), body, nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(out))
				require.Equal(t, "invalid_callback_url", errorCode(t, 400, out))
			})

			// ---- D. Webhook signing ----

			t.Run("D54_AlertSecretRegenerationNeedsConfirmation", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				resp, body := e.sec("GET", "/v1/auth/alert-webhook-secret", key, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				before := decodeMap(t, body)["alert_webhook_secret"]
				resp, body = e.sec("POST", "/v1/auth/alert-webhook-secret/regenerate", key, "", nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.Equal(t, "confirmation_required", errorCode(t, 400, body))
				_, body = e.sec("GET", "/v1/auth/alert-webhook-secret", key, "", nil)
				require.Equal(t, before, decodeMap(t, body)["alert_webhook_secret"], "unchanged")
			})

			t.Run("D57_AfterRotationDeliveriesVerifyOnlyWithTheNewSecret", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be) // delivers to a loopback receiver only
				rcv := newReceiver(t)
				key := e.register()
				old := webhookSecret(t, e, key)
				resp, body := e.sec("POST", "/v1/auth/webhook-secret/regenerate", key, "", map[string]string{"X-Confirm-Destructive": "true"})
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				cur := decodeMap(t, body)["webhook_secret"].(string)
				c := e.createCue(key, `{"name":"d57","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"`+rcv.url("/")+`"}}`)
				resp, body = e.sec("POST", "/v1/cues/"+c.ID+"/fire", key, `{}`, nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				_, n := e.pump()
				require.Equal(t, 1, n)
				reqs := rcv.requests()
				require.Len(t, reqs, 1)
				ts, err := strconv.ParseInt(reqs[0].header.Get("X-CueAPI-Timestamp"), 10, 64)
				require.NoError(t, err)
				sig := reqs[0].header.Get("X-CueAPI-Signature")
				require.True(t, canonjson.Verify(cur, sig, ts, reqs[0].body))
				require.False(t, canonjson.Verify(old, sig, ts, reqs[0].body))
			})

			t.Run("D60_GETCallbackSignsTheEmptyBody", func(t *testing.T) {
				t.Parallel()
				e := engineEnv(t, be) // delivers to a loopback receiver only
				rcv := newReceiver(t)
				key := e.register()
				c := e.createCue(key, `{"name":"d60","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"`+rcv.url("/")+`","method":"GET"}}`)
				resp, body := e.sec("POST", "/v1/cues/"+c.ID+"/fire", key, `{}`, nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				_, n := e.pump()
				require.Equal(t, 1, n)
				reqs := rcv.requests()
				require.Len(t, reqs, 1)
				r := reqs[0]
				require.Equal(t, "GET", r.method)
				require.Empty(t, r.body)
				ts, err := strconv.ParseInt(r.header.Get("X-CueAPI-Timestamp"), 10, 64)
				require.NoError(t, err)
				if got, want := r.header.Get("X-CueAPI-Signature"), canonjson.Sign(webhookSecret(t, e, key), ts, nil); got != want {
					t.Fatalf("BUG: a GET callback is sent without a body but signed over the JSON body it would have had (X-CueAPI-Signature %s, HMAC(secret, timestamp + \".\") is %s; security.md §4.8/§10 D60; core.Dispatcher.buildRequest signs SignedWebhook's body, adapters/webhook drops it for GET)", got, want)
				}
			})

			t.Run("D59_ReservedCallbackHeadersAre422", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, h := range []map[string]string{
					{"X-CueAPI-Signature": "v1=forged"}, {"Host": "internal.example"}, {"Content-Length": "0"},
					{"Transfer-Encoding": "chunked"}, {"X-Team": "a\r\nX-Injected: 1"}, {"X-Team": "a\nb"}, {"X-Team": "a\x00b"},
					{"Bad Name": "x"}, {"": "x"},
				} {
					resp, body := e.sec("POST", "/v1/cues", key, cueC(secName("d59"), "https://8.8.8.8/", map[string]any{"callback": map[string]any{"url": "https://8.8.8.8/", "headers": h}}), nil)
					require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "%q: %s", h, body)
					require.Equal(t, "validation_error", errorCode(t, 422, body))
				}
			})

			t.Run("D59_EveryReservedNameOfSection6_8Is422", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				var accepted []string
				for _, name := range []string{"Connection", "Keep-Alive", "Upgrade", "TE", "Trailer", "Proxy-Authorization",
					"Proxy-Connection", "Content-Type", "x-cueapi-timestamp", "X-CueAPI-Anything"} {
					resp, _ := e.sec("POST", "/v1/cues", key, cueC(secName("d59b"), "https://8.8.8.8/", map[string]any{"callback": map[string]any{"url": "https://8.8.8.8/", "headers": map[string]string{name: "x"}}}), nil)
					if resp.StatusCode != http.StatusUnprocessableEntity {
						accepted = append(accepted, fmt.Sprintf("%s→%d", name, resp.StatusCode))
					}
				}
				if len(accepted) > 0 {
					t.Fatal("BUG: reserved callback header names accepted (security.md §6.8 requires 422): " + strings.Join(accepted, ", "))
				}
			})

			// ---- E. Rate limiting ----

			rl := func(c *config) { c.DefaultRateLimitPerMinute = 60 }

			t.Run("E61_SixtyRequestsCountDown", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, rl)
				key := e.register()
				now := e.clock.Now().Unix()
				for i := 1; i <= 60; i++ {
					resp, body := e.sec("GET", "/v1/cues", key, "", nil)
					require.Equal(t, http.StatusOK, resp.StatusCode, "request %d: %s", i, body)
					require.Equal(t, "60", resp.Header.Get("X-RateLimit-Limit"))
					require.Equal(t, strconv.Itoa(60-i), resp.Header.Get("X-RateLimit-Remaining"))
					reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
					require.NoError(t, err)
					require.GreaterOrEqual(t, reset, now+55)
					require.LessOrEqual(t, reset, now+65)
				}
			})

			t.Run("E62_SixtyFirstIs429WithRetryAfter", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, rl)
				key := e.register()
				e.exhaust(60, "/v1/cues", key)
				now := e.clock.Now().Unix()
				resp, body := e.sec("GET", "/v1/cues", key, "", nil)
				require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
				require.Equal(t, "rate_limit_exceeded", errorCode(t, 429, body))
				n, err := strconv.Atoi(resp.Header.Get("Retry-After"))
				require.NoError(t, err)
				require.GreaterOrEqual(t, n, 1)
				require.LessOrEqual(t, n, 60)
				require.Equal(t, "0", resp.Header.Get("X-RateLimit-Remaining"))
				require.Equal(t, "60", resp.Header.Get("X-RateLimit-Limit"))
				reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
				require.NoError(t, err)
				require.GreaterOrEqual(t, reset, now)
				require.LessOrEqual(t, reset, now+65)
				require.Equal(t, fmt.Sprintf("Too many requests. Retry after %d seconds.", n), errorMessage(t, body))
			})

			t.Run("E63_KeysHaveTheirOwnBuckets", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, rl)
				a, b := e.register(), e.register()
				e.exhaust(55, "/v1/cues", a)
				resp, _ := e.sec("GET", "/v1/cues", b, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				rem, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining"))
				require.NoError(t, err)
				require.GreaterOrEqual(t, rem, 58)
			})

			t.Run("E64_UnauthenticatedRequestsShareTheIPBucket", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, rl)
				for i := 0; i < 60; i++ {
					resp, body := e.sec("GET", "/v1/cues", "", "", nil)
					require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "request %d: %s", i+1, body)
				}
				resp, body := e.sec("GET", "/v1/cues", "", "", nil)
				require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
				require.Equal(t, "rate_limit_exceeded", errorCode(t, 429, body))
			})

			t.Run("E65_ExemptPathsCarryNoRateLimitHeaders", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, rl)
				for i := 0; i < 100; i++ {
					for _, p := range []string{"/health", "/status"} {
						resp, body := e.sec("GET", p, "", "", nil)
						require.Equal(t, http.StatusOK, resp.StatusCode, "%s %d: %s", p, i, body)
						for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
							require.Empty(t, resp.Header.Get(h), p)
						}
					}
				}
				// Exact match only: a variant is limited like any unknown path.
				resp, _ := e.sec("GET", "/health/", "", "", nil)
				require.Equal(t, "60", resp.Header.Get("X-RateLimit-Limit"))
			})

			t.Run("E66_RejectedRequestsDoNotInflateTheWindow", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, rl)
				key := e.register()
				t0 := e.clock.Now()
				for i := 0; i < 60; i++ { // 60 within 2 s
					e.clock.Set(t0.Add(time.Duration(i) * 30 * time.Millisecond))
					resp, body := e.sec("GET", "/v1/cues", key, "", nil)
					require.Equal(t, http.StatusOK, resp.StatusCode, "request %d: %s", i+1, body)
				}
				for i := 0; i < 60; i++ { // 60 more over t0+3 … t0+50, all refused
					at := t0.Add(3*time.Second + time.Duration(i)*47*time.Second/59)
					e.clock.Set(at)
					resp, _ := e.sec("GET", "/v1/cues", key, "", nil)
					require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "at t0+%s", at.Sub(t0))
					n, err := strconv.Atoi(resp.Header.Get("Retry-After"))
					require.NoError(t, err)
					left := 60*time.Second - at.Sub(t0) // until the oldest accepted request leaves
					require.True(t, n == int(left/time.Second) || n == int((left+time.Second-1)/time.Second), "Retry-After %d at t0+%s", n, at.Sub(t0))
				}
				e.clock.Set(t0.Add(63 * time.Second))
				resp, body := e.sec("GET", "/v1/cues", key, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				require.Equal(t, "59", resp.Header.Get("X-RateLimit-Remaining"))
			})

			t.Run("E67_MadeUpKeysShareTheIPBucket", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, rl)
				for i := 0; i < 60; i++ {
					resp, body := e.sec("GET", "/v1/cues", randomKey(), "", nil)
					require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "request %d: %s", i+1, body)
					require.Equal(t, "invalid_api_key", errorCode(t, 401, body))
				}
				resp, body := e.sec("GET", "/v1/cues", randomKey(), "", nil)
				require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
				require.Equal(t, "rate_limit_exceeded", errorCode(t, 429, body))
				// The IP bucket is exhausted for requests without credentials too.
				resp, _ = e.sec("POST", "/v1/auth/register", "", `{"email":"e67@example.com"}`, nil)
				require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			})

			t.Run("E68_ConcurrentBurstAdmitsAtMostTheLimit", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, rl)
				key := e.register()
				const n = 100
				statuses := make(chan int, n)
				errs := make(chan error, n)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						req, err := http.NewRequest("GET", e.srv.URL+"/v1/cues", nil)
						if err != nil {
							errs <- err
							return
						}
						req.Header.Set("Authorization", "Bearer "+key)
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							errs <- err
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						statuses <- resp.StatusCode
					}()
				}
				close(start)
				wg.Wait()
				close(statuses)
				close(errs)
				for err := range errs {
					require.NoError(t, err)
				}
				ok, limited := 0, 0
				for s := range statuses {
					switch s {
					case http.StatusOK:
						ok++
					case http.StatusTooManyRequests:
						limited++
					default:
						t.Fatalf("unexpected status %d", s)
					}
				}
				require.LessOrEqual(t, ok, 60)
				require.Equal(t, n, ok+limited)
				require.Equal(t, 60, ok, "nothing else uses the key's bucket")
			})

			t.Run("E69_TheUsersOwnLimitHoldsFromTheFirstRequest", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, rl)
				key := e.register()
				_, err := e.app.store.UserUpdate(ctx, &core.UserUpdateParams{ID: e.userOf(key).ID, Fn: func(u *core.User) error {
					u.RateLimitPerMinute = 600
					return nil
				}})
				require.NoError(t, err)
				// A steady 2 requests per second for 6 minutes: more than 60 in
				// every window, and past the 5-minute auth-cache expiry.
				for i := 0; i < 720; i++ {
					resp, body := e.sec("GET", "/v1/cues", key, "", nil)
					require.Equal(t, http.StatusOK, resp.StatusCode, "request %d: %s", i+1, body)
					require.Equal(t, "600", resp.Header.Get("X-RateLimit-Limit"), "request %d", i+1)
					e.clock.Advance(500 * time.Millisecond)
				}
			})

			t.Run("E70_429CarriesCORSHeaders", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, rl)
				e.exhaust(60, "/v1/cues", "")
				resp, body := e.sec("GET", "/v1/cues", "", "", map[string]string{"Origin": "https://app.example"})
				require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, string(body))
				require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
				require.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "Retry-After")
			})

			if be == backendPostgres {
				t.Run("E71_RedisDownFallsBackToInProcessLimits", func(t *testing.T) {
					t.Parallel()
					e := pEnv(t, be, func(c *config) {
						c.DefaultRateLimitPerMinute = 60
						c.RedisURL = "redis://127.0.0.1:1/0" // nothing listens there
					})
					key := e.register()
					for i := 0; i < 60; i++ {
						resp, body := e.sec("GET", "/v1/cues", key, "", nil)
						require.Equal(t, http.StatusOK, resp.StatusCode, "request %d: %s", i+1, body)
					}
					// [O] of §5.6: limits still apply (per process) instead of failing open.
					resp, body := e.sec("GET", "/v1/cues", key, "", nil)
					require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, string(body))
				})
			}

			// ---- F. Input validation ----

			t.Run("F73_BodyOneByteOverTheLimitIs413", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				body := padJSON(`{"name":"f73","pad":"`, `"}`, 1<<20+1)
				resp, out := e.sec("POST", "/v1/cues", key, body, nil)
				require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
				require.Equal(t, "request_too_large", errorCode(t, 413, out))
				require.Equal(t, "Request body exceeds 1048576 bytes", errorMessage(t, out))
			})

			t.Run("F74_OversizeRegisterIs413BeforeAnythingElse", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				resp, out := e.sec("POST", "/v1/auth/register", "", padJSON(`{"email":"`, `"}`, 2<<20), nil)
				require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
				require.Equal(t, "request_too_large", errorCode(t, 413, out))
			})

			t.Run("F75_ChunkedOversizeBodyIs413", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, path := range []string{"/v1/cues", "/v1/echo/f75-token-0123456789ab"} { // F75, F76
					req := e.newRequest("POST", path, io.MultiReader(strings.NewReader(padJSON(`{"pad":"`, `"}`, 1_100_000))), map[string]string{
						"Authorization": "Bearer " + key, "Content-Type": "application/json",
					})
					require.Equal(t, int64(0), req.ContentLength, "sent chunked")
					resp, err := e.http.Do(req)
					require.NoError(t, err)
					out, err := io.ReadAll(resp.Body)
					require.NoError(t, err)
					resp.Body.Close()
					require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, path)
					require.Equal(t, "request_too_large", errorCode(t, 413, out), path)
				}
			})

			t.Run("F77_BodyOfExactlyOneMiBIsAccepted", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				c := cueC("f77", "https://8.8.8.8/", nil)
				body := c + strings.Repeat(" ", 1<<20-len(c))
				require.Len(t, body, 1<<20)
				resp, out := e.sec("POST", "/v1/cues", key, body, nil)
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(out))
			})

			t.Run("F79_NulAnywhereInThePayloadIs400", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, p := range []string{`{"a": "x\u0000y"}`, `{"a": {"b": ["\u0000"]}}`, `{"k\u0000": 1}`} {
					body := strings.TrimSuffix(cueC(secName("f79"), "https://8.8.8.8/", nil), "}") + `,"payload":` + p + `}`
					resp, out := e.sec("POST", "/v1/cues", key, body, nil)
					require.Equal(t, http.StatusBadRequest, resp.StatusCode, p)
					require.Equal(t, "invalid_payload", errorCode(t, 400, out), p)
				}
			})

			t.Run("F80_PayloadSizeIsMeasuredWithPythonSeparators", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				zeros := func(n int) string {
					return strings.TrimSuffix(cueC(secName("f80"), "https://8.8.8.8/", nil), "}") +
						`,"payload":{"a":[` + strings.TrimSuffix(strings.Repeat("0,", n), ",") + `]}}`
				}
				resp, out := e.sec("POST", "/v1/cues", key, zeros(349_524), nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%.300s", out)
				require.Equal(t, "invalid_payload_size", errorCode(t, 400, out))
				require.Equal(t, "Payload must be under 1MB", errorMessage(t, out))
				resp, out = e.sec("POST", "/v1/cues", key, zeros(349_523), nil)
				require.Equal(t, http.StatusCreated, resp.StatusCode, "%.300s", out)
			})

			t.Run("F83_NulInANameIs4xx", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, body := range []string{
					`{"name":"a\u0000b","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://8.8.8.8/"}}`,
					`{"name":"ok","description":"d\u0000","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://8.8.8.8/"}}`,
				} {
					resp, out := e.sec("POST", "/v1/cues", key, body, nil)
					require.GreaterOrEqual(t, resp.StatusCode, 400, string(out))
					require.Less(t, resp.StatusCode, 500, string(out))
				}
				_, exec := e.secWorkerExecution(key, nil)
				resp, out := e.sec("POST", "/v1/executions/"+exec+"/outcome", key, `{"success":true,"result":"a\u0000b"}`, nil)
				skipIf501(t, resp, out, "waiting for WorkerStore")
				require.GreaterOrEqual(t, resp.StatusCode, 400, string(out))
				require.Less(t, resp.StatusCode, 500, string(out))
			})

			t.Run("F84_OutcomeFieldsFitTheirColumns", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				var accepted []string
				for _, f := range []struct {
					field string
					n     int
				}{{"external_id", 300}, {"result_type", 80}, {"result_ref", 300}} {
					_, exec := e.secWorkerExecution(key, nil)
					body := `{"success":true,"` + f.field + `":"` + strings.Repeat("x", f.n) + `"}`
					resp, out := e.sec("POST", "/v1/executions/"+exec+"/outcome", key, body, nil)
					skipIf501(t, resp, out, "waiting for WorkerStore")
					require.Less(t, resp.StatusCode, 500, string(out))
					if resp.StatusCode != http.StatusUnprocessableEntity {
						accepted = append(accepted, fmt.Sprintf("%s of %d characters → %d", f.field, f.n, resp.StatusCode))
						continue
					}
					require.Equal(t, "validation_error", errorCode(t, 422, out))
				}
				if len(accepted) > 0 {
					t.Fatal("BUG: security.md §6.4 [F] limits external_id and result_ref to 255 and result_type to 50 characters (422 beyond), but: " + strings.Join(accepted, "; "))
				}
			})

			t.Run("F85_CallbackMethodMustBeExact", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, m := range []string{"DELETE", "post", "HEAD", "POST "} {
					resp, out := e.sec("POST", "/v1/cues", key, cueC(secName("f85"), "https://8.8.8.8/", map[string]any{"callback": map[string]any{"url": "https://8.8.8.8/", "method": m}}), nil)
					require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, m)
					require.Equal(t, "validation_error", errorCode(t, 422, out), m)
				}
			})

			t.Run("F86_EmptyCronIsInvalidSchedule", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				resp, out := e.sec("POST", "/v1/cues", e.register(), `{"name":"f86","schedule":{"type":"recurring","cron":""},"callback":{"url":"https://8.8.8.8/"}}`, nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(out))
				require.Equal(t, "invalid_schedule", errorCode(t, 400, out))
			})

			t.Run("F87_CronLongerThan100IsInvalidSchedule", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				cron := strings.Repeat("0,", 50) + "0 9 * * *" // a valid minute list, 109 characters
				resp, out := e.sec("POST", "/v1/cues", e.register(), `{"name":"f87","schedule":{"type":"recurring","cron":"`+cron+`"},"callback":{"url":"https://8.8.8.8/"}}`, nil)
				require.Less(t, resp.StatusCode, 500, string(out))
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("BUG: a cron over 100 characters answers %d %s; security.md §6.5/§10 F87 want 400 invalid_schedule (openapi.yaml's maxLength: 100 on ScheduleInput.cron turns it into a 422, and cues_test.go CronTooLong asserts the 422)", resp.StatusCode, out)
				}
				require.Equal(t, "invalid_schedule", errorCode(t, 400, out))
			})

			t.Run("F88_TimeZonesAreCheckedAgainstTheZoneList", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, tz := range []string{"Fake/Zone", "", "Local", "../../../etc/localtime"} {
					resp, out := e.sec("POST", "/v1/cues", key, `{"name":"`+secName("f88")+`","schedule":{"type":"recurring","cron":"0 9 * * *","timezone":"`+tz+`"},"callback":{"url":"https://8.8.8.8/"}}`, nil)
					require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "%q: %s", tz, out)
					require.Equal(t, "invalid_timezone", errorCode(t, 422, out), tz)
					require.Equal(t, fmt.Sprintf("Unknown timezone: '%s'", tz), errorMessage(t, out))
				}
				resp, out := e.sec("POST", "/v1/cues", key, `{"name":"f88-utc","schedule":{"type":"recurring","cron":"0 9 * * *","timezone":"utc"},"callback":{"url":"https://8.8.8.8/"}}`, nil)
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(out))
			})

			t.Run("F91_ProfileEmailIsValidated", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				for _, body := range []string{`{"email":"not an email"}`, `{"email":"a\u0000@example.com"}`, `{"email":"` + strings.Repeat("a", 250) + `@example.com"}`} {
					resp, out := e.sec("PATCH", "/v1/auth/me", key, body, nil)
					require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "%.60s: %s", body, out)
					errorCode(t, 422, out)
				}
			})

			t.Run("F_DeeplyNestedPayloadIs4xx", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				deep := strings.Repeat(`{"a":`, 1500) + `1` + strings.Repeat(`}`, 1500)
				body := strings.TrimSuffix(cueC("deep", "https://8.8.8.8/", nil), "}") + `,"payload":` + deep + `}`
				resp, out := e.plain(e.newRequest("POST", "/v1/cues", strings.NewReader(body), map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}))
				if resp.StatusCode >= 500 {
					t.Fatalf("BUG (found by FuzzRequestPipeline): a cue payload nested 1,500 levels deep answers %d %s; the store refuses it (SQLite: CHECK constraint failed: json_valid(payload)) — core should bound the depth and answer 4xx", resp.StatusCode, out)
				}
				require.Less(t, resp.StatusCode, 500)
			})

			t.Run("F_LoneSurrogateIsRefused", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				var stored []string
				for _, p := range []string{`{"a":"\ud800"}`, `{"\udc00":1}`, `{"a":["x\udbff"]}`} {
					body := strings.TrimSuffix(cueC(secName("sur"), "https://8.8.8.8/", nil), "}") + `,"payload":` + p + `}`
					resp, out := e.plain(e.newRequest("POST", "/v1/cues", strings.NewReader(body), map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}))
					require.Less(t, resp.StatusCode, 500, string(out))
					if resp.StatusCode < 400 {
						stored = append(stored, p)
					}
				}
				if len(stored) > 0 {
					t.Fatalf("BUG: payloads with lone surrogates are stored (201) instead of 400 invalid_json (security.md §6.2 [F]): %s", strings.Join(stored, " "))
				}
			})

			// ---- G. Tenancy ----

			t.Run("G92_AnotherTenantsCueIsNotFound", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				a, b := e.register(), e.register()
				resp, body := e.sec("POST", "/v1/cues", a, cueC("g92", "https://8.8.8.8/a", nil), nil)
				require.Equal(t, http.StatusCreated, resp.StatusCode)
				id := decodeMap(t, body)["id"].(string)
				for _, c := range []struct{ method, path, body string }{
					{"GET", "/v1/cues/" + id, ""},
					{"PATCH", "/v1/cues/" + id, `{"name":"x"}`},
					{"DELETE", "/v1/cues/" + id, ""},
					{"POST", "/v1/cues/" + id + "/fire", `{}`},
				} {
					resp, out := e.sec(c.method, c.path, b, c.body, nil)
					require.Equal(t, http.StatusNotFound, resp.StatusCode, c.method+" "+c.path)
					require.Equal(t, "cue_not_found", errorCode(t, 404, out))
				}
				_, body = e.sec("GET", "/v1/cues/"+id, a, "", nil)
				m := decodeMap(t, body)
				require.Equal(t, "g92", m["name"])
				require.Equal(t, "active", m["status"])
				_, body = e.sec("GET", "/v1/executions?cue_id="+id, a, "", nil)
				require.Equal(t, float64(0), decodeMap(t, body)["total"], "no execution was created")
			})

			t.Run("G93_AnotherTenantsExecutionIsNotFound", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				a, b := e.register(), e.register()
				_, exec := e.secWorkerExecution(a, nil)
				resp, out := e.sec("GET", "/v1/executions/"+exec, b, "", nil)
				require.Equal(t, http.StatusNotFound, resp.StatusCode)
				require.Equal(t, "execution_not_found", errorCode(t, 404, out))
				for _, c := range []struct{ method, path, body string }{
					{"POST", "/outcome", `{"success":true}`},
					{"POST", "/replay", ""},
					{"POST", "/verify", `{}`},
					{"POST", "/heartbeat", ""},
					{"POST", "/verification-pending", ""},
					{"PATCH", "/evidence", `{"external_id":"x"}`},
				} {
					resp, out := e.sec(c.method, "/v1/executions/"+exec+c.path, b, c.body, nil)
					skipIf501(t, resp, out, "waiting for WorkerStore")
					require.Equal(t, http.StatusNotFound, resp.StatusCode, c.path+": "+string(out))
					if c.path != "/verification-pending" { // 404 http_error, as the reference (§7.2)
						require.Equal(t, "execution_not_found", errorCode(t, 404, out), c.path)
					}
				}
				resp, out = e.sec("GET", "/v1/executions/"+exec, a, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				m := decodeMap(t, out)
				require.Equal(t, "pending", m["status"], "B changed nothing")
				require.Nil(t, m["outcome"])
			})

			t.Run("G94_AnotherTenantCannotClaim", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				a, b := e.register(), e.register()
				_, exec := e.secWorkerExecution(a, nil)
				resp, out := e.sec("POST", "/v1/executions/"+exec+"/claim", b, `{"worker_id":"w"}`, nil)
				skipIf501(t, resp, out, "waiting for WorkerStore")
				require.Equal(t, http.StatusConflict, resp.StatusCode, string(out))
				require.Equal(t, "claim_failed", errorCode(t, 409, out))
				resp, out = e.sec("POST", "/v1/executions/claim", b, `{"worker_id":"w"}`, nil)
				require.Equal(t, http.StatusConflict, resp.StatusCode, string(out))
				require.Equal(t, "claim_failed", errorCode(t, 409, out))
				resp, out = e.sec("POST", "/v1/executions/"+exec+"/claim", a, `{"worker_id":"w"}`, nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
			})

			t.Run("G95_ListsAreFilteredByTenant", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				a, b := e.register(), e.register()
				cue, _ := e.secWorkerExecution(a, nil)
				resp, out := e.sec("GET", "/v1/executions?cue_id="+cue, b, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Equal(t, float64(0), decodeMap(t, out)["total"])
				_, out = e.sec("GET", "/v1/executions", b, "", nil)
				require.Equal(t, float64(0), decodeMap(t, out)["total"])
				_, out = e.sec("GET", "/v1/cues", b, "", nil)
				require.Equal(t, float64(0), decodeMap(t, out)["total"])
				require.NotContains(t, string(out), cue)
				resp, out = e.sec("GET", "/v1/executions/claimable", b, "", nil)
				skipIf501(t, resp, out, "waiting for WorkerStore")
				require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
				require.NotContains(t, string(out), cue)
			})

			t.Run("G96_AnotherTenantsWorkerIsNotFound", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				a, b := e.register(), e.register()
				resp, out := e.sec("POST", "/v1/worker/heartbeat", a, `{"worker_id":"w1","handlers":["x"]}`, nil)
				skipIf501(t, resp, out, "waiting for WorkerStore")
				require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
				resp, out = e.sec("DELETE", "/v1/workers/w1", b, "", nil)
				require.Equal(t, http.StatusNotFound, resp.StatusCode)
				require.Equal(t, "worker_not_found", errorCode(t, 404, out))
				_, out = e.sec("GET", "/v1/workers", b, "", nil)
				require.NotContains(t, string(out), "w1")
				_, out = e.sec("GET", "/v1/workers", a, "", nil)
				require.Contains(t, string(out), `"w1"`)
			})

			t.Run("G97_AnotherTenantsAlertsAreInvisible", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				a, b := e.register(), e.register()
				_, exec := e.secWorkerExecution(a, map[string]any{"verification": map[string]any{"mode": "require_external_id"}})
				resp, out := e.sec("POST", "/v1/executions/"+exec+"/claim", a, `{"worker_id":"w"}`, nil)
				skipIf501(t, resp, out, "waiting for WorkerStore")
				require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
				resp, out = e.sec("POST", "/v1/executions/"+exec+"/outcome", a, `{"success":true}`, nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
				require.Equal(t, "verification_failed", decodeMap(t, out)["outcome_state"])
				_, out = e.sec("GET", "/v1/alerts", a, "", nil)
				require.GreaterOrEqual(t, decodeMap(t, out)["total"], float64(1), "A has the alert: %s", out)
				resp, out = e.sec("GET", "/v1/alerts", b, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Equal(t, float64(0), decodeMap(t, out)["total"])
				require.NotContains(t, string(out), exec)
			})

			t.Run("G99_EchoNeverStoresCredentials", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				b := e.register()
				token := "g99-echo-token-" + core.RandomHex(8)
				resp, out := e.sec("POST", "/v1/echo/"+token, "", `{"x":1}`, map[string]string{"Authorization": "Bearer secret-x"})
				skipIf501(t, resp, out, "waiting for the echo store")
				require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
				resp, out = e.sec("GET", "/v1/echo/"+token, b, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
				require.Equal(t, "delivered", decodeMap(t, out)["status"])
				require.NotContains(t, strings.ToLower(string(out)), `"authorization"`)
				require.NotContains(t, string(out), "secret-x")
			})

			t.Run("G99_EchoKeepsOnlyContentTypeAndCueAPIHeaders", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				b := e.register()
				token := "g99-echo-token-" + core.RandomHex(8)
				resp, out := e.sec("POST", "/v1/echo/"+token, "", `{"x":1}`, map[string]string{
					"Cookie": "session=secret-c", "Proxy-Authorization": "Basic c2VjcmV0", "X-Api-Key": "secret-k",
					"X-CueAPI-Signature": "v1=abc",
				})
				skipIf501(t, resp, out, "waiting for the echo store")
				require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
				_, out = e.sec("GET", "/v1/echo/"+token, b, "", nil)
				var got struct {
					Headers map[string]string `json:"headers"`
				}
				require.NoError(t, json.Unmarshal(out, &got))
				require.Contains(t, got.Headers, "x-cueapi-signature")
				var extra []string
				for k := range got.Headers {
					if k != "content-type" && !strings.HasPrefix(k, "x-cueapi-") {
						extra = append(extra, k)
					}
				}
				if len(extra) > 0 {
					t.Fatalf("BUG: the echo sink stores headers beyond Content-Type and X-CueAPI-* (security.md §7.4 [F]), readable by any tenant: %v", extra)
				}
			})

			// ---- H. Production hardening ----

			t.Run("H100_APIDocumentsAreHiddenInProduction", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				for _, p := range []string{"/docs", "/redoc", "/openapi.json"} {
					resp, out := e.sec("GET", p, "", "", nil)
					require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
					errorCode(t, 404, out)
				}
			})

			t.Run("H103_EveryAnswerHasAFreshRequestID", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				seen := map[string]bool{}
				for _, c := range []struct{ method, path, token, body string }{
					{"GET", "/health", "", ""}, {"GET", "/v1/cues", key, ""}, {"GET", "/v1/cues", "", ""},
					{"POST", "/v1/cues", key, `{"name": `}, {"GET", "/nope", "", ""}, {"PUT", "/v1/cues", key, `{}`},
					{"POST", "/v1/cues", key, `{}`}, {"GET", "/v1/cues/cue_000000000000", key, ""},
				} {
					resp, _ := e.sec(c.method, c.path, c.token, c.body, map[string]string{"X-Request-Id": "abc"})
					id := resp.Header.Get("X-Request-Id")
					require.NotEqual(t, "abc", id)
					require.False(t, seen[id], "request ids are unique")
					seen[id] = true
				}
			})

			t.Run("H104_PagesCannotBeFramedOrLeakTheirURL", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				resp, _ := e.sec("GET", "/v1/cues", "", "", nil)
				require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
				resp, _ = e.plain(e.newRequest("GET", "/auth/device?code=ABCD-EFGH", nil, nil))
				csp := resp.Header.Get("Content-Security-Policy")
				require.True(t, strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") == "DENY", "CSP %q", csp)
				require.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
				require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			})

			t.Run("H106_ErrorsLeakNoInternalsOrCredentials", func(t *testing.T) {
				t.Parallel()
				e := pEnv(t, be, nil)
				key := e.register()
				// Every e.sec call checks the error body; these provoke one of
				// each kind, with credentials in the request.
				for _, c := range []struct {
					method, path, token, body string
					hdr                       map[string]string
				}{
					{"GET", "/v1/cues", randomKey(), "", nil},
					{"GET", "/v1/cues", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "", nil},
					{"GET", "/v1/cues", "", "", map[string]string{"Authorization": "Basic dXNlcjpzZWNyZXRwYXNz"}},
					{"POST", "/v1/cues", key, `{"name": `, nil},
					{"POST", "/v1/cues", key, `{"name":"x","schedule":{"type":"recurring","cron":"bad cron ' OR 1=1 --"},"callback":{"url":"https://8.8.8.8/"}}`, nil},
					{"POST", "/v1/cues", key, `{"name":"x","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://user:hunter2@8.8.8.8/"}}`, nil},
					{"GET", "/v1/cues/cue_'%20OR%201=1", key, "", nil},
					{"GET", "/v1/executions/00000000-0000-0000-0000-000000000000'", key, "", nil},
					{"DELETE", "/v1/cues", key, "", nil},
					{"PATCH", "/v1/auth/me", key, `{"email":"robert'); DROP TABLE users;--@example.com"}`, nil},
				} {
					resp, out := e.sec(c.method, c.path, c.token, c.body, c.hdr)
					require.GreaterOrEqual(t, resp.StatusCode, 400, c.path)
					require.NotContains(t, string(out), "hunter2")
					require.NotContains(t, string(out), "OR 1=1")
				}
			})
		})
	}
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// hostOf is the host part of an absolute URL ("" if none).
func hostOf(u string) string {
	rest, ok := strings.CutPrefix(u, "https://")
	if !ok {
		rest, _ = strings.CutPrefix(u, "http://")
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// padJSON returns prefix + 'a'… + suffix of exactly n bytes.
func padJSON(prefix, suffix string, n int) string {
	return prefix + strings.Repeat("a", n-len(prefix)-len(suffix)) + suffix
}
