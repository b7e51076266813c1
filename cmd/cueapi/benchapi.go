package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the create-at-size seeding opens the embedded file directly

	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/core"
)

// apiBenchRow is one line of the API benchmark's table.
type apiBenchRow struct {
	Store, Name     string
	Clients         int
	API, Bare       float64 // requests/s (Bare 0: no baseline)
	Errors          int
	Target          string
	TargetRatio     float64 // ratio target (0: absolute Target)
	TargetPerSecond float64 // absolute target (0: ratio)
	// A memory row (TargetMaxMB > 0) reports the resident set of the
	// service process, RSSMB at the end (PeakMB its peak), instead of a rate.
	RSSMB, PeakMB, TargetMaxMB float64
}

// apiBenchConfig are `cueapi bench -api`'s knobs.
type apiBenchConfig struct {
	stores       []string
	pgURL        string
	redisURL     string
	duration     time.Duration
	readClients  int
	sizes        []int
	profile      string // CPU profile file ("": none)
	lateness     bool   // also run the firing-lateness scenarios
	latenessOnly bool   // run only those
}

// runBenchAPI is `cueapi bench -api`: the request path measured against a
// bare handler in one run. For each store it starts the real service (the
// whole handler stack, scheduler and dispatcher running, Redis when given),
// and next to it, on PostgreSQL, a bare net/http handler that reads the same
// rows with pgx over the same pool. A built-in load generator (N loopback
// clients with keep-alive, fixed duration) drives both.
func runBenchAPI(ctx context.Context, c apiBenchConfig, stdout io.Writer) error {
	if c.profile != "" {
		f, err := os.Create(c.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if c.latenessOnly {
		return runLateness(ctx, c, stdout)
	}
	var rows []apiBenchRow
	for _, st := range c.stores {
		if st == "postgres" && c.pgURL == "" {
			fmt.Fprintln(stdout, "postgres: skipped (no -database-url / BENCH_DATABASE_URL)")
			continue
		}
		r, err := benchAPIStore(ctx, st, c, stdout)
		if err != nil {
			return fmt.Errorf("bench api %s: %w", st, err)
		}
		rows = append(rows, r...)
	}
	fmt.Fprintf(stdout, "\n%-8s %-34s %7s %10s %10s %7s %7s  %s\n", "store", "request", "clients", "api req/s", "bare req/s", "ratio", "errors", "target")
	for _, r := range rows {
		bare, ratio := "-", "-"
		if r.Bare > 0 {
			bare, ratio = fmt.Sprintf("%.0f", r.Bare), fmt.Sprintf("%.2f", r.API/r.Bare)
		}
		if r.TargetMaxMB > 0 {
			fmt.Fprintf(stdout, "%-8s %-34s %7d %10s %10s %7s %7d  %s %s, peak %.0f MB\n", r.Store, r.Name, r.Clients,
				fmt.Sprintf("%.0f MB", r.RSSMB), "-", "-", r.Errors, r.Target, pass(r.RSSMB < r.TargetMaxMB), r.PeakMB)
			continue
		}
		met := ""
		switch {
		case r.TargetRatio > 0 && r.Bare > 0:
			met = pass(r.API/r.Bare >= r.TargetRatio)
		case r.TargetPerSecond > 0:
			met = pass(r.API >= r.TargetPerSecond)
		}
		fmt.Fprintf(stdout, "%-8s %-34s %7d %10.0f %10s %7s %7d  %s %s\n", r.Store, r.Name, r.Clients, r.API, bare, ratio, r.Errors, r.Target, met)
	}
	fmt.Fprintln(stdout, "\napi: the whole service over loopback HTTP (auth, rate limit, validation, store); bare: net/http + one pgx query over the same pool, no auth.")
	fmt.Fprintln(stdout, "RSS: VmRSS of a separate `cueapi serve` process on the seeded store after its load (the api column), VmHWM its peak.")
	if c.lateness {
		fmt.Fprintln(stdout)
		return runLateness(ctx, c, stdout)
	}
	return nil
}

func pass(ok bool) string {
	if ok {
		return "(met)"
	}
	return "(NOT met)"
}

// apiEnv is one running service for the benchmark.
type apiEnv struct {
	app    *app
	base   string // http://127.0.0.1:port
	key    string
	tenant core.TenantID
	pool   *pgxpool.Pool // PostgreSQL only
	dbPath string        // SQLite only
	// vars is the service's environment (the store's database included):
	// a separate `cueapi serve` started with it serves the same data.
	vars map[string]string
	// stop stops the in-process service (HTTP server, engine, store) and
	// keeps its data; close stops it and removes the data.
	stop, close func()
}

func startAPIEnv(ctx context.Context, store string, c apiBenchConfig) (_ *apiEnv, err error) {
	env := &apiEnv{}
	// cleanups remove the data; service stops the in-process service.
	var cleanups, service []func()
	var stopOnce sync.Once
	env.stop = func() {
		stopOnce.Do(func() {
			for i := len(service) - 1; i >= 0; i-- {
				service[i]()
			}
		})
	}
	env.close = func() {
		env.stop()
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			env.close()
		}
	}()
	dir, err := os.MkdirTemp("", "cueapi-benchapi-")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	vars := map[string]string{
		"ENV": "development", "CUEAPI_DATA_DIR": dir, "SESSION_SECRET": "benchmark-session-secret-0123456789abcdef",
		// The limiter runs on every request (its cost is measured) but never refuses.
		"DEFAULT_RATE_LIMIT_PER_MINUTE": "100000000", "DEFAULT_ACTIVE_CUE_LIMIT": "100000000",
		"DEFAULT_MONTHLY_EXECUTION_LIMIT": "100000000", "DATABASE_MAX_CONNS": "16",
		"WEBHOOK_ALLOWED_CIDRS": "127.0.0.1/32", "LOG_LEVEL": "error",
	}
	if c.redisURL != "" {
		vars["REDIS_URL"] = c.redisURL
		vars["REDIS_PREFIX"] = "cueapi-bench-" + core.RandomHex(4) + ":"
	}
	if store == "postgres" {
		u, drop, err := benchSchema(ctx, c.pgURL)
		if err != nil {
			return nil, err
		}
		cleanups = append(cleanups, drop)
		vars["DATABASE_URL"] = u
	} else {
		env.dbPath = filepath.Join(dir, "cueapi.db")
	}
	env.vars = vars
	cfg, err := loadConfig(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	a, err := newApp(ctx, cfg, log, overrides{})
	if err != nil {
		return nil, err
	}
	service = append(service, a.close)
	env.app = a
	if ps, ok := a.rawStore.(*postgres.Store); ok {
		env.pool = ps.Pool()
	}
	engineCtx, stop := context.WithCancel(ctx)
	wait := a.Run(engineCtx)
	service = append(service, func() { stop(); wait() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	service = append(service, func() { _ = srv.Close() })
	env.base = "http://" + ln.Addr().String()

	key, u, err := a.Accounts.Register(ctx, "bench-"+core.RandomHex(4)+"@example.com")
	if err != nil {
		return nil, err
	}
	env.key, env.tenant = key, u.ID
	return env, nil
}

// loadClient is one HTTP client per benchmark phase: keep-alive, one
// connection per concurrent client.
func loadClient(clients int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, DisableCompression: true, IdleConnTimeout: time.Minute,
	}}
}

// drive runs clients goroutines for d, each sending requests built by mk
// (i is a process-wide sequence number) and reading the whole answer. It
// returns successful requests per second and the number of failures.
func drive(ctx context.Context, clients int, d time.Duration, mk func(i int64) (*http.Request, error)) (float64, int, error) {
	hc := loadClient(clients)
	defer hc.CloseIdleConnections()
	return driveWith(ctx, hc, clients, d, mk)
}

// driveWith is drive on the client hc (its connections stay open).
func driveWith(ctx context.Context, hc *http.Client, clients int, d time.Duration, mk func(i int64) (*http.Request, error)) (float64, int, error) {
	var seq, ok, bad atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				req, err := mk(seq.Add(1))
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				resp, err := hc.Do(req)
				if err != nil {
					bad.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					if bad.Add(1) == 1 {
						firstErr.CompareAndSwap(nil, fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(body)))
					}
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	var err error
	if e, _ := firstErr.Load().(error); e != nil && ok.Load() == 0 {
		err = e
	} else if e != nil {
		fmt.Fprintf(os.Stderr, "  (first failure: %v)\n", e)
	}
	return float64(ok.Load()) / el, int(bad.Load()), err
}

func (e *apiEnv) req(method, path string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "Bearer "+e.key)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return r, nil
}

// benchCreateBody is a one-time webhook cue due in a year (never fires during the run).
func benchCreateBody(name string) []byte {
	at := time.Now().UTC().Add(365 * 24 * time.Hour).Format(time.RFC3339)
	return []byte(`{"name":"` + name + `","schedule":{"type":"once","at":"` + at + `"},"callback":{"url":"http://127.0.0.1:9/hook"},"payload":{"k":"v"}}`)
}

// createCue creates one cue through the API and returns its id.
func (e *apiEnv) createCue(name string) (string, error) {
	r, err := e.req("POST", "/v1/cues", benchCreateBody(name))
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create cue: %d %s", resp.StatusCode, b)
	}
	var out struct {
		ID string `json:"id"`
	}
	return out.ID, json.Unmarshal(b, &out)
}

func benchAPIStore(ctx context.Context, store string, c apiBenchConfig, stdout io.Writer) ([]apiBenchRow, error) {
	fmt.Fprintf(stdout, "%s: starting the service\n", store)
	env, err := startAPIEnv(ctx, store, c)
	if err != nil {
		return nil, err
	}
	defer env.close()
	var rows []apiBenchRow

	// Reads: one cue with five executions, fifty cues for the list.
	cueID, err := env.createCue("read-target")
	if err != nil {
		return nil, err
	}
	for i := 0; i < 49; i++ {
		if _, err := env.createCue(fmt.Sprintf("list-%02d", i)); err != nil {
			return nil, err
		}
	}
	execIDs, err := env.seedExecutions(ctx, cueID, 5)
	if err != nil {
		return nil, err
	}
	if err := env.analyze(ctx); err != nil {
		return nil, err
	}
	reads := []struct {
		name, path string
		bare       string // SQL for the bare handler ($1 = id, $2 = tenant); "" none
		arg        string
		ratio      float64
	}{
		{"GET /v1/cues/{id}", "/v1/cues/" + cueID, bareCueSQL, cueID, 0.7},
		{"GET /v1/executions/{id}", "/v1/executions/" + execIDs[0], bareExecSQL, execIDs[0], 0.7},
		{"GET /v1/cues?limit=50", "/v1/cues?limit=50", bareListSQL, "", 0.5},
	}
	for _, rd := range reads {
		row := apiBenchRow{Store: store, Name: rd.name, Clients: c.readClients, TargetRatio: rd.ratio, Target: fmt.Sprintf("≥ %.1f× bare", rd.ratio)}
		apiReq := func(int64) (*http.Request, error) { return env.req("GET", rd.path, nil) }
		var bareReq func(int64) (*http.Request, error)
		if env.pool != nil {
			url, stop, err := env.bareServer(rd.bare, rd.arg)
			if err != nil {
				return nil, err
			}
			defer stop()
			bareReq = func(int64) (*http.Request, error) { return http.NewRequest("GET", url, nil) }
		} else {
			row.Target = ""
		}
		if row.API, row.Bare, row.Errors, err = sideBySide(ctx, c, apiReq, bareReq); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "  %-28s api %8.0f/s  bare %8.0f/s\n", rd.name, row.API, row.Bare)
		rows = append(rows, row)
	}

	// Creates: 16 clients, unique names.
	prefix := "c" + core.RandomHex(3) + "-"
	row := apiBenchRow{Store: store, Name: "POST /v1/cues", Clients: 16}
	row.TargetPerSecond = map[string]float64{"postgres": 2000, "sqlite": 3000}[store]
	row.Target = fmt.Sprintf("≥ %.0f/s", row.TargetPerSecond)
	if row.API, row.Errors, err = drive(ctx, 16, c.duration, func(i int64) (*http.Request, error) {
		return env.req("POST", "/v1/cues", benchCreateBody(fmt.Sprintf("%s%d", prefix, i)))
	}); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "  %-28s api %8.0f/s\n", row.Name, row.API)
	rows = append(rows, row)

	// Outcomes: each execution takes one (write-once); the executions
	// belong to the 50 cues in turn (an outcome locks its cue's row).
	if env.pool != nil {
		var cues []string
		if err := pgxscan(ctx, env.pool, &cues, `SELECT id FROM cues WHERE user_id = $1`, string(env.tenant)); err != nil {
			return nil, err
		}
		var ids []string
		for _, c := range cues {
			got, err := env.seedExecutions(ctx, c, 30000/len(cues))
			if err != nil {
				return nil, err
			}
			ids = append(ids, got...)
		}
		// Interleave the cues, as independent receivers would report.
		per := 30000 / len(cues)
		mixed := make([]string, 0, len(ids))
		for i := 0; i < per; i++ {
			for j := range cues {
				mixed = append(mixed, ids[j*per+i])
			}
		}
		ids = mixed
		if _, err := env.pool.Exec(ctx, "ANALYZE executions"); err != nil {
			return nil, err
		}
		row := apiBenchRow{Store: store, Name: "POST /v1/executions/{id}/outcome", Clients: 16, TargetPerSecond: 2000, Target: "≥ 2000/s"}
		body := []byte(`{"success":true,"result":"ok"}`)
		if row.API, row.Errors, err = drive(ctx, 16, c.duration, func(i int64) (*http.Request, error) {
			if int(i) > len(ids) {
				return nil, errors.New("outcome benchmark ran out of seeded executions")
			}
			return env.req("POST", "/v1/executions/"+ids[i-1]+"/outcome", body)
		}); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "  %-28s api %8.0f/s\n", row.Name, row.API)
		rows = append(rows, row)
	}

	// Create rate at 1k and at 100k stored cues (one fresh account; the
	// seeded cues are two thirds active).
	key, u, err := env.app.Accounts.Register(ctx, "size-"+core.RandomHex(4)+"@example.com")
	if err != nil {
		return nil, err
	}
	sized := &apiEnv{app: env.app, base: env.base, key: key, tenant: u.ID, pool: env.pool, dbPath: env.dbPath}
	var first float64
	seeded := 0
	for _, n := range c.sizes {
		t0 := time.Now()
		if err := sized.seedCues(ctx, seeded, n-seeded); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "  seeded %d cues in %.1fs\n", n-seeded, time.Since(t0).Seconds())
		seeded = n
		row := apiBenchRow{Store: store, Name: fmt.Sprintf("POST /v1/cues at %s stored", human(n)), Clients: 16}
		pfx := fmt.Sprintf("s%d-", n)
		if row.API, row.Errors, err = drive(ctx, 16, c.duration, func(i int64) (*http.Request, error) {
			return sized.req("POST", "/v1/cues", benchCreateBody(fmt.Sprintf("%s%d", pfx, i)))
		}); err != nil {
			return nil, err
		}
		if first == 0 {
			first = row.API
		} else {
			row.TargetPerSecond = 0.8 * first
			row.Target = fmt.Sprintf("≥ 80%% of the %s rate (%.0f%%)", human(c.sizes[0]), 100*row.API/first)
		}
		fmt.Fprintf(stdout, "  %-28s api %8.0f/s\n", row.Name, row.API)
		rows = append(rows, row)
	}
	if len(c.sizes) == 0 {
		return rows, nil
	}
	// The service's own memory: the in-process service stops (SQLite: its
	// writer closes, the file stays) and `cueapi serve` runs alone on the
	// same data, under a modest load of the seeded account.
	env.stop()
	m, err := measureServeRSS(ctx, env.vars, key, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("service RSS: %w", err)
	}
	fmt.Fprintf(stdout, "  RSS of the service process (cueapi serve, alone) with %s cues stored, after %s of load (%.0f req/s): %.1f MB (peak %.1f MB; now %.1f MB anonymous, %.1f MB file-backed: the executable's pages)\n",
		human(seeded), m.load, m.rps, m.rss, m.peak, m.anon, m.file)
	rows = append(rows, apiBenchRow{Store: store, Name: fmt.Sprintf("RSS of cueapi serve at %s stored", human(seeded)), Clients: serveRSSClients,
		Errors: m.errors, RSSMB: m.rss, PeakMB: m.peak, TargetMaxMB: 64, Target: "< 64 MB"})
	return rows, nil
}

// serveRSSClients drive the separate service while its memory is measured.
const serveRSSClients = 8

// serveRSS is what measureServeRSS saw.
type serveRSS struct {
	rss, peak  float64 // MB: VmRSS after the load, VmHWM
	anon, file float64 // MB: RssAnon and RssFile (+RssShmem) of rss
	rps        float64
	errors     int
	load       time.Duration
}

// measureServeRSS starts this executable as `cueapi serve` with vars (and
// a free loopback port) in a clean environment, waits for /status, drives
// creates, reads and lists of the account with key for load, reads the
// process's VmRSS and VmHWM, and stops it with SIGTERM.
func measureServeRSS(ctx context.Context, vars map[string]string, key string, load time.Duration) (_ serveRSS, err error) {
	exe, err := os.Executable()
	if err != nil {
		return serveRSS{}, err
	}
	port, err := freePort()
	if err != nil {
		return serveRSS{}, err
	}
	env := []string{"HOST=127.0.0.1", fmt.Sprintf("PORT=%d", port)}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	// The Go runtime's knobs and the temporary directory, when the
	// benchmark runs with them, apply to the service too.
	for _, k := range []string{"GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	cmd := exec.Command(exe, "serve")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		return serveRSS{}, err
	}
	// exited closes when the process has exited (waitErr then holds how).
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := sync.OnceValue(func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM) // a no-op once it has exited
		select {
		case <-exited:
			if waitErr != nil {
				return fmt.Errorf("service exit after SIGTERM: %w", waitErr)
			}
			return nil
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("service did not stop within 30 s of SIGTERM")
		}
	})
	defer func() {
		_ = stop()
		if err != nil && stderr.Len() > 0 {
			err = fmt.Errorf("%w; service stderr: %s", err, bytes.TrimSpace(stderr.Bytes()))
		}
	}()
	e := &apiEnv{base: fmt.Sprintf("http://127.0.0.1:%d", port), key: key}
	if err := waitReady(ctx, e.base+"/status", exited, time.Minute); err != nil {
		return serveRSS{}, err
	}
	cueID, err := e.createCue("rss-read-target")
	if err != nil {
		return serveRSS{}, err
	}
	prefix := "rss" + core.RandomHex(3) + "-"
	var m serveRSS
	m.load = load
	m.rps, m.errors, err = drive(ctx, serveRSSClients, load, func(i int64) (*http.Request, error) {
		switch i % 3 {
		case 0:
			return e.req("POST", "/v1/cues", benchCreateBody(fmt.Sprintf("%s%d", prefix, i)))
		case 1:
			return e.req("GET", "/v1/cues/"+cueID, nil)
		default:
			return e.req("GET", "/v1/cues?limit=50", nil)
		}
	})
	if err != nil {
		return serveRSS{}, err
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return serveRSS{}, fmt.Errorf("read the service's memory (Linux /proc only): %w", err)
	}
	rss, ok1 := procStatusKB(b, "VmRSS")
	hwm, ok2 := procStatusKB(b, "VmHWM")
	if !ok1 || !ok2 {
		return serveRSS{}, errors.New("no VmRSS/VmHWM in /proc/<pid>/status")
	}
	anon, _ := procStatusKB(b, "RssAnon")
	m.rss, m.peak, m.anon = float64(rss)/1024, float64(hwm)/1024, float64(anon)/1024
	m.file = m.rss - m.anon // RssFile, and RssShmem when the executable is on tmpfs
	return m, stop()
}

// waitReady polls url until it answers 200, the process exits or wait passes.
func waitReady(ctx context.Context, url string, exited <-chan struct{}, wait time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(wait)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s (last: %v)", url, wait, err)
		}
		select {
		case <-exited:
			return errors.New("service exited before it was ready")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort is a loopback TCP port free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// procStatusKB is the value of field (e.g. "VmRSS") in the text of a
// /proc/<pid>/status file, in kB.
func procStatusKB(status []byte, field string) (int64, bool) {
	for _, line := range strings.Split(string(status), "\n") {
		v, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(v), " ")
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n < 0 || strings.TrimSpace(unit) != "kB" {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

func human(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

const (
	bareCueSQL = `SELECT row_to_json(c)::text,
  (SELECT coalesce(json_agg(e), '[]')::text FROM (SELECT * FROM executions WHERE cue_id = c.id ORDER BY created_at DESC, id DESC LIMIT 10) e),
  (SELECT count(*) FROM executions WHERE cue_id = c.id)
FROM cues c WHERE c.id = $1 AND c.user_id = $2`
	bareExecSQL = `SELECT row_to_json(e)::text, '', 0 FROM executions e WHERE e.id = $1::uuid AND e.user_id = $2`
	bareListSQL = `SELECT coalesce(json_agg(c), '[]')::text, '', (SELECT count(*) FROM cues WHERE user_id = $2)
FROM (SELECT * FROM cues WHERE user_id = $2 AND $1 = '' ORDER BY created_at DESC, id DESC LIMIT 50) c`
)

// bareServer serves query (one statement, $1 = arg, $2 = tenant) from a
// plain net/http handler over the store's pool; it returns its URL and a
// stop function.
func (e *apiEnv) bareServer(query, arg string) (string, func(), error) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a, b string
		var n int64
		if err := e.pool.QueryRow(r.Context(), query, arg, string(e.tenant)).Scan(&a, &b, &n); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"row":%s,"rel":%q,"n":%d}`, a, b, n)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/bare", func() { _ = srv.Close() }, nil
}

// readRounds is how many turns the API and the bare handler each take in
// a read phase; a turn is a quarter of the phase duration, so each side
// runs twice the duration in all.
const readRounds = 8

// sideBySide drives the API's requests and the bare handler's (nil: none)
// in turns — readRounds turns of c.duration/4 each, after a warm-up of
// both whose figures are dropped (the first phase after a start would also
// pay for filling pools, caches and the heap) — so that a change in the
// machine's speed during the run (other tenants of the host, background
// work, frequency) falls on both figures alike instead of on whichever ran
// at the time. Each side keeps its client, and so its connections, across
// its turns. It returns the requests per second of each over all its turns
// and the API's failures.
func sideBySide(ctx context.Context, c apiBenchConfig, apiReq, bareReq func(int64) (*http.Request, error)) (api, bare float64, errs int, err error) {
	turn := c.duration / 4
	warm := min(c.duration/4, 500*time.Millisecond)
	apiHC, bareHC := loadClient(c.readClients), loadClient(c.readClients)
	defer apiHC.CloseIdleConnections()
	defer bareHC.CloseIdleConnections()
	if _, _, err := driveWith(ctx, apiHC, c.readClients, warm, apiReq); err != nil {
		return 0, 0, 0, err
	}
	if bareReq != nil {
		if _, _, err := driveWith(ctx, bareHC, c.readClients, warm, bareReq); err != nil {
			return 0, 0, 0, err
		}
	}
	var apiN, bareN float64
	for range readRounds {
		rps, bad, err := driveWith(ctx, apiHC, c.readClients, turn, apiReq)
		if err != nil {
			return 0, 0, 0, err
		}
		apiN, errs = apiN+rps*turn.Seconds(), errs+bad
		if bareReq != nil {
			rps, _, err := driveWith(ctx, bareHC, c.readClients, turn, bareReq)
			if err != nil {
				return 0, 0, 0, err
			}
			bareN += rps * turn.Seconds()
		}
	}
	total := (turn * readRounds).Seconds()
	return apiN / total, bareN / total, errs, nil
}

// seedExecutions inserts n delivered (success) executions of cue with
// distinct scheduled_for instants, in one statement, and returns their ids.
func (e *apiEnv) seedExecutions(ctx context.Context, cue string, n int) ([]string, error) {
	var ids []string
	if e.pool != nil {
		rows, err := e.pool.Query(ctx, `INSERT INTO executions (id, cue_id, user_id, transport, scheduled_for, status, http_status, attempts, delivered_at, created_at, updated_at)
SELECT gen_random_uuid(), $1, $2, 'webhook', now() - g * interval '1 second', 'success', 200, 1, now(), now(), now()
FROM generate_series(1, $3::int) AS g RETURNING id::text`, cue, string(e.tenant), n)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		return ids, rows.Err()
	}
	db, err := e.sqliteDB()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		id := core.NewUUID()
		ts := now.Add(-time.Duration(i+1) * time.Second).Format("2006-01-02T15:04:05.000000Z")
		if _, err := tx.ExecContext(ctx, `INSERT INTO executions (id, cue_id, user_id, transport, scheduled_for, status, http_status, attempts, delivered_at, created_at, updated_at)
VALUES (?, ?, ?, 'webhook', ?, 'success', 200, 1, ?, ?, ?)`, id, cue, string(e.tenant), ts, ts, ts, ts); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, tx.Commit()
}

// pgxscan reads one text column of query's rows into out.
func pgxscan(ctx context.Context, pool *pgxpool.Pool, out *[]string, query string, args ...any) error {
	rows, err := pool.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return err
		}
		*out = append(*out, v)
	}
	return rows.Err()
}

func (e *apiEnv) sqliteDB() (*sql.DB, error) {
	db, err := sql.Open("sqlite", e.dbPath+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// seedCues bulk-inserts n worker cues of the tenant numbered from..from+n
// (two thirds active, one third completed) in one statement — the
// migration 0010 triggers keep the active cue count — then refreshes the
// planner's statistics.
func (e *apiEnv) seedCues(ctx context.Context, from, n int) error {
	if n <= 0 {
		return nil
	}
	if e.pool != nil {
		if _, err := e.pool.Exec(ctx, `INSERT INTO cues (id, user_id, name, status, transport, schedule_type, schedule_timezone,
    callback_method, retry_max_attempts, retry_backoff_minutes, on_failure_email, on_failure_pause, created_at, updated_at)
SELECT 'cue_seed' || md5($1 || g), $1::uuid, 'seed-' || g, CASE WHEN g % 3 = 0 THEN 'completed' ELSE 'active' END, 'worker', 'once', 'UTC',
    'POST', 3, '[1]', false, false, now(), now()
FROM generate_series($2::int + 1, $2::int + $3::int) AS g`, string(e.tenant), from, n); err != nil {
			return err
		}
		_, err := e.pool.Exec(ctx, "ANALYZE cues")
		return err
	}
	db, err := e.sqliteDB()
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `WITH RECURSIVE g(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM g WHERE n < ?)
INSERT INTO cues (id, user_id, name, status, transport, schedule_type, schedule_timezone,
    callback_method, retry_max_attempts, retry_backoff_minutes, on_failure_email, on_failure_pause, created_at, updated_at)
SELECT 'cue_seed' || hex(randomblob(8)) || n, ?, 'seed-' || n, CASE WHEN n % 3 = 0 THEN 'completed' ELSE 'active' END, 'worker', 'once', 'UTC',
    'POST', 3, '[1]', 0, 0, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'
FROM g`, from+1, from+n, string(e.tenant)); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "ANALYZE cues")
	return err
}

// analyze refreshes the planner's statistics after seeding (as autovacuum
// would in a while).
func (e *apiEnv) analyze(ctx context.Context) error {
	if e.pool != nil {
		_, err := e.pool.Exec(ctx, "ANALYZE")
		return err
	}
	db, err := e.sqliteDB()
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "ANALYZE")
	return err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
