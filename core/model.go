package core

import (
	"encoding/json"
	"time"
)

// TenantID identifies a user account (a UUID string).
type TenantID string

// CueID identifies a cue: "cue_" + 12 characters of [a-z0-9].
type CueID string

// ExecutionID identifies an execution (a lowercase UUID v4 string).
type ExecutionID string

// User is a tenant account. Secrets are held sealed (encrypted with the
// SecretBox); only services open them, and only when they must.
type User struct {
	ID                    TenantID
	Email                 string
	APIKeyHash            string // lowercase hex SHA-256 of the whole key
	APIKeyPrefix          string // first 12 characters of the key
	APIKeySealed          *string
	Plan                  string
	ActiveCueLimit        int
	MonthlyExecutionLimit int
	RateLimitPerMinute    int
	WebhookSecretSealed   string
	AlertWebhookURL       *string
	AlertSecretSealed     *string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// CueStatus is the lifecycle state of a cue.
type CueStatus string

// Cue statuses.
const (
	CueActive    CueStatus = "active"
	CuePaused    CueStatus = "paused"
	CueCompleted CueStatus = "completed"
	CueFailed    CueStatus = "failed"
)

// Transport says how executions reach their handler.
type Transport string

// Transports.
const (
	TransportWebhook Transport = "webhook"
	TransportWorker  Transport = "worker"
)

// ScheduleType is "once" or "recurring".
type ScheduleType string

// Schedule types.
const (
	ScheduleOnce      ScheduleType = "once"
	ScheduleRecurring ScheduleType = "recurring"
)

// Schedule is when a cue fires. Cron is evaluated in Timezone (an IANA name,
// stored as supplied); At is an instant in UTC.
type Schedule struct {
	Type     ScheduleType
	Cron     *string
	At       *time.Time
	Timezone string
}

// Callback is where and how a webhook cue is delivered.
type Callback struct {
	URL     *string
	Method  string
	Headers map[string]string
}

// RetryPolicy: MaxAttempts counts the first attempt; BackoffMinutes[i] is the
// wait after failed attempt i+1, the last entry reused.
type RetryPolicy struct {
	MaxAttempts    int
	BackoffMinutes []int
}

// DefaultRetryPolicy is the protocol default.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 3, BackoffMinutes: []int{1, 5, 15}}
}

// OnFailure is the escalation policy run when an execution fails for good.
type OnFailure struct {
	Email   bool
	Webhook *string
	Pause   bool
}

// DefaultOnFailure is the protocol default.
func DefaultOnFailure() OnFailure { return OnFailure{Email: true} }

// VerificationMode says what evidence a successful outcome needs.
type VerificationMode string

// Verification modes.
const (
	VerifyNone              VerificationMode = "none"
	VerifyRequireExternalID VerificationMode = "require_external_id"
	VerifyRequireResultURL  VerificationMode = "require_result_url"
	VerifyRequireArtifacts  VerificationMode = "require_artifacts"
	VerifyManual            VerificationMode = "manual"
)

// CatchUpPolicy says what the scheduler does with occurrences missed while
// no scheduler was running.
type CatchUpPolicy string

// Catch-up policies.
const (
	// CatchUpLatest fires the most recent missed occurrence once and records
	// how many were skipped (the default).
	CatchUpLatest CatchUpPolicy = "latest"
	// CatchUpSkip fires none of the missed occurrences.
	CatchUpSkip CatchUpPolicy = "skip"
	// CatchUpAll back-fills missed occurrences oldest first, at most
	// MaxCatchUpAll per cue per catch-up.
	CatchUpAll CatchUpPolicy = "all"
)

// MaxCatchUpAll bounds the back-fill of CatchUpAll.
const MaxCatchUpAll = 100

// Cue is a scheduled piece of work owned by a tenant.
type Cue struct {
	ID                     CueID
	TenantID               TenantID
	Name                   string
	Description            *string
	Status                 CueStatus
	Transport              Transport
	Schedule               Schedule
	Callback               Callback
	Payload                json.RawMessage // a JSON object, compact
	Retry                  RetryPolicy
	OnFailure              OnFailure
	Verification           *VerificationMode // nil: never set (renders null)
	CatchUp                CatchUpPolicy
	OutcomeDeadlineSeconds *int
	NextRun                *time.Time
	LastRun                *time.Time
	RunCount               int
	FiredCount             int
	SkippedCount           int     // occurrences skipped by the catch-up policy
	LastError              *string // scheduler-side problem (e.g. a cron that no longer evaluates)
	CreatedAt              time.Time
	UpdatedAt              time.Time
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

// Trigger values of Execution.TriggeredBy (nil: the scheduler).
const (
	TriggerManualFire = "manual_fire"
	TriggerReplay     = "replay"
)

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
}

// Worker is a pull worker registered by heartbeat.
type Worker struct {
	TenantID      TenantID
	WorkerID      string
	Handlers      []string // nil: not reported
	LastHeartbeat time.Time
	CreatedAt     time.Time
}
