//go:build unix

package workerd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
)

// ---- a fake API: just the endpoints the worker uses ----

const workerTestKey = "test-key-do-not-log"

type fakeWorkerExec struct {
	item      apiclient.ClaimableExecution
	status    string // pending, delivering
	claimedBy string
	outcome   bool
}

type fakeLeaseBeat struct {
	id, workerID string
}

type fakeOutcome struct {
	id     string
	status int // what the fake answered
	req    apiclient.ReportOutcomeRequest
	raw    map[string]json.RawMessage
}

type fakeWorkerAPI struct {
	srv *httptest.Server

	mu           sync.Mutex
	execs        map[string]*fakeWorkerExec
	order        []string
	leaseSeconds int
	conflict     map[string]bool // claims of these always 409
	failOutcome  []int           // statuses answered to the next outcome reports
	rejectURL    bool            // 422 for outcomes carrying result_url
	workerBeats  []apiclient.WorkerHeartbeatRequest
	userAgents   []string // of the worker heartbeats
	claimed      []string // every claim attempt, by execution id
	claimWorkers []string
	outcomeLog   []fakeOutcome
	seen         map[string]int // outcomes of an id already returned by outcomeFor

	claims     chan string
	leaseBeats chan fakeLeaseBeat
	outcomes   chan fakeOutcome
}

func newFakeWorkerAPI(t *testing.T) *fakeWorkerAPI {
	f := &fakeWorkerAPI{
		execs:        map[string]*fakeWorkerExec{},
		conflict:     map[string]bool{},
		seen:         map[string]int{},
		leaseSeconds: 900,
		claims:       make(chan string, 1024),
		leaseBeats:   make(chan fakeLeaseBeat, 1024),
		outcomes:     make(chan fakeOutcome, 1024),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/worker/heartbeat", f.workerHeartbeat)
	mux.HandleFunc("GET /v1/executions/claimable", f.claimable)
	mux.HandleFunc("POST /v1/executions/{id}/claim", f.claim)
	mux.HandleFunc("POST /v1/executions/{id}/heartbeat", f.leaseBeat)
	mux.HandleFunc("POST /v1/executions/{id}/outcome", f.outcome)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+workerTestKey {
			fakeJSON(w, 401, fakeErr(401, "invalid_api_key", "Invalid API key"))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func fakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fakeErr(status int, code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}}
}

func send[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// add makes an execution claimable.
func (f *fakeWorkerAPI) add(id, cueName string, task *string, payload string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs[id] = &fakeWorkerExec{status: "pending", item: apiclient.ClaimableExecution{
		ExecutionID: id, CueID: "cue_" + id, CueName: cueName, Task: task, Payload: json.RawMessage(payload),
		ScheduledFor: time.Date(2026, 3, 20, 10, 0, len(f.order), 0, time.UTC),
	}}
	f.order = append(f.order, id)
}

func (f *fakeWorkerAPI) workerHeartbeat(w http.ResponseWriter, r *http.Request) {
	var req apiclient.WorkerHeartbeatRequest
	if json.NewDecoder(r.Body).Decode(&req) != nil {
		fakeJSON(w, 400, fakeErr(400, "invalid_json", "bad"))
		return
	}
	f.mu.Lock()
	f.workerBeats = append(f.workerBeats, req)
	f.userAgents = append(f.userAgents, r.Header.Get("User-Agent"))
	f.mu.Unlock()
	fakeJSON(w, 200, map[string]any{"acknowledged": true, "server_time": time.Now().UTC().Format(time.RFC3339)})
}

func (f *fakeWorkerAPI) claimable(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	list := []apiclient.ClaimableExecution{}
	for _, id := range f.order {
		if e := f.execs[id]; e.status == "pending" && !e.outcome {
			list = append(list, e.item)
		}
	}
	f.mu.Unlock()
	fakeJSON(w, 200, apiclient.ClaimableList{Executions: list})
}

func (f *fakeWorkerAPI) claim(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req apiclient.ClaimRequest
	if json.NewDecoder(r.Body).Decode(&req) != nil || req.WorkerID == "" {
		fakeJSON(w, 422, fakeErr(422, "validation_error", "body.worker_id: Field required"))
		return
	}
	f.mu.Lock()
	f.claimed = append(f.claimed, id)
	f.claimWorkers = append(f.claimWorkers, req.WorkerID)
	e := f.execs[id]
	ok := e != nil && e.status == "pending" && !f.conflict[id]
	if ok {
		e.status, e.claimedBy = "delivering", req.WorkerID
		e.item.Attempt++
	}
	lease := f.leaseSeconds
	f.mu.Unlock()
	send(f.claims, id)
	if !ok {
		fakeJSON(w, 409, fakeErr(409, "claim_failed", "Execution not available for claiming"))
		return
	}
	fakeJSON(w, 200, apiclient.ClaimResponse{Claimed: true, ExecutionID: id, LeaseSeconds: lease})
}

func (f *fakeWorkerAPI) leaseBeat(w http.ResponseWriter, r *http.Request) {
	id, wid := r.PathValue("id"), r.Header.Get("X-Worker-Id")
	f.mu.Lock()
	e := f.execs[id]
	status := 200
	switch {
	case e == nil:
		status = 404
	case e.status != "delivering":
		status = 409
	case wid != "" && wid != e.claimedBy:
		status = 403
	}
	f.mu.Unlock()
	send(f.leaseBeats, fakeLeaseBeat{id: id, workerID: wid})
	if status != 200 {
		fakeJSON(w, status, fakeErr(status, "nope", "nope"))
		return
	}
	fakeJSON(w, 200, apiclient.ExecutionHeartbeatResponse{Acknowledged: true, ExecutionID: id, LeaseExtendedUntil: "2026-03-20T10:15:00+00:00"})
}

func (f *fakeWorkerAPI) outcome(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	o := fakeOutcome{id: id}
	if json.Unmarshal(body.Bytes(), &o.req) != nil || json.Unmarshal(body.Bytes(), &o.raw) != nil {
		fakeJSON(w, 400, fakeErr(400, "invalid_json", "bad"))
		return
	}
	f.mu.Lock()
	e := f.execs[id]
	switch {
	case len(f.failOutcome) > 0:
		o.status, f.failOutcome = f.failOutcome[0], f.failOutcome[1:]
	case e == nil:
		o.status = 404
	case f.rejectURL && o.req.ResultURL != nil:
		o.status = 422
	case e.outcome:
		o.status = 409
	default:
		o.status = 200
		e.outcome = true
	}
	f.outcomeLog = append(f.outcomeLog, o)
	f.mu.Unlock()
	send(f.outcomes, o)
	if o.status != 200 {
		fakeJSON(w, o.status, fakeErr(o.status, "some_error", "rejected"))
		return
	}
	fakeJSON(w, 200, apiclient.OutcomeReportResponse{ExecutionID: id, OutcomeRecorded: true, OutcomeState: "reported_success"})
}

func (f *fakeWorkerAPI) claimAttempts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.claimed)
}

func (f *fakeWorkerAPI) outcomeCalls() []fakeOutcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.outcomeLog)
}

// ---- running a worker in-process ----

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testWorker struct {
	w      *Worker
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

// testWorkerConfig has short intervals and points at the fake (through the
// /v1 form of the base URL).
func testWorkerConfig(f *fakeWorkerAPI, handlers map[string]Handler) Config {
	return Config{
		APIURL:            f.srv.URL + "/v1",
		APIKey:            workerTestKey,
		WorkerID:          "w-test",
		PollInterval:      20 * time.Millisecond,
		HeartbeatInterval: 50 * time.Millisecond,
		Concurrency:       1,
		DrainTimeout:      10 * time.Second,
		KillGrace:         200 * time.Millisecond,
		ReportBackoff:     10 * time.Millisecond,
		Handlers:          handlers,
	}
}

func startTestWorker(t *testing.T, cfg Config) *testWorker {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	tw := &testWorker{w: New(cfg, log), cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { tw.done <- tw.w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		tw.w.StopNow()
		select {
		case <-tw.done:
		case <-time.After(10 * time.Second):
			t.Error("worker did not stop")
		}
	})
	return tw
}

// stop cancels the worker and waits (bounded) for Run to return nil.
func (tw *testWorker) stop(t *testing.T, within time.Duration) {
	t.Helper()
	tw.cancel()
	select {
	case err := <-tw.done:
		require.NoError(t, err)
		tw.done <- nil // for the cleanup
	case <-time.After(within):
		t.Fatal("worker did not stop in time")
	}
}

func recvWithin[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// outcomeFor waits for the next outcome report of id (in order of arrival;
// reports of other executions stay available to their own calls).
func outcomeFor(t *testing.T, f *fakeWorkerAPI, id string) fakeOutcome {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		f.mu.Lock()
		var hits []fakeOutcome
		for _, o := range f.outcomeLog {
			if o.id == id {
				hits = append(hits, o)
			}
		}
		if n := f.seen[id]; len(hits) > n {
			f.seen[id]++
			f.mu.Unlock()
			return hits[n]
		}
		f.mu.Unlock()
		select {
		case <-f.outcomes: // something arrived: look again
		case <-deadline:
			t.Fatalf("no outcome reported for %s", id)
		}
	}
}

// waitUntil polls cond on a ticker, bounded (for conditions that have no
// event to wait on, such as a process disappearing).
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// processGone: no such process, or a zombie nobody reaps yet.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] == 'Z' || stat[i+2] == 'X'
	}
	return false
}

// readFIFO reads a FIFO in the background (opening it blocks until the
// handler opens it for writing).
func readFIFO(t *testing.T, path string) <-chan string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		b, err := os.ReadFile(path)
		if err == nil {
			ch <- strings.TrimSpace(string(b))
		}
	}()
	return ch
}

// writeFIFO writes to a FIFO, bounded.
func writeFIFO(t *testing.T, path, s string) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- os.WriteFile(path, []byte(s), 0o600) }()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("nobody read the FIFO")
	}
}

func mkfifo(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	return p
}

func sh(line string, env map[string]string) Handler {
	h := ShellHandler(line)
	h.Env = env
	return h
}

// ---- behaviour ----

func TestWorkerRunsMatchingExecution(t *testing.T) {
	t.Parallel()
	f := newFakeWorkerAPI(t)
	dir := t.TempDir()
	payload := `{"task":"say-hello","who":"bob-secret-payload","n":3}`
	f.add("e1", "greet", ptrString("say-hello"), payload)
	tw := startTestWorker(t, testWorkerConfig(f, map[string]Handler{
		"greet": sh(`cat > "$OUT/stdin"; env | grep '^CUEAPI_\|^EXTRA=' | sort > "$OUT/env"; echo "hello from $CUEAPI_CUE_NAME"; echo`,
			map[string]string{"OUT": dir, "EXTRA": "x"}),
	}))

	o := outcomeFor(t, f, "e1")
	require.Equal(t, 200, o.status)
	require.True(t, o.req.Success)
	require.NotNil(t, o.req.Result)
	require.Equal(t, "hello from greet", *o.req.Result)
	f.mu.Lock()
	require.Equal(t, DefaultUserAgent, f.userAgents[0], "the default User-Agent")
	f.mu.Unlock()
	require.Nil(t, o.req.Error)

	stdin, err := os.ReadFile(filepath.Join(dir, "stdin"))
	require.NoError(t, err)
	require.JSONEq(t, payload, string(stdin))
	envText, err := os.ReadFile(filepath.Join(dir, "env"))
	require.NoError(t, err)
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(envText)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	require.Equal(t, "e1", env["CUEAPI_EXECUTION_ID"])
	require.Equal(t, "cue_e1", env["CUEAPI_CUE_ID"])
	require.Equal(t, "greet", env["CUEAPI_CUE_NAME"])
	require.Equal(t, "say-hello", env["CUEAPI_TASK"])
	require.Equal(t, "1", env["CUEAPI_ATTEMPT"])
	require.Equal(t, "2026-03-20T10:00:00Z", env["CUEAPI_SCHEDULED_FOR"])
	require.JSONEq(t, payload, env["CUEAPI_PAYLOAD"])
	require.NotEmpty(t, env["CUEAPI_OUTCOME_FILE"])
	require.Equal(t, "x", env["EXTRA"])
	require.NotContains(t, env, "CUEAPI_API_KEY")
	// The outcome file is removed after the job.
	_, err = os.Stat(env["CUEAPI_OUTCOME_FILE"])
	require.True(t, os.IsNotExist(err))

	tw.stop(t, 10*time.Second)
	f.mu.Lock()
	require.NotEmpty(t, f.workerBeats)
	require.Equal(t, "w-test", f.workerBeats[0].WorkerID)
	require.NotNil(t, f.workerBeats[0].Handlers)
	require.Equal(t, []string{"greet"}, *f.workerBeats[0].Handlers)
	require.Equal(t, []string{"e1"}, f.claimed)
	require.Equal(t, []string{"w-test"}, f.claimWorkers)
	f.mu.Unlock()
	require.Len(t, f.outcomeCalls(), 1)

	logs := tw.logs.String()
	require.Contains(t, logs, `"outcome reported"`)
	require.NotContains(t, logs, workerTestKey)
	require.NotContains(t, logs, "bob-secret-payload")
}

func TestWorkerReportsFailureWithStderr(t *testing.T) {
	t.Parallel()
	f := newFakeWorkerAPI(t)
	f.add("e1", "flaky", nil, `{}`)
	startTestWorker(t, testWorkerConfig(f, map[string]Handler{
		"flaky": sh(`echo partial output; echo "boom: disk full" >&2; exit 3`, nil),
	}))
	o := outcomeFor(t, f, "e1")
	require.False(t, o.req.Success)
	require.Nil(t, o.req.Result)
	require.NotNil(t, o.req.Error)
	require.Equal(t, "exit status 3: boom: disk full", *o.req.Error)
}

func TestWorkerTruncatesOutput(t *testing.T) {
	t.Parallel()
	f := newFakeWorkerAPI(t)
	f.add("ok", "loud", nil, `{}`)
	f.add("bad", "loud-fail", nil, `{}`)
	cfg := testWorkerConfig(f, map[string]Handler{
		// 100 KB of output, more than the kept tail; the last line is the marker.
		"loud":      sh(`i=0; while [ $i -lt 2000 ]; do echo "line $i ééééééééééééééééééééééééééééééééééééééééé"; i=$((i+1)); done; echo END`, nil),
		"loud-fail": sh(`i=0; while [ $i -lt 2000 ]; do echo "line $i éééééééééééééééééééééééééééééééé" >&2; i=$((i+1)); done; echo LAST >&2; exit 1`, nil),
	})
	cfg.Concurrency = 2
	startTestWorker(t, cfg)
	o := outcomeFor(t, f, "ok")
	require.True(t, o.req.Success)
	require.Equal(t, 2000, len([]rune(*o.req.Result)))
	require.True(t, strings.HasSuffix(*o.req.Result, "\nEND"))
	o = outcomeFor(t, f, "bad")
	require.False(t, o.req.Success)
	require.Equal(t, 2000, len([]rune(*o.req.Error)))
	require.True(t, strings.HasPrefix(*o.req.Error, "exit status 1: "))
	require.True(t, strings.HasSuffix(*o.req.Error, "LAST"))
}

func TestWorkerMergesOutcomeFile(t *testing.T) {
	t.Parallel()
	f := newFakeWorkerAPI(t)
	f.add("evidence", "evidence", nil, `{}`)
	f.add("says-failed", "says-failed", nil, `{}`)
	f.add("says-ok", "says-ok", nil, `{}`)
	cfg := testWorkerConfig(f, map[string]Handler{
		"evidence": sh(`echo ignored stdout; cat > "$CUEAPI_OUTCOME_FILE" <<'EOF'
{"result": "42 rows", "external_id": "ext-1", "result_url": "https://reports.example/r/1",
 "result_ref": "ref-9", "result_type": "report", "summary": "all good",
 "artifacts": [{"name": "a.csv"}], "metadata": {"rows": 42}}
EOF`, nil),
		"says-failed": sh(`echo '{"success": false, "error": "validation failed"}' > "$CUEAPI_OUTCOME_FILE"; echo fine`, nil),
		"says-ok":     sh(`echo '{"success": true, "result": {"n": 1}}' > "$CUEAPI_OUTCOME_FILE"; echo nope >&2; exit 4`, nil),
	})
	cfg.Concurrency = 3
	startTestWorker(t, cfg)

	o := outcomeFor(t, f, "evidence")
	require.True(t, o.req.Success)
	require.Equal(t, "42 rows", *o.req.Result)
	require.Equal(t, "ext-1", *o.req.ExternalID)
	require.Equal(t, "https://reports.example/r/1", *o.req.ResultURL)
	require.Equal(t, "ref-9", *o.req.ResultRef)
	require.Equal(t, "report", *o.req.ResultType)
	require.Equal(t, "all good", *o.req.Summary)
	require.JSONEq(t, `[{"name":"a.csv"}]`, string(*o.req.Artifacts))
	require.JSONEq(t, `{"rows":42}`, string(*o.req.Metadata))

	o = outcomeFor(t, f, "says-failed")
	require.False(t, o.req.Success)
	require.Equal(t, "validation failed", *o.req.Error)
	require.Nil(t, o.req.Result, "stdout is the result of successes only")

	o = outcomeFor(t, f, "says-ok")
	require.True(t, o.req.Success)
	require.Equal(t, `{"n":1}`, *o.req.Result)
	require.Nil(t, o.req.Error)
}

func TestWorkerTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	f := newFakeWorkerAPI(t)
	dir := t.TempDir()
	f.add("e1", "stuck", nil, `{}`)
	// Leader and child both ignore SIGTERM, so only the SIGKILL to the whole
	// group ends them.
	h := sh(`trap '' TERM; sleep 60 & echo $! > "$OUT/child"; echo $$ > "$OUT/leader"; wait; echo never`, map[string]string{"OUT": dir})
	h.Timeout = time.Second
	startTestWorker(t, testWorkerConfig(f, map[string]Handler{"stuck": h}))

	o := outcomeFor(t, f, "e1")
	require.False(t, o.req.Success)
	require.Equal(t, "timed out after 1s", *o.req.Error)
	for _, name := range []string{"leader", "child"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		require.NoError(t, err)
		waitUntil(t, 5*time.Second, name+" process to die", func() bool { return processGone(pid) })
	}
}

func TestWorkerHeartbeatsExecutionWhileRunning(t *testing.T) {
	t.Parallel()
	f := newFakeWorkerAPI(t)
	f.leaseSeconds = 1 // renew every ~333ms
	dir := t.TempDir()
	fifo := mkfifo(t, dir, "go")
	f.add("e1", "long", nil, `{}`)
	startTestWorker(t, testWorkerConfig(f, map[string]Handler{
		"long": sh(`read line < "$OUT/go"; echo "got $line"`, map[string]string{"OUT": dir}),
	}))

	beat := recvWithin(t, f.leaseBeats, 10*time.Second, "an execution heartbeat")
	require.Equal(t, "e1", beat.id)
	require.Equal(t, "w-test", beat.workerID)
	require.Empty(t, f.outcomeCalls(), "no outcome while the handler blocks")
	writeFIFO(t, fifo, "go\n")

	o := outcomeFor(t, f, "e1")
	require.True(t, o.req.Success)
	require.Equal(t, "got go", *o.req.Result)
}

func TestWorkerSkipsExecutionsWithoutHandler(t *testing.T) {
	t.Parallel()
	f := newFakeWorkerAPI(t)
	f.add("unknown", "nobody-handles-this", ptrString("nor-this"), `{"task":"nor-this"}`)
	f.add("by-task", "some-cue", ptrString("t1"), `{"task":"t1"}`)
	f.add("by-name", "named", ptrString("t1"), `{"task":"t1"}`)
	tw := startTestWorker(t, testWorkerConfig(f, map[string]Handler{
		"t1":    sh(`echo "task $CUEAPI_TASK"`, nil),
		"named": sh(`echo "name $CUEAPI_CUE_NAME"`, nil),
	}))

	require.Equal(t, "task t1", *outcomeFor(t, f, "by-task").req.Result)
	// The cue name wins over the task.
	require.Equal(t, "name named", *outcomeFor(t, f, "by-name").req.Result)
	tw.stop(t, 10*time.Second)
	require.NotContains(t, f.claimAttempts(), "unknown")
	for _, o := range f.outcomeCalls() {
		require.NotEqual(t, "unknown", o.id)
	}
}

func TestWorkerClaimConflictSkips(t *testing.T) {
	t.Parallel()
	f := newFakeWorkerAPI(t)
	f.add("taken", "job", nil, `{}`)
	f.add("free", "job", nil, `{}`)
	f.conflict["taken"] = true
	tw := startTestWorker(t, testWorkerConfig(f, map[string]Handler{"job": sh(`echo "ran $CUEAPI_EXECUTION_ID"`, nil)}))

	// With one slot, the failed claim must hand its slot back.
	require.Equal(t, "ran free", *outcomeFor(t, f, "free").req.Result)
	tw.stop(t, 10*time.Second)
	claims := f.claimAttempts()
	require.Equal(t, "taken", claims[0])
	require.Contains(t, claims, "free")
	for _, o := range f.outcomeCalls() {
		require.Equal(t, "free", o.id)
	}
}

func TestWorkerGracefulStop(t *testing.T) {
	t.Parallel()
	t.Run("a job still running after the drain timeout is killed and not reported", func(t *testing.T) {
		t.Parallel()
		f := newFakeWorkerAPI(t)
		dir := t.TempDir()
		started := readFIFO(t, mkfifo(t, dir, "started"))
		f.add("e1", "forever", nil, `{}`)
		cfg := testWorkerConfig(f, map[string]Handler{
			"forever": sh(`echo $$ > "$OUT/started"; exec sleep 60`, map[string]string{"OUT": dir}),
		})
		cfg.DrainTimeout = 200 * time.Millisecond
		tw := startTestWorker(t, cfg)

		pid, err := strconv.Atoi(recvWithin(t, started, 10*time.Second, "the handler to start"))
		require.NoError(t, err)
		tw.cancel()
		// Work appearing after the stop request is not claimed.
		f.add("late", "forever", nil, `{}`)
		tw.stop(t, 10*time.Second)

		require.Empty(t, f.outcomeCalls())
		require.NotContains(t, f.claimAttempts(), "late")
		waitUntil(t, 5*time.Second, "the handler to die", func() bool { return processGone(pid) })
		require.Contains(t, tw.logs.String(), "not reported")
	})
	t.Run("a job finishing within the drain timeout is reported", func(t *testing.T) {
		t.Parallel()
		f := newFakeWorkerAPI(t)
		dir := t.TempDir()
		fifo := mkfifo(t, dir, "go")
		f.add("e1", "slow", nil, `{}`)
		tw := startTestWorker(t, testWorkerConfig(f, map[string]Handler{
			"slow": sh(`read x < "$OUT/go"; echo drained`, map[string]string{"OUT": dir}),
		}))
		recvWithin(t, f.claims, 10*time.Second, "the claim")
		tw.cancel()
		writeFIFO(t, fifo, "go\n")
		tw.stop(t, 10*time.Second)
		calls := f.outcomeCalls()
		require.Len(t, calls, 1)
		require.True(t, calls[0].req.Success)
		require.Equal(t, "drained", *calls[0].req.Result)
	})
}

func TestWorkerReportRetries(t *testing.T) {
	t.Parallel()
	t.Run("transient failures are retried", func(t *testing.T) {
		t.Parallel()
		f := newFakeWorkerAPI(t)
		f.failOutcome = []int{503, 500}
		f.add("e1", "job", nil, `{}`)
		tw := startTestWorker(t, testWorkerConfig(f, map[string]Handler{"job": sh(`echo ok`, nil)}))
		for _, want := range []int{503, 500, 200} {
			o := outcomeFor(t, f, "e1")
			require.Equal(t, want, o.status)
			require.True(t, o.req.Success)
		}
		tw.stop(t, 10*time.Second)
		require.Len(t, f.outcomeCalls(), 3)
	})
	t.Run("an outcome already recorded is final", func(t *testing.T) {
		t.Parallel()
		f := newFakeWorkerAPI(t)
		f.add("e2", "job", nil, `{}`)
		f.failOutcome = []int{409}
		tw := startTestWorker(t, testWorkerConfig(f, map[string]Handler{"job": sh(`echo ok`, nil)}))
		require.Equal(t, 409, outcomeFor(t, f, "e2").status)
		tw.stop(t, 10*time.Second)
		require.Len(t, f.outcomeCalls(), 1)
		require.Contains(t, tw.logs.String(), "outcome already recorded")
	})
	t.Run("a rejected outcome is resent without the handler's extra fields", func(t *testing.T) {
		t.Parallel()
		f := newFakeWorkerAPI(t)
		f.rejectURL = true
		f.add("e1", "job", nil, `{}`)
		startTestWorker(t, testWorkerConfig(f, map[string]Handler{
			"job": sh(`echo '{"result":"done","result_url":"https://x.example/1","metadata":{"a":1}}' > "$CUEAPI_OUTCOME_FILE"`, nil),
		}))
		require.Equal(t, 422, outcomeFor(t, f, "e1").status)
		o := outcomeFor(t, f, "e1")
		require.Equal(t, 200, o.status)
		require.True(t, o.req.Success)
		require.Equal(t, "done", *o.req.Result)
		require.Nil(t, o.req.ResultURL)
		require.Nil(t, o.req.Metadata)
		require.Contains(t, *o.req.Error, "rejected")
	})
}

func TestWorkerStartFailureIsReported(t *testing.T) {
	t.Parallel()
	f := newFakeWorkerAPI(t)
	f.add("e1", "missing", nil, `{}`)
	startTestWorker(t, testWorkerConfig(f, map[string]Handler{
		"missing": {Argv: []string{filepath.Join(t.TempDir(), "no-such-binary")}},
	}))
	o := outcomeFor(t, f, "e1")
	require.False(t, o.req.Success)
	require.Contains(t, *o.req.Error, "cannot start handler")
}

func TestWorkerRejectedKeyStopsAtStart(t *testing.T) {
	t.Parallel()
	f := newFakeWorkerAPI(t)
	cfg := testWorkerConfig(f, map[string]Handler{"job": sh("true", nil)})
	cfg.APIKey = "wrong"
	errc := make(chan error, 1)
	go func() { errc <- New(cfg, nil).Run(context.Background()) }()
	err := recvWithin(t, errc, 10*time.Second, "Run to fail")
	require.ErrorContains(t, err, "rejected the API key")
	require.NotContains(t, err.Error(), "wrong")
}

// ---- configuration and helpers ----

func TestWorkerBaseURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:8000":          "http://127.0.0.1:8000/",
		"http://127.0.0.1:8000/":         "http://127.0.0.1:8000/",
		"http://127.0.0.1:8000/v1":       "http://127.0.0.1:8000/",
		"https://api.example.com/v1/":    "https://api.example.com/",
		"https://example.com/cueapi/v1":  "https://example.com/cueapi/",
		" https://example.com/cueapi/ ":  "https://example.com/cueapi/",
		"https://example.com/v1?x=1#top": "https://example.com/",
	} {
		got, err := baseURL(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "127.0.0.1:8000", "ftp://example.com", "http://"} {
		_, err := baseURL(bad)
		require.Error(t, err, bad)
	}
}

func TestWorkerJobEnv(t *testing.T) {
	t.Parallel()
	ex := apiclient.ClaimableExecution{ExecutionID: "e", CueID: "c", CueName: "n", Attempt: 2,
		ScheduledFor: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	env := jobEnv([]string{"PATH=/bin", "CUEAPI_API_KEY=secret", "HOME=/root"}, ex, []byte(`{"a":1}`), "/tmp/o.json",
		map[string]string{"HOME": "/srv", "Z": "1"})
	require.NotContains(t, strings.Join(env, "\n"), "secret")
	require.Contains(t, env, "PATH=/bin")
	require.Contains(t, env, "CUEAPI_ATTEMPT=3")
	require.Contains(t, env, "CUEAPI_TASK=")
	require.Contains(t, env, `CUEAPI_PAYLOAD={"a":1}`)
	require.Contains(t, env, "CUEAPI_SCHEDULED_FOR=2026-01-02T03:04:05Z")
	require.Contains(t, env, "CUEAPI_OUTCOME_FILE=/tmp/o.json")
	// The handler's env comes last, so it wins (exec keeps the last value).
	require.Equal(t, "HOME=/srv", env[len(env)-2])

	big := append([]byte(`{"a":"`), append(bytes.Repeat([]byte("x"), envPayloadMax), '"', '}')...)
	env = jobEnv(nil, ex, big, "/tmp/o.json", nil)
	require.Contains(t, env, "CUEAPI_PAYLOAD=")
}

func TestWorkerTextHelpers(t *testing.T) {
	t.Parallel()
	require.Equal(t, "héé", firstChars("héééé", 3))
	require.Equal(t, "éé", lastChars("héééé", 2))
	require.Equal(t, "abc", firstChars("abc", 10))
	require.Equal(t, "abc", lastChars("abc", 10))
	require.Equal(t, "a\uFFFDb", cleanText("a\xffb\x00"))

	tb := &tailBuffer{max: 8}
	for _, s := range []string{"0123", "4567", "89", "é"} {
		_, _ = tb.Write([]byte(s))
	}
	require.Equal(t, "456789é", tb.String())
	_, _ = tb.Write(bytes.Repeat([]byte("z"), 100))
	require.Equal(t, "zzzzzzzz", tb.String())
	tb = &tailBuffer{max: 3}
	_, _ = tb.Write([]byte("aé€")) // the tail cuts into "€" (3 bytes) only at the start
	require.Equal(t, "€", tb.String())
	tb = &tailBuffer{max: 4}
	_, _ = tb.Write([]byte("é€")) // 5 bytes: the first byte of "é" is cut off
	require.Equal(t, "€", tb.String())

	_, err := parseOutcome([]byte(`[1]`))
	require.Error(t, err)
	_, err = parseOutcome([]byte(`{"metadata": [1]}`))
	require.Error(t, err)
	o, err := parseOutcome([]byte(`{"success": null, "result": null, "external_id": 123, "artifacts": null}`))
	require.NoError(t, err)
	require.Nil(t, o.Success)
	require.Nil(t, o.Result)
	require.Equal(t, "123", *o.ExternalID)
	require.Nil(t, o.Artifacts)
}
