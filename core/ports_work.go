package core

import (
	"context"
	"encoding/json"
	"time"
)

// WorkStore is the part of the store behind pull workers, outcomes,
// alerts, usage, the echo sink and device-code login.
type WorkStore interface {
	WorkerStore
	AccountingStore
}

// WorkerStore holds pull workers, claims and execution read-modify-writes.
// Every method is safe for concurrent use by any number of processes;
// tenant-scoped methods return ErrNotFound for another tenant's rows.
type WorkerStore interface {
	// ---- workers (pull transport) ----

	// WorkerHeartbeat upserts the tenant's worker: handlers replaced (nil
	// stores NULL), last_heartbeat = Now; created_at kept from the first.
	WorkerHeartbeat(ctx context.Context, p *WorkerHeartbeatParams) error
	// WorkerList returns the tenant's workers, most recent heartbeat first.
	WorkerList(ctx context.Context, p *WorkerListParams) ([]*Worker, error)
	// WorkerDelete deletes one. ErrNotFound when absent or foreign.
	WorkerDelete(ctx context.Context, p *WorkerDeleteParams) error

	// ExecutionClaimable lists the tenant's worker-transport executions
	// with status pending and scheduled_for <= Now, oldest scheduled_for
	// first, filtered by the cue payload's "task" (in the query, before the
	// limit) when Task is set.
	ExecutionClaimable(ctx context.Context, p *ExecutionClaimableParams) ([]*Claimable, error)
	// ExecutionClaimWorker claims one worker-transport execution for a
	// worker in a single conditional update: by ID when set, else the
	// oldest claimable (optionally with payload task = Task). It must be
	// pending with scheduled_for <= Now and belong to the tenant. Sets
	// status delivering, claimed_by_worker, claimed_at = started_at =
	// last_attempt_at = Now, attempts + 1, lease_expires_at = due_at =
	// Now + Lease, outcome_deadline_at = Now + the cue's
	// outcome_deadline_seconds (when set). A first claim (attempts 0 → 1)
	// with CountUsage adds one execution to the tenant's month of Now.
	// Concurrent claimers never both win. ErrNotFound when nothing matched.
	ExecutionClaimWorker(ctx context.Context, p *ExecutionClaimWorkerParams) (*Execution, error)

	// ExecutionUpdate runs Fn on the tenant's locked execution (with a copy
	// of its cue) and saves what Fn leaves in these execution fields:
	// status, error_message, delivered_at, lease_expires_at, due_at,
	// claimed_by_worker, claimed_at, last_heartbeat_at, outcome (all
	// fields), outcome_state, outcome_deadline_at, evidence (all fields),
	// updated_at — plus the CueEffect it returns (nil: none). due_at is
	// derived: lease_expires_at while delivering, unchanged while pending,
	// retrying or retry_ready, NULL otherwise. Fn's error
	// aborts without saving and is returned as is. Concurrent calls on one
	// execution are serialized (so a write-once check in Fn is race-free).
	// ErrNotFound when absent, foreign, or not a UUID.
	ExecutionUpdate(ctx context.Context, p *ExecutionUpdateParams) (*Execution, error)

	// ExecutionSweepWorkerLeases handles worker executions whose lease
	// expired (status delivering, lease_expires_at <= Now): each goes back
	// to pending (claim fields cleared, due_at = Now, error_message =
	// ResetMessage) when attempts < the cue's max attempts, else to failed
	// (error_message = ExhaustedMessage; a one-time cue fails, a recurring
	// cue with on_failure.pause pauses). Then worker executions still
	// pending whose due_at <= Now - UnclaimedTimeout become missed
	// (error_message = MissedMessage; same cue effects). At most Limit of
	// each. Returns the executions that became failed or missed, with their
	// cues and sealed webhook secrets, for escalation.
	ExecutionSweepWorkerLeases(ctx context.Context, p *ExecutionSweepWorkerLeasesParams) ([]*Delivery, error)

	// ExecutionSweepOutcomeDeadlines marks executions whose outcome
	// deadline passed without an outcome (outcome_recorded_at NULL,
	// outcome_deadline_at <= Now): status outcome_timeout,
	// outcome_deadline_at NULL. At most Limit. Returns them with their cues.
	ExecutionSweepOutcomeDeadlines(ctx context.Context, p *ExecutionSweepOutcomeDeadlinesParams) ([]*Delivery, error)

	// ExecutionRecentFinished returns the cue's latest executions (newest
	// created_at first, at most Limit) whose status is success, failed,
	// missed or outcome_timeout — for failure streaks.
	ExecutionRecentFinished(ctx context.Context, p *ExecutionRecentFinishedParams) ([]*Execution, error)
}

// AccountingStore holds alerts, usage, the echo sink and device-code
// logins. Every method is safe for concurrent use by any number of
// processes; tenant-scoped methods return ErrNotFound for another tenant's
// rows.
type AccountingStore interface {
	// ---- alerts ----

	// AlertCreate inserts the alert unless one of the same tenant, type and
	// cue (or execution, when the alert has no cue) was created within
	// DedupWindow before Now; created reports which. When the tenant has an
	// alert webhook URL the alert is queued for delivery (delivery_status
	// pending, next_delivery_at = Now).
	AlertCreate(ctx context.Context, p *AlertCreateParams) (created bool, err error)
	// AlertList returns a page of the tenant's alerts, newest first.
	AlertList(ctx context.Context, p *AlertListParams) ([]*Alert, int, error)
	// AlertClaimDeliveries claims up to Limit alerts due for delivery
	// (delivery_status pending, next_delivery_at <= Now): next_delivery_at =
	// Now + Lease, delivery_attempts + 1. Returns them with the tenant's
	// alert URL and sealed alert secret. Alerts whose tenant removed the URL
	// since become failed ("alert webhook URL removed") and are not returned.
	AlertClaimDeliveries(ctx context.Context, p *AlertClaimDeliveriesParams) ([]*AlertDelivery, error)
	// AlertRecordDelivery stores a delivery attempt's result: delivered
	// (delivery_status delivered, delivered_at = Now), retry (next_delivery_at
	// = NextAttempt, last_delivery_error), or given up (delivery_status
	// failed). ErrNotFound when the alert is absent or no longer pending.
	AlertRecordDelivery(ctx context.Context, p *AlertRecordDeliveryParams) error
	// AlertAcknowledge marks the tenant's alert acknowledged (idempotent).
	// ErrNotFound when absent, foreign, or not a UUID.
	AlertAcknowledge(ctx context.Context, p *AlertAcknowledgeParams) error

	// ---- usage ----

	// UsageGet returns the tenant's usage for the month starting Month
	// (zero values when nothing was counted; never ErrNotFound).
	UsageGet(ctx context.Context, p *UsageGetParams) (*Usage, error)
	// UsageStartGrace sets grace_started_at = Now for the month when unset
	// and returns the stored value. ErrNotFound for an unknown tenant.
	UsageStartGrace(ctx context.Context, p *UsageStartGraceParams) (time.Time, error)
	// UsageCount adds N executions to the tenant's month. ErrNotFound for an
	// unknown tenant.
	UsageCount(ctx context.Context, p *UsageCountParams) error
	// OutcomeCounts counts the tenant's executions created in [From, To):
	// with an outcome, of those successful, and failed ones (outcome
	// success=false, or no outcome and status failed or missed).
	OutcomeCounts(ctx context.Context, p *OutcomeCountsParams) (*OutcomeCounts, error)

	// ---- echo sink ----

	// EchoPut stores (overwrites) an echo entry.
	EchoPut(ctx context.Context, p *EchoEntry) error
	// EchoGet returns the entry if it has not expired at Now. ErrNotFound
	// otherwise.
	EchoGet(ctx context.Context, p *EchoGetParams) (*EchoEntry, error)

	// ---- device-code login ----

	// DeviceCodeCreate inserts a device code, replacing an existing row of
	// the same code that is expired (by time or status, CreatedAt being
	// "now") or claimed. ErrConflict when a live one exists.
	DeviceCodeCreate(ctx context.Context, p *DeviceCode) error
	// DeviceCodeGet returns the row for a code. ErrNotFound when absent.
	DeviceCodeGet(ctx context.Context, p *DeviceCodeGetParams) (*DeviceCode, error)
	// DeviceCodeGetBySessionToken returns the row whose one-time session
	// token hash matches. ErrNotFound when absent.
	DeviceCodeGetBySessionToken(ctx context.Context, p *DeviceCodeGetBySessionTokenParams) (*DeviceCode, error)
	// DeviceCodeUpdate runs Fn on the locked row and saves email, status,
	// api_key_sealed, verification_token_hash, session_token_hash and
	// user_id as Fn leaves them. ErrNotFound when absent.
	DeviceCodeUpdate(ctx context.Context, p *DeviceCodeUpdateParams) (*DeviceCode, error)
	// DeviceCodePurge deletes device codes that expired before Before and
	// echo entries expired at Before; returns how many rows went.
	DeviceCodePurge(ctx context.Context, p *DeviceCodePurgeParams) (int, error)
}

// WorkerHeartbeatParams upserts a worker.
type WorkerHeartbeatParams struct {
	TenantID TenantID
	WorkerID string
	Handlers []string
	Now      time.Time
}

// WorkerListParams lists a tenant's workers.
type WorkerListParams struct{ TenantID TenantID }

// WorkerDeleteParams deletes a worker.
type WorkerDeleteParams struct {
	TenantID TenantID
	WorkerID string
}

// Claimable is a worker execution ready to be claimed, with its cue.
type Claimable struct {
	Execution *Execution
	Cue       *Cue
}

// ExecutionClaimableParams lists claimable executions.
type ExecutionClaimableParams struct {
	TenantID TenantID
	Now      time.Time
	Task     *string
	Limit    int
}

// ExecutionClaimWorkerParams claims a worker execution.
type ExecutionClaimWorkerParams struct {
	TenantID   TenantID
	ID         *ExecutionID // nil: the oldest claimable
	Task       *string      // with ID nil: only executions whose payload task matches
	WorkerID   string
	Now        time.Time
	Lease      time.Duration
	CountUsage bool
}

// CueEffect is what an execution change does to its cue.
type CueEffect struct {
	CountRun   bool       // run_count + 1
	SetLastRun bool       // last_run = Now
	Status     *CueStatus // applied only to an active cue; paused clears next_run
	CountUsage bool       // +1 execution in the tenant's month of Now
	Now        time.Time
}

// ExecutionUpdateParams is a read-modify-write of one execution.
type ExecutionUpdateParams struct {
	TenantID TenantID
	ID       ExecutionID
	Fn       func(e *Execution, c *Cue) (*CueEffect, error)
}

// ExecutionSweepWorkerLeasesParams tunes the worker sweep.
type ExecutionSweepWorkerLeasesParams struct {
	Now              time.Time
	UnclaimedTimeout time.Duration
	Limit            int
	ResetMessage     string
	ExhaustedMessage string
	MissedMessage    string
}

// ExecutionSweepOutcomeDeadlinesParams tunes the outcome-deadline sweep.
type ExecutionSweepOutcomeDeadlinesParams struct {
	Now   time.Time
	Limit int
}

// ExecutionRecentFinishedParams selects a cue's latest finished executions.
type ExecutionRecentFinishedParams struct {
	TenantID TenantID
	CueID    CueID
	Limit    int
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

// Usage is a tenant's count for one month.
type Usage struct {
	MonthStart     time.Time
	Executions     int
	GraceStartedAt *time.Time
}

// UsageGetParams selects a month (MonthStart: first day, UTC).
type UsageGetParams struct {
	TenantID   TenantID
	MonthStart time.Time
}

// UsageStartGraceParams starts the grace period of a month.
type UsageStartGraceParams struct {
	TenantID   TenantID
	MonthStart time.Time
	Now        time.Time
}

// UsageCountParams adds executions to a month.
type UsageCountParams struct {
	TenantID   TenantID
	MonthStart time.Time
	N          int
}

// OutcomeCountsParams selects executions created in [From, To).
type OutcomeCountsParams struct {
	TenantID TenantID
	From, To time.Time
}

// OutcomeCounts are a tenant's outcome figures for a period.
type OutcomeCounts struct {
	Reported, Succeeded, Failed int
}

// EchoEntry is a stored echo-sink request.
type EchoEntry struct {
	Token      string
	Body       json.RawMessage
	Headers    map[string]string
	ReceivedAt time.Time
	ExpiresAt  time.Time
}

// EchoGetParams reads an echo entry as of Now.
type EchoGetParams struct {
	Token string
	Now   time.Time
}

// DeviceCode is the state of one CLI login.
type DeviceCode struct {
	ID                    string
	Code                  string
	Email                 *string
	Status                string // pending | email_sent | approved | claimed | expired
	APIKeySealed          *string
	VerificationTokenHash *string
	SessionTokenHash      *string
	UserID                *TenantID
	ExpiresAt             time.Time
	CreatedAt             time.Time
}

// DeviceCodeGetParams selects a device code.
type DeviceCodeGetParams struct{ Code string }

// DeviceCodeGetBySessionTokenParams selects by one-time token hash.
type DeviceCodeGetBySessionTokenParams struct{ Hash string }

// DeviceCodeUpdateParams is a read-modify-write of a device code.
type DeviceCodeUpdateParams struct {
	Code string
	Fn   func(d *DeviceCode) error
}

// DeviceCodePurgeParams deletes expired rows.
type DeviceCodePurgeParams struct{ Before time.Time }
