package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// Version is reported by /health: the binary's one version string.
var Version = core.Version()

// Server implements apigen.StrictServerInterface: it decodes DTOs, calls
// core, and encodes the answer. It holds no business rules. Its handlers
// live one file per entity, as in core: user.go, cue.go, execution.go
// (executions, claims, outcomes and evidence), worker.go, alert.go,
// usage.go, echo.go and devicecode.go.
type Server struct {
	deps Deps
}

var _ apigen.StrictServerInterface = (*Server)(nil)

func (s *Server) user(ctx context.Context) (*core.User, error) {
	p := principalFrom(ctx)
	if p == nil {
		return nil, core.ErrMissingAuth
	}
	return p.User, nil
}

func pyTime(t time.Time) string { return core.PyTime(t) }

// utcPtr returns t in UTC: t itself when it already is (the stores return
// UTC times), else a converted copy (t is never changed).
func utcPtr(t *time.Time) *time.Time {
	if t == nil || t.Location() == time.UTC {
		return t
	}
	u := t.UTC()
	return &u
}

func confirmed(h *string) bool { return h != nil && *h == "true" }

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// ---- health ----

// Health reports liveness with component detail; always 200.
func (s *Server) Health(ctx context.Context, _ apigen.HealthRequestObject) (apigen.HealthResponseObject, error) {
	return apigen.Health200JSONResponse(s.deps.Health.Report(ctx)), nil
}

// Status reports readiness: 503 when the store (or Redis, when configured)
// is unreachable.
func (s *Server) Status(ctx context.Context, _ apigen.StatusRequestObject) (apigen.StatusResponseObject, error) {
	st, reason, ok := s.deps.Health.Ready(ctx)
	body := apigen.StatusResponse{Status: apigen.StatusResponseStatus(st)}
	if reason != "" {
		body.Reason = &reason
	}
	if !ok {
		return apigen.Status503JSONResponse(body), nil
	}
	return apigen.Status200JSONResponse(body), nil
}

// ---- auth and account ----

func rawPtr(b json.RawMessage) *json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return &b
}
