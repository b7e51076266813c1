package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/core"
)

// serverProc is a real `cueapi serve` process (the test binary re-executed).
type serverProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

func startServer(t *testing.T, env map[string]string) *serverProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CUEAPI_TEST_MAIN=1", "CUEAPI_TEST_ARGS=serve")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &serverProc{cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "cueapi listening" {
				addrc <- line.Addr
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case p.addr = <-addrc:
	case <-p.done:
		t.Fatal("server exited before listening")
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start listening")
	}
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *serverProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *serverProc) do(t *testing.T, method, path, key, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// TestCrash kill -9s the only server during a burst of deliveries and
// restarts it: every due execution is still delivered, and duplicates are
// bounded by the deliveries that were in flight.
func TestCrash(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	const n, firstWave, concurrency = 40, 10, 4

	rcv := newHoldingReceiver(t, "X-CueAPI-Execution-Id", n, firstWave)

	env := map[string]string{
		"ENV": "development", "PORT": "0", "CUEAPI_DATA_DIR": t.TempDir(), "SESSION_SECRET": "crash-test-secret-0123456789abcdefgh",
		"WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8", "WEBHOOK_TIMEOUT_SECONDS": "2", "DELIVERY_LEASE_SECONDS": "3",
		"WEBHOOK_CONCURRENCY": fmt.Sprint(concurrency), "DEFAULT_ACTIVE_CUE_LIMIT": "1000", "DEFAULT_RATE_LIMIT_PER_MINUTE": "10000",
	}
	srv := startServer(t, env)
	code, body := srv.do(t, "POST", "/v1/auth/register", "", `{"email":"crash@example.com"}`)
	require.Equal(t, http.StatusCreated, code, string(body))
	var reg struct {
		APIKey string `json:"api_key"`
	}
	require.NoError(t, json.Unmarshal(body, &reg))
	at := time.Now().UTC().Add(3 * time.Second)
	for i := 0; i < n; i++ {
		code, body := srv.do(t, "POST", "/v1/cues", reg.APIKey, fmt.Sprintf(`{"name":"c%d","schedule":{"type":"once","at":"%s"},"callback":{"url":"%s/hook"}}`, i, dueAt(at), rcv.srv.URL))
		require.Equal(t, http.StatusCreated, code, string(body))
	}

	// Wait until the first wave is in and the next deliveries are held in
	// flight, then kill the process; restart it.
	rcv.waitHeld(t, concurrency)
	srv.kill()
	inFlightAtKill := rcv.releaseAfterKill()
	srv2 := startServer(t, env)
	rcv.waitAll(t)
	require.LessOrEqual(t, rcv.duplicates(), inFlightAtKill, "duplicates are bounded by what was in flight at the kill")

	// Every execution ends recorded as a success.
	eventually(t, 30*time.Second, func() bool {
		code, body := srv2.do(t, "GET", "/v1/executions?status=success&limit=1", reg.APIKey, "")
		require.Equal(t, http.StatusOK, code)
		var l struct {
			Total int `json:"total"`
		}
		require.NoError(t, json.Unmarshal(body, &l))
		return l.Total == n
	})
}

// TestReplicas runs three `cueapi serve` processes on one PostgreSQL and
// Redis: 300 cues due at the same instant produce exactly 300 executions and
// 300 deliveries — no leader, no double fire.
func TestReplicas(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	const n = 300
	var (
		mu    sync.Mutex
		seen  = map[string]int{}
		total int
		allIn = make(chan struct{})
		once  sync.Once
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("X-CueAPI-Execution-Id")]++
		total++
		if len(seen) >= n {
			once.Do(func() { close(allIn) })
		}
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rcv.Close)

	env := map[string]string{
		"ENV": "development", "PORT": "0", "SESSION_SECRET": "replica-test-secret-0123456789abcdefgh",
		"DATABASE_URL": pgtest.SchemaURL(t), "REDIS_URL": redisURL(t), "REDIS_PREFIX": "rep" + core.RandomHex(6) + ":",
		"WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8", "DEFAULT_ACTIVE_CUE_LIMIT": "1000", "DEFAULT_RATE_LIMIT_PER_MINUTE": "100000",
		"DEFAULT_MONTHLY_EXECUTION_LIMIT": "100000",
	}
	var procs []*serverProc
	for i := 0; i < 3; i++ {
		e := map[string]string{"CUEAPI_DATA_DIR": t.TempDir(), "INSTANCE_ID": fmt.Sprintf("replica-%d", i)}
		for k, v := range env {
			e[k] = v
		}
		procs = append(procs, startServer(t, e))
	}
	code, body := procs[0].do(t, "POST", "/v1/auth/register", "", `{"email":"replicas@example.com"}`)
	require.Equal(t, http.StatusCreated, code, string(body))
	var reg struct {
		APIKey string `json:"api_key"`
	}
	require.NoError(t, json.Unmarshal(body, &reg))
	at := time.Now().UTC().Add(10 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := procs[i%3]
			code, body := p.do(t, "POST", "/v1/cues", reg.APIKey, fmt.Sprintf(`{"name":"r%03d","schedule":{"type":"once","at":"%s"},"callback":{"url":"%s/hook"}}`, i, dueAt(at), rcv.URL))
			if code != http.StatusCreated {
				errs <- string(body)
			}
		}()
		if i%16 == 15 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("create failed: %s", e)
	}

	select {
	case <-allIn:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d of %d delivered", len(seen), n)
	}
	// Every result recorded: 300 executions, all successful, one per cue.
	eventually(t, 30*time.Second, func() bool {
		code, body := procs[1].do(t, "GET", "/v1/executions?status=success&limit=1", reg.APIKey, "")
		require.Equal(t, http.StatusOK, code)
		var l struct {
			Total int `json:"total"`
		}
		require.NoError(t, json.Unmarshal(body, &l))
		return l.Total == n
	})
	code, body = procs[2].do(t, "GET", "/v1/executions?limit=1", reg.APIKey, "")
	require.Equal(t, http.StatusOK, code)
	var all struct {
		Total int `json:"total"`
	}
	require.NoError(t, json.Unmarshal(body, &all))
	require.Equal(t, n, all.Total, "exactly one execution per cue")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, n, len(seen))
	require.Equal(t, n, total, "exactly one delivery per execution")
}

// eventually polls cond (bounded) for state owned by another process.
func eventually(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatal("condition not reached in time")
		case <-tick.C:
		}
	}
}

// dueAt is the shared due instant, or one second from now when creating the
// cues has taken so long (a loaded machine) that the instant is about to
// pass: the API refuses one-time schedules in the past, and the tests assert
// counts, not that every cue shares the instant.
func dueAt(shared time.Time) string {
	if min := time.Now().UTC().Add(time.Second); shared.Before(min) {
		shared = min
	}
	return shared.Format(time.RFC3339Nano)
}

// holdingReceiver is a webhook receiver for kill -9 tests: it answers the
// first firstWave requests at once and holds every later one in flight
// until the test releases them; it counts requests per id (the header
// key) and signals when n distinct ids have arrived.
type holdingReceiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	seen     map[string]int
	n        int
	release  chan struct{}
	blocked  chan struct{}
	allIn    chan struct{}
	closeAll sync.Once
	unblock  sync.Once
	first    int
}

func newHoldingReceiver(t *testing.T, key string, n, firstWave int) *holdingReceiver {
	h := &holdingReceiver{seen: map[string]int{}, n: n, first: firstWave, release: make(chan struct{}),
		blocked: make(chan struct{}, n*2), allIn: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen[r.Header.Get(key)]++
		unique, total := len(h.seen), h.totalLocked()
		h.mu.Unlock()
		if unique >= n {
			h.closeAll.Do(func() { close(h.allIn) })
		}
		if total > firstWave {
			select {
			case h.blocked <- struct{}{}:
			default:
			}
			<-h.release // hold the request in flight until the test lets go
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.unhold)
	return h
}

func (h *holdingReceiver) totalLocked() int {
	total := 0
	for _, c := range h.seen {
		total += c
	}
	return total
}

func (h *holdingReceiver) unhold() { h.unblock.Do(func() { close(h.release) }) }

// waitHeld waits until k requests are held in flight.
func (h *holdingReceiver) waitHeld(t *testing.T, k int) {
	t.Helper()
	for i := 0; i < k; i++ {
		select {
		case <-h.blocked:
		case <-time.After(30 * time.Second):
			t.Fatal("deliveries did not reach the receiver")
		}
	}
}

// releaseAfterKill returns how many requests were in flight (beyond the
// first wave) and lets them go.
func (h *holdingReceiver) releaseAfterKill() int {
	h.mu.Lock()
	inFlight := h.totalLocked() - h.first
	h.mu.Unlock()
	h.unhold()
	return inFlight
}

// waitAll waits until every one of the n ids has arrived.
func (h *holdingReceiver) waitAll(t *testing.T) {
	t.Helper()
	select {
	case <-h.allIn:
	case <-time.After(60 * time.Second):
		h.mu.Lock()
		defer h.mu.Unlock()
		t.Fatalf("only %d of %d delivered after the restart", len(h.seen), h.n)
	}
}

// duplicates is how many requests repeated an id.
func (h *holdingReceiver) duplicates() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.totalLocked() - len(h.seen)
}
