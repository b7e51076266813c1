package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
)

// TestEventsSurviveKill sends messages from many clients at once while the
// only server is kill -9ed, then restarts it: every message that was stored
// has exactly one message.delivered event (written in the message's
// transaction), no event exists without its message, and a reader that
// pages with cursors sees them once each, in ascending id order, also
// across the events written after the restart.
func TestEventsSurviveKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				"ENV": "development", "PORT": "0", "CUEAPI_DATA_DIR": t.TempDir(), "SESSION_SECRET": "events-kill-secret-0123456789abcdefgh",
				"DEFAULT_RATE_LIMIT_PER_MINUTE": "100000", "DISABLE_QUOTA_ENFORCEMENT": "true",
			}
			if be == backendPostgres {
				env["DATABASE_URL"] = pgtest.SchemaURL(t)
			}
			a := startServer(t, env)
			code, body := a.do(t, "POST", "/v1/auth/register", "", `{"email":"kill-events@example.com"}`)
			require.Equal(t, http.StatusCreated, code, string(body))
			var reg struct {
				APIKey string `json:"api_key"`
			}
			require.NoError(t, json.Unmarshal(body, &reg))
			agent := func(p *serverProc, slug string) string {
				code, body := p.do(t, "POST", "/v1/agents", reg.APIKey, fmt.Sprintf(`{"display_name":%q,"slug":%q}`, slug, slug))
				require.Equal(t, http.StatusCreated, code, string(body))
				var m struct {
					ID string `json:"id"`
				}
				require.NoError(t, json.Unmarshal(body, &m))
				return m.ID
			}
			to, from := agent(a, "bee"), agent(a, "sender")

			// A burst of sends from 8 clients; the server dies in the middle.
			var accepted atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for c := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 200; i++ {
						select {
						case <-stop:
							return
						default:
						}
						req, err := http.NewRequest("POST", "http://"+a.addr+"/v1/messages",
							strings.NewReader(fmt.Sprintf(`{"to":%q,"body":"m %d-%d","priority":%d}`, to, c, i, 1+i%5)))
						if err != nil {
							return
						}
						req.Header.Set("Authorization", "Bearer "+reg.APIKey)
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("X-Cueapi-From-Agent", from)
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							return // the server is gone
						}
						resp.Body.Close()
						if resp.StatusCode == http.StatusCreated && accepted.Add(1) == 60 {
							go a.kill()
						}
					}
				}()
			}
			eventually(t, 60*time.Second, func() bool {
				select {
				case <-a.done:
					return true
				default:
					return false
				}
			})
			close(stop)
			wg.Wait()

			b := startServer(t, env)
			// Messages after the restart get later ids.
			for i := range 5 {
				code, body := b.doHeader(t, "POST", "/v1/messages", reg.APIKey, fmt.Sprintf(`{"to":%q,"body":"after %d"}`, to, i), "X-Cueapi-From-Agent", from)
				require.Equal(t, http.StatusCreated, code, string(body))
			}
			// Every stored message (the sender's sent view sees them all).
			stored := map[string]bool{}
			for off := 0; ; off += 200 {
				code, body := b.do(t, "GET", fmt.Sprintf("/v1/agents/%s/sent?limit=200&offset=%d", from, off), reg.APIKey, "")
				require.Equal(t, http.StatusOK, code, string(body))
				var page struct {
					Messages []struct {
						ID string `json:"id"`
					} `json:"messages"`
				}
				require.NoError(t, json.Unmarshal(body, &page))
				for _, m := range page.Messages {
					stored[m.ID] = true
				}
				if len(page.Messages) < 200 || off > 5000 {
					break
				}
			}
			require.GreaterOrEqual(t, len(stored), 65, "the burst stored messages before the kill")
			// Page through the feed with cursors.
			seen := map[string]int{}
			var cursor int64
			for round := 0; round < 1000; round++ {
				code, body := b.do(t, "GET", fmt.Sprintf("/v1/agents/%s/events?since=%d&limit=37", to, cursor), reg.APIKey, "")
				require.Equal(t, http.StatusOK, code, string(body))
				var p eventPage
				require.NoError(t, json.Unmarshal(body, &p))
				for _, e := range p.Events {
					require.Greater(t, e.ID, cursor, "ascending cursor order")
					cursor = e.ID
					seen[fmt.Sprint(e.Payload["message_id"])]++
				}
				if !p.HasMore {
					break
				}
			}
			for id := range stored {
				require.Equal(t, 1, seen[id], "message %s has exactly one event", id)
			}
			require.Len(t, seen, len(stored), "no event without its message")
		})
	}
}

// doHeader is do with one extra request header.
func (p *serverProc) doHeader(t *testing.T, method, path, key, body, hk, hv string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set(hk, hv)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}
