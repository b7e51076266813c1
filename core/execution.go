package core

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Executions implements reading executions and creating manual ones (fire,
// replay). Safe for concurrent use.
type Executions struct {
	store  Store
	clock  Clock
	wake   func() // tells the dispatcher there is work; may be nil
	traces *TraceCarrier
}

// NewExecutions wires the executions service. onCreated (may be nil) runs
// after an execution was created: it tells the dispatcher there is work.
func NewExecutions(store Store, clock Clock, onCreated func()) *Executions {
	if store == nil || clock == nil {
		panic("core.NewExecutions: nil dependency")
	}
	return &Executions{store: store, clock: clock, wake: onCreated}
}

// ExecutionFilter filters a list of executions, as the query string says
// (nil or empty: no filter).
type ExecutionFilter struct {
	CueID        *string
	Status       *string
	StatusIn     *string // comma-separated statuses; not with Status
	OutcomeState *string // OutcomeUnknown matches executions without one
	TriggeredBy  *string // TriggerScheduled matches scheduler-created executions
	ResultType   *string
	HasEvidence  *bool
	WorkerID     *string
}

// OutcomeUnknown is the outcome_state filter value matching executions
// without an outcome state.
const OutcomeUnknown = "unknown"

var (
	errConflictingFilters = Invalid("conflicting_filters", "Pass either `status` or `status__in`, not both.")
	errInvalidStatusIn    = Invalid("invalid_status_in", "`status__in` must list at least one status.")
)

// ExecutionPage is one page of a filtered execution list.
type ExecutionPage struct {
	Executions []*Execution
	Total      int
	// OldestClaimedAt is the earliest claimed_at over the whole filtered
	// set (nil when none was ever claimed).
	OldestClaimedAt *time.Time
}

// ListParams turns the query filter into the store's filter: statuses
// from status or status__in (400 conflicting_filters when both, 400
// invalid_status_in when status__in has no non-blank entry), "unknown"
// outcome state and "scheduled" trigger as their NULL matches.
func (f ExecutionFilter) ListParams(tenant TenantID, limit, offset int) (*ExecutionListParams, error) {
	p := &ExecutionListParams{TenantID: tenant, ResultType: f.ResultType, WorkerID: f.WorkerID, Limit: limit, Offset: offset}
	if f.CueID != nil {
		id := CueID(*f.CueID)
		p.CueID = &id
	}
	if f.Status != nil && f.StatusIn != nil {
		return nil, errConflictingFilters
	}
	if f.Status != nil {
		p.Statuses = []string{*f.Status}
	}
	if f.StatusIn != nil {
		for _, st := range strings.Split(*f.StatusIn, ",") {
			if st = strings.TrimSpace(st); st != "" && !slices.Contains(p.Statuses, st) {
				p.Statuses = append(p.Statuses, st)
			}
		}
		if len(p.Statuses) == 0 {
			return nil, errInvalidStatusIn
		}
	}
	if f.OutcomeState != nil {
		if *f.OutcomeState == OutcomeUnknown {
			p.NoOutcomeState = true
		} else {
			p.OutcomeState = f.OutcomeState
		}
	}
	if f.TriggeredBy != nil {
		if *f.TriggeredBy == TriggerScheduled {
			p.ScheduledOnly = true
		} else {
			p.TriggeredBy = f.TriggeredBy
		}
	}
	p.HasEvidence = f.HasEvidence != nil && *f.HasEvidence
	return p, nil
}

// List returns a page of the tenant's executions, newest first, and the
// total matching count.
func (s *Executions) List(ctx context.Context, u *User, f ExecutionFilter, limit, offset int) ([]*Execution, int, error) {
	p, err := f.ListParams(u.ID, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	return s.store.ExecutionList(ctx, p)
}

// Page is List with the earliest claim time of the whole filtered set
// (GET /v1/executions).
func (s *Executions) Page(ctx context.Context, u *User, f ExecutionFilter, limit, offset int) (*ExecutionPage, error) {
	p, err := f.ListParams(u.ID, limit, offset)
	if err != nil {
		return nil, err
	}
	list, total, err := s.store.ExecutionList(ctx, p)
	if err != nil {
		return nil, err
	}
	oldest, err := s.store.ExecutionOldestClaimedAt(ctx, p)
	if err != nil {
		return nil, err
	}
	return &ExecutionPage{Executions: list, Total: total, OldestClaimedAt: oldest}, nil
}

// Get returns one of the tenant's executions; a malformed id is simply not
// found.
func (s *Executions) Get(ctx context.Context, u *User, id ExecutionID) (*Execution, error) {
	e, err := s.store.ExecutionGet(ctx, &ExecutionGetParams{TenantID: u.ID, ID: id})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrExecutionNotFound
	}
	return e, err
}

var errInFlight = Conflict("execution_in_flight", "Cannot replay an execution that is still in progress")

// Replay creates a new pending execution of a finished one's cue that
// carries what the original carried (its payload, including a fire's
// override — clients.md C8), see Execution.ReplayCopy.
func (s *Executions) Replay(ctx context.Context, u *User, id ExecutionID) (*Execution, error) {
	orig, err := s.Get(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if !orig.Status.Terminal() {
		return nil, errInFlight
	}
	e, err := s.create(ctx, orig.ReplayCopy(NewExecutionID(), s.clock.Now()), nil)
	if errors.Is(err, ErrCueNotFound) {
		return nil, ErrExecutionNotFound // the cue went away meanwhile
	}
	return e, err
}

// ReplayCopy is the execution a replay of e creates as id at now: a copy
// of e — so whatever e carries besides its run (its payload, including a
// fire's payload_override) is carried forward — with every field of the
// run reset: pending, scheduled for now, no attempts, claim, delivery,
// outcome, assertions or evidence, no chain position, no live-claim
// attestation, triggered by replay
// of e. Carried: the effective payload, the override as sent and its merge
// strategy, and the required assertions (exit criteria).
func (e *Execution) ReplayCopy(id ExecutionID, now time.Time) *Execution {
	r := *e
	r.ID, r.ScheduledFor, r.Status, r.CreatedAt, r.UpdatedAt = id, now, ExecPending, now, now
	r.HTTPStatus, r.ResponseBody, r.Attempts, r.NextRetry, r.ErrorMessage = nil, nil, 0, nil, nil
	r.StartedAt, r.DeliveredAt, r.LastAttemptAt, r.LeaseExpiresAt = nil, nil, nil, nil
	r.ClaimedByWorker, r.ClaimedAt, r.LastHeartbeatAt = nil, nil, nil
	r.Outcome, r.OutcomeState, r.OutcomeDeadlineAt, r.Evidence, r.Assertions = nil, nil, nil, Evidence{}, nil
	// A replay is started by hand, not by a parent's success.
	r.ChainParentID, r.ChainDepth = nil, 0
	// The attestation belongs to the attested run.
	r.LiveClaimSessionToken, r.LiveClaimedAt = nil, nil
	trig, from := TriggerReplay, e.ID
	r.TriggeredBy, r.ReplayedFrom = &trig, &from
	return &r
}

// create inserts e (and binds claim's key to it), taking the next
// microsecond when another execution of the cue has the same scheduled
// time; the wake-up follows.
func (s *Executions) create(ctx context.Context, e *Execution, claim *IdempotencyClaim) (*Execution, error) {
	for i := 0; ; i++ {
		created, err := s.store.ExecutionCreate(ctx, &ExecutionCreateParams{Execution: e, Idempotency: claim})
		if errors.Is(err, ErrConflict) && i < 3 {
			// Two manual runs in the same microsecond: (cue, scheduled_for)
			// is unique, so take the next microsecond.
			e.ScheduledFor = e.ScheduledFor.Add(1000)
			continue
		}
		if errors.Is(err, ErrNotFound) {
			return nil, ErrCueNotFound
		}
		if err != nil {
			return nil, err
		}
		if tc, ok := TraceFrom(ctx); ok {
			s.traces.Put(created.ID, tc, s.clock.Now())
		}
		if s.wake != nil {
			s.wake()
		}
		return created, nil
	}
}

// ExecutionStatus is the delivery state of an execution.
type ExecutionStatus string

// Execution statuses.
const (
	ExecPending        ExecutionStatus = "pending"
	ExecDelivering     ExecutionStatus = "delivering"
	ExecSuccess        ExecutionStatus = "success"
	ExecFailed         ExecutionStatus = "failed"
	ExecRetrying       ExecutionStatus = "retrying"
	ExecRetryReady     ExecutionStatus = "retry_ready"
	ExecMissed         ExecutionStatus = "missed"
	ExecPendingOutcome ExecutionStatus = "pending_outcome"
	ExecOutcomeTimeout ExecutionStatus = "outcome_timeout"
)

// Terminal reports whether no further delivery will happen.
func (s ExecutionStatus) Terminal() bool {
	switch s {
	case ExecSuccess, ExecFailed, ExecMissed, ExecOutcomeTimeout:
		return true
	}
	return false
}

// OutcomeState is the verification state of a reported outcome.
type OutcomeState string

// Outcome states.
const (
	OutcomeReportedSuccess     OutcomeState = "reported_success"
	OutcomeReportedFailure     OutcomeState = "reported_failure"
	OutcomeVerifiedSuccess     OutcomeState = "verified_success"
	OutcomeVerificationPending OutcomeState = "verification_pending"
	OutcomeVerificationFailed  OutcomeState = "verification_failed"
)

// Trigger values of Execution.TriggeredBy (nil: the scheduler, shown as
// TriggerScheduled).
const (
	TriggerScheduled  = "scheduled"
	TriggerManualFire = "manual_fire"
	TriggerReplay     = "replay"
	TriggerChain      = "chain"
)

// Trigger is what created the execution as the API shows it: the stored
// trigger, or TriggerScheduled for scheduler-created executions.
func (e *Execution) Trigger() string {
	if e.TriggeredBy == nil {
		return TriggerScheduled
	}
	return *e.TriggeredBy
}

// Outcome is what a handler reported about a run.
type Outcome struct {
	Success    bool
	Result     *string
	Error      *string
	Metadata   json.RawMessage
	RecordedAt time.Time
}

// Evidence backs a reported outcome.
type Evidence struct {
	ExternalID      *string
	ResultURL       *string
	ResultRef       *string
	ResultType      *string
	Summary         *string
	Artifacts       json.RawMessage
	Metadata        json.RawMessage
	ValidationState *string
	ProducedAt      *time.Time
}

// Execution is one occurrence of a cue.
type Execution struct {
	ID                ExecutionID
	CueID             CueID
	TenantID          TenantID
	ScheduledFor      time.Time
	Status            ExecutionStatus
	HTTPStatus        *int
	ResponseBody      *string
	Attempts          int
	NextRetry         *time.Time
	ErrorMessage      *string
	StartedAt         *time.Time
	DeliveredAt       *time.Time
	LastAttemptAt     *time.Time
	LeaseExpiresAt    *time.Time
	ClaimedByWorker   *string
	ClaimedAt         *time.Time
	LastHeartbeatAt   *time.Time
	Outcome           *Outcome
	OutcomeState      *OutcomeState
	OutcomeDeadlineAt *time.Time
	Evidence          Evidence
	TriggeredBy       *string
	ReplayedFrom      *ExecutionID
	CreatedAt         time.Time
	UpdatedAt         time.Time

	// Fire options (clients.md §2.2). Payload is the effective payload
	// snapshotted at fire time (nil: the cue's current payload).
	Payload         json.RawMessage
	PayloadOverride json.RawMessage // as sent; nil: none
	MergeStrategy   *string         // with PayloadOverride
	// RequiredAssertions are the outcome assertions a success must carry
	// (fire exit_criteria); nil: the cue's verification.required_assertions.
	RequiredAssertions *[]string
	// Assertions is the outcome's assertions object (nil: none reported).
	Assertions json.RawMessage
	// On-success chaining: the source execution and the depth (0 unless
	// chained).
	ChainParentID *ExecutionID
	ChainDepth    int
	// Live-claim attestation (clients.md §2.4.8): the session token that
	// attested the execution (never shown by the API) and when; both nil
	// until attested.
	LiveClaimSessionToken *string
	LiveClaimedAt         *time.Time
	// Destination is DestinationOf the cue's callback URL when the
	// execution was created: the key deliveries are shared fairly by
	// (per-destination limits, breaker). "" for worker transport.
	Destination string
}

// EffectivePayload is what the execution delivers: its snapshot, else the
// cue's payload, else {}.
func (e *Execution) EffectivePayload(c *Cue) json.RawMessage {
	switch {
	case len(e.Payload) > 0:
		return e.Payload
	case c != nil && len(c.Payload) > 0:
		return c.Payload
	}
	return json.RawMessage(`{}`)
}

// ExecutionStore persists executions and their delivery claims: webhook
// claims and results, worker claims, read-modify-writes (outcomes, evidence)
// and the sweeps of expired leases and outcome deadlines. Every method is
// safe for concurrent use by any number of processes sharing the database;
// tenant-scoped methods return ErrNotFound for another tenant's rows.
// Methods are sorted by name.
type ExecutionStore interface {
	// ExecutionCancelUpcoming deletes the cue's scheduler-created executions
	// (triggered_by NULL) that are still pending and not yet due
	// (scheduled_for > Now) — materialized ahead by the look-ahead — and
	// decrements fired_count by the number deleted. Used when a cue is
	// paused or rescheduled. Returns how many were deleted.
	ExecutionCancelUpcoming(ctx context.Context, p *ExecutionCancelUpcomingParams) (int, error)

	// ExecutionClaimDeliveries claims up to Limit webhook executions that are
	// due: status pending, retrying or retry_ready with due_at <= Now, or
	// delivering whose lease (due_at) expired. Fair across destinations
	// (the stored Destination): at most RoomFor(destination) executions of
	// each, oldest due_at first within a destination, and round-robin
	// across destinations (every destination's first before any second;
	// ties by due_at). Each is
	// set to delivering with attempts+1 (an attempt is counted when it
	// starts, so one cut short by a crash still counts), started_at (if
	// unset) and last_attempt_at = Now, lease_expires_at = due_at = Now+Lease.
	// Two concurrent callers never claim the same execution.
	ExecutionClaimDeliveries(ctx context.Context, p *ExecutionClaimDeliveriesParams) ([]*Delivery, error)

	// ExecutionClaimWorker claims one worker-transport execution for a
	// worker in one transaction: by ID when set, else the
	// oldest claimable (optionally with payload task = Task). It must be
	// claimable (ClaimableStatuses) with scheduled_for <= Now and belong
	// to the tenant. Sets
	// status delivering, claimed_by_worker, claimed_at = started_at =
	// last_attempt_at = Now, attempts + 1, lease_expires_at = due_at =
	// LeaseUntil, outcome_deadline_at = OutcomeDeadline(Now, the cue's
	// outcome_deadline_seconds). A first claim (CountsUsage) adds one
	// execution to the tenant's month of Now.
	// Concurrent claimers never both win. ErrNotFound when nothing matched.
	ExecutionClaimWorker(ctx context.Context, p *ExecutionClaimWorkerParams) (*Execution, error)

	// ExecutionClaimable lists the tenant's worker-transport executions
	// with a claimable status (ClaimableStatuses) and scheduled_for <= Now,
	// oldest scheduled_for first, at most Limit. When set, Task and Agent
	// keep only executions whose payload has that "task" / "agent" string;
	// they are applied in the query, before the limit.
	ExecutionClaimable(ctx context.Context, p *ExecutionClaimableParams) ([]*Claimable, error)

	// ExecutionCreate inserts one execution (manual fire, replay) for a cue
	// of the tenant. ErrNotFound when the cue is absent or foreign;
	// ErrConflict when (cue, scheduled_for) exists.
	ExecutionCreate(ctx context.Context, p *ExecutionCreateParams) (*Execution, error)

	// ExecutionGet returns one of the tenant's executions. ErrNotFound when
	// absent, foreign, or when the id is not a UUID.
	ExecutionGet(ctx context.Context, p *ExecutionGetParams) (*Execution, error)

	// ExecutionList returns a page of the tenant's executions, newest
	// (created_at) first, ties by id, with the total matching count. Every
	// filter of p is applied in the query.
	ExecutionList(ctx context.Context, p *ExecutionListParams) ([]*Execution, int, error)

	// ExecutionOldestClaimedAt returns the earliest claimed_at among all
	// the tenant's executions matching p's filters (Limit and Offset
	// ignored); nil when none matches or none was claimed.
	ExecutionOldestClaimedAt(ctx context.Context, p *ExecutionListParams) (*time.Time, error)

	// ExecutionQueueStats counts the delivery queue for /health.
	ExecutionQueueStats(ctx context.Context, p *ExecutionQueueStatsParams) (*QueueStats, error)

	// ExecutionRecentFinished returns the cue's latest executions (newest
	// created_at first, at most Limit) whose status is success, failed,
	// missed or outcome_timeout — for failure streaks.
	ExecutionRecentFinished(ctx context.Context, p *ExecutionRecentFinishedParams) ([]*Execution, error)

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

	// ExecutionSweepOutcomeDeadlines marks executions whose outcome
	// deadline passed without an outcome (outcome_recorded_at NULL,
	// outcome_deadline_at <= Now): status outcome_timeout,
	// outcome_deadline_at NULL. At most Limit. Returns them with their cues.
	ExecutionSweepOutcomeDeadlines(ctx context.Context, p *ExecutionSweepOutcomeDeadlinesParams) ([]*Delivery, error)

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
}

// ExecutionListParams filters and pages a tenant's executions. Filters
// combine with AND; nil, empty or false means no filter.
type ExecutionListParams struct {
	TenantID       TenantID
	CueID          *CueID
	Statuses       []string // status is one of these
	OutcomeState   *string  // outcome_state equals
	NoOutcomeState bool     // outcome_state IS NULL
	TriggeredBy    *string  // triggered_by equals
	ScheduledOnly  bool     // triggered_by IS NULL (scheduler-created)
	ResultType     *string  // evidence result_type equals
	HasEvidence    bool     // evidence external_id IS NOT NULL
	WorkerID       *string  // claimed_by_worker equals
	Limit          int
	Offset         int
}

// ExecutionCreateParams inserts one execution.
type ExecutionCreateParams struct {
	Execution *Execution
	// Idempotency, when set, binds its key to the new execution in the
	// same transaction; a live binding fails the create with
	// *IdempotencyHeld and inserts nothing.
	Idempotency *IdempotencyClaim
}

// ExecutionGetParams selects one of a tenant's executions.
type ExecutionGetParams struct {
	TenantID TenantID
	ID       ExecutionID
}

// ExecutionClaimDeliveriesParams claims due webhook executions: the
// engine's claim, as every delivery source's store takes it.
type ExecutionClaimDeliveriesParams = DeliveryClaim

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
	Agent    *string
	Limit    int
}

// ClaimableStatuses are the statuses a worker execution can be claimed
// from (clients.md C7: claimable lists both, and claim_next(task=…) claims
// by id what it listed).
var ClaimableStatuses = []ExecutionStatus{ExecPending, ExecRetryReady}

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

// SavedDueAt is the due_at a read-modify-write (ExecutionUpdate) stores
// for e, given the row's current due_at: the lease expiry while
// delivering, the current value while pending, retrying or retry_ready,
// none otherwise.
func (e *Execution) SavedDueAt(current *time.Time) *time.Time {
	switch e.Status {
	case ExecDelivering:
		return e.LeaseExpiresAt
	case ExecPending, ExecRetrying, ExecRetryReady:
		return current
	}
	return nil
}

// RetryTimes are the next_retry and due_at a store saves for the result:
// NextRetry for both while retrying (due at now when NextRetry is missing,
// so the execution cannot get stuck), none otherwise.
func (r *DeliveryResult) RetryTimes(now time.Time) (next, due *time.Time) {
	if r.Status != ExecRetrying {
		return nil, nil
	}
	if r.NextRetry == nil {
		return nil, &now
	}
	return r.NextRetry, r.NextRetry
}

// CountsUsage reports whether a claim that left the execution at attempts
// counts one execution of usage: a first claim (attempts 1) when the caller
// asked for it.
func (p *ExecutionClaimWorkerParams) CountsUsage(attempts int) bool {
	return p.CountUsage && attempts == 1
}

// OutcomeDeadline is the outcome deadline of a run delivered (webhook) or
// claimed (worker) at now, for a cue whose outcome deadline is seconds
// (nil: none).
func OutcomeDeadline(now time.Time, seconds *int) *time.Time {
	if seconds == nil {
		return nil
	}
	t := now.Add(time.Duration(*seconds) * time.Second)
	return &t
}

// RunEffects aggregates what execution changes do to their cues and to
// monthly usage, so that a store applies them as data, in one batch, in a
// fixed lock order. Per cue: runs to add, whether last_run becomes Now,
// and the status to apply (the last one added wins; applied only to an
// active cue, paused clearing next_run). Per tenant: executions to count in
// Month, the UTC month of Now.
type RunEffects struct {
	Now   time.Time
	Month time.Time
	cues  map[CueID]*CueRunEffect
	usage map[TenantID]int
}

// CueRunEffect is the aggregated effect on one cue.
type CueRunEffect struct {
	CueID      CueID
	Runs       int
	SetLastRun bool
	Status     *CueStatus
}

// UsageEffect is the aggregated usage of one tenant.
type UsageEffect struct {
	TenantID   TenantID
	Executions int
}

// NewRunEffects starts an empty aggregation as of now.
func NewRunEffects(now time.Time) *RunEffects {
	return &RunEffects{Now: now, Month: MonthStart(now), cues: map[CueID]*CueRunEffect{}, usage: map[TenantID]int{}}
}

// Add folds in one effect on cue (owned by tenant); effects must come in
// their order (the last status wins).
func (fx *RunEffects) Add(cue CueID, tenant TenantID, eff CueEffect) {
	if eff.CountRun || eff.SetLastRun || eff.Status != nil {
		e := fx.cues[cue]
		if e == nil {
			e = &CueRunEffect{CueID: cue}
			fx.cues[cue] = e
		}
		if eff.CountRun {
			e.Runs++
		}
		e.SetLastRun = e.SetLastRun || eff.SetLastRun
		if eff.Status != nil {
			e.Status = eff.Status
		}
	}
	if eff.CountUsage {
		fx.usage[tenant]++
	}
}

// AddResult folds in an applied delivery result of an execution of cue.
func (fx *RunEffects) AddResult(cue CueID, tenant TenantID, r *DeliveryResult) {
	fx.Add(cue, tenant, CueEffect{CountRun: r.CountRun, SetLastRun: r.SetLastRun, Status: r.CueStatus, CountUsage: r.CountUsage})
}

// AddSwept folds in an execution a worker sweep failed or marked missed:
// last_run = Now and FailedRunStatus.
func (fx *RunEffects) AddSwept(cue CueID, schedule ScheduleType, pauseOnFailure bool, triggeredBy *string) {
	fx.Add(cue, "", CueEffect{SetLastRun: true, Status: FailedRunStatus(schedule, pauseOnFailure, triggeredBy)})
}

// Cues returns the cue effects in cue id order (the order to lock in).
func (fx *RunEffects) Cues() []*CueRunEffect {
	out := make([]*CueRunEffect, 0, len(fx.cues))
	for _, e := range fx.cues {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *CueRunEffect) int { return strings.Compare(string(a.CueID), string(b.CueID)) })
	return out
}

// Usage returns the usage effects in tenant id order (the order to lock
// in).
func (fx *RunEffects) Usage() []UsageEffect {
	out := make([]UsageEffect, 0, len(fx.usage))
	for t, n := range fx.usage {
		out = append(out, UsageEffect{TenantID: t, Executions: n})
	}
	slices.SortFunc(out, func(a, b UsageEffect) int { return strings.Compare(string(a.TenantID), string(b.TenantID)) })
	return out
}

// SortDeliveries orders deliveries as the store ports return them: by
// scheduled time, then id.
func SortDeliveries(ds []*Delivery) {
	slices.SortFunc(ds, func(a, b *Delivery) int {
		return cmp.Or(a.Execution.ScheduledFor.Compare(b.Execution.ScheduledFor), strings.Compare(string(a.Execution.ID), string(b.Execution.ID)))
	})
}

// InitialDueAt is the due_at of a new execution (ExecutionCreate): when the
// dispatcher may next act on it — its scheduled time while pending, its
// next retry while retrying, its lease expiry while delivering; never once
// terminal.
func (e *Execution) InitialDueAt() *time.Time {
	switch e.Status {
	case ExecPending:
		return &e.ScheduledFor
	case ExecRetrying, ExecRetryReady:
		return e.NextRetry
	case ExecDelivering:
		return e.LeaseExpiresAt
	}
	return nil
}

// LeaseUntil is when the claim's lease expires.
func (p *ExecutionClaimWorkerParams) LeaseUntil() time.Time { return p.Now.Add(p.Lease) }

// UnclaimedCutoff is the latest due_at of a pending worker execution that
// went unclaimed for too long (it becomes missed).
func (p *ExecutionSweepWorkerLeasesParams) UnclaimedCutoff() time.Time {
	return p.Now.Add(-p.UnclaimedTimeout)
}

// MaxLiveClaimToken is the longest live-claim session token, in characters.
const MaxLiveClaimToken = 128

var errAlreadyAttested = Conflict("already_attested", "Execution already has a live-claim attestation from a different session token")

// LiveClaim is the attestation POST /v1/executions/{id}/live-claim answers
// with; the session token is never part of it.
type LiveClaim struct {
	ExecutionID   ExecutionID
	LiveClaimedAt time.Time
}

// LiveClaim attests that the session holding token runs the tenant's
// execution (clients.md §2.4.8): the first attestation stores the token and
// the time; the same token again returns the stored time; another token is
// 409 already_attested. Tokens are compared in constant time. A missing,
// foreign or malformed id is execution_not_found.
func (s *Executions) LiveClaim(ctx context.Context, u *User, id ExecutionID, token string) (*LiveClaim, error) {
	field := Body("session_token")
	switch n := utf8.RuneCountInString(token); {
	case n == 0:
		field.Rule, field.Limit = RuleMinLength, 1
		return nil, field.Err()
	case n > MaxLiveClaimToken:
		return nil, field.TooLong(MaxLiveClaimToken).Err()
	case strings.ContainsRune(token, 0) || !utf8.ValidString(token):
		return nil, field.Unstorable().Err()
	}
	now := s.clock.Now()
	e, err := s.store.ExecutionUpdate(ctx, &ExecutionUpdateParams{TenantID: u.ID, ID: id, Fn: func(e *Execution, _ *Cue) (*CueEffect, error) {
		switch {
		case e.LiveClaimSessionToken == nil:
			e.LiveClaimSessionToken, e.LiveClaimedAt, e.UpdatedAt = &token, &now, now
		case !sameToken(*e.LiveClaimSessionToken, token):
			return nil, errAlreadyAttested
		}
		return nil, nil
	}})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrExecutionNotFound
	}
	if err != nil {
		return nil, err
	}
	return &LiveClaim{ExecutionID: e.ID, LiveClaimedAt: *e.LiveClaimedAt}, nil
}

// sameToken compares two secrets in time independent of their contents
// and lengths (both are hashed to the same length first).
func sameToken(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
