package api

import (
	"context"
	"time"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// Health renders the core health service as the /health and /status
// bodies (api.md §5.1).
type Health struct {
	Service *core.Health
}

// Report is the /health body (always 200).
func (h *Health) Report(ctx context.Context) apigen.HealthResponse {
	r := h.Service.Report(ctx)
	out := apigen.HealthResponse{Status: apigen.HealthResponseStatusHealthy, Version: Version, Timestamp: pyTime(r.Now)}
	if r.Degraded() {
		out.Status = apigen.HealthResponseStatusDegraded
	}
	out.Services.Postgres = apigen.HealthServicesPostgresError
	if r.StoreOK {
		out.Services.Postgres = apigen.HealthServicesPostgresOK
	}
	out.Services.Redis = apigen.HealthServicesRedisError
	if r.RedisOK {
		out.Services.Redis = apigen.HealthServicesRedisOK
	}
	out.Services.Poller = apigen.HealthServicesPollerUnknown
	if hb := r.Poller; hb != nil {
		cues, dur := hb.CuesLastCycle, hb.CycleDurationMs
		out.Poller = &apigen.HealthPoller{LastRun: pyTime(hb.LastRun), SecondsAgo: int(r.Now.Sub(hb.LastRun) / time.Second),
			CuesLastCycle: &cues, CycleDurationMs: &dur}
		out.Services.Poller = apigen.HealthServicesPollerOK
		if r.PollerStale {
			out.Services.Poller = apigen.HealthServicesPollerStale
		}
	}
	out.Services.Worker = apigen.HealthServicesWorkerUnknown
	if n := r.ActiveWorkers; n != nil {
		out.Workers = &apigen.HealthWorkers{ActiveCount: *n}
		out.Services.Worker = apigen.HealthServicesWorkerNone
		if *n > 0 {
			out.Services.Worker = apigen.HealthServicesWorkerOK
		}
	}
	c := r.Components()
	out.Components = &apigen.HealthComponents{
		Store: component(c.Store), RateLimiter: component(c.RateLimiter), AuthCache: component(c.AuthCache),
	}
	if q := r.Queue; q != nil {
		out.Queue = apigen.HealthQueue{PendingOutbox: &q.PendingWebhooks, StaleExecutions: &q.StaleDeliveries,
			PendingRetries: &q.PendingRetries, PendingWorkerClaims: &q.PendingWorkerClaims}
	}
	return out
}

func component(c core.HealthComponent) apigen.HealthComponent {
	out := apigen.HealthComponent{Kind: apigen.HealthComponentKind(c.Kind), Status: apigen.HealthComponentStatus(c.State)}
	if c.Detail != "" {
		d := c.Detail
		out.Detail = &d
	}
	return out
}

// Ready is the /status answer: status, reason and whether it is 200. Only
// a store outage fails readiness; Redis down leaves the replica serving on
// its fallbacks.
func (h *Health) Ready(ctx context.Context) (string, string, bool) {
	switch h.Service.Ready(ctx) {
	case core.NotReadyStore:
		return "down", h.Service.StoreKind() + " unreachable", false
	case core.ReadyRedisFallback:
		return "degraded", "redis unreachable; fallback active", true
	case core.ReadyPollerStale:
		return "degraded", "poller stale", true
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
