package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cueapi/cueapi/core/canonjson"
)

// Alert policy constants.
const (
	// FailureStreakThreshold failed runs in a row raise consecutive_failures.
	FailureStreakThreshold = 3
	// AlertDedupWindow is the quiet window per (tenant, type, cue).
	AlertDedupWindow = 5 * time.Minute
	// alertMaxAttempts bounds alert webhook deliveries.
	alertMaxAttempts = 8
)

// alertBackoff is the wait after failed alert delivery attempt i (1-based).
var alertBackoff = []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour}

// Alerts raises persisted alerts and delivers them to the tenant's alert
// webhook, signed, with retries. Safe for concurrent use.
type Alerts struct {
	store     alertsStore
	deliverer Deliverer
	box       SecretBox
	clock     Clock
	log       Logger
	wake      chan struct{}
	mu        sync.Mutex
	notifier  *Notifier
	obs       Observer
}

// NewAlerts wires the alerts service.
func NewAlerts(store alertsStore, deliverer Deliverer, box SecretBox, clock Clock, log Logger) *Alerts {
	return &Alerts{store: store, deliverer: deliverer, box: box, clock: clock, log: log, wake: make(chan struct{}, 1), obs: NopObserver{}}
}

func (a *Alerts) raise(ctx context.Context, al *Alert) {
	al.ID = NewUUID()
	al.CreatedAt = a.clock.Now()
	if al.Severity == "" {
		al.Severity = SeverityWarning
	}
	created, err := a.store.AlertCreate(ctx, &AlertCreateParams{Alert: al, DedupWindow: AlertDedupWindow, Now: al.CreatedAt})
	if err != nil {
		a.log.Error("alert not recorded", "type", al.Type, "err", err)
		return
	}
	if created {
		a.notifier.AlertRaised(al)
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// VerificationFailed raises verification_failed for an execution.
func (a *Alerts) VerificationFailed(ctx context.Context, e *Execution, c *Cue) {
	meta, _ := json.Marshal(map[string]string{"outcome_state": string(OutcomeVerificationFailed), "transport": string(c.Transport)})
	cid, eid := c.ID, e.ID
	a.raise(ctx, &Alert{TenantID: c.TenantID, CueID: &cid, ExecutionID: &eid, Type: AlertVerificationFailed,
		Message:  fmt.Sprintf("Execution %s reported success but failed verification (required evidence missing).", e.ID),
		Metadata: meta})
}

// OutcomeTimeout raises outcome_timeout for an execution.
func (a *Alerts) OutcomeTimeout(ctx context.Context, e *Execution, c *Cue) {
	meta, _ := json.Marshal(map[string]any{"outcome_deadline_seconds": c.OutcomeDeadlineSeconds, "transport": string(c.Transport)})
	cid, eid := c.ID, e.ID
	a.raise(ctx, &Alert{TenantID: c.TenantID, CueID: &cid, ExecutionID: &eid, Type: AlertOutcomeTimeout,
		Message:  fmt.Sprintf("Execution %s reported no outcome before its deadline.", e.ID),
		Metadata: meta})
}

// runFailed says whether a finished execution counts as a failed run: a
// final delivery failure, a missed worker run, a missing outcome past its
// deadline, or a reported failure.
func runFailed(e *Execution) bool {
	switch e.Status {
	case ExecFailed, ExecMissed, ExecOutcomeTimeout:
		return true
	}
	return e.Outcome != nil && !e.Outcome.Success
}

// RunFinished re-evaluates the cue's failure streak after one of its runs
// finished. Exactly one consecutive_failures alert is raised per streak: when
// the streak reaches the threshold (and the 5-minute window de-duplicates
// races between replicas).
func (a *Alerts) RunFinished(ctx context.Context, tenant TenantID, c *Cue) {
	recent, err := a.store.ExecutionRecentFinished(ctx, &ExecutionRecentFinishedParams{TenantID: tenant, CueID: c.ID, Limit: FailureStreakThreshold + 1})
	if err != nil {
		a.log.Warn("failure streak not evaluated", "cue_id", string(c.ID), "err", err)
		return
	}
	streak := 0
	for _, e := range recent {
		if !runFailed(e) {
			break
		}
		streak++
	}
	if streak != FailureStreakThreshold {
		return
	}
	meta, _ := json.Marshal(map[string]int{"consecutive_failures": streak})
	cid, eid := c.ID, recent[0].ID
	a.raise(ctx, &Alert{TenantID: tenant, CueID: &cid, ExecutionID: &eid, Type: AlertConsecutiveFailures,
		Message: fmt.Sprintf("Cue %s has %d consecutive failed executions.", c.ID, streak), Metadata: meta})
}

// List returns a page of the tenant's alerts.
func (a *Alerts) List(ctx context.Context, u *User, typ *string, since *string, limit, offset int) ([]*Alert, int, error) {
	p := &AlertListParams{TenantID: u.ID, Limit: limit, Offset: offset}
	if typ != nil && *typ != "" {
		switch *typ {
		case AlertConsecutiveFailures, AlertOutcomeTimeout, AlertVerificationFailed:
			p.Type = typ
		default:
			return nil, 0, Invalid("invalid_filter", "alert_type must be one of: consecutive_failures, outcome_timeout, verification_failed")
		}
	}
	if since != nil && *since != "" {
		t, err := ParseTimestamp(*since)
		if err != nil {
			return nil, 0, Query("since").NotA(TypeDatetime).Err()
		}
		p.Since = &t
	}
	return a.store.AlertList(ctx, p)
}

// alertBody is the signed alert webhook body (api.md §6.4).
type alertBody struct {
	AlertID     string          `json:"alert_id"`
	AlertType   string          `json:"alert_type"`
	CreatedAt   string          `json:"created_at"`
	CueID       *string         `json:"cue_id"`
	ExecutionID *string         `json:"execution_id"`
	Message     string          `json:"message"`
	Metadata    json.RawMessage `json:"metadata"`
	Severity    string          `json:"severity"`
}

// DeliverOnce claims due alert deliveries and sends them; it returns how
// many were attempted. Failed sends are retried with backoff up to
// alertMaxAttempts, then given up (the alert stays listed).
func (a *Alerts) DeliverOnce(ctx context.Context) (int, error) {
	now := a.clock.Now()
	batch, err := a.store.AlertClaimDeliveries(ctx, &AlertClaimDeliveriesParams{Now: now, Lease: time.Minute, Limit: 50})
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, d := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.deliver(ctx, d)
		}()
	}
	wg.Wait()
	return len(batch), nil
}

func (a *Alerts) deliver(ctx context.Context, d *AlertDelivery) {
	al := d.Alert
	record := func(delivered bool, msg string) {
		a.obs.AlertDelivered(delivered)
		p := &AlertRecordDeliveryParams{ID: al.ID, Now: a.clock.Now(), Delivered: delivered}
		if !delivered {
			p.Error = &msg
			if al.DeliveryAttempts >= alertMaxAttempts || d.SecretSealed == nil {
				p.GiveUp = true
			} else {
				i := al.DeliveryAttempts - 1
				if i >= len(alertBackoff) {
					i = len(alertBackoff) - 1
				}
				if i < 0 {
					i = 0
				}
				next := p.Now.Add(alertBackoff[i])
				p.NextAttempt = &next
			}
		}
		if err := a.store.AlertRecordDelivery(ctx, p); err != nil {
			a.log.Error("alert delivery not recorded", "alert_id", al.ID, "err", err)
		}
	}
	if d.SecretSealed == nil {
		record(false, "no alert signing secret")
		return
	}
	secret, err := a.box.Open(*d.SecretSealed)
	if err != nil {
		record(false, "alert signing secret unreadable")
		return
	}
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
		record(false, "alert not encodable")
		return
	}
	canon, err := canonjson.Canonical(raw)
	if err != nil {
		record(false, "alert not encodable")
		return
	}
	ts := a.clock.Now().Unix()
	tctx := ctx
	if al.ExecutionID != nil {
		tctx = WithTrace(ctx, ExecutionTrace(*al.ExecutionID))
	}
	resp, err := a.deliverer.Send(ctx, &OutboundRequest{Method: "POST", URL: d.URL, Body: canon, Timeout: 10 * time.Second, Header: withTraceHeaders(tctx, []HeaderField{
		{"Content-Type", "application/json"},
		{"X-CueAPI-Signature", canonjson.Sign(secret, ts, canon)},
		{"X-CueAPI-Timestamp", strconv.FormatInt(ts, 10)},
		{"X-CueAPI-Alert-Id", al.ID},
		{"X-CueAPI-Alert-Type", al.Type},
		{"User-Agent", "CueAPI/1.0"},
	})})
	switch {
	case err != nil:
		record(false, err.Error())
	case resp.Status < 200 || resp.Status >= 300:
		record(false, httpErrorMessage(resp.Status))
	default:
		record(true, "")
	}
}

// Run delivers alerts until ctx ends.
func (a *Alerts) Run(ctx context.Context, poll time.Duration) {
	for ctx.Err() == nil {
		n, err := a.DeliverOnce(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Error("alert delivery failed", "err", err)
		}
		if n > 0 {
			continue
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
		case <-a.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Alert types and severities.
const (
	AlertConsecutiveFailures = "consecutive_failures"
	AlertVerificationFailed  = "verification_failed"
	AlertOutcomeTimeout      = "outcome_timeout"
	SeverityWarning          = "warning"
)

// Alert is a persisted notification about a tenant's cue or execution.
type Alert struct {
	ID           string
	TenantID     TenantID
	CueID        *CueID
	ExecutionID  *ExecutionID
	Type         string
	Severity     string
	Message      string
	Metadata     json.RawMessage
	Acknowledged bool
	CreatedAt    time.Time
	// Delivery state (not part of the wire object).
	DeliveryStatus   *string // pending | delivered | failed; nil: no webhook configured
	DeliveryAttempts int
	DeliveredAt      *time.Time
	LastDeliveryErr  *string
}

// AlertStore persists alerts and their webhook delivery state. Every method
// is safe for concurrent use by any number of processes sharing the
// database; tenant-scoped methods return ErrNotFound for another tenant's
// rows. Methods are sorted by name.
type AlertStore interface {
	// AlertAcknowledge marks the tenant's alert acknowledged (idempotent).
	// ErrNotFound when absent, foreign, or not a UUID.
	AlertAcknowledge(ctx context.Context, p *AlertAcknowledgeParams) error

	// AlertClaimDeliveries claims up to Limit alerts due for delivery
	// (delivery_status pending, next_delivery_at <= Now): next_delivery_at =
	// Now + Lease, delivery_attempts + 1. Returns them with the tenant's
	// alert URL and sealed alert secret. Alerts whose tenant removed the URL
	// since become failed ("alert webhook URL removed") and are not returned.
	AlertClaimDeliveries(ctx context.Context, p *AlertClaimDeliveriesParams) ([]*AlertDelivery, error)

	// AlertCreate inserts the alert unless one of the same tenant, type and
	// cue (or execution, when the alert has no cue) was created within
	// DedupWindow before Now; created reports which. When the tenant has an
	// alert webhook URL the alert is queued for delivery (delivery_status
	// pending, next_delivery_at = Now).
	AlertCreate(ctx context.Context, p *AlertCreateParams) (created bool, err error)

	// AlertList returns a page of the tenant's alerts, newest first.
	AlertList(ctx context.Context, p *AlertListParams) ([]*Alert, int, error)

	// AlertRecordDelivery stores a delivery attempt's result: delivered
	// (delivery_status delivered, delivered_at = Now), retry (next_delivery_at
	// = NextAttempt, last_delivery_error), or given up (delivery_status
	// failed). ErrNotFound when the alert is absent or no longer pending.
	AlertRecordDelivery(ctx context.Context, p *AlertRecordDeliveryParams) error
}

// AlertCreateParams inserts an alert with de-duplication.
type AlertCreateParams struct {
	Alert       *Alert
	DedupWindow time.Duration
	Now         time.Time
}

// AlertListParams filters and pages a tenant's alerts.
type AlertListParams struct {
	TenantID TenantID
	Type     *string
	Since    *time.Time
	Limit    int
	Offset   int
}

// AlertClaimDeliveriesParams claims alerts due for delivery.
type AlertClaimDeliveriesParams struct {
	Now   time.Time
	Lease time.Duration
	Limit int
}

// AlertDelivery is an alert to deliver with where and how to sign it.
type AlertDelivery struct {
	Alert        *Alert
	URL          string
	SecretSealed *string
}

// AlertRecordDeliveryParams stores one alert delivery attempt.
type AlertRecordDeliveryParams struct {
	ID          string
	Now         time.Time
	Delivered   bool
	GiveUp      bool
	Error       *string
	NextAttempt *time.Time
}

// alertsStore is what Alerts persists through.
type alertsStore interface {
	AlertStore
	ExecutionStore
}

// Alert delivery states (Alert.DeliveryStatus).
const (
	AlertDeliveryPending   = "pending"
	AlertDeliveryDelivered = "delivered"
	AlertDeliveryFailed    = "failed"
)

// AlertURLRemoved is the delivery error of an alert given up because its
// tenant cleared the alert webhook URL after the alert was queued.
const AlertURLRemoved = "alert webhook URL removed"

// HasAlertWebhook reports whether a tenant's alert webhook URL makes its
// alerts deliverable: alerts are queued at creation, and claimed for
// delivery, only while it does.
func HasAlertWebhook(url *string) bool { return url != nil && *url != "" }

// Stored is the delivery state the attempt leaves: delivered (delivered_at
// = Now), given up (failed) or pending with the next attempt at
// NextAttempt (Now when unset, so the alert cannot get stuck); the next
// attempt is nil unless pending.
func (p *AlertRecordDeliveryParams) Stored() (status string, deliveredAt, nextAttempt *time.Time) {
	switch {
	case p.Delivered:
		return AlertDeliveryDelivered, &p.Now, nil
	case p.GiveUp:
		return AlertDeliveryFailed, nil, nil
	case p.NextAttempt != nil:
		return AlertDeliveryPending, nil, p.NextAttempt
	}
	return AlertDeliveryPending, nil, &p.Now
}

// DedupSince is the creation time after which an alert of the same tenant,
// type and cue (or execution) suppresses this one.
func (p *AlertCreateParams) DedupSince() time.Time { return p.Now.Add(-p.DedupWindow) }

// LeaseUntil is when the claimed alerts may be claimed again.
func (p *AlertClaimDeliveriesParams) LeaseUntil() time.Time { return p.Now.Add(p.Lease) }

// AlertAcknowledgeParams selects one of a tenant's alerts.
type AlertAcknowledgeParams struct {
	TenantID TenantID
	ID       string
}

// ErrAlertNotFound is an absent or foreign alert.
var ErrAlertNotFound = NotFound("alert_not_found", "Alert not found")

// Acknowledge marks one of the caller's alerts as seen (the dashboard's
// acknowledge action); the alert's acknowledged field reports it.
func (a *Alerts) Acknowledge(ctx context.Context, u *User, id string) error {
	err := a.store.AlertAcknowledge(ctx, &AlertAcknowledgeParams{TenantID: u.ID, ID: id})
	if errors.Is(err, ErrNotFound) {
		return ErrAlertNotFound
	}
	return err
}
