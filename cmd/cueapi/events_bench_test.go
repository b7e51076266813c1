package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

// BenchmarkEventLongPoll measures held event long-polls on each store,
// through the HTTP API with the event hub running (wall clock):
//
//   - held-MB: resident memory added by 1,000 concurrent wait=long pulls
//     (1,000 agents, one poll each) held by one process — server and
//     client share the benchmark process, so this is an upper bound of the
//     server's share (target < 50 MB);
//   - p50-ms / p99-ms: event-to-poll-return latency with 100 agents each
//     polling in a loop while events are written at 500/s for 4 s, from
//     the start of the emitting write to the poll's answer (target p99 <
//     50 ms).
//
// Figures are reported with b.ReportMetric (printed by `make bench`), never
// asserted.
func BenchmarkEventLongPoll(b *testing.B) {
	for _, be := range backends() {
		b.Run(string(be), func(b *testing.B) {
			for range b.N {
				benchEventLongPoll(b, be)
			}
		})
	}
}

func benchEventLongPoll(b *testing.B, be backend) {
	ctx := context.Background()
	env := map[string]string{"ENV": "development", "CUEAPI_DATA_DIR": b.TempDir(), "SESSION_SECRET": "bench-secret-0123456789abcdef0123456789",
		"DEFAULT_RATE_LIMIT_PER_MINUTE": "1000000"}
	if be == backendPostgres {
		env["DATABASE_URL"] = pgtest.SchemaURL(b)
	}
	cfg, err := loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	a, err := newApp(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), overrides{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.close()
	hubCtx, stopHub := context.WithCancel(ctx)
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); a.EventHub.Run(hubCtx) }()
	defer func() { stopHub(); <-hubDone }()
	<-a.EventHub.Ready()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	key, u, err := a.Accounts.Register(ctx, "bench-events@example.com")
	if err != nil {
		b.Fatal(err)
	}
	const holders, pollers = 1000, 100
	agents := make([]string, holders)
	for i := range agents {
		agents[i] = string(coretest.CreateAgent(b, a.store, u.ID, fmt.Sprintf("a%04d", i)).ID)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: holders, MaxConnsPerHost: 0}}
	defer client.CloseIdleConnections()
	poll := func(ctx context.Context, agent string, since int64) (eventPage, error) {
		var p eventPage
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/agents/"+agent+"/events?wait=long&since="+strconv.FormatInt(since, 10), nil)
		if err != nil {
			return p, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			return p, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			return p, fmt.Errorf("poll: %d %s", resp.StatusCode, body)
		}
		return p, json.NewDecoder(resp.Body).Decode(&p)
	}

	// 1. Memory of 1,000 held polls, opened by a child process so that
	// this process's resident memory is the server's alone.
	runtime.GC()
	before := rssBytes()
	list := b.TempDir() + "/agents"
	if err := os.WriteFile(list, []byte(strings.Join(agents, "\n")), 0o600); err != nil {
		b.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestEventPollHolder$", "-test.count=1")
	child.Env = append(os.Environ(), "CUEAPI_POLL_HOLDER_URL="+srv.URL, "CUEAPI_POLL_HOLDER_KEY="+key, "CUEAPI_POLL_HOLDER_AGENTS="+list)
	stdin, err := child.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for a.EventHub.Waiting() < holders && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n := a.EventHub.Waiting()
	runtime.GC()
	heldMB := float64(rssBytes()-before) / (1 << 20)
	_ = stdin.Close()
	_ = child.Wait()
	if n < holders {
		b.Fatalf("only %d of %d polls held", n, holders)
	}

	// 2. Latency at 500 events/s.
	var (
		mu      sync.Mutex
		started = map[string]time.Time{}
		lat     []time.Duration
	)
	pollCtx, stopPolls := context.WithCancel(ctx)
	var pollWG sync.WaitGroup
	for _, ag := range agents[:pollers] {
		pollWG.Add(1)
		go func() {
			defer pollWG.Done()
			var since int64
			for pollCtx.Err() == nil {
				p, err := poll(pollCtx, ag, since)
				now := time.Now()
				if err != nil {
					continue
				}
				mu.Lock()
				for _, e := range p.Events {
					if t0, ok := started[fmt.Sprint(e.Payload["message_id"])]; ok {
						lat = append(lat, now.Sub(t0))
					}
				}
				mu.Unlock()
				if p.NextCursor != nil {
					since = *p.NextCursor
				}
			}
		}()
	}
	const rate, seconds = 500, 4
	tick := time.NewTicker(time.Second / rate)
	var emitErr error
	for i := range rate * seconds {
		<-tick.C
		ag := agents[i%pollers]
		msg := "msg_" + core.RandomHex(6)
		ev := core.MessageDeliveredEvent(u.ID, core.MessageEventFields{MessageID: msg, SenderAgentID: ag, RecipientAgentID: ag, Priority: 3}, false, time.Now())
		mu.Lock()
		started[msg] = time.Now()
		mu.Unlock()
		if _, err := a.store.EventEmit(ctx, &core.EventEmitParams{Events: []*core.EventEmit{ev}}); err != nil {
			emitErr = err
			break
		}
	}
	tick.Stop()
	// Let the last answers arrive (bounded), then stop.
	for wait := 0; wait < 200; wait++ {
		mu.Lock()
		n := len(lat)
		mu.Unlock()
		if n >= len(started) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopPolls()
	pollWG.Wait()
	if emitErr != nil {
		b.Fatal(emitErr)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(heldMB, "held-MB/1000polls")
	b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
	b.ReportMetric(float64(len(lat))/float64(len(started)), "answered-fraction")
}

// TestEventPollHolder is the child process of BenchmarkEventLongPoll: it
// holds one wait=long pull per listed agent until its stdin closes. It does
// nothing in a normal test run.
func TestEventPollHolder(t *testing.T) {
	url, key, list := os.Getenv("CUEAPI_POLL_HOLDER_URL"), os.Getenv("CUEAPI_POLL_HOLDER_KEY"), os.Getenv("CUEAPI_POLL_HOLDER_AGENTS")
	if url == "" || key == "" || list == "" {
		t.Skip("child process of BenchmarkEventLongPoll")
	}
	raw, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2000}}
	var wg sync.WaitGroup
	for _, ag := range strings.Split(string(raw), "\n") {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, "GET", url+"/v1/agents/"+ag+"/events?wait=long", nil)
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+key)
			if resp, err := client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	cancel()
	wg.Wait()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rssBytes is the process's resident set size (Linux; 0 elsewhere).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
