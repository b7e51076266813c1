package api

import (
	"context"
	"time"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// SchedulerStatus reports the scheduler's last cycle; ok=false when none was
// recorded.
type SchedulerStatus func(ctx context.Context) (lastRun time.Time, cues, durationMs int, ok bool)

// QueueStats reports the delivery queue for /health.
type QueueStats func(ctx context.Context) (pendingWebhooks, staleExecutions, pendingRetries, pendingWorkerClaims int, err error)

// Health answers /health and /status from the store, Redis and the
// scheduler's heartbeat.
type Health struct {
	Store     core.Store
	Clock     core.Clock
	RedisPing func(ctx context.Context) error // nil when Redis is not configured
	Scheduler SchedulerStatus                 // nil until the scheduler runs
	Queue     QueueStats                      // nil until the engine exists
	// StaleAfter: a scheduler heartbeat older than this is "stale".
	StaleAfter time.Duration
}

const workerActiveWindow = 180 * time.Second

func (h *Health) pingStore(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return h.Store.Ping(ctx) == nil
}

func (h *Health) pingRedis(ctx context.Context) (configured, ok bool) {
	if h.RedisPing == nil {
		return false, true
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return true, h.RedisPing(ctx) == nil
}

func (h *Health) staleAfter() time.Duration {
	if h.StaleAfter == 0 {
		return 30 * time.Second
	}
	return h.StaleAfter
}

// Report is the /health body (always 200).
func (h *Health) Report(ctx context.Context) apigen.HealthResponse {
	now := h.Clock.Now()
	out := apigen.HealthResponse{Status: apigen.HealthResponseStatusHealthy, Version: Version, Timestamp: pyTime(now)}
	degraded := false
	dbOK := h.pingStore(ctx)
	if dbOK {
		out.Services.Postgres = apigen.HealthServicesPostgresOK
	} else {
		out.Services.Postgres = apigen.HealthServicesPostgresError
		degraded = true
	}
	if _, ok := h.pingRedis(ctx); ok {
		out.Services.Redis = apigen.HealthServicesRedisOK
	} else {
		out.Services.Redis = apigen.HealthServicesRedisError
		degraded = true
	}
	out.Services.Poller = apigen.HealthServicesPollerUnknown
	if h.Scheduler != nil {
		if last, cues, dur, ok := h.Scheduler(ctx); ok {
			ago := int(now.Sub(last) / time.Second)
			out.Poller = &apigen.HealthPoller{LastRun: pyTime(last), SecondsAgo: ago, CuesLastCycle: &cues, CycleDurationMs: &dur}
			if now.Sub(last) > h.staleAfter() {
				out.Services.Poller = apigen.HealthServicesPollerStale
				degraded = true
			} else {
				out.Services.Poller = apigen.HealthServicesPollerOK
			}
		}
	}
	out.Services.Worker = apigen.HealthServicesWorkerUnknown
	if dbOK {
		n, err := h.Store.WorkerCountActive(ctx, &core.WorkerCountActiveParams{Since: now.Add(-workerActiveWindow)})
		if err == nil {
			out.Workers = &apigen.HealthWorkers{ActiveCount: n}
			out.Services.Worker = apigen.HealthServicesWorkerNone
			if n > 0 {
				out.Services.Worker = apigen.HealthServicesWorkerOK
			}
		}
		if h.Queue != nil {
			if a, b, c, d, err := h.Queue(ctx); err == nil {
				out.Queue = apigen.HealthQueue{PendingOutbox: &a, StaleExecutions: &b, PendingRetries: &c, PendingWorkerClaims: &d}
			}
		}
	}
	if degraded {
		out.Status = apigen.HealthResponseStatusDegraded
	}
	return out
}

// Ready is the /status answer: status, reason and whether it is 200.
func (h *Health) Ready(ctx context.Context) (string, string, bool) {
	if !h.pingStore(ctx) {
		return "down", "postgres unreachable", false
	}
	if _, ok := h.pingRedis(ctx); !ok {
		return "down", "redis unreachable", false
	}
	if h.Scheduler != nil {
		if last, _, _, ok := h.Scheduler(ctx); ok && h.Clock.Now().Sub(last) > h.staleAfter() {
			return "degraded", "poller stale", true
		}
	}
	return "healthy", "", true
}

// GetInfo describes the deployment (clients.md F1): no secrets, no
// per-user data.
func (s *Server) GetInfo(context.Context, apigen.GetInfoRequestObject) (apigen.GetInfoResponseObject, error) {
	out := apigen.Info{Version: Version, AuthorizationBackend: "SameTenantAuthorizationBackend", DisabledPrimitives: []string{}}
	out.AuthenticationPaths.PerUserAPIKey = true
	return apigen.GetInfo200JSONResponse(out), nil
}
