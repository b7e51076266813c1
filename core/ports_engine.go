package core

import (
	"context"
	"time"
)

// EngineStore is the part of the store the scheduler and the dispatcher
// use. Every method is safe for concurrent use by any number of processes
// sharing the database: selections use row locks that skip locked rows
// (FOR UPDATE SKIP LOCKED in PostgreSQL; SQLite has one writer) and every
// state change is conditional on the state it expects.
type EngineStore interface {
	// CueNextDueAt returns the earliest next_run of all active cues (any
	// tenant). ErrNotFound when no active cue has one.
	CueNextDueAt(ctx context.Context) (time.Time, error)

	// CueFireDue fires one batch: in one transaction it selects up to Limit
	// active cues whose next_run <= Horizon (oldest first, skipping rows
	// locked by another process), asks Plan what to do with each, inserts
	// the planned executions (status pending, due_at = scheduled_for,
	// triggered_by NULL; an execution that already exists for (cue,
	// scheduled_for) is skipped silently) and saves each cue's next_run,
	// status, last_error, skipped_count += Skipped, fired_count += inserted,
	// updated_at = Now.
	CueFireDue(ctx context.Context, p *CueFireDueParams) (*CueFireDueResult, error)

	// ExecutionCreate inserts one execution (manual fire, replay) for a cue
	// of the tenant. ErrNotFound when the cue is absent or foreign;
	// ErrConflict when (cue, scheduled_for) exists.
	ExecutionCreate(ctx context.Context, p *ExecutionCreateParams) (*Execution, error)

	// ExecutionGet returns one of the tenant's executions. ErrNotFound when
	// absent, foreign, or when the id is not a UUID.
	ExecutionGet(ctx context.Context, p *ExecutionGetParams) (*Execution, error)

	// ExecutionClaimDeliveries claims up to Limit webhook executions that are
	// due: status pending, retrying or retry_ready with due_at <= Now, or
	// delivering whose lease (due_at) expired — oldest due_at first. Each is
	// set to delivering with attempts+1 (an attempt is counted when it
	// starts, so one cut short by a crash still counts), started_at (if
	// unset) and last_attempt_at = Now, lease_expires_at = due_at = Now+Lease.
	// Two concurrent callers never claim the same execution.
	ExecutionClaimDeliveries(ctx context.Context, p *ExecutionClaimDeliveriesParams) ([]*Delivery, error)

	// ExecutionRecordDeliveries stores attempt results in one transaction.
	// A result applies only while its execution is still delivering with
	// attempts == Attempt (the claim is still the caller's). It sets status,
	// attempts = Attempts, http_status, response_body, error_message (NULL on
	// success), last_attempt_at = Now, delivered_at = Now on success,
	// next_retry and due_at = NextRetry when retrying (NULL otherwise),
	// lease_expires_at NULL, outcome_deadline_at, updated_at. The returned
	// slice says which applied. Applied results also update the cue
	// (run_count, last_run, status) and the monthly usage as the result says.
	ExecutionRecordDeliveries(ctx context.Context, p *ExecutionRecordDeliveriesParams) ([]bool, error)

	// ExecutionCancelUpcoming deletes the cue's scheduler-created executions
	// (triggered_by NULL) that are still pending and not yet due
	// (scheduled_for > Now) — materialized ahead by the look-ahead — and
	// decrements fired_count by the number deleted. Used when a cue is
	// paused or rescheduled. Returns how many were deleted.
	ExecutionCancelUpcoming(ctx context.Context, p *ExecutionCancelUpcomingParams) (int, error)

	// ExecutionQueueStats counts the delivery queue for /health.
	ExecutionQueueStats(ctx context.Context, p *ExecutionQueueStatsParams) (*QueueStats, error)

	// SchedulerHeartbeatPut records a scheduler cycle of one instance.
	SchedulerHeartbeatPut(ctx context.Context, p *SchedulerHeartbeat) error
	// SchedulerHeartbeatLatest returns the most recent cycle of any
	// instance. ErrNotFound when none was recorded.
	SchedulerHeartbeatLatest(ctx context.Context) (*SchedulerHeartbeat, error)
}

// FirePlan is the scheduler's decision for one due cue.
type FirePlan struct {
	// Occurrences are the scheduled_for instants to create executions for.
	Occurrences []time.Time
	NextRun     *time.Time
	Status      CueStatus
	Skipped     int
	LastError   *string
}

// CueFireDueParams are the inputs of CueFireDue.
type CueFireDueParams struct {
	Now     time.Time
	Horizon time.Time // fire cues with next_run <= Horizon (Now + look-ahead)
	Limit   int
	Plan    func(c *Cue) FirePlan
}

// CueFireDueResult counts one batch.
type CueFireDueResult struct {
	Cues     int // cues processed (a full batch means more may be due)
	Inserted int // executions created
}

// ExecutionCreateParams inserts one execution.
type ExecutionCreateParams struct {
	Execution *Execution
}

// ExecutionGetParams selects one of a tenant's executions.
type ExecutionGetParams struct {
	TenantID TenantID
	ID       ExecutionID
}

// ExecutionClaimDeliveriesParams claims due webhook executions.
type ExecutionClaimDeliveriesParams struct {
	Now   time.Time
	Lease time.Duration
	Limit int
}

// Delivery is a claimed webhook execution with what its attempt needs,
// read at claim time (so retries see the cue's current callback, payload
// and policies, and the owner's current secret).
type Delivery struct {
	Execution           *Execution
	Cue                 *Cue
	WebhookSecretSealed string
}

// DeliveryResult is the outcome of one attempt (or the decision not to make
// one, e.g. an expired lease with no attempts left).
type DeliveryResult struct {
	ExecutionID  ExecutionID
	CueID        CueID
	TenantID     TenantID
	Attempt      int // the claim's attempts value (fencing)
	Attempts     int // the attempts value to store (normally Attempt)
	Status       ExecutionStatus
	HTTPStatus   *int
	ResponseBody *string
	ErrorMessage *string
	NextRetry    *time.Time // status retrying: when to try again
	// Cue effects.
	CountRun   bool       // run_count + 1
	SetLastRun bool       // last_run = Now
	CueStatus  *CueStatus // completed / failed / paused (paused clears next_run); applied only to an active cue
	// Usage: +1 execution in the tenant's current month.
	CountUsage bool
	// OutcomeDeadlineAt is set on success when the cue has an outcome deadline.
	OutcomeDeadlineAt *time.Time
}

// ExecutionRecordDeliveriesParams stores attempt results.
type ExecutionRecordDeliveriesParams struct {
	Now     time.Time
	Results []*DeliveryResult
}

// ExecutionCancelUpcomingParams selects a cue's upcoming executions.
type ExecutionCancelUpcomingParams struct {
	TenantID TenantID
	CueID    CueID
	Now      time.Time
}

// ExecutionQueueStatsParams counts the queue as of Now.
type ExecutionQueueStatsParams struct{ Now time.Time }

// QueueStats is the delivery queue as /health reports it.
type QueueStats struct {
	PendingWebhooks     int // webhook executions pending and due
	StaleDeliveries     int // delivering with an expired lease
	PendingRetries      int // retrying or retry_ready
	PendingWorkerClaims int // worker executions pending
}

// SchedulerHeartbeat is one scheduler cycle.
type SchedulerHeartbeat struct {
	InstanceID      string
	LastRun         time.Time
	CuesLastCycle   int
	CycleDurationMs int
}
