package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cueapi/cueapi/core"
)

// latenessResult is one lateness scenario's figures.
type latenessResult struct {
	Name               string
	Cues, Delivered    int
	Duplicates         int
	Min, P50, P99, Max time.Duration
}

// benchLateness starts `replicas` services on one store (PostgreSQL when
// pgURL is set, else one SQLite process), creates n one-time webhook cues
// through the first one — cue i due at due0 + i×spread — and measures
// when a local sink receives each execution relative to its scheduled
// instant (real clock, every replica's scheduler and dispatcher running).
func benchLateness(ctx context.Context, name, pgURL string, replicas, n int, spread time.Duration) (latenessResult, error) {
	res := latenessResult{Name: name, Cues: n}
	var (
		mu       sync.Mutex
		received = make(map[string]time.Time, n)
		dups     atomic.Int64
		allIn    = make(chan struct{})
		once     sync.Once
	)
	sink := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now().UTC()
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("X-CueAPI-Execution-Id")
		mu.Lock()
		if _, seen := received[id]; seen {
			dups.Add(1)
		} else {
			received[id] = at
		}
		got := len(received)
		mu.Unlock()
		if got >= n {
			once.Do(func() { close(allIn) })
		}
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	go func() { _ = sink.Serve(ln) }()
	defer sink.Close()

	dbURL := ""
	if pgURL != "" {
		u, drop, err := benchSchema(ctx, pgURL)
		if err != nil {
			return res, err
		}
		defer drop()
		dbURL = u
	}
	dir, err := os.MkdirTemp("", "cueapi-benchlate-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	engineCtx, stop := context.WithCancel(ctx)
	var apps []*app
	var waits []func()
	defer func() {
		stop()
		for _, w := range waits {
			w()
		}
		for _, a := range apps {
			a.close()
		}
	}()
	for i := 0; i < replicas; i++ {
		vars := map[string]string{
			"ENV": "development", "CUEAPI_DATA_DIR": dir, "SESSION_SECRET": "benchmark-session-secret-0123456789abcdef",
			"DEFAULT_ACTIVE_CUE_LIMIT": "100000000", "DEFAULT_MONTHLY_EXECUTION_LIMIT": "100000000",
			"INSTANCE_ID": fmt.Sprintf("bench-replica-%d", i),
		}
		cfg, err := loadConfig(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
		if err != nil {
			return res, err
		}
		cfg.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		cfg.DatabaseURL = dbURL
		a, err := newApp(ctx, cfg, log, overrides{})
		if err != nil {
			return res, err
		}
		apps = append(apps, a)
		waits = append(waits, a.Run(engineCtx))
	}
	first := apps[0]
	_, u, err := first.Accounts.Register(ctx, "late-"+core.RandomHex(4)+"@example.com")
	if err != nil {
		return res, err
	}
	// Created ahead of the first due instant (about 2 ms per cue, plus a
	// second), through the first replica: the others learn of them from
	// the change feed.
	due0 := time.Now().UTC().Add(time.Second + time.Duration(n)*2*time.Millisecond).Truncate(time.Millisecond)
	url := "http://" + ln.Addr().String() + "/hook"
	if err := benchCreateSpread(ctx, first.store, u, n, due0, spread, url); err != nil {
		return res, err
	}
	deadline := time.NewTimer(time.Until(due0) + time.Duration(n)*spread + 60*time.Second)
	defer deadline.Stop()
	select {
	case <-allIn:
	case <-deadline.C:
		mu.Lock()
		got := len(received)
		mu.Unlock()
		return res, fmt.Errorf("%s: timed out: %d of %d delivered", name, got, n)
	case <-ctx.Done():
		return res, ctx.Err()
	}
	execs, _, err := first.store.ExecutionList(ctx, &core.ExecutionListParams{TenantID: u.ID, Limit: 0})
	if err != nil {
		return res, err
	}
	var late []time.Duration
	mu.Lock()
	for _, e := range execs {
		if at, ok := received[string(e.ID)]; ok {
			late = append(late, at.Sub(e.ScheduledFor))
		}
	}
	mu.Unlock()
	res.Delivered, res.Duplicates = len(late), int(dups.Load())
	res.Min, res.P50, res.P99, res.Max = percentile(late, 0), percentile(late, 50), percentile(late, 99), percentile(late, 100)
	return res, nil
}

// benchCreateSpread inserts n one-time webhook cues, cue i due at
// due0 + i×spread, with 8 writers.
func benchCreateSpread(ctx context.Context, store core.Store, u *core.User, n int, due0 time.Time, spread time.Duration, url string) error {
	var next atomic.Int64
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				at := due0.Add(time.Duration(i-1) * spread)
				now := time.Now().UTC()
				c := &core.Cue{
					ID: core.NewCueID(), TenantID: u.ID, Name: fmt.Sprintf("late-%06d", i), Status: core.CueActive,
					Transport: core.TransportWebhook, Schedule: core.Schedule{Type: core.ScheduleOnce, At: &at, Timezone: "UTC"},
					Callback: core.Callback{URL: &url, Method: "POST", Headers: map[string]string{}},
					Payload:  []byte(fmt.Sprintf(`{"i":%d}`, i)), Retry: core.DefaultRetryPolicy(),
					CatchUp: core.CatchUpLatest, NextRun: &at, CreatedAt: now, UpdatedAt: now,
				}
				if _, err := store.CueCreate(ctx, &core.CueCreateParams{Cue: c, ActiveCueLimit: n + 1}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// runLateness runs the steady-load and replica scenarios and prints them.
func runLateness(ctx context.Context, c apiBenchConfig, stdout io.Writer) error {
	type scenario struct {
		name     string
		pg       bool
		replicas int
		n        int
		spread   time.Duration
	}
	var scs []scenario
	for _, st := range c.stores {
		if st == "postgres" && c.pgURL == "" {
			continue
		}
		scs = append(scs, scenario{st + ": 1,000 cues/s for 3 s, 1 process", st == "postgres", 1, 3000, time.Millisecond})
	}
	if c.pgURL != "" {
		scs = append(scs, scenario{"postgres: 300 cues at one instant, 3 replicas", true, 3, 300, 0})
	}
	var out []latenessResult
	for _, s := range scs {
		fmt.Fprintf(stdout, "lateness: %s\n", s.name)
		pg := ""
		if s.pg {
			pg = c.pgURL
		}
		r, err := benchLateness(ctx, s.name, pg, s.replicas, s.n, s.spread)
		if err != nil {
			return err
		}
		out = append(out, r)
	}
	fmt.Fprintf(stdout, "\n%-48s %6s %9s %5s %9s %9s %9s %9s\n", "lateness scenario", "cues", "delivered", "dups", "min", "p50", "p99", "max")
	for _, r := range out {
		fmt.Fprintf(stdout, "%-48s %6d %9d %5d %9s %9s %9s %9s\n", r.Name, r.Cues, r.Delivered, r.Duplicates,
			r.Min.Round(100*time.Microsecond), r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.Max.Round(100*time.Microsecond))
	}
	fmt.Fprintln(stdout, "lateness: when the local sink received the webhook minus the execution's scheduled instant (targets: p99 < 50 ms on one process, < 100 ms with 3 replicas, 0 duplicates).")
	return nil
}
