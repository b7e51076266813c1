package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
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

// flakyStore fails ExecutionRecordDeliveries while failing says so, and
// signals every write that applied a result.
type flakyStore struct {
	core.Store
	mu       sync.Mutex
	failLeft int           // fail this many more writes (-1: until healed)
	healed   chan struct{} // closed: stop failing
	failed   int
	recorded chan struct{} // cap 1
}

func (s *flakyStore) ExecutionRecordDeliveries(ctx context.Context, p *core.ExecutionRecordDeliveriesParams) ([]bool, error) {
	s.mu.Lock()
	fail := s.failLeft > 0
	if s.failLeft < 0 {
		select {
		case <-s.healed:
		default:
			fail = true
		}
	}
	if fail {
		s.failed++
		if s.failLeft > 0 {
			s.failLeft--
		}
	}
	s.mu.Unlock()
	if fail {
		return nil, errors.New("injected: store unreachable")
	}
	applied, err := s.Store.ExecutionRecordDeliveries(ctx, p)
	if err == nil && slices.Contains(applied, true) {
		select {
		case s.recorded <- struct{}{}:
		default:
		}
	}
	return applied, err
}

// lineWatch is a log writer that closes seen when a line containing want
// is written.
type lineWatch struct {
	want string
	once sync.Once
	seen chan struct{}
}

func (w *lineWatch) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// failsafe waits for ch; the timeout only turns a hang into a failure.
func failsafe(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatal("never happened: " + what)
	}
}

// TestResultsSurviveAStoreBlip: results whose write failed are kept and
// written again before their leases expire, so the receiver sees one
// delivery; with the buffer full the oldest is dropped (WARN) and delivered
// again after lease expiry (at-least-once).
func TestResultsSurviveAStoreBlip(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			setup := func(t *testing.T, fs *flakyStore, buffer int, log io.Writer) (*testEnv, *receiver, string, func()) {
				e := newTestEnv(t, be, func(c *config) {
					c.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
					c.DeliveryResultBuffer = buffer
				})
				e.logOut = log
				e.wrap = func(s core.Store) core.Store { fs.Store = s; return fs }
				e.restart()
				rcv := newReceiver(t)
				key := e.register()
				run := func() {
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan struct{})
					go func() {
						e.app.Dispatcher.Run(ctx)
						close(done)
					}()
					e.app.Dispatcher.Wake()
					failsafe(t, fs.recorded, "a result was recorded")
					cancel()
					failsafe(t, done, "Run returned")
				}
				return e, rcv, key, run
			}
			at := testNow.Add(30 * time.Second)
			cueBody := func(name, url string) string {
				return `{"name":"` + name + `","schedule":{"type":"once","at":"` + at.Format(time.RFC3339) + `"},"callback":{"url":"` + url + `"}}`
			}

			t.Run("OneDeliveryAfterFailedWrites", func(t *testing.T) {
				t.Parallel()
				fs := &flakyStore{failLeft: 3, recorded: make(chan struct{}, 1)}
				e, rcv, key, run := setup(t, fs, 0, io.Discard)
				c := e.createCue(key, cueBody("blip", rcv.url("/hook")))
				e.clock.Set(at)
				_, err := e.app.Scheduler.Tick(context.Background())
				require.NoError(t, err)
				run()
				require.Equal(t, 3, fs.failed)
				require.Len(t, rcv.requests(), 1)
				ex := e.executions(key, c.ID)
				require.Len(t, ex, 1)
				require.Equal(t, "success", string(ex[0].Status))
				// Long after the lease: nothing is left to deliver again.
				e.clock.Set(at.Add(time.Hour))
				n, err := e.app.Dispatcher.RunOnce(context.Background())
				require.NoError(t, err)
				require.Equal(t, 0, n)
				require.Len(t, rcv.requests(), 1, "no second delivery")
			})

			t.Run("FullBufferDropsOldestToLeaseExpiry", func(t *testing.T) {
				t.Parallel()
				fs := &flakyStore{failLeft: -1, healed: make(chan struct{}), recorded: make(chan struct{}, 1)}
				warn := &lineWatch{want: "result buffer full", seen: make(chan struct{})}
				e, rcv, key, run := setup(t, fs, 1, warn)
				a := e.createCue(key, cueBody("a", rcv.url("/a")))
				b := e.createCue(key, cueBody("b", rcv.url("/b")))
				e.clock.Set(at)
				_, err := e.app.Scheduler.Tick(context.Background())
				require.NoError(t, err)
				go func() {
					<-warn.seen
					close(fs.healed)
				}()
				run()
				require.Len(t, rcv.requests(), 2)
				statuses := map[string]string{}
				for _, id := range []string{a.ID, b.ID} {
					ex := e.executions(key, id)
					require.Len(t, ex, 1)
					statuses[id] = string(ex[0].Status)
				}
				require.ElementsMatch(t, []string{"success", "delivering"}, []string{statuses[a.ID], statuses[b.ID]}, "one kept and written, the oldest dropped")
				// The dropped one is retried once its lease expired.
				e.clock.Set(at.Add(time.Hour))
				n, err := e.app.Dispatcher.RunOnce(context.Background())
				require.NoError(t, err)
				require.Equal(t, 1, n)
				require.Len(t, rcv.requests(), 3)
				for _, id := range []string{a.ID, b.ID} {
					require.Equal(t, "success", string(e.executions(key, id)[0].Status))
				}
			})
		})
	}
}
