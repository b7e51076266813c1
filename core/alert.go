package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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

// Alerts raises persisted alerts; their webhooks (signed, with retries)
// are one of the Dispatcher's delivery sources (Source). Safe for
// concurrent use.
type Alerts struct {
	store    alertsStore
	box      SecretBox
	clock    Clock
	log      Logger
	notifier *Notifier
	obs      Observer
	// wake tells the dispatcher an alert was queued (nil: nobody to tell).
	wake func()
}

// NewAlerts wires the alerts service. Alert webhooks are sent by the
// Dispatcher the source is registered with (NewApplication does it), not
// through the Deliverer, which is accepted for the callers' convenience
// and unused.
func NewAlerts(store alertsStore, _ Deliverer, box SecretBox, clock Clock, log Logger) *Alerts {
	return &Alerts{store: store, box: box, clock: clock, log: log, obs: NopObserver{}}
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
		if a.wake != nil {
			a.wake()
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
	// (delivery_status pending, next_delivery_at <= Now), fairly across
	// destinations like ExecutionClaimDeliveries: at most RoomFor(d) of
	// destination d (none when 0), oldest next_delivery_at first within a
	// destination, round-robin across destinations; concurrent claimers
	// take disjoint sets. Claimed alerts are leased (next_delivery_at = Now
	// + Lease, delivery_attempts + 1) and returned with the tenant's alert
	// URL, its destination and the sealed alert secret. Alerts whose tenant
	// removed the URL since become failed ("alert webhook URL removed");
	// alerts whose tenant's URL now has another destination move to it;
	// neither is returned.
	AlertClaimDeliveries(ctx context.Context, p *AlertClaimDeliveriesParams) ([]*AlertDelivery, error)

	// AlertCreate inserts the alert unless one of the same tenant, type and
	// cue (or execution, when the alert has no cue) was created within
	// DedupWindow before Now; created reports which. When the tenant has an
	// alert webhook URL the alert is queued for delivery (delivery_status
	// pending, next_delivery_at = Now).
	AlertCreate(ctx context.Context, p *AlertCreateParams) (created bool, err error)

	// AlertList returns a page of the tenant's alerts, newest first.
	AlertList(ctx context.Context, p *AlertListParams) ([]*Alert, int, error)

	// AlertRecordDeliveries stores a batch of delivery attempt results in
	// one transaction, each fenced on its claim: applied only while the
	// alert is still pending with delivery_attempts = Attempt (a result
	// whose lease expired and whose alert another claimer took is
	// dropped). A result is delivered (delivery_status delivered,
	// delivered_at = Now), a retry (next_delivery_at = NextAttempt,
	// last_delivery_error), given up (delivery_status failed) or released
	// (handed back uncounted: delivery_attempts = Attempt - 1, due at Now).
	// applied[i] reports result i; on an error nothing is stored.
	AlertRecordDeliveries(ctx context.Context, p *AlertRecordDeliveriesParams) (applied []bool, err error)
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

// AlertClaimDeliveriesParams claims due alert webhooks (see DeliveryClaim).
type AlertClaimDeliveriesParams = DeliveryClaim

// AlertDelivery is an alert to deliver with where and how to sign it.
type AlertDelivery struct {
	Alert *Alert
	URL   string
	// Destination is DestinationOf(URL), as stored on the alert.
	Destination  string
	SecretSealed *string
}

// AlertRecordDeliveriesParams stores a batch of alert delivery attempts.
type AlertRecordDeliveriesParams struct {
	Now     time.Time
	Results []*AlertRecordDeliveryParams
}

// AlertRecordDeliveryParams stores one alert delivery attempt.
type AlertRecordDeliveryParams struct {
	ID  string
	Now time.Time
	// Attempt is the claimed attempt (delivery_attempts after the claim):
	// the fence.
	Attempt   int
	Delivered bool
	GiveUp    bool
	// Release hands the alert back uncounted, due at Now.
	Release     bool
	Error       *string
	NextAttempt *time.Time
}

// Attempts is the delivery_attempts the result leaves: Attempt, one less
// when released.
func (p *AlertRecordDeliveryParams) Attempts() int {
	if p.Release {
		return max(p.Attempt-1, 0)
	}
	return p.Attempt
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
	case p.Release:
		return AlertDeliveryPending, nil, &p.Now
	case p.NextAttempt != nil:
		return AlertDeliveryPending, nil, p.NextAttempt
	}
	return AlertDeliveryPending, nil, &p.Now
}

// DedupSince is the creation time after which an alert of the same tenant,
// type and cue (or execution) suppresses this one.
func (p *AlertCreateParams) DedupSince() time.Time { return p.Now.Add(-p.DedupWindow) }

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
