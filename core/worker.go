package core

import (
	"context"
	"errors"
	"strings"
	"time"
)

// WorkersConfig tunes the pull transport.
type WorkersConfig struct {
	// ClaimLease is the lease of a claim; an execution heartbeat renews it.
	ClaimLease time.Duration
	// UnclaimedTimeout: a pending worker execution nobody claimed for this
	// long becomes missed.
	UnclaimedTimeout time.Duration
	// Observer counts claims and expired leases (nil: none).
	Observer Observer
}

// Workers implements the pull-worker protocol: registration, listing,
// claiming with real leases, and lease renewal. Safe for concurrent use.
type Workers struct {
	cfg   WorkersConfig
	store workersStore
	clock Clock
}

// NewWorkers wires the workers service.
func NewWorkers(cfg WorkersConfig, store workersStore, clock Clock) *Workers {
	if cfg.ClaimLease <= 0 {
		cfg.ClaimLease = DefaultWorkerClaimTimeout
	}
	if cfg.UnclaimedTimeout <= 0 {
		cfg.UnclaimedTimeout = DefaultWorkerUnclaimedTimeout
	}
	cfg.Observer = observerOr(cfg.Observer)
	return &Workers{cfg: cfg, store: store, clock: clock}
}

// ClaimLease is the lease handed to workers.
func (w *Workers) ClaimLease() time.Duration { return w.cfg.ClaimLease }

// maxHandlerName is the longest handler name a heartbeat may list.
const maxHandlerName = 255

// Heartbeat registers or refreshes a worker.
func (w *Workers) Heartbeat(ctx context.Context, u *User, workerID string, handlers []string) (time.Time, error) {
	if strings.ContainsRune(workerID, 0) {
		return time.Time{}, Body("worker_id").HasNul(TypeString).Err()
	}
	var errs []FieldError
	for i, h := range handlers {
		if len([]rune(h)) > maxHandlerName {
			errs = append(errs, Body("handlers").Index(i).TooLong(maxHandlerName))
		} else if strings.ContainsRune(h, 0) {
			errs = append(errs, Body("handlers").Index(i).HasNul(TypeString))
		}
	}
	if err := Validation(errs...); err != nil {
		return time.Time{}, err
	}
	now := w.clock.Now()
	return now, w.store.WorkerHeartbeat(ctx, &WorkerHeartbeatParams{TenantID: u.ID, WorkerID: workerID, Handlers: handlers, Now: now})
}

// List returns the tenant's workers, most recent heartbeat first.
func (w *Workers) List(ctx context.Context, u *User) ([]*Worker, error) {
	return w.store.WorkerList(ctx, &WorkerListParams{TenantID: u.ID})
}

// Delete removes a worker registration; its claims expire with their
// leases.
func (w *Workers) Delete(ctx context.Context, u *User, workerID string) error {
	err := w.store.WorkerDelete(ctx, &WorkerDeleteParams{TenantID: u.ID, WorkerID: workerID})
	if errors.Is(err, ErrNotFound) {
		return ErrWorkerNotFound
	}
	return err
}

// maxClaimable is how many claimable executions one listing returns.
const maxClaimable = 50

// Claimable lists executions ready to claim; the payload task and agent
// filters (empty: none) apply before the 50-row cut.
func (w *Workers) Claimable(ctx context.Context, u *User, task, agent *string) ([]*Claimable, error) {
	return w.store.ExecutionClaimable(ctx, &ExecutionClaimableParams{TenantID: u.ID, Now: w.clock.Now(), Task: presentString(task), Agent: presentString(agent), Limit: maxClaimable})
}

// presentString is s, or nil when s is empty.
func presentString(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

var (
	errNothingToClaim = Conflict("claim_failed", "No executions available for claiming")
	errNotClaimable   = Conflict("claim_failed", "Execution not available for claiming")
	errNotClaiming    = Conflict("execution_not_claiming", "Execution is not currently being claimed")
	errNotClaimOwner  = NewError(KindForbidden, "not_execution_owner", "Only the claiming worker can heartbeat")
	errWorkerIDNul    = Body("worker_id").HasNul(TypeString).Err()
)

// ClaimNext claims the tenant's oldest claimable execution.
func (w *Workers) ClaimNext(ctx context.Context, u *User, workerID string) (*Execution, error) {
	if strings.ContainsRune(workerID, 0) {
		return nil, errWorkerIDNul
	}
	e, err := w.store.ExecutionClaimWorker(ctx, &ExecutionClaimWorkerParams{TenantID: u.ID, WorkerID: workerID, Now: w.clock.Now(), Lease: w.cfg.ClaimLease, CountUsage: true})
	if errors.Is(err, ErrNotFound) {
		return nil, errNothingToClaim
	}
	if err == nil {
		w.cfg.Observer.WorkerClaimed()
	}
	return e, err
}

// Claim claims one execution by id, from pending or retry_ready. Every
// failure (unknown, foreign, not worker transport, not claimable) is the
// same 409.
func (w *Workers) Claim(ctx context.Context, u *User, id ExecutionID, workerID string) (*Execution, error) {
	if strings.ContainsRune(workerID, 0) {
		return nil, errWorkerIDNul
	}
	if !IsUUID(string(id)) {
		return nil, errNotClaimable
	}
	e, err := w.store.ExecutionClaimWorker(ctx, &ExecutionClaimWorkerParams{TenantID: u.ID, ID: &id, WorkerID: workerID, Now: w.clock.Now(), Lease: w.cfg.ClaimLease, CountUsage: true})
	if errors.Is(err, ErrNotFound) {
		return nil, errNotClaimable
	}
	if err == nil {
		w.cfg.Observer.WorkerClaimed()
	}
	return e, err
}

// HeartbeatExecution renews a claim's lease: the lease really moves (the
// reference's did not).
func (w *Workers) HeartbeatExecution(ctx context.Context, u *User, id ExecutionID, workerID *string) (time.Time, error) {
	now := w.clock.Now()
	until := now.Add(w.cfg.ClaimLease)
	_, err := w.store.ExecutionUpdate(ctx, &ExecutionUpdateParams{TenantID: u.ID, ID: id, Fn: func(e *Execution, c *Cue) (*CueEffect, error) {
		// Only worker claims have leases to renew; a webhook delivery's
		// lease belongs to the dispatcher.
		if e.Status != ExecDelivering || c.Transport != TransportWorker {
			return nil, errNotClaiming
		}
		if workerID != nil && *workerID != "" && e.ClaimedByWorker != nil && *e.ClaimedByWorker != *workerID {
			return nil, errNotClaimOwner
		}
		e.LastHeartbeatAt = &now
		e.LeaseExpiresAt = &until
		e.UpdatedAt = now
		return nil, nil
	}})
	if errors.Is(err, ErrNotFound) {
		return time.Time{}, ErrExecutionNotFound
	}
	return until, err
}

// Worker timing: the fixed thresholds of the protocol and the defaults of
// its settings (api.md §2 heartbeat_status, §5.1, §7.4).
const (
	// WorkerActiveWindow: a worker whose last heartbeat is younger is
	// "active" in the worker list and counts in /health (fixed, not config).
	WorkerActiveWindow = 180 * time.Second
	// WorkerDeadAfter: from this heartbeat age on a worker is "dead"
	// (fixed, not config); between the two it is "stale".
	WorkerDeadAfter = 900 * time.Second
	// DefaultWorkerHeartbeatTimeout is WORKER_HEARTBEAT_TIMEOUT_SECONDS'
	// default: the create-time "No active workers" warning and the
	// stale-claim sweep.
	DefaultWorkerHeartbeatTimeout = 180 * time.Second
	// DefaultWorkerClaimTimeout is WORKER_CLAIM_TIMEOUT_SECONDS' default:
	// the lease of a worker claim.
	DefaultWorkerClaimTimeout = 900 * time.Second
	// DefaultWorkerUnclaimedTimeout is WORKER_UNCLAIMED_TIMEOUT_SECONDS'
	// default: a worker execution nobody claims within it is missed.
	DefaultWorkerUnclaimedTimeout = 900 * time.Second
)

// HeartbeatStatus classifies a worker's last heartbeat (fixed thresholds of
// the protocol: active < WorkerActiveWindow ≤ stale < WorkerDeadAfter ≤
// dead).
func HeartbeatStatus(age time.Duration) string {
	switch {
	case age < WorkerActiveWindow:
		return "active"
	case age < WorkerDeadAfter:
		return "stale"
	}
	return "dead"
}

// Worker is a pull worker registered by heartbeat.
type Worker struct {
	TenantID      TenantID
	WorkerID      string
	Handlers      []string // nil: not reported
	LastHeartbeat time.Time
	CreatedAt     time.Time
}

// WorkerStore persists pull workers and their heartbeats. Every method is
// safe for concurrent use by any number of processes sharing the database;
// tenant-scoped methods return ErrNotFound for another tenant's rows.
// Methods are sorted by name.
type WorkerStore interface {
	// WorkerCountActive counts the tenant's workers whose last heartbeat is
	// at or after Since (all tenants when TenantID is empty).
	WorkerCountActive(ctx context.Context, p *WorkerCountActiveParams) (int, error)

	// WorkerDelete deletes one. ErrNotFound when absent or foreign.
	WorkerDelete(ctx context.Context, p *WorkerDeleteParams) error

	// WorkerHeartbeat upserts the tenant's worker: handlers replaced (nil
	// stores NULL), last_heartbeat = Now; created_at kept from the first.
	WorkerHeartbeat(ctx context.Context, p *WorkerHeartbeatParams) error

	// WorkerList returns the tenant's workers, most recent heartbeat first.
	WorkerList(ctx context.Context, p *WorkerListParams) ([]*Worker, error)
}

// WorkerCountActiveParams counts recently seen workers.
type WorkerCountActiveParams struct {
	TenantID TenantID
	Since    time.Time
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

// workersStore is what Workers persists through.
type workersStore interface {
	ExecutionStore
	WorkerStore
}
