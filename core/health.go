package core

import (
	"context"
	"time"
)

// Pinger is a dependency the health service probes (the store; Redis when
// configured, through its limiter).
type Pinger interface {
	// Ping returns nil when the dependency answers.
	Ping(ctx context.Context) error
}

// HealthStore is what the health service reads from the store.
type HealthStore interface {
	Pinger
	// SchedulerHeartbeatLatest returns the most recent scheduler cycle;
	// an error (ErrNotFound included) when none can be read.
	SchedulerHeartbeatLatest(ctx context.Context) (*SchedulerHeartbeat, error)
	// ExecutionQueueStats counts the delivery queue as of Now.
	ExecutionQueueStats(ctx context.Context, p *ExecutionQueueStatsParams) (*QueueStats, error)
	// WorkerCountActive counts workers seen since Since (all tenants when
	// TenantID is empty).
	WorkerCountActive(ctx context.Context, p *WorkerCountActiveParams) (int, error)
}

// Health defaults (api.md §5.1).
const (
	// DefaultPollerStaleAfter: a scheduler heartbeat older than this makes
	// the poller "stale".
	DefaultPollerStaleAfter = 30 * time.Second
	// healthProbeTimeout bounds each ping.
	healthProbeTimeout = 2 * time.Second
)

// HealthConfig holds the health policies.
type HealthConfig struct {
	// PollerStaleAfter: DefaultPollerStaleAfter when zero.
	PollerStaleAfter time.Duration
	// StoreKind names the store adapter in reports: StoreSQLite or
	// StorePostgres (the default, as the reference reports).
	StoreKind string
}

// Component kinds named by health reports.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
	SharedMemory  = "memory" // per-process limiter and auth cache
	SharedRedis   = "redis"  // shared by every replica
)

// ComponentState is a component's state in a health report.
type ComponentState string

// Component states.
const (
	ComponentOK ComponentState = "ok"
	// ComponentDegraded: the component is down and a fallback serves.
	ComponentDegraded ComponentState = "degraded"
	// ComponentError: the component is down and nothing replaces it.
	ComponentError ComponentState = "error"
)

// HealthComponent is one adapter behind the service.
type HealthComponent struct {
	Kind  string
	State ComponentState
	// Detail explains a state other than ok; empty otherwise.
	Detail string
}

// HealthComponents are the adapters behind the service: the store, and
// the rate limiter and auth cache (Redis with a per-process fallback, or
// per-process only).
type HealthComponents struct {
	Store, RateLimiter, AuthCache HealthComponent
}

// Health answers liveness (/health) and readiness (/status) from the
// store, Redis and the scheduler's heartbeat. Safe for concurrent use.
//
// Redis is never needed to serve: the rate limiter falls back to a
// per-process limiter and the auth cache to the store while it is down
// (adapters/failoverlimiter, adapters/authcache.Failover). So Redis down
// degrades health but leaves the replica ready; only the store decides
// readiness.
type Health struct {
	cfg   HealthConfig
	store HealthStore
	redis Pinger // nil when Redis is not configured
	clock Clock
}

// NewHealth wires the health service; redis is nil when Redis is not
// configured.
func NewHealth(cfg HealthConfig, store HealthStore, redis Pinger, clock Clock) *Health {
	if store == nil || clock == nil {
		panic("core.NewHealth: nil dependency")
	}
	if cfg.PollerStaleAfter <= 0 {
		cfg.PollerStaleAfter = DefaultPollerStaleAfter
	}
	if cfg.StoreKind == "" {
		cfg.StoreKind = StorePostgres
	}
	return &Health{cfg: cfg, store: store, redis: redis, clock: clock}
}

// HealthReport is the state of the service and its dependencies.
type HealthReport struct {
	Now time.Time
	// StoreKind is StoreSQLite or StorePostgres.
	StoreKind string
	StoreOK   bool
	// RedisOK is true when Redis answers or is not configured.
	RedisConfigured, RedisOK bool
	// Poller is the latest scheduler cycle; nil when none is recorded (or
	// it cannot be read). PollerStale: it is older than PollerStaleAfter.
	Poller      *SchedulerHeartbeat
	PollerStale bool
	// ActiveWorkers counts workers of all tenants seen within
	// WorkerActiveWindow; nil when unknown (store down or failing).
	ActiveWorkers *int
	// Queue is nil when unknown.
	Queue *QueueStats
}

// Degraded reports whether a dependency is down or the poller is stale
// (no worker does not degrade).
func (r *HealthReport) Degraded() bool { return !r.StoreOK || !r.RedisOK || r.PollerStale }

// Components names the adapters and their state.
func (r *HealthReport) Components() HealthComponents {
	c := HealthComponents{
		Store:       HealthComponent{Kind: r.StoreKind, State: ComponentOK},
		RateLimiter: HealthComponent{Kind: SharedMemory, State: ComponentOK},
		AuthCache:   HealthComponent{Kind: SharedMemory, State: ComponentOK},
	}
	if !r.StoreOK {
		c.Store.State, c.Store.Detail = ComponentError, r.StoreKind+" unreachable"
	}
	if r.RedisConfigured {
		c.RateLimiter.Kind, c.AuthCache.Kind = SharedRedis, SharedRedis
		if !r.RedisOK {
			c.RateLimiter.State, c.RateLimiter.Detail = ComponentDegraded,
				"redis unreachable; fallback active: per-replica in-memory limits"
			c.AuthCache.State, c.AuthCache.Detail = ComponentDegraded,
				"redis unreachable; fallback active: keys checked against the store"
		}
	}
	return c
}

// StoreKind is StoreSQLite or StorePostgres.
func (h *Health) StoreKind() string { return h.cfg.StoreKind }

func (h *Health) pingStore(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, healthProbeTimeout)
	defer cancel()
	return h.store.Ping(ctx) == nil
}

func (h *Health) pingRedis(ctx context.Context) bool {
	if h.redis == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, healthProbeTimeout)
	defer cancel()
	return h.redis.Ping(ctx) == nil
}

// poller returns the latest scheduler cycle (nil when none) and whether it
// is stale at now.
func (h *Health) poller(ctx context.Context, now time.Time) (*SchedulerHeartbeat, bool) {
	hb, err := h.store.SchedulerHeartbeatLatest(ctx)
	if err != nil || hb == nil {
		return nil, false
	}
	return hb, now.Sub(hb.LastRun) > h.cfg.PollerStaleAfter
}

// Report probes every dependency.
func (h *Health) Report(ctx context.Context) *HealthReport {
	now := h.clock.Now()
	r := &HealthReport{Now: now, StoreKind: h.cfg.StoreKind, RedisConfigured: h.redis != nil}
	r.StoreOK = h.pingStore(ctx)
	r.RedisOK = h.pingRedis(ctx)
	r.Poller, r.PollerStale = h.poller(ctx, now)
	if !r.StoreOK {
		return r
	}
	if n, err := h.store.WorkerCountActive(ctx, &WorkerCountActiveParams{Since: now.Add(-WorkerActiveWindow)}); err == nil {
		r.ActiveWorkers = &n
	}
	if q, err := h.store.ExecutionQueueStats(ctx, &ExecutionQueueStatsParams{Now: now}); err == nil {
		r.Queue = q
	}
	return r
}

// Readiness is the answer of Ready.
type Readiness int

// Readiness values, from best to worst.
const (
	Ready            Readiness = iota // everything answers
	ReadyPollerStale                  // serving, but the scheduler heartbeat is stale
	// ReadyRedisFallback: serving, but Redis is configured and does not
	// answer; the limiter and auth cache run on their fallbacks.
	ReadyRedisFallback
	NotReadyStore // the store does not answer: this replica cannot serve
)

// Ready checks what serving needs — the store — then what degrades it:
// Redis when configured (its fallbacks keep the replica serving), then the
// scheduler heartbeat's age.
func (h *Health) Ready(ctx context.Context) Readiness {
	if !h.pingStore(ctx) {
		return NotReadyStore
	}
	if !h.pingRedis(ctx) {
		return ReadyRedisFallback
	}
	if _, stale := h.poller(ctx, h.clock.Now()); stale {
		return ReadyPollerStale
	}
	return Ready
}
