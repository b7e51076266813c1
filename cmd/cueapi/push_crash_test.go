package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMessagePushCrash kill -9s the only server while message pushes are in
// flight and restarts it (issue #12): every message is still pushed and
// ends delivered, and duplicates are bounded by the pushes that were in
// flight at the kill.
func TestMessagePushCrash(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	const n, firstWave, concurrency = 24, 6, 4

	rcv := newHoldingReceiver(t, "X-CueAPI-Message-Id", n, firstWave)

	env := map[string]string{
		"ENV": "development", "PORT": "0", "CUEAPI_DATA_DIR": t.TempDir(), "SESSION_SECRET": "push-crash-secret-0123456789abcdefgh",
		"WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8", "WEBHOOK_TIMEOUT_SECONDS": "2", "DELIVERY_LEASE_SECONDS": "3",
		"WEBHOOK_CONCURRENCY": fmt.Sprint(concurrency), "DEFAULT_RATE_LIMIT_PER_MINUTE": "10000",
		"DISABLE_QUOTA_ENFORCEMENT": "true",
	}
	srv := startServer(t, env)
	code, body := srv.do(t, "POST", "/v1/auth/register", "", `{"email":"push-crash@example.com"}`)
	require.Equal(t, http.StatusCreated, code, string(body))
	var reg struct {
		APIKey string `json:"api_key"`
	}
	require.NoError(t, json.Unmarshal(body, &reg))
	agent := func(body string) string {
		code, b := srv.do(t, "POST", "/v1/agents", reg.APIKey, body)
		require.Equal(t, http.StatusCreated, code, string(b))
		var a struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(b, &a))
		return a.ID
	}
	from := agent(`{"display_name":"Sender"}`)
	to := agent(`{"display_name":"Receiver","webhook_url":"` + rcv.srv.URL + `/inbox"}`)
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		code, b := sendAs(t, srv, reg.APIKey, from, fmt.Sprintf(`{"to":%q,"body":"m%d"}`, to, i))
		require.Equal(t, http.StatusCreated, code, string(b))
		var m struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(b, &m))
		ids = append(ids, m.ID)
	}

	// Wait until the first wave is in and the next pushes are held in
	// flight, then kill the process; restart it.
	rcv.waitHeld(t, concurrency)
	srv.kill()
	inFlightAtKill := rcv.releaseAfterKill()
	srv2 := startServer(t, env)
	rcv.waitAll(t)
	require.LessOrEqual(t, rcv.duplicates(), inFlightAtKill, "duplicates are bounded by what was in flight at the kill")

	// Every message ends recorded as delivered.
	for _, id := range ids {
		eventually(t, 30*time.Second, func() bool {
			code, b := srv2.do(t, "GET", "/v1/messages/"+id, reg.APIKey, "")
			require.Equal(t, http.StatusOK, code, string(b))
			var m struct {
				State string `json:"delivery_state"`
			}
			require.NoError(t, json.Unmarshal(b, &m))
			return m.State == "delivered"
		})
	}
}

// sendAs sends a message from agent from with the caller's key.
func sendAs(t *testing.T, p *serverProc, key, from, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+p.addr+"/v1/messages", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("X-Cueapi-From-Agent", from)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}
