package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// logBuffer collects the server's log lines; safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestEnvWithLog is newTestEnv whose server logs (at debug level) go to
// the returned buffer. The server is restarted on the same configuration
// once the logger is in place, so the buffer holds a complete process
// lifetime from start-up on.
func newTestEnvWithLog(t *testing.T, be backend, mutate func(*config)) (*testEnv, *logBuffer) {
	t.Helper()
	e := newTestEnv(t, be, mutate)
	buf := &logBuffer{}
	e.logOut = buf
	e.restart()
	return e, buf
}

// replica starts a second server on e's configuration (same database,
// Redis and prefix, clock and resolver), as another process of the same
// deployment would be.
func (e *testEnv) replica() *testEnv {
	e.t.Helper()
	r := &testEnv{t: e.t, cfg: e.cfg, clock: e.clock, resolver: e.resolver}
	r.start()
	return r
}

// TestSecurityConfig is H105: in production the process refuses to start
// with an empty, short or sample SESSION_SECRET (security.md §8.5).
func TestSecurityConfig(t *testing.T) {
	t.Parallel()
	load := func(env map[string]string) (*config, error) {
		return loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}

	for _, tc := range []struct {
		name, secret string
	}{
		{"Empty", ""},
		{"SixteenCharacters", "0123456789abcdef"},
		{"ThirtyOneCharacters", strings.Repeat("k", 31)},
		{"SampleFromEnvExample", "change-this-to-a-long-random-string"},
		{"SampleFromDockerCompose", "local-dev-secret-key-change-in-production"},
		{"SampleFromTests", "test-session-secret-32-chars-minimum!!"},
		{"SampleFromTests2", "test-secret-key-32-chars-minimum"},
	} {
		t.Run("H105_Refuses"+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(map[string]string{"ENV": "production", "SESSION_SECRET": tc.secret})
			if err == nil && len(tc.secret) >= 32 {
				t.Fatalf("BUG: loadConfig accepts the sample SESSION_SECRET %q in production (security.md §8.5 lists it; cmd/cueapi/config.go sampleSecrets lacks it)", tc.secret)
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), "SESSION_SECRET")
		})
	}

	t.Run("H105_AcceptsAStrongSecretAndAnyInDevelopment", func(t *testing.T) {
		t.Parallel()
		c, err := load(map[string]string{"ENV": "production", "SESSION_SECRET": core.RandomHex(32)})
		require.NoError(t, err)
		require.True(t, c.production())
		_, err = load(map[string]string{"ENV": "development", "SESSION_SECRET": ""})
		require.NoError(t, err)
	})

	t.Run("H105_TheProcessExitsWithAnError", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("starts the binary")
		}
		for _, secret := range []string{"", "0123456789abcdef"} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "CUEAPI_TEST_MAIN=1", "CUEAPI_TEST_ARGS=serve", "ENV=production",
				"SESSION_SECRET="+secret, "HOST=127.0.0.1", "PORT=0", "CUEAPI_DATA_DIR="+t.TempDir(), "DATABASE_URL=", "REDIS_URL=")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			cancel()
			require.Error(t, err, "%q: the server started", secret)
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			require.Equal(t, 1, exit.ExitCode())
			require.Contains(t, stderr.String(), "SESSION_SECRET")
		}
	})
}

// TestSecurityLogs is H107: a run that handles every kind of secret leaves
// none of them in the logs — no API key, key hash, sealed value, JWT,
// signing secret, device code or verification token, no email address, no
// callback header value or URL query (security.md §8.6).
func TestSecurityLogs(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e, logs := newTestEnvWithLog(t, be, func(c *config) {
				c.Env = "production"
				c.SessionSecret = pSecret
				c.DefaultActiveCueLimit = 100
			})
			var secrets []string
			keep := func(s ...string) {
				for _, v := range s {
					require.NotEmpty(t, v)
					secrets = append(secrets, v)
				}
			}
			field := func(body []byte, k string) string {
				v, _ := decodeMap(t, body)[k].(string)
				require.NotEmpty(t, v, "%s in %s", k, body)
				return v
			}
			confirm := map[string]string{"X-Confirm-Destructive": "true"}

			email := "Log.Watcher+h107@Example.org"
			resp, body := e.sec("POST", "/v1/auth/register", "", `{"email":"`+email+`"}`, nil)
			require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
			key1 := field(body, "api_key")
			keep(email, strings.ToLower(email), "log.watcher", key1, key1[7:], core.HashAPIKey(key1))

			_, body = e.sec("POST", "/v1/auth/key/regenerate", key1, "", confirm)
			key2 := field(body, "api_key")
			keep(key2, key2[7:], core.HashAPIKey(key2), *e.userOf(key2).APIKeySealed)
			_, body = e.sec("GET", "/v1/auth/key", key2, "", nil)
			require.Equal(t, key2, field(body, "api_key"))

			_, body = e.sec("GET", "/v1/auth/webhook-secret", key2, "", nil)
			wh1 := field(body, "webhook_secret")
			_, body = e.sec("POST", "/v1/auth/webhook-secret/regenerate", key2, "", confirm)
			wh2 := field(body, "webhook_secret")
			_, body = e.sec("GET", "/v1/auth/alert-webhook-secret", key2, "", nil)
			al1 := field(body, "alert_webhook_secret")
			_, body = e.sec("POST", "/v1/auth/alert-webhook-secret/regenerate", key2, "", confirm)
			al2 := field(body, "alert_webhook_secret")
			keep(wh1, wh1[6:], wh2, wh2[6:], al1, al2, e.userOf(key2).WebhookSecretSealed, *e.userOf(key2).AlertSecretSealed)

			newEmail := "renamed-h107@example.net"
			resp, body = e.sec("PATCH", "/v1/auth/me", key2, `{"email":"`+newEmail+`","alert_webhook_url":"https://alerts.example.com/in?token=alert-url-secret-7731"}`, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			keep(newEmail, "alert-url-secret-7731")

			resp, body = e.sec("POST", "/v1/cues", key2, `{"name":"logged","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},
				"callback":{"url":"https://hooks.example.com/run?token=cb-url-secret-4411","headers":{"X-Receiver-Token":"hdr-secret-value-9932"}},
				"payload":{"note":"payload-secret-5517"}}`, nil)
			require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
			keep("cb-url-secret-4411", "hdr-secret-value-9932", "payload-secret-5517")
			// A validation failure and an SSRF rejection carrying secrets.
			e.sec("POST", "/v1/cues", key2, `{"name":"bad","schedule":{"type":"recurring","cron":"not-cron-secret-6620"},"callback":{"url":"https://hooks.example.com/"}}`, nil)
			e.sec("POST", "/v1/cues", key2, `{"name":"bad2","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://user:url-pass-secret-1234@hooks.example.com/"}}`, nil)
			keep("not-cron-secret-6620", "url-pass-secret-1234")

			_, body = e.sec("POST", "/v1/auth/session/refresh", key2, "", nil)
			jwt := field(body, "session_token")
			keep(jwt, jwt[strings.LastIndexByte(jwt, '.')+1:])
			resp, _ = e.sec("GET", "/v1/auth/me", jwt, "", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)

			// Refused credentials are not logged either.
			made := randomKey()
			keep(made)
			e.sec("GET", "/v1/cues", made, "", nil)
			e.sec("GET", "/v1/cues", key1, "", nil) // rotated
			e.sec("GET", "/v1/cues", jwt+"x", "", nil)

			checkLogs := func() {
				t.Helper()
				out := logs.String()
				require.Contains(t, out, `"msg":"request"`, "the logs were captured")
				require.Contains(t, out, `"user_id"`, "the key rotation was logged, by user id")
				low := strings.ToLower(out)
				for _, s := range secrets {
					require.NotContains(t, low, strings.ToLower(s), "the logs hold a secret")
				}
				require.NotRegexp(t, `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}`, out, "the logs hold an email address")
			}
			checkLogs()

			// The device-code login, when it is wired: code, verification
			// token, one-time session token and the new account's key.
			code := "LOGS-" + strings.ToUpper(core.RandomHex(4))
			resp, body = e.sec("POST", "/v1/auth/device-code", "", `{"device_code":"`+code+`"}`, nil)
			if resp.StatusCode != http.StatusNotImplemented {
				require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
				keep(code)
				devEmail := "device-h107@example.com"
				keep(devEmail)
				resp, body = e.sec("POST", "/v1/auth/device-code/submit-email", "", `{"device_code":"`+code+`","email":"`+devEmail+`"}`, nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				link, err := url.Parse(e.mailer.link(devEmail))
				require.NoError(t, err)
				keep(link.Query().Get("token"))
				// Bounded: closing the connection cancels the request's context,
				// so a stuck handler is released too.
				verify, err := (&http.Client{Timeout: 15 * time.Second}).Do(e.newRequest("GET", link.RequestURI(), nil, nil))
				if err != nil {
					t.Fatalf("BUG: the magic-link verification of a new account does not answer (%v); on SQLite core.DeviceLogin.Verify calls Accounts.createUser → Store.UserCreate inside the Store.DeviceCodeUpdate transaction and waits for the store's only connection (TestDeviceLogin/sqlite/NewAccountGetsKeyAndSessionOnce hangs the same way)", err)
				}
				verify.Body.Close()
				require.Equal(t, http.StatusOK, verify.StatusCode)
				_, body = e.sec("POST", "/v1/auth/device-code/poll", "", `{"device_code":"`+code+`"}`, nil)
				one := field(body, "session_token")
				keep(one, field(body, "api_key"))
				_, body = e.sec("POST", "/v1/auth/session", "", `{"token":"`+one+`"}`, nil)
				keep(field(body, "session_token"))
			}
			checkLogs()
		})
	}
}

// TestSecurityReplicaRotation is the acceptance test of key rotation across
// replicas: two servers share PostgreSQL and Redis; a key used on replica 2,
// then rotated through replica 1, is refused by replica 2 on the very next
// request.
func TestSecurityReplicaRotation(t *testing.T) {
	t.Parallel()
	e1 := pEnv(t, backendPostgres, nil)
	e2 := e1.replica()
	confirm := map[string]string{"X-Confirm-Destructive": "true"}

	key := e1.register()
	// Both replicas authenticate from memory (authcache.Local), the case
	// where a missed invalidation would let the old key in.
	for _, e := range []*testEnv{e1, e2} {
		require.Eventually(t, e.app.authLocal.Healthy, 10*time.Second, 5*time.Millisecond)
	}
	for i := 0; i < 3; i++ { // authenticated (and cached in memory) on replica 2
		resp, body := e2.sec("GET", "/v1/cues", key, "", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	}
	resp, body := e1.sec("POST", "/v1/auth/key/regenerate", key, "", confirm)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	newKey := decodeMap(t, body)["api_key"].(string)

	resp, body = e2.sec("GET", "/v1/cues", key, "", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
	require.Equal(t, "key_rotated", errorCode(t, 401, body))
	resp, _ = e2.sec("GET", "/v1/cues", newKey, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// And the other way round, with the new key warmed on replica 1.
	resp, _ = e1.sec("GET", "/v1/cues", newKey, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, body = e2.sec("POST", "/v1/auth/key/regenerate", newKey, "", confirm)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	third := decodeMap(t, body)["api_key"].(string)
	resp, body = e1.sec("GET", "/v1/cues", newKey, "", nil)
	require.Equal(t, "key_rotated", errorCode(t, resp.StatusCode, body))
	resp, _ = e1.sec("GET", "/v1/auth/key", third, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the sealed copy opens on the other replica (shared SESSION_SECRET)")
}

// TestSecuritySecretsAtRest is the acceptance test of sealed storage: after
// the API has shown a key (with a sealed reveal copy), the webhook secret
// and the alert secret, none of them is found in clear in the database —
// the SQLite file and its write-ahead log, or a pg_dump of the schema —
// nor in Redis.
func TestSecuritySecretsAtRest(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := pEnv(t, be, nil)
			confirm := map[string]string{"X-Confirm-Destructive": "true"}
			resp, body := e.sec("POST", "/v1/auth/register", "", `{"email":"at-rest@example.com"}`, nil)
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			first := decodeMap(t, body)["api_key"].(string)
			_, body = e.sec("POST", "/v1/auth/key/regenerate", first, "", confirm)
			key := decodeMap(t, body)["api_key"].(string)
			_, body = e.sec("GET", "/v1/auth/key", key, "", nil)
			require.Equal(t, key, decodeMap(t, body)["api_key"], "a sealed reveal copy exists")
			_, body = e.sec("GET", "/v1/auth/webhook-secret", key, "", nil)
			wh := decodeMap(t, body)["webhook_secret"].(string)
			_, body = e.sec("GET", "/v1/auth/alert-webhook-secret", key, "", nil)
			alert := decodeMap(t, body)["alert_webhook_secret"].(string)
			resp, _ = e.sec("GET", "/v1/cues", key, "", nil) // cached in Redis, too
			require.Equal(t, http.StatusOK, resp.StatusCode)

			var dump []byte
			if be == backendSQLite {
				files, err := filepath.Glob(filepath.Join(e.cfg.DataDir, "cueapi.db*"))
				require.NoError(t, err)
				require.NotEmpty(t, files)
				for _, f := range files {
					b, err := os.ReadFile(f)
					require.NoError(t, err)
					dump = append(dump, b...)
				}
			} else {
				dump = pgDump(t, e.cfg.DatabaseURL)
				dump = append(dump, redisDump(t, e.cfg.RedisURL, e.cfg.RedisPrefix)...)
			}
			require.True(t, bytes.Contains(dump, []byte("at-rest@example.com")), "the dump holds the account")
			require.True(t, bytes.Contains(dump, []byte(core.HashAPIKey(key))), "the dump holds the key's hash")
			for name, s := range map[string]string{
				"API key": key, "API key hex": key[7:], "rotated API key": first[7:],
				"webhook secret": wh, "webhook secret hex": wh[6:], "alert secret": alert,
			} {
				require.False(t, bytes.Contains(dump, []byte(s)), "%s stored in clear", name)
			}
		})
	}
}

// pgDump dumps the schema named by connString's search_path.
func pgDump(t *testing.T, connString string) []byte {
	t.Helper()
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pg_dump is not installed (CI=true)")
		}
		t.Skip("pg_dump is not installed")
	}
	u, err := url.Parse(connString)
	require.NoError(t, err)
	q := u.Query()
	schema := q.Get("search_path")
	require.NotEmpty(t, schema)
	q.Del("search_path") // not a libpq parameter
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--schema="+schema, "--no-owner", "--dbname="+u.String())
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	require.Contains(t, string(out), "CREATE TABLE "+schema+".users")
	return out
}

// redisDump returns every key and value under prefix.
func redisDump(t *testing.T, redisURL, prefix string) []byte {
	t.Helper()
	opts, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	var out bytes.Buffer
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		out.WriteString(k + "\n")
		switch c.Type(ctx, k).Val() {
		case "string":
			out.WriteString(c.Get(ctx, k).Val())
		case "zset":
			out.WriteString(strings.Join(c.ZRange(ctx, k, 0, -1).Val(), "\n"))
		case "hash":
			b, _ := json.Marshal(c.HGetAll(ctx, k).Val())
			out.Write(b)
		}
		out.WriteString("\n")
	}
	require.NoError(t, iter.Err())
	require.Contains(t, out.String(), prefix+"auth:", "the auth cache is in Redis")
	return out.Bytes()
}
