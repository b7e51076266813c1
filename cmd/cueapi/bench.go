package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/core"
)

// offsetClock is the wall clock shifted by a constant: the benchmark creates
// its cues "an hour early" and then jumps the engine's time to just before
// they are due, so setup time never shows up as lateness.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time {
	return time.Now().UTC().Add(time.Duration(c.offset.Load())).Truncate(time.Microsecond)
}

// benchResult is one store's figures.
type benchResult struct {
	Store          string
	Cues           int
	Delivered      int
	Duplicates     int
	Seconds        float64
	PerSecond      float64
	ReadyP50       time.Duration
	ReadyP99       time.Duration
	DeliveryP50    time.Duration
	DeliveryP99    time.Duration
	RecordedAllSec float64
	// Messaging in the same run: messages sent (core send path) and
	// push-delivered to the same loopback sink.
	Messages      int
	MsgSendPerSec float64
	MsgPushPerSec float64
	MsgDuplicates int
}

// runBench is `cueapi bench`: N one-time cues due at the same instant,
// webhook transport to a local sink, on the embedded store and (when a
// PostgreSQL URL is given) on PostgreSQL.
func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("cues", 10000, "number of one-time cues due at the same instant")
	msgs := fs.Int("messages", -1, "messages sent and push-delivered after the cues (default: as many as cues; 0: none)")
	stores := fs.String("stores", "sqlite,postgres", "stores to measure (sqlite, postgres)")
	pgURL := fs.String("database-url", os.Getenv("BENCH_DATABASE_URL"), "PostgreSQL URL for the postgres run (a fresh schema is created and dropped)")
	concurrency := fs.Int("concurrency", 256, "deliveries in flight")
	perDest := fs.Int("per-destination", 0, "deliveries in flight per destination (0: the default, concurrency/8)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the runs to this file")
	fairCues := fs.Int("fair-cues", 500, "fairness run: this many cues to a slow (10 s) and as many to a fast destination, due at once (0: skip)")
	slowDelay := fs.Duration("slow-delay", 10*time.Second, "fairness run: how long the slow destination takes to answer")
	apiMode := fs.Bool("api", false, "measure the request path instead (requests/s of the API next to a bare pgx handler, create rate at stored-cue sizes)")
	redisURL := fs.String("redis-url", os.Getenv("BENCH_REDIS_URL"), "-api: Redis URL for shared rate limits and auth cache (empty: in-process)")
	duration := fs.Duration("duration", 2*time.Second, "-api: how long each load phase runs (a read phase runs twice as long for the API and again for the bare handler, in alternating turns)")
	readClients := fs.Int("clients", 32, "-api: concurrent clients for the read phases (writes use 16)")
	sizes := fs.String("sizes", "1000,100000", "-api: stored-cue counts at which the create rate is measured")
	lateness := fs.Bool("lateness", true, "-api: also measure firing lateness (1,000 cues/s on one process; 300 cues at one instant on 3 PostgreSQL replicas)")
	latenessOnly := fs.Bool("lateness-only", false, "-api: measure firing lateness only (no request phases)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	benchPerDestination = *perDest
	if *apiMode {
		c := apiBenchConfig{stores: splitList(*stores), pgURL: *pgURL, redisURL: *redisURL, duration: *duration,
			readClients: *readClients, profile: *cpuprofile, lateness: *lateness || *latenessOnly, latenessOnly: *latenessOnly}
		for _, s := range splitList(*sizes) {
			var n int
			if _, err := fmt.Sscan(s, &n); err != nil || n < 0 {
				return fmt.Errorf("-sizes: %q is not a count", s)
			}
			c.sizes = append(c.sizes, n)
		}
		return runBenchAPI(ctx, c, stdout)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var results []benchResult
	for _, st := range strings.Split(*stores, ",") {
		st = strings.TrimSpace(st)
		if st == "" {
			continue
		}
		if st == "postgres" && *pgURL == "" {
			fmt.Fprintln(stdout, "postgres: skipped (no -database-url / BENCH_DATABASE_URL)")
			continue
		}
		m := *msgs
		if m < 0 {
			m = *n
		}
		r, err := benchOne(ctx, st, *pgURL, *n, m, *concurrency, *timeout)
		if err != nil {
			return fmt.Errorf("bench %s: %w", st, err)
		}
		results = append(results, r)
	}
	fmt.Fprintf(stdout, "\n%-9s %7s %9s %5s %9s %10s %10s %10s %12s %12s\n", "store", "cues", "delivered", "dups", "seconds", "exec/s", "ready p50", "ready p99", "deliver p50", "deliver p99")
	for _, r := range results {
		fmt.Fprintf(stdout, "%-9s %7d %9d %5d %9.2f %10.0f %10s %10s %12s %12s\n", r.Store, r.Cues, r.Delivered, r.Duplicates, r.Seconds, r.PerSecond,
			r.ReadyP50.Round(time.Millisecond), r.ReadyP99.Round(time.Millisecond), r.DeliveryP50.Round(time.Millisecond), r.DeliveryP99.Round(time.Millisecond))
	}
	fmt.Fprintln(stdout, "\nexec/s: deliveries recorded as success per second, from the due instant until the last was recorded.")
	fmt.Fprintln(stdout, "ready: when the execution became deliverable (max(created_at, scheduled_for)) minus scheduled_for (firing lateness).")
	fmt.Fprintln(stdout, "deliver: when the sink received the webhook minus scheduled_for.")
	fmt.Fprintf(stdout, "\n%-9s %8s %9s %10s %5s %14s\n", "store", "messages", "sent/s", "pushed/s", "dups", "pushed/exec")
	for _, r := range results {
		if r.Messages == 0 {
			continue
		}
		fmt.Fprintf(stdout, "%-9s %8d %9.0f %10.0f %5d %13.2fx\n", r.Store, r.Messages, r.MsgSendPerSec, r.MsgPushPerSec, r.MsgDuplicates, r.MsgPushPerSec/r.PerSecond)
	}
	fmt.Fprintln(stdout, "\nsent/s: messages accepted by the send path (core, 8 senders) per second.")
	fmt.Fprintln(stdout, "pushed/s: messages (sent ahead with one send_at) signed, pushed to the same sink and recorded delivered per second, from the due instant (same engine and measure as exec/s).")
	if *fairCues <= 0 {
		return nil
	}
	var fair []fairResult
	for _, st := range strings.Split(*stores, ",") {
		st = strings.TrimSpace(st)
		if st == "" || (st == "postgres" && *pgURL == "") {
			continue
		}
		r, err := benchFair(ctx, st, *pgURL, *fairCues, *concurrency, *slowDelay, *timeout)
		if err != nil {
			return fmt.Errorf("bench fair %s: %w", st, err)
		}
		fair = append(fair, r)
	}
	fmt.Fprintf(stdout, "\nfairness: %d cues to a slow (%s) destination and %d to a fast one, all due at the same instant (slow ones created first)\n", *fairCues, *slowDelay, *fairCues)
	fmt.Fprintf(stdout, "%-9s %10s %10s %10s %14s\n", "store", "fast p50", "fast p99", "fast max", "slow answered")
	for _, r := range fair {
		fmt.Fprintf(stdout, "%-9s %10s %10s %10s %14d\n", r.Store, r.FastP50.Round(time.Millisecond), r.FastP99.Round(time.Millisecond), r.FastMax.Round(time.Millisecond), r.SlowAnswered)
	}
	fmt.Fprintln(stdout, "fast pNN: lateness of the fast destination's deliveries (received minus scheduled_for); slow answered: slow deliveries answered by the time the last fast one arrived.")
	return nil
}

// benchPerDestination is the -per-destination flag.
var benchPerDestination int

// fairResult is one store's fairness figures.
type fairResult struct {
	Store                     string
	FastP50, FastP99, FastMax time.Duration
	SlowAnswered              int
}

// benchFair measures how late a fast destination's deliveries are beside a
// slow destination with as many deliveries queued, all due at once: with
// head-of-line blocking the fast ones wait for the slow ones' slots.
func benchFair(ctx context.Context, store, pgURL string, n, concurrency int, slowDelay, timeout time.Duration) (fairResult, error) {
	res := fairResult{Store: store}
	clock := &offsetClock{}
	var (
		mu           sync.Mutex
		fastAt       = make(map[string]time.Time, n)
		slowAnswered atomic.Int64
		allFast      = make(chan struct{})
		once         sync.Once
	)
	serve := func(h http.HandlerFunc) (string, func(), error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		return "http://" + ln.Addr().String() + "/hook", func() { _ = srv.Close() }, nil
	}
	slowURL, closeSlow, err := serve(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		t := time.NewTimer(slowDelay)
		defer t.Stop()
		select {
		case <-t.C:
			slowAnswered.Add(1)
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
	})
	if err != nil {
		return res, err
	}
	defer closeSlow()
	fastURL, closeFast, err := serve(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		at := clock.Now()
		mu.Lock()
		if _, seen := fastAt[r.Header.Get("X-CueAPI-Execution-Id")]; !seen {
			fastAt[r.Header.Get("X-CueAPI-Execution-Id")] = at
		}
		got := len(fastAt)
		mu.Unlock()
		if got >= n {
			once.Do(func() { close(allFast) })
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if err != nil {
		return res, err
	}
	defer closeFast()

	a, u, closeApp, err := startBenchApp(ctx, store, pgURL, concurrency, clock, map[string]string{"SHUTDOWN_GRACE_SECONDS": "1"})
	if err != nil {
		return res, err
	}
	defer closeApp()
	due := clock.Now().Add(time.Hour).Truncate(time.Second)
	if err := benchCreateCues(ctx, a.store, u, n, due, slowURL, "slow", 2*n+1); err != nil {
		return res, err
	}
	if err := benchCreateCues(ctx, a.store, u, n, due, fastURL, "fast", 2*n+1); err != nil {
		return res, err
	}
	clock.offset.Store(int64(due.Add(-2 * time.Second).Sub(time.Now())))
	engineCtx, stop := context.WithCancel(ctx)
	wait := a.Run(engineCtx)
	defer func() { stop(); wait() }()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-allFast:
	case <-deadline.C:
		mu.Lock()
		got := len(fastAt)
		mu.Unlock()
		return res, fmt.Errorf("timed out: %d of %d fast deliveries", got, n)
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.SlowAnswered = int(slowAnswered.Load())
	mu.Lock()
	late := make([]time.Duration, 0, len(fastAt))
	for _, at := range fastAt {
		late = append(late, at.Sub(due))
	}
	mu.Unlock()
	res.FastP50, res.FastP99, res.FastMax = percentile(late, 50), percentile(late, 99), percentile(late, 100)
	return res, nil
}

func benchOne(ctx context.Context, store, pgURL string, n, msgs, concurrency int, timeout time.Duration) (benchResult, error) {
	res := benchResult{Store: store, Cues: n, Messages: msgs}
	clock := &offsetClock{}

	// The sink: counts deliveries per execution id and when they arrived.
	var (
		mu       sync.Mutex
		received = make(map[string]time.Time, n)
		dups     atomic.Int64
		total    atomic.Int64
		allIn    = make(chan struct{})
		once     sync.Once
	)
	var (
		pushed    sync.Map // message id -> struct{}
		pushedN   atomic.Int64
		pushDups  atomic.Int64
		allPushed = make(chan struct{})
		pushOnce  sync.Once
	)
	sink := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if mid := r.Header.Get("X-CueAPI-Message-Id"); mid != "" {
			if _, dup := pushed.LoadOrStore(mid, struct{}{}); dup {
				pushDups.Add(1)
			} else if int(pushedN.Add(1)) >= msgs {
				pushOnce.Do(func() { close(allPushed) })
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		id := r.Header.Get("X-CueAPI-Execution-Id")
		at := clock.Now()
		mu.Lock()
		if _, seen := received[id]; seen {
			dups.Add(1)
		} else {
			received[id] = at
		}
		got := len(received)
		mu.Unlock()
		total.Add(1)
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

	// One sending account: the per-account push cap matches the engine's
	// slots, so the messaging figure is the engine's, not the cap's 30-second
	// postponements.
	a, u, closeApp, err := startBenchApp(ctx, store, pgURL, concurrency, clock, map[string]string{
		"DISABLE_QUOTA_ENFORCEMENT": "true", "MAX_CONCURRENT_DELIVERIES_PER_USER": fmt.Sprint(concurrency)})
	if err != nil {
		return res, err
	}
	defer closeApp()
	due := clock.Now().Add(time.Hour).Truncate(time.Second)
	url := "http://" + ln.Addr().String() + "/hook"
	if err := benchCreateCues(ctx, a.store, u, n, due, url, "bench", n+1); err != nil {
		return res, err
	}

	// Jump the engine's clock to 2 s before the due instant and start it.
	clock.offset.Store(int64(due.Add(-2 * time.Second).Sub(time.Now())))
	engineCtx, stop := context.WithCancel(ctx)
	wait := a.Run(engineCtx)
	defer func() { stop(); wait() }()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-allIn:
	case <-deadline.C:
		return res, fmt.Errorf("timed out: %d of %d delivered", total.Load(), n)
	case <-ctx.Done():
		return res, ctx.Err()
	}
	// Wait until every result is recorded.
	for {
		_, done, err := a.store.ExecutionList(ctx, &core.ExecutionListParams{TenantID: u.ID, Statuses: []string{string(core.ExecSuccess)}, Limit: 1})
		if err != nil {
			return res, err
		}
		if done >= n {
			break
		}
		select {
		case <-deadline.C:
			return res, fmt.Errorf("timed out: %d of %d recorded", done, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
	end := clock.Now()
	res.Delivered = n
	res.Duplicates = int(dups.Load())
	res.Seconds = end.Sub(due).Seconds()
	res.PerSecond = float64(n) / res.Seconds

	execs, _, err := a.store.ExecutionList(ctx, &core.ExecutionListParams{TenantID: u.ID, Limit: 0})
	if err != nil {
		return res, err
	}
	var ready, deliver []time.Duration
	mu.Lock()
	for _, e := range execs {
		r := e.CreatedAt
		if r.Before(e.ScheduledFor) {
			r = e.ScheduledFor
		}
		ready = append(ready, r.Sub(e.ScheduledFor))
		if at, ok := received[string(e.ID)]; ok {
			deliver = append(deliver, at.Sub(e.ScheduledFor))
		}
	}
	mu.Unlock()
	res.ReadyP50, res.ReadyP99 = percentile(ready, 50), percentile(ready, 99)
	res.DeliveryP50, res.DeliveryP99 = percentile(deliver, 50), percentile(deliver, 99)
	if msgs > 0 {
		if err := benchMessages(ctx, a, clock, u, msgs, "http://"+ln.Addr().String()+"/agent", allPushed, deadline.C, &res); err != nil {
			return res, err
		}
		res.MsgDuplicates = int(pushDups.Load())
	}
	return res, nil
}

// benchMessages sends msgs messages from one agent to another whose
// webhook is the sink, with 8 concurrent senders through the core send
// path, all with send_at at one instant an hour ahead (as the cues are
// created ahead); then it moves the clock to that instant and waits until
// every push was received and recorded delivered.
func benchMessages(ctx context.Context, a *app, clock *offsetClock, u *core.User, msgs int, hook string, allPushed <-chan struct{}, deadline <-chan time.Time, res *benchResult) error {
	from, err := a.Agents.Create(ctx, u, core.AgentInput{DisplayName: "bench sender"})
	if err != nil {
		return err
	}
	to, err := a.Agents.Create(ctx, u, core.AgentInput{DisplayName: "bench receiver", WebhookURL: &hook})
	if err != nil {
		return err
	}
	due := clock.Now().Add(time.Hour).Truncate(time.Second)
	sendAt := due.Format(time.RFC3339Nano)
	start := time.Now()
	var next atomic.Int64
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > msgs {
					return
				}
				_, err := a.Messages.Send(ctx, u, &core.SendInput{FromAgent: string(from.Agent.ID), To: string(to.Agent.ID), Body: fmt.Sprintf("message %d", i), SendAt: &sendAt})
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	res.MsgSendPerSec = float64(msgs) / time.Since(start).Seconds()
	clock.offset.Add(int64(due.Sub(clock.Now())))
	a.Dispatcher.Wake()
	start = time.Now()
	select {
	case <-allPushed:
	case <-deadline:
		return fmt.Errorf("timed out: messages not all pushed")
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		r, err := a.store.MessageList(ctx, &core.MessageListParams{AgentID: from.Agent.ID, Sender: u.ID, States: []string{core.MsgDelivered}, CountOnly: true})
		if err != nil {
			return err
		}
		if r.Total >= msgs {
			break
		}
		select {
		case <-deadline:
			return fmt.Errorf("timed out: %d of %d messages recorded delivered", r.Total, msgs)
		case <-time.After(5 * time.Millisecond):
		}
	}
	res.MsgPushPerSec = float64(msgs) / time.Since(start).Seconds()
	return nil
}

func ptrTo[T any](v T) *T { return &v }

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := (len(ds)*p+99)/100 - 1
	if i < 0 {
		i = 0
	}
	return ds[i]
}

// benchCreateCues inserts n one-time webhook cues named prefix-NNNNNN due at
// `due`, in parallel, under an active cue limit of limit.
func benchCreateCues(ctx context.Context, store core.Store, u *core.User, n int, due time.Time, url, prefix string, limit int) error {
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
				at := due
				c := &core.Cue{
					ID: core.NewCueID(), TenantID: u.ID, Name: fmt.Sprintf("%s-%06d", prefix, i), Status: core.CueActive,
					Transport: core.TransportWebhook, Schedule: core.Schedule{Type: core.ScheduleOnce, At: &at, Timezone: "UTC"},
					Callback: core.Callback{URL: &url, Method: "POST", Headers: map[string]string{}},
					Payload:  json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Retry: core.DefaultRetryPolicy(),
					OnFailure: core.OnFailure{}, CatchUp: core.CatchUpLatest, NextRun: &at, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
				}
				if _, err := store.CueCreate(ctx, &core.CueCreateParams{Cue: c, ActiveCueLimit: limit}); err != nil {
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

// benchSchema creates a fresh schema for the run and returns a URL using it.
func benchSchema(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	schema := "bench_" + core.RandomHex(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	drop := func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = conn.Exec(c, "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(c)
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema, drop, nil
}

// startBenchApp starts the whole service for a delivery benchmark on store
// (a fresh PostgreSQL schema, or SQLite in a temporary directory) with
// concurrency delivery slots, the loopback sink allowed and the settings in
// extra, and registers one account. stop stops it and removes its data.
func startBenchApp(ctx context.Context, store, pgURL string, concurrency int, clock *offsetClock, extra map[string]string) (a *app, u *core.User, stop func(), err error) {
	var cleanups []func()
	stop = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	dir, err := os.MkdirTemp("", "cueapi-bench-")
	if err != nil {
		return nil, nil, stop, err
	}
	cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	cfg, err := loadConfig(func(k string) (string, bool) {
		if v, ok := extra[k]; ok {
			return v, true
		}
		switch k {
		case "ENV":
			return "development", true
		case "CUEAPI_DATA_DIR":
			return dir, true
		case "SESSION_SECRET":
			return "benchmark-session-secret-0123456789abcdef", true
		case "WEBHOOK_CONCURRENCY":
			return fmt.Sprint(concurrency), true
		case "DELIVERY_PER_DESTINATION_CONCURRENCY":
			return fmt.Sprint(benchPerDestination), true
		}
		return "", false
	})
	if err != nil {
		return nil, nil, stop, err
	}
	cfg.WebhookAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	if store == "postgres" {
		dbURL, drop, err := benchSchema(ctx, pgURL)
		if err != nil {
			return nil, nil, stop, err
		}
		cleanups = append(cleanups, drop)
		cfg.DatabaseURL = dbURL
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if a, err = newApp(ctx, cfg, log, overrides{clock: clock}); err != nil {
		return nil, nil, stop, err
	}
	cleanups = append(cleanups, a.close)
	if _, u, err = a.Accounts.Register(ctx, "bench-"+core.RandomHex(4)+"@example.com"); err != nil {
		return nil, nil, stop, err
	}
	return a, u, stop, nil
}
