package core

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/cueapi/cueapi/core/canonjson"
)

// alertSource is the DeliverySource of alert webhooks (api.md §6.4): it
// claims through AlertStore.AlertClaimDeliveries (the attempt counts at
// claim time), signs the alert body with the tenant's alert secret, retries
// on the alert schedule (alertBackoff, at most alertMaxAttempts, never
// before a Retry-After or the breaker's cool-down ends) and records the
// results in batches fenced on the claim.
type alertSource struct {
	store AlertStore
	box   SecretBox
	clock Clock
	obs   Observer
}

// Source is the alert webhooks' DeliverySource, for Dispatcher.Register.
func (a *Alerts) Source() DeliverySource {
	return &alertSource{store: a.store, box: a.box, clock: a.clock, obs: a.obs}
}

// alertJob is an alert job's state: its claimed delivery and, once
// settled, the result to record.
type alertJob struct {
	delivery *AlertDelivery
	result   *AlertRecordDeliveryParams
	// decided: Request settled the result without sending.
	decided bool
}

// Kind implements DeliverySource.
func (s *alertSource) Kind() string { return "alert" }

// Claim implements DeliverySource.
func (s *alertSource) Claim(ctx context.Context, c *DeliveryClaim) ([]*DeliveryJob, error) {
	batch, err := s.store.AlertClaimDeliveries(ctx, c)
	if err != nil {
		return nil, err
	}
	jobs := make([]*DeliveryJob, len(batch))
	for i, d := range batch {
		al := d.Alert
		jobs[i] = &DeliveryJob{ID: al.ID, Destination: d.Destination, Attempt: al.DeliveryAttempts, LeaseUntil: c.LeaseUntil(),
			Item: &alertJob{delivery: d, result: &AlertRecordDeliveryParams{ID: al.ID, Attempt: al.DeliveryAttempts}}}
	}
	return jobs, nil
}

// Request implements DeliverySource: an alert whose tenant has no alert
// secret is given up, one whose secret cannot be opened or whose body
// cannot be encoded is retried, without sending.
func (s *alertSource) Request(ctx context.Context, j *DeliveryJob, now time.Time) (*OutboundRequest, error) {
	out := j.Item.(*alertJob)
	d := out.delivery
	al := d.Alert
	decide := func(msg string, giveUp bool) (*OutboundRequest, error) {
		s.failOrRetry(out, msg, now, time.Time{})
		out.result.GiveUp = out.result.GiveUp || giveUp
		out.decided = true
		return nil, nil
	}
	if d.SecretSealed == nil {
		return decide("no alert signing secret", true)
	}
	secret, err := s.box.Open(*d.SecretSealed)
	if err != nil {
		return decide("alert signing secret unreadable", false)
	}
	canon, err := alertWebhookBody(al)
	if err != nil {
		return decide("alert not encodable", false)
	}
	ts := now.Unix()
	tctx := ctx
	if al.ExecutionID != nil {
		tctx = WithTrace(ctx, ExecutionTrace(*al.ExecutionID))
	}
	return &OutboundRequest{Method: "POST", URL: d.URL, Body: canon, Timeout: 10 * time.Second, Header: withTraceHeaders(tctx, []HeaderField{
		{"Content-Type", "application/json"},
		{"X-CueAPI-Signature", canonjson.Sign(secret, ts, canon)},
		{"X-CueAPI-Timestamp", strconv.FormatInt(ts, 10)},
		{"X-CueAPI-Alert-Id", al.ID},
		{"X-CueAPI-Alert-Type", al.Type},
		{"User-Agent", "CueAPI/1.0"},
	})}, nil
}

// alertWebhookBody is the canonical JSON of the alert's webhook body.
func alertWebhookBody(al *Alert) ([]byte, error) {
	body := alertBody{AlertID: al.ID, AlertType: al.Type, CreatedAt: PyTime(al.CreatedAt), Message: al.Message, Severity: al.Severity, Metadata: al.Metadata}
	if al.CueID != nil {
		s := string(*al.CueID)
		body.CueID = &s
	}
	if al.ExecutionID != nil {
		s := string(*al.ExecutionID)
		body.ExecutionID = &s
	}
	if len(body.Metadata) == 0 {
		body.Metadata = json.RawMessage(`{}`)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return canonjson.Canonical(raw)
}

// Settle implements DeliverySource.
func (s *alertSource) Settle(a *DeliveryAttempt) {
	out := a.Job.Item.(*alertJob)
	switch a.Outcome {
	case AttemptSkipped:
		if !out.decided {
			s.failOrRetry(out, "Webhook delivery failed", a.At, time.Time{})
		}
		s.obs.AlertDelivered(false)
	case AttemptReleased:
		// Not counted: hand the alert back, due at once.
		out.result.Release, out.result.Now = true, a.At
	case AttemptDelivered:
		out.result.Delivered, out.result.Now = true, a.At
		s.obs.AlertDelivered(true)
	default: // AttemptFailed, AttemptParked (a counted attempt, not sent)
		s.failOrRetry(out, a.Message, a.At, a.NotBefore)
		s.obs.AlertDelivered(false)
	}
}

// failOrRetry schedules the alert's next attempt on the alert schedule,
// no earlier than notBefore, or gives up after alertMaxAttempts.
func (s *alertSource) failOrRetry(out *alertJob, msg string, now, notBefore time.Time) {
	r := out.result
	r.Now, r.Error = now, &msg
	if r.Attempt >= alertMaxAttempts {
		r.GiveUp = true
		return
	}
	i := min(max(r.Attempt-1, 0), len(alertBackoff)-1)
	next := now.Add(alertBackoff[i])
	if notBefore.After(next) {
		next = notBefore
	}
	r.NextAttempt = &next
}

// Record implements DeliverySource.
func (s *alertSource) Record(ctx context.Context, now time.Time, done []*DeliveryAttempt) ([]bool, error) {
	if len(done) == 0 {
		return nil, nil
	}
	p := &AlertRecordDeliveriesParams{Now: now, Results: make([]*AlertRecordDeliveryParams, len(done))}
	for i, a := range done {
		p.Results[i] = a.Job.Item.(*alertJob).result
	}
	return s.store.AlertRecordDeliveries(ctx, p)
}
