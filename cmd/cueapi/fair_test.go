package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// countingReceiver counts the executions a webhook receiver saw (by
// X-CueAPI-Execution-Id) and closes all once it saw want distinct ones;
// block, when set, holds every request until it is closed (or the test
// ends).
type countingReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	seen  map[string]int
	want  int
	all   chan struct{}
	block chan struct{}
	// status answers every request (0: 200); retryAfter goes with it.
	status     int
	retryAfter string
	// key is the header that identifies a delivery (default
	// X-CueAPI-Execution-Id).
	key string
}

func newCountingReceiver(t *testing.T, want int, block chan struct{}) *countingReceiver {
	return newKeyedReceiver(t, "", want, block)
}

// newKeyedReceiver is a countingReceiver that tells deliveries apart by
// the header key.
func newKeyedReceiver(t *testing.T, key string, want int, block chan struct{}) *countingReceiver {
	r := &countingReceiver{seen: map[string]int{}, want: want, all: make(chan struct{}), block: block, key: key}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		key := r.key
		if key == "" {
			key = "X-CueAPI-Execution-Id"
		}
		id := req.Header.Get(key)
		r.seen[id]++
		if len(r.seen) == r.want && r.seen[id] == 1 {
			close(r.all)
		}
		status, retryAfter := r.status, r.retryAfter
		r.mu.Unlock()
		if r.block != nil {
			select {
			case <-r.block:
			case <-req.Context().Done():
			}
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(max(status, http.StatusOK))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// requests is how many requests the receiver got, and for how many
// distinct executions.
func (r *countingReceiver) requests() (total, distinct int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.seen {
		total += n
	}
	return total, len(r.seen)
}

func (r *countingReceiver) answer(status int, retryAfter string) {
	r.mu.Lock()
	r.status, r.retryAfter = status, retryAfter
	r.mu.Unlock()
}

// fireMany fires n executions of the cue through core, one stub-clock
// millisecond apart (each fire is scheduled for the clock's now).
func (e *testEnv) fireMany(u *core.User, cueID string, n int) {
	e.t.Helper()
	for range n {
		_, err := e.app.Executions.Fire(context.Background(), u, core.CueID(cueID), nil)
		require.NoError(e.t, err)
		e.clock.Advance(time.Millisecond)
	}
}

// storedExecutions lists every execution of the tenant's cue from the store.
func (e *testEnv) storedExecutions(u *core.User, cueID string) []*core.Execution {
	e.t.Helper()
	id := core.CueID(cueID)
	list, _, err := e.app.store.ExecutionList(context.Background(), &core.ExecutionListParams{TenantID: u.ID, CueID: &id, Limit: 10_000})
	require.NoError(e.t, err)
	return list
}

// TestFairDelivery is issue #14's acceptance test: 500 deliveries to a
// destination whose receiver blocks (until the test releases it) and 500
// to a fast destination, all due at the same instant, the slow ones
// older. All 500 fast deliveries complete while every slow one is still
// blocked — a slow destination cannot hold the slots — and once released,
// everything is delivered exactly once.
func TestFairDelivery(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, be, func(c *config) {
				c.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				c.WebhookConcurrency = 64
				c.DeliveryPerDestination = 8
				c.ShutdownGrace = time.Minute
			})
			const n = 500
			release := make(chan struct{})
			var once sync.Once
			releaseSlow := func() { once.Do(func() { close(release) }) }
			t.Cleanup(releaseSlow)
			slow := newCountingReceiver(t, n, release)
			fast := newCountingReceiver(t, n, nil)

			key := e.register()
			u := e.userOf(key)
			at := testNow.Add(time.Hour).Format(time.RFC3339)
			slowCue := e.createCue(key, `{"name":"slow","schedule":{"type":"once","at":"`+at+`"},"callback":{"url":"`+slow.srv.URL+`/hook"}}`)
			fastCue := e.createCue(key, `{"name":"fast","schedule":{"type":"once","at":"`+at+`"},"callback":{"url":"`+fast.srv.URL+`/hook"}}`)
			e.fireMany(u, slowCue.ID, n) // older: an oldest-first claim takes these first
			e.fireMany(u, fastCue.ID, n)
			for _, ex := range e.storedExecutions(u, slowCue.ID) {
				require.Equal(t, strings.TrimPrefix(slow.srv.URL, "http://"), ex.Destination)
			}

			stop := runDispatcher(t, e, releaseSlow)

			failsafe(t, fast.all, "all 500 fast deliveries while the slow receiver blocks")
			total, distinct := slow.requests()
			require.LessOrEqual(t, total, 8, "the slow destination holds at most its per-destination limit")
			require.Positive(t, distinct, "the slow destination got its share of the first claim")

			releaseSlow()
			failsafe(t, slow.all, "all 500 slow deliveries after the release")
			stop()

			for _, r := range []*countingReceiver{slow, fast} {
				total, distinct := r.requests()
				require.Equal(t, n, distinct)
				require.Equal(t, n, total, "every execution was delivered exactly once")
			}
			for _, c := range []string{slowCue.ID, fastCue.ID} {
				list := e.storedExecutions(u, c)
				require.Len(t, list, n)
				for _, ex := range list {
					require.Equal(t, core.ExecSuccess, ex.Status, "execution %s", ex.ID)
					require.Equal(t, 1, ex.Attempts, "execution %s", ex.ID)
				}
			}
		})
	}
}

// TestCircuitBreaker: a destination answering 503 with Retry-After opens
// its breaker after DELIVERY_BREAKER_FAILURES failures; its further due
// deliveries are parked without being sent (each counted as an attempt,
// due again when the cool-down ends — the Retry-After, longer than the
// configured cool-down), while another destination is delivered as usual.
// After the cool-down one probe goes out; its success closes the breaker.
func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, be, func(c *config) {
				c.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				// As many in flight as failures open the breaker: the first
				// claim's attempts to the failing destination all go out.
				c.DeliveryPerDestination = 3
				c.DeliveryBreakerFailures = 3
				c.DeliveryBreakerCooldown = 30 * time.Second
			})
			failing := newCountingReceiver(t, 7, nil)
			failing.answer(http.StatusServiceUnavailable, "120")
			healthy := newCountingReceiver(t, 3, nil)
			key := e.register()
			u := e.userOf(key)
			at := testNow.Add(time.Hour).Format(time.RFC3339)
			retry := `,"retry":{"max_attempts":5,"backoff_minutes":[1]}`
			fc := e.createCue(key, `{"name":"failing","schedule":{"type":"once","at":"`+at+`"},"callback":{"url":"`+failing.srv.URL+`/hook"}`+retry+`}`)
			hc := e.createCue(key, `{"name":"healthy","schedule":{"type":"once","at":"`+at+`"},"callback":{"url":"`+healthy.srv.URL+`/hook"}`+retry+`}`)
			e.fireMany(u, fc.ID, 6)
			e.fireMany(u, hc.ID, 3)
			runOnce := func(want int) {
				t.Helper()
				n, err := e.app.Dispatcher.RunOnce(context.Background())
				require.NoError(t, err)
				require.Equal(t, want, n, "claimed")
				e.app.Dispatcher.Wait()
			}

			// First claim: at most 3 of the failing destination, all of the
			// healthy one. Three 503s open the breaker.
			t0 := e.clock.Now()
			runOnce(3 + 3)
			total, _ := failing.requests()
			require.Equal(t, 3, total)
			total, _ = healthy.requests()
			require.Equal(t, 3, total)
			for _, ex := range e.storedExecutions(u, hc.ID) {
				require.Equal(t, core.ExecSuccess, ex.Status, "the healthy destination is unaffected")
			}

			// The 3 still due are parked: claimed, not sent, counted, due
			// again when the Retry-After (120 s > the 30 s cool-down) ends.
			runOnce(3)
			total, _ = failing.requests()
			require.Equal(t, 3, total, "parked deliveries are not sent")
			var parked, failed int
			for _, ex := range e.storedExecutions(u, fc.ID) {
				require.Equal(t, core.ExecRetrying, ex.Status)
				require.Equal(t, 1, ex.Attempts, "a parked delivery counts as an attempt")
				require.NotNil(t, ex.NextRetry)
				require.False(t, ex.NextRetry.Before(t0.Add(120*time.Second)), "next attempt %s honours Retry-After", ex.NextRetry)
				require.NotNil(t, ex.ErrorMessage)
				if strings.Contains(*ex.ErrorMessage, "circuit breaker") {
					parked++
				} else {
					require.Contains(t, *ex.ErrorMessage, "503")
					failed++
				}
			}
			require.Equal(t, 3, parked)
			require.Equal(t, 3, failed)

			// Past the configured cool-down but within the Retry-After: a new
			// delivery to the destination is parked too.
			e.clock.Set(t0.Add(60 * time.Second))
			e.fireMany(u, fc.ID, 1)
			runOnce(1)
			total, _ = failing.requests()
			require.Equal(t, 3, total, "the breaker honours Retry-After over its cool-down")

			// The cool-down ended: one probe, which succeeds and closes it.
			failing.answer(http.StatusOK, "")
			e.clock.Set(t0.Add(121 * time.Second))
			runOnce(1)
			total, _ = failing.requests()
			require.Equal(t, 4, total, "one probe")
			// Closed again, and alone with work due: the destination may use
			// the slots nobody else needs.
			runOnce(6)
			failsafe(t, failing.all, "every failing-destination delivery after recovery")
			for _, ex := range e.storedExecutions(u, fc.ID) {
				require.Equal(t, core.ExecSuccess, ex.Status, "execution %s", ex.ID)
			}
			total, distinct := failing.requests()
			require.Equal(t, 7, distinct)
			require.Equal(t, 3+7, total, "3 failed sends, then each delivery once; parked ones never sent")
		})
	}
}

// TestFairDeliveryNewcomer: a destination alone with work due may use the
// slots nobody else needs — all but one destination's share — and that
// share is what a destination showing up later gets at once: its
// deliveries all complete while the first destination's receiver still
// blocks every request it got.
func TestFairDeliveryNewcomer(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			const conc, perDest, nSlow, nFast = 32, 8, 100, 50
			e := newTestEnv(t, be, func(c *config) {
				c.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				c.WebhookConcurrency = conc
				c.DeliveryPerDestination = perDest
				c.ShutdownGrace = time.Minute
			})
			release := make(chan struct{})
			var once sync.Once
			releaseSlow := func() { once.Do(func() { close(release) }) }
			t.Cleanup(releaseSlow)
			slow := newCountingReceiver(t, conc-perDest, release) // all closes when it holds its elastic share
			fast := newCountingReceiver(t, nFast, nil)
			key := e.register()
			u := e.userOf(key)
			at := testNow.Add(time.Hour).Format(time.RFC3339)
			slowCue := e.createCue(key, `{"name":"slow","schedule":{"type":"once","at":"`+at+`"},"callback":{"url":"`+slow.srv.URL+`/hook"}}`)
			fastCue := e.createCue(key, `{"name":"fast","schedule":{"type":"once","at":"`+at+`"},"callback":{"url":"`+fast.srv.URL+`/hook"}}`)
			e.fireMany(u, slowCue.ID, nSlow)

			stop := runDispatcher(t, e, releaseSlow)
			failsafe(t, slow.all, "the slow destination, alone, holds all slots but one share")

			e.fireMany(u, fastCue.ID, nFast)
			e.app.Dispatcher.Wake()
			failsafe(t, fast.all, "every newcomer delivery while the slow receiver blocks")
			total, _ := slow.requests()
			require.Equal(t, conc-perDest, total, "the alone destination never took the newcomers' share")

			releaseSlow()
			stop()
			for _, ex := range e.storedExecutions(u, fastCue.ID) {
				require.Equal(t, core.ExecSuccess, ex.Status)
				require.Equal(t, 1, ex.Attempts)
			}
			total, distinct := fast.requests()
			require.Equal(t, nFast, total)
			require.Equal(t, nFast, distinct)
		})
	}
}

// runDispatcher runs e's delivery engine until stop is called or the test
// ends; at the end it lets held receivers go (release) before waiting for
// the engine to stop. stop cancels the engine and waits (bounded) for it.
func runDispatcher(t *testing.T, e *testEnv, release func()) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.app.Dispatcher.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		release()
		<-done
	})
	e.app.Dispatcher.Wake()
	return func() {
		cancel()
		failsafe(t, done, "the dispatcher stops")
	}
}
