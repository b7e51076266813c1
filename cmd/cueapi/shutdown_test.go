package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBoundedShutdown: a receiver that blocks until the test releases it
// cannot hold shutdown beyond the grace; the cancelled attempt's lease is
// released without counting it, and the next dispatcher run delivers it at
// once (same stub-clock instant, no lease expiry needed).
func TestBoundedShutdown(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, be, func(c *config) {
				c.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				c.ShutdownGrace = time.Millisecond
			})
			var (
				mu       sync.Mutex
				events   []string
				attempts []string
			)
			event := func(s string) {
				mu.Lock()
				events = append(events, s)
				mu.Unlock()
			}
			got, release := make(chan struct{}), make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				attempts = append(attempts, r.Header.Get("X-CueAPI-Attempt"))
				first := len(attempts) == 1
				mu.Unlock()
				if first {
					close(got)
					<-release
				}
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(srv.Close)
			t.Cleanup(func() {
				select {
				case <-release:
				default:
					close(release)
				}
			})
			key := e.register()
			at := testNow.Add(30 * time.Second)
			c := e.createCue(key, `{"name":"slow","schedule":{"type":"once","at":"`+at.Format(time.RFC3339)+`"},"callback":{"url":"`+srv.URL+`/hook"}}`)
			e.clock.Set(at)
			_, err := e.app.Scheduler.Tick(context.Background())
			require.NoError(t, err)

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				e.app.Dispatcher.Run(ctx)
				event("run returned")
				close(done)
			}()
			e.app.Dispatcher.Wake()
			<-got
			event("receiver blocked")
			cancel()
			select {
			case <-done:
			case <-time.After(time.Minute): // failsafe only; never the assertion
				t.Fatal("Run did not return while the receiver was blocked")
			}
			close(release)
			event("receiver released")
			require.Equal(t, []string{"receiver blocked", "run returned", "receiver released"}, events)

			ex := e.executions(key, c.ID)
			require.Len(t, ex, 1)
			require.Equal(t, "retrying", string(ex[0].Status), "lease released: due again at once")
			require.Equal(t, 0, ex[0].Attempts, "the cancelled attempt is not counted")

			// The next start (or another replica) claims it at the same
			// instant and delivers it, again as attempt 1.
			n, err := e.app.Dispatcher.RunOnce(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, n)
			e.app.Dispatcher.Wait()
			mu.Lock()
			require.Equal(t, []string{"1", "1"}, attempts)
			mu.Unlock()
			ex = e.executions(key, c.ID)
			require.Equal(t, "success", string(ex[0].Status))
			require.Equal(t, 1, ex[0].Attempts)
		})
	}
}
