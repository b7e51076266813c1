//go:build unix

package workerd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/cueapi/cueapi/api/apiclient"
)

const (
	outputTail     = 64 << 10 // bytes of stdout/stderr kept per job
	resultMax      = 2000     // characters of result / error reported
	summaryMax     = 500
	idFieldMax     = 500 // external_id, result_ref
	resultTypeMax  = 100
	resultURLMax   = 2083
	outcomeFileMax = 1 << 20 // larger outcome files are ignored
	envPayloadMax  = 100_000 // larger payloads are on stdin only
	reportAttempts = 5
	defaultLease   = 900 * time.Second
	httpTimeout    = 30 * time.Second
)

// Run runs a worker for cfg until ctx is done, then drains its running
// jobs; stopNow closing abandons them at once (a second stop request).
func Run(ctx context.Context, cfg Config, log *slog.Logger, stopNow <-chan struct{}) error {
	w := New(cfg, log)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stopNow:
			w.StopNow()
		case <-done:
		}
	}()
	return w.Run(ctx)
}

// Worker is one running pull worker.
type Worker struct {
	cfg     Config
	log     *slog.Logger
	api     *apiclient.ClientWithResponses
	initErr error
	names   []string

	slots   chan struct{} // a token per running job
	wake    chan struct{} // poll now (a job finished)
	stopNow chan struct{} // closed by StopNow
	stopOne sync.Once
	jobs    sync.WaitGroup

	mu      sync.Mutex
	running map[string]bool // execution ids being run here
}

// New builds a worker; configuration errors surface from Run.
func New(cfg Config, log *slog.Logger) *Worker {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{
		cfg:     cfg,
		log:     log,
		names:   cfg.HandlerNames(),
		slots:   make(chan struct{}, cfg.Concurrency),
		wake:    make(chan struct{}, 1),
		stopNow: make(chan struct{}),
		running: map[string]bool{},
	}
	if err := cfg.Validate(); err != nil {
		w.initErr = err
		return w
	}
	base, _ := baseURL(cfg.APIURL)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: httpTimeout}
	}
	key, ua := "Bearer "+cfg.APIKey, cfg.UserAgent
	w.api, w.initErr = apiclient.NewClientWithResponses(base,
		apiclient.WithHTTPClient(hc),
		apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", key)
			r.Header.Set("User-Agent", ua)
			return nil
		}))
	return w
}

// StopNow makes a draining Run abandon its running jobs immediately.
func (w *Worker) StopNow() { w.stopOne.Do(func() { close(w.stopNow) }) }

// Run works until ctx is done, then drains and returns nil. It returns an
// error only for a configuration problem or when the server rejects the
// API key at start.
func (w *Worker) Run(ctx context.Context) error {
	if w.initErr != nil {
		return w.initErr
	}
	w.log.Info("worker starting", "worker_id", w.cfg.WorkerID, "api_url", redactedURL(w.cfg.APIURL),
		"handlers", w.names, "concurrency", w.cfg.Concurrency, "poll_interval", w.cfg.PollInterval.String())
	if err := w.heartbeat(ctx); err != nil {
		var se *statusError
		if errors.As(err, &se) && se.status == http.StatusUnauthorized {
			return fmt.Errorf("worker: the server rejected the API key: %w", err)
		}
		if ctx.Err() == nil {
			w.log.Warn("worker heartbeat failed; continuing", "err", err)
		}
	}

	// Jobs and the worker heartbeat outlive ctx: they are drained first.
	jobsCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	hbCtx, stopHB := context.WithCancel(context.WithoutCancel(ctx))
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		w.heartbeatLoop(hbCtx)
	}()

	w.pollLoop(ctx, jobsCtx)
	w.drain(abandon)
	stopHB()
	<-hbDone
	w.log.Info("worker stopped", "worker_id", w.cfg.WorkerID)
	return nil
}

// ---- worker heartbeat ----

func (w *Worker) heartbeat(ctx context.Context) error {
	names := w.names
	resp, err := w.api.WorkerHeartbeatWithResponse(ctx, apiclient.WorkerHeartbeatRequest{WorkerID: w.cfg.WorkerID, Handlers: &names})
	if err != nil {
		return err
	}
	if resp.StatusCode() != http.StatusOK {
		return newStatusError(resp.StatusCode(), resp.Body)
	}
	return nil
}

func (w *Worker) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(w.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.heartbeat(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("worker heartbeat failed", "err", err)
			}
		}
	}
}

// ---- polling and claiming ----

func (w *Worker) pollLoop(ctx, jobsCtx context.Context) {
	for {
		w.poll(ctx, jobsCtx)
		t := time.NewTimer(w.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-w.wake:
			t.Stop()
		}
	}
}

// poke asks the poll loop to look again now.
func (w *Worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// poll claims and starts what it can from one look at the claimable list.
func (w *Worker) poll(ctx, jobsCtx context.Context) {
	if len(w.slots) == cap(w.slots) || ctx.Err() != nil {
		return
	}
	resp, err := w.api.ListClaimableExecutionsWithResponse(ctx, nil)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("listing claimable executions failed", "err", err)
		}
		return
	}
	if resp.StatusCode() != http.StatusOK || resp.JSON200 == nil {
		w.log.Warn("listing claimable executions failed", "err", newStatusError(resp.StatusCode(), resp.Body))
		return
	}
	for _, ex := range resp.JSON200.Executions {
		if ctx.Err() != nil {
			return
		}
		name, h, ok := w.handlerFor(ex)
		if !ok {
			w.log.Debug("no handler; skipping", "execution_id", ex.ExecutionID, "cue_name", ex.CueName)
			continue
		}
		if w.isRunning(ex.ExecutionID) {
			continue
		}
		select {
		case w.slots <- struct{}{}:
		default:
			return // all slots busy
		}
		// The claim itself runs under jobsCtx: if it succeeds while a stop
		// arrives, the job is run and drained like the others.
		lease, ok := w.claim(jobsCtx, ex)
		if !ok {
			<-w.slots
			continue
		}
		w.start(jobsCtx, ex, name, h, lease)
	}
}

// handlerFor picks the handler by cue name, else by payload task.
func (w *Worker) handlerFor(ex apiclient.ClaimableExecution) (string, Handler, bool) {
	if h, ok := w.cfg.Handlers[ex.CueName]; ok {
		return ex.CueName, h, true
	}
	if ex.Task != nil {
		if h, ok := w.cfg.Handlers[*ex.Task]; ok {
			return *ex.Task, h, true
		}
	}
	return "", Handler{}, false
}

func (w *Worker) claim(ctx context.Context, ex apiclient.ClaimableExecution) (time.Duration, bool) {
	resp, err := w.api.ClaimExecutionWithResponse(ctx, ex.ExecutionID, apiclient.ClaimRequest{WorkerID: w.cfg.WorkerID})
	if err != nil {
		w.log.Warn("claim failed", "execution_id", ex.ExecutionID, "err", err)
		return 0, false
	}
	switch {
	case resp.StatusCode() == http.StatusOK && resp.JSON200 != nil:
		lease := time.Duration(resp.JSON200.LeaseSeconds) * time.Second
		if lease <= 0 {
			lease = defaultLease
		}
		return lease, true
	case resp.StatusCode() == http.StatusConflict:
		w.log.Debug("execution no longer claimable (taken by another worker?)", "execution_id", ex.ExecutionID)
	default:
		w.log.Warn("claim failed", "execution_id", ex.ExecutionID, "err", newStatusError(resp.StatusCode(), resp.Body))
	}
	return 0, false
}

func (w *Worker) isRunning(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running[id]
}

func (w *Worker) setRunning(id string, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if on {
		w.running[id] = true
	} else {
		delete(w.running, id)
	}
}

func (w *Worker) runningCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

// start runs a claimed execution in the background; it owns one slot.
func (w *Worker) start(ctx context.Context, ex apiclient.ClaimableExecution, name string, h Handler, lease time.Duration) {
	w.setRunning(ex.ExecutionID, true)
	w.jobs.Add(1)
	go func() {
		defer func() {
			w.setRunning(ex.ExecutionID, false)
			<-w.slots
			w.jobs.Done()
			w.poke()
		}()
		w.runJob(ctx, ex, name, h, lease)
	}()
}

// drain waits for running jobs up to DrainTimeout (or StopNow), then
// abandons the rest: their processes are killed and nothing is reported, so
// their leases expire and the server hands them out again.
func (w *Worker) drain(abandon context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		w.jobs.Wait()
		close(done)
	}()
	if w.runningCount() == 0 {
		<-done // nothing running: only the last bookkeeping of finished jobs
		return
	}
	w.log.Info("waiting for running jobs", "running", w.runningCount(), "drain_timeout", w.cfg.DrainTimeout.String())
	t := time.NewTimer(w.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	case <-w.stopNow:
	}
	w.log.Warn("abandoning running jobs: killed and not reported; their leases expire and the server hands them out again",
		"running", w.runningCount())
	abandon()
	<-done
}

// ---- running a job ----

// jobRun is what happened to a job's process.
type jobRun struct {
	startErr  error
	exitCode  int // -1 when killed by a signal
	exitErr   error
	timedOut  bool
	abandoned bool
	stdout    string // tails
	stderr    string
	outcome   *outcomeFile
	duration  time.Duration
}

func (w *Worker) runJob(ctx context.Context, ex apiclient.ClaimableExecution, name string, h Handler, lease time.Duration) {
	log := w.log.With("execution_id", ex.ExecutionID, "cue_id", ex.CueID, "cue_name", ex.CueName, "handler", name)
	log.Info("job claimed", "attempt", ex.Attempt+1, "lease", lease.String())

	hbCtx, stopHB := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		w.leaseLoop(hbCtx, ex.ExecutionID, lease/3, log)
	}()
	run := w.execute(ctx, ex, h, log)
	stopHB()
	<-hbDone

	if run.abandoned {
		log.Warn("job abandoned at shutdown; not reported (the lease will expire and the execution be handed out again)",
			"duration_ms", run.duration.Milliseconds())
		return
	}
	rep := buildReport(run, h, log)
	log.Info("job finished", "success", rep.Success, "exit_code", run.exitCode, "timed_out", run.timedOut,
		"duration_ms", run.duration.Milliseconds())
	w.report(ctx, ex.ExecutionID, rep, log)
}

// leaseLoop renews the claim's lease until ctx is done or the claim is lost.
func (w *Worker) leaseLoop(ctx context.Context, id string, every time.Duration, log *slog.Logger) {
	if every < 100*time.Millisecond {
		every = 100 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	wid := w.cfg.WorkerID
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		resp, err := w.api.HeartbeatExecutionWithResponse(ctx, id, &apiclient.HeartbeatExecutionParams{XWorkerID: &wid})
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			log.Warn("execution heartbeat failed", "err", err)
		case resp.StatusCode() == http.StatusOK:
			log.Debug("lease renewed")
		case resp.StatusCode() == http.StatusForbidden, resp.StatusCode() == http.StatusNotFound, resp.StatusCode() == http.StatusConflict:
			// The lease expired and the execution moved on (back to the
			// pool, to another worker, or it has an outcome). The job keeps
			// running; its outcome is still reported and is recorded unless
			// another one was first (outcomes are write-once).
			log.Warn("claim lost; no more lease renewals", "err", newStatusError(resp.StatusCode(), resp.Body))
			return
		default:
			log.Warn("execution heartbeat failed", "err", newStatusError(resp.StatusCode(), resp.Body))
		}
	}
}

// execute runs the handler's command for ex: payload on stdin, context in
// the environment, in its own process group, bounded by the handler timeout.
// ctx being cancelled means "abandon": kill and do not report.
func (w *Worker) execute(ctx context.Context, ex apiclient.ClaimableExecution, h Handler, log *slog.Logger) (run jobRun) {
	run.exitCode = -1
	begin := time.Now()
	defer func() { run.duration = time.Since(begin) }()

	payload := []byte(ex.Payload)
	if len(bytes.TrimSpace(payload)) == 0 || string(bytes.TrimSpace(payload)) == "null" {
		payload = []byte("{}")
	}
	outFile, err := os.CreateTemp("", "cueapi-outcome-*.json")
	if err != nil {
		run.startErr = fmt.Errorf("creating the outcome file: %w", err)
		return run
	}
	outPath := outFile.Name()
	outFile.Close()
	defer os.Remove(outPath)

	if len(payload) > envPayloadMax {
		log.Warn("payload too large for CUEAPI_PAYLOAD; it is on stdin only", "bytes", len(payload))
	}
	stdout, stderr := &tailBuffer{max: outputTail}, &tailBuffer{max: outputTail}
	cmd := exec.Command(h.Argv[0], h.Argv[1:]...)
	cmd.Env = jobEnv(os.Environ(), ex, payload, outPath, h.Env)
	cmd.Dir = h.Workdir
	cmd.Stdin = bytes.NewReader(payload)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A background child that keeps stdout/stderr open must not hold us.
	cmd.WaitDelay = w.cfg.KillGrace
	if err := cmd.Start(); err != nil {
		run.startErr = err
		return run
	}
	pgid := cmd.Process.Pid
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait() }()

	timer := time.NewTimer(h.Timeout)
	defer timer.Stop()
	var waitErr error
	select {
	case waitErr = <-waitc:
		// Whatever the handler left running in its process group would
		// outlive its lease and timeout: stop it. (The group id cannot be
		// reused while members remain, so this never hits another group.)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	case <-timer.C:
		run.timedOut = true
		log.Warn("job timed out; stopping its process group", "timeout", h.Timeout.String())
		waitErr = w.terminate(pgid, waitc)
	case <-ctx.Done():
		select {
		case waitErr = <-waitc: // finished just in time: report it
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		default:
			run.abandoned = true
			w.terminate(pgid, waitc)
			return run
		}
	}
	run.stdout, run.stderr = stdout.String(), stderr.String()
	if cmd.ProcessState != nil {
		run.exitCode = cmd.ProcessState.ExitCode()
	}
	if waitErr != nil && !errors.Is(waitErr, exec.ErrWaitDelay) {
		run.exitErr = waitErr
	} else if cmd.ProcessState != nil && !cmd.ProcessState.Success() {
		run.exitErr = &exec.ExitError{ProcessState: cmd.ProcessState}
	}
	run.outcome = readOutcomeFile(outPath, log)
	return run
}

// terminate stops a job's process group: SIGTERM, then SIGKILL after the
// grace period (also to stragglers once the leader is gone).
func (w *Worker) terminate(pgid int, waitc <-chan error) error {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(w.cfg.KillGrace)
	defer t.Stop()
	select {
	case err := <-waitc:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return err
	case <-t.C:
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return <-waitc
}

// jobEnv is the job's environment: the worker's own (without the API
// key), the execution's context, then the handler's env.
func jobEnv(base []string, ex apiclient.ClaimableExecution, payload []byte, outcomePath string, extra map[string]string) []string {
	env := make([]string, 0, len(base)+8+len(extra))
	for _, kv := range base {
		if strings.HasPrefix(kv, "CUEAPI_API_KEY=") {
			continue
		}
		env = append(env, kv)
	}
	task := ""
	if ex.Task != nil {
		task = *ex.Task
	}
	envPayload := string(payload)
	if len(payload) > envPayloadMax {
		envPayload = ""
	}
	scheduled := ""
	if !ex.ScheduledFor.IsZero() {
		scheduled = ex.ScheduledFor.UTC().Format(time.RFC3339Nano)
	}
	env = append(env,
		"CUEAPI_EXECUTION_ID="+ex.ExecutionID,
		"CUEAPI_CUE_ID="+ex.CueID,
		"CUEAPI_CUE_NAME="+ex.CueName,
		"CUEAPI_TASK="+task,
		"CUEAPI_SCHEDULED_FOR="+scheduled,
		"CUEAPI_ATTEMPT="+strconv.Itoa(ex.Attempt+1),
		"CUEAPI_PAYLOAD="+envPayload,
		"CUEAPI_OUTCOME_FILE="+outcomePath,
	)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// ---- the outcome ----

// outcomeFile is what a handler may write to $CUEAPI_OUTCOME_FILE.
type outcomeFile struct {
	Success    *bool
	Result     *string
	Error      *string
	Metadata   json.RawMessage // an object
	ExternalID *string
	ResultURL  *string
	ResultRef  *string
	ResultType *string
	Summary    *string
	Artifacts  json.RawMessage // an array
}

// readOutcomeFile parses the outcome file; nil when it is empty,
// missing or unusable (logged).
func readOutcomeFile(path string, log *slog.Logger) *outcomeFile {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, outcomeFileMax+1))
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if len(data) > outcomeFileMax {
		log.Warn("outcome file ignored: larger than 1 MiB")
		return nil
	}
	out, err := parseOutcome(data)
	if err != nil {
		log.Warn("outcome file ignored", "err", err)
		return nil
	}
	return out
}

func parseOutcome(data []byte) (*outcomeFile, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	var o outcomeFile
	if raw, ok := m["success"]; ok && !isJSONNull(raw) {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, errors.New(`"success" is not a boolean`)
		}
		o.Success = &b
	}
	for key, dst := range map[string]**string{
		"result": &o.Result, "error": &o.Error, "external_id": &o.ExternalID, "result_url": &o.ResultURL,
		"result_ref": &o.ResultRef, "result_type": &o.ResultType, "summary": &o.Summary,
	} {
		if s, ok := jsonText(m[key]); ok {
			*dst = &s
		}
	}
	if raw := bytes.TrimSpace(m["metadata"]); len(raw) > 0 && !isJSONNull(raw) {
		if raw[0] != '{' {
			return nil, errors.New(`"metadata" is not an object`)
		}
		o.Metadata = raw
	}
	if raw := bytes.TrimSpace(m["artifacts"]); len(raw) > 0 && !isJSONNull(raw) {
		if raw[0] != '[' {
			return nil, errors.New(`"artifacts" is not an array`)
		}
		o.Artifacts = raw
	}
	return &o, nil
}

func isJSONNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonText is a JSON string's value, or any other non-null value's compact
// JSON text.
func jsonText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isJSONNull(raw) {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return "", false
	}
	return buf.String(), true
}

// buildReport turns a run into the outcome report: exit code 0 is
// success (the outcome file's "success" may override it; a timeout or a
// start failure cannot be overridden); the outcome file's fields win over
// the captured output.
func buildReport(run jobRun, h Handler, log *slog.Logger) apiclient.ReportOutcomeRequest {
	o := run.outcome
	if o == nil {
		o = &outcomeFile{}
	}
	var rep apiclient.ReportOutcomeRequest
	var failure string // the worker's own error text
	switch {
	case run.startErr != nil:
		failure = "cannot start handler: " + run.startErr.Error()
	case run.timedOut:
		failure = "timed out after " + h.Timeout.String()
	case run.exitErr != nil:
		failure = run.exitErr.Error()
	}
	rep.Success = failure == ""
	if o.Success != nil && run.startErr == nil && !run.timedOut {
		rep.Success = *o.Success
	}

	if o.Result != nil {
		rep.Result = ptrString(firstChars(cleanText(*o.Result), resultMax))
	} else if rep.Success {
		if s := strings.TrimRight(cleanText(run.stdout), " \t\r\n"); s != "" {
			rep.Result = ptrString(lastChars(s, resultMax))
		}
	}
	switch {
	case run.timedOut && o.Error != nil:
		rep.Error = ptrString(firstChars(failure+": "+cleanText(*o.Error), resultMax))
	case o.Error != nil:
		rep.Error = ptrString(firstChars(cleanText(*o.Error), resultMax))
	case !rep.Success:
		msg := failure
		if msg == "" {
			msg = "handler reported failure"
		}
		if s := strings.TrimSpace(cleanText(run.stderr)); s != "" {
			rest := resultMax - utf8.RuneCountInString(msg) - 2
			if rest > 0 {
				msg += ": " + lastChars(s, rest)
			}
		}
		rep.Error = ptrString(firstChars(msg, resultMax))
	}

	if len(o.Metadata) > 0 {
		m := json.RawMessage(o.Metadata)
		rep.Metadata = &m
	}
	if len(o.Artifacts) > 0 {
		a := json.RawMessage(o.Artifacts)
		rep.Artifacts = &a
	}
	rep.ExternalID = limitedField(o.ExternalID, idFieldMax)
	rep.ResultRef = limitedField(o.ResultRef, idFieldMax)
	rep.ResultType = limitedField(o.ResultType, resultTypeMax)
	rep.Summary = limitedField(o.Summary, summaryMax)
	if o.ResultURL != nil {
		u := strings.TrimSpace(*o.ResultURL)
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || len(u) > resultURLMax {
			log.Warn("outcome file result_url ignored: not an http(s) URL of at most 2083 characters")
		} else {
			rep.ResultURL = &u
		}
	}
	return rep
}

func limitedField(s *string, n int) *string {
	if s == nil {
		return nil
	}
	v := firstChars(cleanText(*s), n)
	if v == "" {
		return nil
	}
	return &v
}

func ptrString(s string) *string { return &s }

// cleanText makes s storable: valid UTF-8, no NUL characters.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// firstChars is s cut to its first n characters.
func firstChars(s string, n int) string {
	i := 0
	for k := 0; k < n; k++ {
		if i >= len(s) {
			return s
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// lastChars is s cut to its last n characters.
func lastChars(s string, n int) string {
	i := len(s)
	for k := 0; k < n; k++ {
		if i <= 0 {
			return s
		}
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return s[i:]
}

// report posts the outcome, retrying transient failures. ctx ending
// (abandon at shutdown) stops the retries: the lease then expires.
func (w *Worker) report(ctx context.Context, id string, rep apiclient.ReportOutcomeRequest, log *slog.Logger) {
	backoff := w.cfg.ReportBackoff
	stripped := false
	for attempt := 1; ; attempt++ {
		resp, err := w.api.ReportOutcomeWithResponse(ctx, id, rep)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				log.Warn("outcome not reported (stopping); the lease will expire and the execution be handed out again")
				return
			}
			log.Warn("outcome report failed", "attempt", attempt, "err", err)
		case resp.StatusCode() == http.StatusOK:
			log.Info("outcome reported", "success", rep.Success)
			return
		case resp.StatusCode() == http.StatusConflict:
			log.Info("outcome already recorded; keeping the recorded one", "err", newStatusError(resp.StatusCode(), resp.Body))
			return
		case (resp.StatusCode() == http.StatusBadRequest || resp.StatusCode() == http.StatusUnprocessableEntity) && !stripped:
			// Most likely a field from the outcome file (metadata over
			// 10 KB, a bad URL...): report the essentials rather than
			// leave the execution to its lease.
			se := newStatusError(resp.StatusCode(), resp.Body)
			log.Warn("outcome rejected; reporting it without the handler's metadata and evidence", "err", se)
			rep = strippedReport(rep, se)
			stripped = true
			attempt--
			continue
		case resp.StatusCode() == http.StatusTooManyRequests || resp.StatusCode() >= 500:
			log.Warn("outcome report failed", "attempt", attempt, "err", newStatusError(resp.StatusCode(), resp.Body))
			if s, err := strconv.Atoi(resp.HTTPResponse.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = min(time.Duration(s)*time.Second, time.Minute)
			}
		default:
			log.Error("outcome report failed; giving up", "err", newStatusError(resp.StatusCode(), resp.Body))
			return
		}
		if attempt >= reportAttempts {
			log.Error("outcome report failed; giving up (the lease will expire and the execution be handed out again)", "attempts", attempt)
			return
		}
		if wait == 0 {
			wait = backoff
			backoff *= 2
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			log.Warn("outcome not reported (stopping); the lease will expire and the execution be handed out again")
			return
		case <-t.C:
		}
	}
}

// strippedReport keeps success, result and error (with a note).
func strippedReport(rep apiclient.ReportOutcomeRequest, why error) apiclient.ReportOutcomeRequest {
	note := "cueapi worker: the server rejected the handler's outcome fields (" + why.Error() + "); reported without metadata and evidence"
	msg := note
	if rep.Error != nil && *rep.Error != "" {
		msg = *rep.Error + " [" + note + "]"
	}
	return apiclient.ReportOutcomeRequest{Success: rep.Success, Result: rep.Result, Error: ptrString(firstChars(msg, resultMax))}
}

// ---- helpers ----

// statusError is an unexpected API answer.
type statusError struct {
	status  int
	code    string
	message string
}

func newStatusError(status int, body []byte) *statusError {
	e := &statusError{status: status}
	var env apiclient.Error
	if json.Unmarshal(body, &env) == nil {
		e.code, e.message = env.Error.Code, firstChars(env.Error.Message, 200)
	}
	return e
}

func (e *statusError) Error() string {
	if e.code == "" {
		return "HTTP " + strconv.Itoa(e.status)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.status, e.code, e.message)
}

// redactedURL hides a password in a URL before logging it.
func redactedURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(invalid)"
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return n, nil
}

// String is the kept tail, starting at a character boundary.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
		b = b[1:] // a character cut by the tail
	}
	return string(b)
}
