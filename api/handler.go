package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// Deps are what the HTTP layer needs.
type Deps struct {
	Log         *slog.Logger
	Clock       core.Clock
	Accounts    *core.Accounts
	Cues        *core.Cues
	Executions  *core.Executions
	Workers     *core.Workers
	Outcomes    *core.Outcomes
	Alerts      *core.Alerts
	Usage       *core.UsageService
	Echo        *core.Echo
	DeviceLogin *core.DeviceLogin
	Events      *core.Events
	Agents      *core.Agents
	Messages    *core.Messages
	Limiter     core.RateLimiter
	Health      *Health
	// ServeSpec exposes GET /openapi.json (off in production).
	ServeSpec bool
	// TrustedProxies may set X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// HSTS adds Strict-Transport-Security (behind TLS).
	HSTS bool
	// CORSOrigins are the exact origins (validated by ParseCORSOrigin) that
	// are echoed with credentials allowed; empty: "*" without credentials.
	CORSOrigins []string
	// Observer counts requests by route template (nil: none).
	Observer core.Observer
	// Tracer records a span per request (nil: none).
	Tracer core.Tracer
}

// Spec returns the embedded OpenAPI document with servers cleared (so the
// validator does not check the Host header).
func Spec() (*openapi3.T, error) {
	doc, err := apigen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("api: load embedded spec: %w", err)
	}
	doc.Servers = nil
	return doc, nil
}

// NewHandler builds the whole HTTP handler: pipeline, validator, router and
// the strict server.
func NewHandler(d Deps) (http.Handler, error) {
	if d.Log == nil || d.Clock == nil || d.Accounts == nil || d.Cues == nil || d.Executions == nil || d.Workers == nil || d.Outcomes == nil || d.Alerts == nil || d.Usage == nil || d.Echo == nil || d.DeviceLogin == nil || d.Agents == nil || d.Messages == nil || d.Limiter == nil || d.Health == nil || d.Health.Service == nil {
		return nil, fmt.Errorf("api: missing dependency")
	}
	doc, err := Spec()
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("api: invalid spec: %w", err)
	}
	if err := checkSecuritySchemes(doc); err != nil {
		return nil, err
	}
	router, err := newSpecRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("api: build router: %w", err)
	}
	srv := &Server{deps: d}
	onErr := func(w http.ResponseWriter, r *http.Request, err error) { WriteError(w, r, d.Log, err) }
	onReqErr := func(w http.ResponseWriter, r *http.Request, err error) {
		d.Log.Info("request decode failed", "request_id", RequestID(r.Context()), "err", err)
		WriteError(w, r, d.Log, core.Invalid("invalid_json", "Request body is not valid JSON"))
	}
	strict := apigen.NewStrictHandlerWithOptions(srv, nil, apigen.StrictHTTPServerOptions{
		RequestErrorHandlerFunc: onReqErr, ResponseErrorHandlerFunc: onErr,
	})
	mux := newRecordingMux()
	if d.ServeSpec {
		specJSON, err := doc.MarshalJSON()
		if err != nil {
			return nil, err
		}
		mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(specJSON)
		})
	}
	inner := apigen.HandlerWithOptions(strict, apigen.StdHTTPServerOptions{
		BaseRouter: mux,
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			WriteError(w, r, d.Log, bindingError(r, err))
		},
	})
	ops, err := operationHandlers(doc, mux)
	if err != nil {
		return nil, err
	}
	p := &pipeline{ops: ops,
		log: d.Log, accounts: d.Accounts, limiter: d.Limiter, clock: d.Clock, router: router,
		trustedProxies: d.TrustedProxies, hsts: d.HSTS, next: inner, serveSpec: d.ServeSpec, usage: d.Usage,
		cors: newCORS(d.CORSOrigins),
	}
	return observe(p, router, d.Observer, d.Tracer), nil
}
