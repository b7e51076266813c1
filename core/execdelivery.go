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

// executionSource is the DeliverySource of cue executions (webhook
// transport): claims through ExecutionStore.ExecutionClaimDeliveries (the
// attempt counts at claim time), signs api.md §6.1 webhooks, applies the
// cue's retry policy and records results with their cue and usage effects,
// then escalates final failures (on_failure email and webhook, alerts) and
// chains successes.
type executionSource struct {
	cfg       DispatcherConfig
	store     ExecutionStore
	deliverer Deliverer // on_failure webhooks
	box       SecretBox
	clock     Clock
	log       Logger
	hooks     DispatcherHooks
	escalWG   sync.WaitGroup
}

func newExecutionSource(cfg DispatcherConfig, store ExecutionStore, deliverer Deliverer, box SecretBox, clock Clock, log Logger, hooks DispatcherHooks) *executionSource {
	return &executionSource{cfg: cfg, store: store, deliverer: deliverer, box: box, clock: clock, log: log, hooks: hooks}
}

// attemptResult is an execution job's state: its delivery and, once
// settled, the result to record and whether to escalate it.
type attemptResult struct {
	result   *DeliveryResult
	delivery *Delivery
	escalate bool
	// decided: Request settled the result without sending.
	decided bool
}

// Kind implements DeliverySource.
func (d *executionSource) Kind() string { return "execution" }

// Claim implements DeliverySource.
func (d *executionSource) Claim(ctx context.Context, c *DeliveryClaim) ([]*DeliveryJob, error) {
	batch, err := d.store.ExecutionClaimDeliveries(ctx, c)
	if err != nil {
		return nil, err
	}
	jobs := make([]*DeliveryJob, len(batch))
	for i, dl := range batch {
		e := dl.Execution
		res := &DeliveryResult{ExecutionID: e.ID, CueID: e.CueID, TenantID: e.TenantID, Attempt: e.Attempts, Attempts: e.Attempts}
		j := &DeliveryJob{ID: string(e.ID), Destination: e.Destination, Attempt: e.Attempts, Item: &attemptResult{result: res, delivery: dl},
			Span: "webhook.deliver", Trace: d.executionTrace(e.ID, c.Now)}
		if e.LeaseExpiresAt != nil {
			j.LeaseUntil = *e.LeaseExpiresAt
		}
		if e.LastAttemptAt != nil && e.LastAttemptAt.After(c.Now) {
			j.NotBefore = *e.LastAttemptAt // claimed ahead: its due time
		}
		jobs[i] = j
	}
	return jobs, nil
}

// Request implements DeliverySource: it declines (nil request) an
// exhausted expired lease and a delivery the tenant's monthly limit
// blocks, and fails a cue without a URL.
func (d *executionSource) Request(ctx context.Context, j *DeliveryJob, now time.Time) (*OutboundRequest, error) {
	out := j.Item.(*attemptResult)
	dl, res := out.delivery, out.result
	e, c := dl.Execution, dl.Cue
	maxAttempts := max(c.Retry.MaxAttempts, 1)
	if e.Attempts > maxAttempts {
		// The previous attempt's process died after its claim: that attempt
		// counted, and there is none left. Fail without sending.
		res.Attempts = maxAttempts
		d.cfg.Observer.LeaseExpired("delivery")
		d.fail(out, "Delivery interrupted and max attempts exhausted", nil)
		out.decided = true
		return nil, nil
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
		out.decided = true
		return nil, nil
	}
	if c.Callback.URL == nil || *c.Callback.URL == "" {
		d.failOrRetry(out, "URL must have a hostname", nil, 0)
		out.decided = true
		return nil, nil
	}
	req, err := d.buildRequest(dl, now)
	if err != nil {
		return nil, err
	}
	if e.Attempts == 1 && e.TriggeredBy == nil {
		d.cfg.Observer.DeliveryLag(max(now.Sub(e.ScheduledFor), 0))
	}
	d.cfg.Observer.DeliveryStarted()
	return req, nil
}

// Settle implements DeliverySource.
func (d *executionSource) Settle(a *DeliveryAttempt) {
	out := a.Job.Item.(*attemptResult)
	res, c, e := out.result, out.delivery.Cue, out.delivery.Execution
	var status *int
	if a.Status != 0 {
		s := a.Status
		status = &s
	}
	switch a.Outcome {
	case AttemptSkipped:
		if out.decided {
			return
		}
		d.failOrRetry(out, "Webhook delivery failed", nil, 0)
		return
	case AttemptReleased:
		d.release(out, a.Message)
		if a.Message == shutdownMessage {
			d.cfg.Observer.DeliveryFinished(DeliveryRetry, a.At.Sub(a.Started))
		}
		return
	case AttemptParked:
		d.failOrRetry(out, a.Message, nil, max(a.NotBefore.Sub(a.At), 0))
		res.CountRun = false // nothing was sent
		d.forget(res)
		return
	case AttemptDelivered:
		res.Status = ExecSuccess
		res.HTTPStatus = status
		// Receivers may answer anything: keep text every store can hold.
		body := truncateRunes(strings.ReplaceAll(strings.ToValidUTF8(string(a.Body), "\uFFFD"), "\x00", "\uFFFD"), 2000)
		res.ResponseBody = &body
		res.CountRun, res.SetLastRun, res.CountUsage = true, true, true
		if c.Schedule.Type == ScheduleOnce && e.TriggeredBy == nil {
			st := CueCompleted
			res.CueStatus = &st
		}
		res.OutcomeDeadlineAt = outcomeDeadline(c, a.At)
	default: // AttemptFailed
		var retryAfter time.Duration
		if !a.NotBefore.IsZero() {
			retryAfter = max(a.NotBefore.Sub(a.At), 0)
		}
		if a.Status == 0 && a.Err != nil && !isDeliveryError(a.Err) {
			// The request could not be built.
			d.failOrRetry(out, a.Message, nil, 0)
			return
		}
		d.failOrRetry(out, a.Message, status, retryAfter)
	}
	d.cfg.Observer.DeliveryFinished(deliveryOutcome(res, a.Err), a.At.Sub(a.Started))
	d.forget(res)
}

func isDeliveryError(err error) bool {
	var de *DeliveryError
	return errors.As(err, &de)
}

// forget drops the trace context of an execution that will not be sent
// again.
func (d *executionSource) forget(res *DeliveryResult) {
	if res.Status != ExecRetrying {
		d.cfg.Traces.Forget(res.ExecutionID)
	}
}

// Record implements DeliverySource.
func (d *executionSource) Record(ctx context.Context, now time.Time, done []*DeliveryAttempt) ([]bool, error) {
	if len(done) == 0 {
		return nil, nil
	}
	rs := make([]*attemptResult, len(done))
	params := &ExecutionRecordDeliveriesParams{Now: now, Results: make([]*DeliveryResult, len(done))}
	for i, a := range done {
		rs[i] = a.Job.Item.(*attemptResult)
		params.Results[i] = rs[i].result
	}
	applied, err := d.store.ExecutionRecordDeliveries(ctx, params)
	if err != nil {
		return nil, err
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
	return applied, nil
}

// Escalate runs the on_failure policy of a delivery that failed for good
// outside the dispatcher (worker leases, missed runs), in the background.
func (d *executionSource) Escalate(dl *Delivery, errorMessage string) {
	res := &DeliveryResult{ExecutionID: dl.Execution.ID, CueID: dl.Cue.ID, TenantID: dl.Execution.TenantID, Attempts: 0, ErrorMessage: &errorMessage}
	d.escalWG.Add(1)
	go func() {
		defer d.escalWG.Done()
		d.escalate(&attemptResult{result: res, delivery: dl, escalate: true})
	}()
}

// executionTrace is the trace an execution's webhooks continue: the
// creating request's, else the execution's own.
func (d *executionSource) executionTrace(id ExecutionID, now time.Time) TraceContext {
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

// release turns an attempt cancelled by shutdown into a result that hands
// the execution back at once without counting the attempt: retrying, due
// now, attempts back to the pre-claim value, no run or usage counted. The
// receiver may have seen the request, so the next claimer sends it again
// (at-least-once) under the same attempt number; the result is fenced on
// the claim like any other, so a takeover is never undone.
func (d *executionSource) release(out *attemptResult, msg string) {
	res := out.result
	res.Status = ExecRetrying
	res.Attempts = res.Attempt - 1
	res.ErrorMessage = &msg
	res.NextRetry = nil
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
func (d *executionSource) failOrRetry(out *attemptResult, msg string, status *int, retryAfter time.Duration) {
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

func (d *executionSource) fail(out *attemptResult, msg string, status *int) {
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

func (d *executionSource) buildRequest(dl *Delivery, now time.Time) (*OutboundRequest, error) {
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
func (d *executionSource) webhookTimeout(c *Cue) time.Duration {
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
func (d *executionSource) escalate(r *attemptResult) {
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
