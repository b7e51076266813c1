package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cueapi/cueapi/core/canonjson"
)

// DispatcherConfig tunes webhook delivery.
type DispatcherConfig struct {
	// Concurrency bounds deliveries in flight in this process.
	Concurrency int
	// BatchSize bounds one claim transaction.
	BatchSize int
	// WebhookTimeout is the total deadline of one attempt.
	WebhookTimeout time.Duration
	// Lease is how long a claimed attempt may run before another process
	// may take the execution over (it must exceed WebhookTimeout).
	Lease time.Duration
	// IdlePoll bounds how long an idle dispatcher sleeps without looking.
	IdlePoll time.Duration
	// MaxRetryAfter caps a receiver's Retry-After.
	MaxRetryAfter time.Duration
	// FailureWebhookTimeout bounds on_failure webhooks.
	FailureWebhookTimeout time.Duration
	// UserAgent of every outbound request.
	UserAgent string
	// Notifier sends on_failure emails (nil: none are sent).
	Notifier *Notifier
	// Observer receives delivery measurements (nil: none).
	Observer Observer
	// Tracer records a span per attempt (nil: none).
	Tracer Tracer
	// Traces holds the trace context of request-created executions (nil:
	// every execution traces under its own id).
	Traces *TraceCarrier
}

// DefaultDispatcherConfig returns production defaults.
func DefaultDispatcherConfig() DispatcherConfig {
	return DispatcherConfig{
		Concurrency: 256, BatchSize: 256, WebhookTimeout: 30 * time.Second, Lease: 60 * time.Second,
		IdlePoll: 250 * time.Millisecond, MaxRetryAfter: 6 * time.Hour, FailureWebhookTimeout: 10 * time.Second,
		UserAgent: DefaultUserAgent,
	}
}

// Dispatcher delivers due webhook executions: it claims them in batches
// under a lease, sends them concurrently (bounded), and records results in
// batches. Delivery is at-least-once: a process that dies mid-attempt leaves
// a lease that expires, and the execution is claimed again with the attempt
// counted. Safe for concurrent use.
type Dispatcher struct {
	cfg       DispatcherConfig
	store     ExecutionStore
	deliverer Deliverer
	box       SecretBox
	clock     Clock
	log       Logger
	wake      chan struct{}

	mu      sync.Mutex
	wakeAt  time.Time // earliest due time announced by the scheduler
	escalWG sync.WaitGroup

	hooks DispatcherHooks
}

// DispatcherHooks connect the dispatcher to the rest of core; NewApplication
// sets them. A nil hook does nothing.
type DispatcherHooks struct {
	// Blocked says whether a scheduled delivery is blocked by the tenant's
	// monthly limit (UsageService.Blocked).
	Blocked func(ctx context.Context, d *Delivery) bool
	// Failed runs after a final failure was recorded (Alerts.RunFinished).
	Failed func(ctx context.Context, d *Delivery)
	// Succeeded runs, in the background, after a successful delivery was
	// recorded for an execution that needs no outcome check (verification
	// mode none and no required assertions): on-success chaining.
	Succeeded func(ctx context.Context, e *Execution, c *Cue)
}

// Escalate runs the on_failure policy of a delivery that failed for good
// outside the dispatcher (worker leases, missed runs), in the background.
func (d *Dispatcher) Escalate(dl *Delivery, errorMessage string) {
	res := &DeliveryResult{ExecutionID: dl.Execution.ID, CueID: dl.Cue.ID, TenantID: dl.Execution.TenantID, Attempts: 0, ErrorMessage: &errorMessage}
	d.escalWG.Add(1)
	go func() {
		defer d.escalWG.Done()
		d.escalate(&attemptResult{result: res, delivery: dl, escalate: true})
	}()
}

// NewDispatcher wires a dispatcher.
func NewDispatcher(cfg DispatcherConfig, store ExecutionStore, deliverer Deliverer, box SecretBox, clock Clock, log Logger, hooks DispatcherHooks) *Dispatcher {
	def := DefaultDispatcherConfig()
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = def.Concurrency
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = def.BatchSize
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = def.WebhookTimeout
	}
	if cfg.Lease <= cfg.WebhookTimeout {
		cfg.Lease = cfg.WebhookTimeout + 30*time.Second
	}
	if cfg.IdlePoll <= 0 {
		cfg.IdlePoll = def.IdlePoll
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = def.MaxRetryAfter
	}
	if cfg.FailureWebhookTimeout <= 0 {
		cfg.FailureWebhookTimeout = def.FailureWebhookTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = def.UserAgent
	}
	cfg.Observer = observerOr(cfg.Observer)
	cfg.Tracer = tracerOr(cfg.Tracer)
	return &Dispatcher{cfg: cfg, store: store, deliverer: deliverer, box: box, clock: clock, log: log, wake: make(chan struct{}, 1), hooks: hooks}
}

// Wake makes an idle dispatcher look for work now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// WakeAt asks the dispatcher to look for work at t (the scheduler announces
// executions it materialized ahead of time).
func (d *Dispatcher) WakeAt(t time.Time) {
	d.mu.Lock()
	if d.wakeAt.IsZero() || t.Before(d.wakeAt) {
		d.wakeAt = t
	}
	d.mu.Unlock()
	d.Wake()
}

// RunOnce claims one batch of due executions, delivers them and records the
// results; it returns how many were claimed. Tests drive it with a stub
// clock; Run uses the same steps continuously.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	batch, err := d.store.ExecutionClaimDeliveries(ctx, &ExecutionClaimDeliveriesParams{Now: d.clock.Now(), Lease: d.cfg.Lease, Limit: d.cfg.BatchSize})
	if err != nil {
		return 0, fmt.Errorf("dispatcher: claim: %w", err)
	}
	results := make([]*attemptResult, len(batch))
	var wg sync.WaitGroup
	sem := make(chan struct{}, d.cfg.Concurrency)
	for i, dl := range batch {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = d.attempt(ctx, dl)
		}()
	}
	wg.Wait()
	if err := d.record(ctx, results); err != nil {
		return len(batch), err
	}
	return len(batch), nil
}

// Run delivers until ctx ends. A claimer keeps up to Concurrency attempts in
// flight; a recorder writes results in batches.
func (d *Dispatcher) Run(ctx context.Context) {
	resCh := make(chan *attemptResult, d.cfg.Concurrency)
	slots := make(chan struct{}, d.cfg.Concurrency)
	var inflight sync.WaitGroup
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		d.recordLoop(resCh)
	}()
	defer func() {
		inflight.Wait()
		close(resCh)
		<-recDone
		// Escalations started by other components (the sweeper) may still
		// be added; the owner waits for them with Wait once every producer
		// has stopped.
	}()
	backoff := 100 * time.Millisecond
	// Claim in batches: wait until a quarter of the slots are free rather
	// than claiming one execution per finished attempt (every claim is a
	// transaction).
	threshold := d.cfg.BatchSize
	if threshold > d.cfg.Concurrency {
		threshold = d.cfg.Concurrency
	}
	threshold /= 4
	if threshold < 1 {
		threshold = 1
	}
	freed := make(chan struct{}, 1)
	for ctx.Err() == nil {
		free := d.cfg.Concurrency - len(slots)
		if free < threshold || free <= 0 {
			select {
			case <-freed:
			case <-ctx.Done():
				return
			}
			continue
		}
		limit := free
		if limit > d.cfg.BatchSize {
			limit = d.cfg.BatchSize
		}
		batch, err := d.store.ExecutionClaimDeliveries(ctx, &ExecutionClaimDeliveriesParams{Now: d.clock.Now(), Lease: d.cfg.Lease, Limit: limit})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.log.Error("dispatcher claim failed", "err", err)
			d.sleep(ctx, backoff)
			if backoff < 5*time.Second {
				backoff *= 2
			}
			continue
		}
		backoff = 100 * time.Millisecond
		for _, dl := range batch {
			slots <- struct{}{}
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				// Attempts outlive a shutdown request by at most their own
				// timeout, so results are recorded rather than left to
				// lease expiry.
				resCh <- d.attempt(context.WithoutCancel(ctx), dl)
				<-slots
				select {
				case freed <- struct{}{}:
				default:
				}
			}()
		}
		if len(batch) == limit {
			continue // more may be due
		}
		d.sleep(ctx, d.idleWait())
	}
}

// idleWait is how long to sleep when nothing is due: until the earliest
// announced due time, at most IdlePoll.
func (d *Dispatcher) idleWait() time.Duration {
	wait := d.cfg.IdlePoll
	d.mu.Lock()
	if !d.wakeAt.IsZero() {
		if w := d.wakeAt.Sub(d.clock.Now()); w < wait {
			wait = w
		}
		if wait <= 0 {
			d.wakeAt = time.Time{}
		}
	}
	d.mu.Unlock()
	return wait
}

func (d *Dispatcher) sleep(ctx context.Context, wait time.Duration) {
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-d.wake:
	case <-t.C:
	}
}

// recordLoop batches results: it flushes when 256 are waiting or 5 ms after
// the first of a batch arrived. Up to two flushes run at once (each locks
// its cues in id order, so concurrent flushes cannot deadlock).
func (d *Dispatcher) recordLoop(in <-chan *attemptResult) {
	const maxBatch = 256
	var (
		buf     []*attemptResult
		timer   *time.Timer
		tick    <-chan time.Time
		flushes sync.WaitGroup
		sem     = make(chan struct{}, 2)
	)
	defer flushes.Wait()
	flush := func() {
		if len(buf) == 0 {
			return
		}
		batch := buf
		buf = nil
		if timer != nil {
			timer.Stop()
			timer, tick = nil, nil
		}
		sem <- struct{}{}
		flushes.Add(1)
		go func() {
			defer flushes.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := d.record(ctx, batch); err != nil {
				d.log.Error("dispatcher record failed; the leases will expire and the executions be retried", "err", err, "count", len(batch))
			}
		}()
	}
	for {
		select {
		case r, ok := <-in:
			if !ok {
				flush()
				return
			}
			buf = append(buf, r)
			if len(buf) >= maxBatch {
				flush()
			} else if timer == nil {
				timer = time.NewTimer(5 * time.Millisecond)
				tick = timer.C
			}
		case <-tick:
			timer, tick = nil, nil
			flush()
		}
	}
}

// attemptResult is one finished attempt and what to do after recording it.
type attemptResult struct {
	result   *DeliveryResult
	delivery *Delivery
	escalate bool
}

func (d *Dispatcher) record(ctx context.Context, rs []*attemptResult) error {
	if len(rs) == 0 {
		return nil
	}
	params := &ExecutionRecordDeliveriesParams{Now: d.clock.Now(), Results: make([]*DeliveryResult, len(rs))}
	for i, r := range rs {
		params.Results[i] = r.result
	}
	applied, err := d.store.ExecutionRecordDeliveries(ctx, params)
	if err != nil {
		return fmt.Errorf("dispatcher: record: %w", err)
	}
	for i, r := range rs {
		if i < len(applied) && applied[i] && d.hooks.Succeeded != nil && r.result.Status == ExecSuccess && SucceededWithoutCheck(r.delivery.Execution, r.delivery.Cue) {
			d.escalWG.Add(1)
			go func() {
				defer d.escalWG.Done()
				d.hooks.Succeeded(context.Background(), r.delivery.Execution, r.delivery.Cue)
			}()
		}
		if i < len(applied) && applied[i] && r.escalate {
			d.escalWG.Add(1)
			go func() {
				defer d.escalWG.Done()
				d.escalate(r)
				if d.hooks.Failed != nil {
					d.hooks.Failed(context.Background(), r.delivery)
				}
			}()
		}
	}
	return nil
}

// Wait blocks until background escalations finished (tests, shutdown).
func (d *Dispatcher) Wait() { d.escalWG.Wait() }

// attempt makes (or, for an exhausted expired lease, declines) one delivery
// attempt and computes its result.
func (d *Dispatcher) attempt(ctx context.Context, dl *Delivery) *attemptResult {
	e, c := dl.Execution, dl.Cue
	res := &DeliveryResult{ExecutionID: e.ID, CueID: e.CueID, TenantID: e.TenantID, Attempt: e.Attempts, Attempts: e.Attempts}
	out := &attemptResult{result: res, delivery: dl}
	maxAttempts := c.Retry.MaxAttempts
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	if e.Attempts > maxAttempts {
		// The previous attempt's process died after its claim: that attempt
		// counted, and there is none left. Fail without sending.
		res.Attempts = maxAttempts
		d.cfg.Observer.LeaseExpired("delivery")
		d.fail(out, "Delivery interrupted and max attempts exhausted", nil)
		return out
	}
	if d.hooks.Blocked != nil && e.TriggeredBy == nil && e.Attempts == 1 && d.hooks.Blocked(ctx, dl) {
		// Not an attempt: nothing was sent.
		res.Attempts = e.Attempts - 1
		msg := "Monthly execution limit reached"
		res.Status = ExecFailed
		res.ErrorMessage = &msg
		if c.Schedule.Type == ScheduleOnce {
			st := CueFailed
			res.CueStatus = &st
		}
		return out
	}
	if c.Callback.URL == nil || *c.Callback.URL == "" {
		d.failOrRetry(out, "URL must have a hostname", nil, 0)
		return out
	}
	req, err := d.buildRequest(dl, d.clock.Now())
	if err != nil {
		d.log.Error("build webhook failed", "execution_id", string(e.ID), "err", err)
		d.failOrRetry(out, "Webhook delivery failed", nil, 0)
		return out
	}
	started := d.clock.Now()
	if e.Attempts == 1 && e.TriggeredBy == nil {
		d.cfg.Observer.DeliveryLag(max(started.Sub(e.ScheduledFor), 0))
	}
	ctx, endSpan := d.cfg.Tracer.Start(WithTrace(ctx, d.executionTrace(e.ID, started)), "webhook.deliver", SpanClient,
		SpanAttr{"http.request.method", req.Method}, SpanAttr{"cueapi.attempt", strconv.Itoa(e.Attempts)})
	req.Header = withTraceHeaders(ctx, req.Header)
	d.cfg.Observer.DeliveryStarted()
	resp, err := d.deliverer.Send(ctx, req)
	defer func() {
		outcome := deliveryOutcome(res, err)
		d.cfg.Observer.DeliveryFinished(outcome, d.clock.Now().Sub(started))
		if outcome == DeliverySuccess {
			endSpan(nil)
		} else {
			endSpan(errors.New(string(outcome)))
		}
		if res.Status != ExecRetrying {
			d.cfg.Traces.Forget(e.ID)
		}
	}()
	if err != nil {
		msg := "Webhook delivery failed"
		var de *DeliveryError
		if errors.As(err, &de) {
			msg = de.Message
		}
		d.failOrRetry(out, msg, nil, 0)
		return out
	}
	status := resp.Status
	if status >= 200 && status < 300 {
		res.Status = ExecSuccess
		res.HTTPStatus = &status
		// Receivers may answer anything: keep text every store can hold.
		body := truncateRunes(strings.ReplaceAll(strings.ToValidUTF8(string(resp.Body), "\uFFFD"), "\x00", "\uFFFD"), 2000)
		res.ResponseBody = &body
		res.CountRun, res.SetLastRun, res.CountUsage = true, true, true
		if c.Schedule.Type == ScheduleOnce && e.TriggeredBy == nil {
			st := CueCompleted
			res.CueStatus = &st
		}
		res.OutcomeDeadlineAt = outcomeDeadline(c, d.clock.Now())
		return out
	}
	var retryAfter time.Duration
	if status == 429 || status == 503 {
		retryAfter = resp.RetryAfter
	}
	d.failOrRetry(out, httpErrorMessage(status), &status, retryAfter)
	return out
}

// executionTrace is the trace an execution's webhooks continue: the
// creating request's, else the execution's own.
func (d *Dispatcher) executionTrace(id ExecutionID, now time.Time) TraceContext {
	if tc, ok := d.cfg.Traces.Get(id, now); ok {
		return tc
	}
	return ExecutionTrace(id)
}

// withTraceHeaders sets traceparent (and tracestate) from ctx, replacing any
// a cue configured.
func withTraceHeaders(ctx context.Context, h []HeaderField) []HeaderField {
	tc, ok := TraceFrom(ctx)
	if !ok {
		return h
	}
	out := h[:0:0]
	for _, f := range h {
		if !strings.EqualFold(f.Name, "traceparent") && !strings.EqualFold(f.Name, "tracestate") {
			out = append(out, f)
		}
	}
	out = append(out, HeaderField{"traceparent", tc.TraceParent})
	if tc.TraceState != "" {
		out = append(out, HeaderField{"tracestate", tc.TraceState})
	}
	return out
}

// deliveryOutcome classifies a finished attempt for the Observer.
func deliveryOutcome(res *DeliveryResult, err error) DeliveryOutcome {
	var de *DeliveryError
	if errors.As(err, &de) {
		switch de.Kind {
		case DeliveryTimeout:
			return DeliveryTimedOut
		case DeliveryBlocked:
			return DeliveryBlockedSSRF
		}
	}
	switch res.Status {
	case ExecSuccess:
		return DeliverySuccess
	case ExecRetrying:
		return DeliveryRetry
	}
	return DeliveryFailed
}

// httpErrorMessage is the protocol's text for a non-2xx answer.
func httpErrorMessage(status int) string {
	switch {
	case status == 404:
		return "Webhook endpoint not found (404)"
	case status == 408:
		return "Webhook endpoint timed out"
	case status == 500:
		return "Webhook endpoint returned server error (500)"
	case status >= 400 && status < 500:
		return fmt.Sprintf("Webhook endpoint rejected request (%d)", status)
	case status >= 500 && status < 600:
		return fmt.Sprintf("Webhook endpoint server error (%d)", status)
	}
	return fmt.Sprintf("Webhook delivery failed (%d)", status)
}

// failOrRetry schedules the next attempt, or fails for good when none is
// left.
func (d *Dispatcher) failOrRetry(out *attemptResult, msg string, status *int, retryAfter time.Duration) {
	res, c := out.result, out.delivery.Cue
	res.HTTPStatus = status
	res.CountRun = true
	if c.Retry.AttemptsLeft(res.Attempt) {
		res.Status = ExecRetrying
		res.ErrorMessage = &msg
		wait := backoffFor(c.Retry.BackoffMinutes, res.Attempt)
		if retryAfter > wait {
			wait = retryAfter
			if wait > d.cfg.MaxRetryAfter {
				wait = d.cfg.MaxRetryAfter
			}
		}
		next := d.clock.Now().Add(wait)
		res.NextRetry = &next
		return
	}
	d.fail(out, msg, status)
}

func (d *Dispatcher) fail(out *attemptResult, msg string, status *int) {
	res, dl := out.result, out.delivery
	res.Status = ExecFailed
	res.HTTPStatus = status
	res.ErrorMessage = &msg
	res.SetLastRun = true
	res.CueStatus = FailedRunStatus(dl.Cue.Schedule.Type, dl.Cue.OnFailure.Pause, dl.Execution.TriggeredBy)
	out.escalate = true
}

// backoffFor is the wait after failed attempt number attempt (1-based):
// backoff[min(attempt-1, len-1)] minutes, one minute when the list is empty.
func backoffFor(backoff []int, attempt int) time.Duration {
	if len(backoff) == 0 {
		return time.Minute
	}
	i := attempt - 1
	if i >= len(backoff) {
		i = len(backoff) - 1
	}
	if i < 0 {
		i = 0
	}
	return time.Duration(backoff[i]) * time.Minute
}

func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// webhookBody is the signed body of an execution webhook.
type webhookBody struct {
	Attempt      int             `json:"attempt"`
	CueID        string          `json:"cue_id"`
	ExecutionID  string          `json:"execution_id"`
	Name         string          `json:"name"`
	Payload      json.RawMessage `json:"payload"`
	ScheduledFor string          `json:"scheduled_for"`
}

// PyTime renders an instant in the reference's "+00:00" form with
// microseconds only when non-zero.
func PyTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05") + "+00:00"
	}
	return t.Format("2006-01-02T15:04:05.000000") + "+00:00"
}

// SignedWebhook builds the canonical body and the signature headers of an
// execution webhook (api.md §6.1–6.2).
func SignedWebhook(e *Execution, c *Cue, secret string, now time.Time) (body []byte, headers []HeaderField, err error) {
	payload := e.EffectivePayload(c)
	scheduled := PyTime(e.ScheduledFor)
	raw, err := json.Marshal(webhookBody{Attempt: e.Attempts, CueID: string(c.ID), ExecutionID: string(e.ID), Name: c.Name, Payload: payload, ScheduledFor: scheduled})
	if err != nil {
		return nil, nil, err
	}
	body, err = canonjson.Canonical(raw)
	if err != nil {
		return nil, nil, err
	}
	ts := now.Unix()
	headers = []HeaderField{
		{"Content-Type", "application/json"},
		{"X-CueAPI-Signature", canonjson.Sign(secret, ts, body)},
		{"X-CueAPI-Timestamp", strconv.FormatInt(ts, 10)},
		{"X-CueAPI-Cue-Id", string(c.ID)},
		{"X-CueAPI-Execution-Id", string(e.ID)},
		{"X-CueAPI-Scheduled-For", scheduled},
		{"X-CueAPI-Attempt", strconv.Itoa(e.Attempts)},
	}
	return body, headers, nil
}

func (d *Dispatcher) buildRequest(dl *Delivery, now time.Time) (*OutboundRequest, error) {
	secret, err := d.box.Open(dl.WebhookSecretSealed)
	if err != nil {
		return nil, fmt.Errorf("open webhook secret: %w", err)
	}
	body, headers, err := SignedWebhook(dl.Execution, dl.Cue, secret, now)
	if err != nil {
		return nil, err
	}
	if dl.Cue.Callback.Method == "GET" {
		// A GET carries no body: sign exactly what is sent, "<timestamp>.".
		body = nil
		headers[1].Value = canonjson.Sign(secret, now.Unix(), nil)
	}
	headers = append(headers, HeaderField{"User-Agent", d.cfg.UserAgent})
	for k, v := range dl.Cue.Callback.Headers {
		// Reserved names were refused when saved; never let one through.
		if reservedHeader(k) || strings.EqualFold(k, "user-agent") {
			continue
		}
		headers = append(headers, HeaderField{k, v})
	}
	return &OutboundRequest{Method: dl.Cue.Callback.Method, URL: *dl.Cue.Callback.URL, Header: headers, Body: body, Timeout: d.webhookTimeout(dl.Cue)}, nil
}

// webhookTimeout is the cue's delivery.timeout_seconds, else the
// configured webhook timeout.
func (d *Dispatcher) webhookTimeout(c *Cue) time.Duration {
	if c.Delivery != nil && c.Delivery.TimeoutSeconds > 0 {
		return time.Duration(c.Delivery.TimeoutSeconds) * time.Second
	}
	return d.cfg.WebhookTimeout
}

// failureEvent is the on_failure webhook body (api.md §6.3), signed like
// execution webhooks (the reference sent it unsigned).
type failureEvent struct {
	Attempts       int    `json:"attempts"`
	CueID          string `json:"cue_id"`
	CueName        string `json:"cue_name"`
	DashboardURL   string `json:"dashboard_url"`
	Event          string `json:"event"`
	ExecutionID    string `json:"execution_id"`
	FailedAt       string `json:"failed_at"`
	LastError      string `json:"last_error"`
	LastHTTPStatus *int   `json:"last_http_status"`
}

// escalate runs the cue's on_failure policy after a final failure was
// recorded (pausing happened in the same transaction).
func (d *Dispatcher) escalate(r *attemptResult) {
	c, res := r.delivery.Cue, r.result
	if c.OnFailure.Email {
		if d.cfg.Notifier.Enabled() {
			errText := ""
			if res.ErrorMessage != nil {
				errText = *res.ErrorMessage
			}
			d.cfg.Notifier.ExecutionFailed(res.TenantID, c, res.ExecutionID, errText)
		} else {
			d.log.Info("on_failure email not sent: no email provider is configured", "cue_id", string(c.ID), "execution_id", string(res.ExecutionID))
		}
	}
	if c.OnFailure.Webhook == nil || *c.OnFailure.Webhook == "" {
		return
	}
	name := c.Name
	if name == "" {
		name = string(c.ID)
	}
	lastErr := ""
	if res.ErrorMessage != nil {
		lastErr = truncateRunes(*res.ErrorMessage, 500)
	}
	raw, err := json.Marshal(failureEvent{
		Event: "cue.failed", CueID: string(c.ID), CueName: name, ExecutionID: string(res.ExecutionID), Attempts: res.Attempts,
		LastHTTPStatus: res.HTTPStatus, LastError: lastErr, FailedAt: PyTime(d.clock.Now()), DashboardURL: "https://dashboard.cueapi.ai",
	})
	if err != nil {
		return
	}
	body, err := canonjson.Canonical(raw)
	if err != nil {
		return
	}
	secret, err := d.box.Open(r.delivery.WebhookSecretSealed)
	if err != nil {
		d.log.Error("on_failure webhook not sent: cannot open the signing secret", "cue_id", string(c.ID), "err", err)
		return
	}
	ts := d.clock.Now().Unix()
	req := &OutboundRequest{Method: "POST", URL: *c.OnFailure.Webhook, Body: body, Timeout: d.cfg.FailureWebhookTimeout, Header: []HeaderField{
		{"Content-Type", "application/json"},
		{"X-CueAPI-Signature", canonjson.Sign(secret, ts, body)},
		{"X-CueAPI-Timestamp", strconv.FormatInt(ts, 10)},
		{"X-CueAPI-Cue-Id", string(c.ID)},
		{"X-CueAPI-Execution-Id", string(res.ExecutionID)},
		{"User-Agent", d.cfg.UserAgent},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.FailureWebhookTimeout+time.Second)
	defer cancel()
	req.Header = withTraceHeaders(WithTrace(ctx, ChildTrace(d.executionTrace(res.ExecutionID, d.clock.Now()))), req.Header)
	resp, err := d.deliverer.Send(ctx, req)
	switch {
	case err != nil:
		d.log.Warn("on_failure webhook failed", "cue_id", string(c.ID), "err", err.Error())
	case resp.Status < 200 || resp.Status >= 300:
		d.log.Warn("on_failure webhook rejected", "cue_id", string(c.ID), "status", resp.Status)
	}
}
