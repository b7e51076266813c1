package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/failoverlimiter"
	"github.com/cueapi/cueapi/adapters/otel"
	"github.com/cueapi/cueapi/adapters/prom"
	"github.com/cueapi/cueapi/adapters/smtp"
	"github.com/cueapi/cueapi/core"
)

// ops are the operational adapters: the mail relay, Prometheus metrics and
// OpenTelemetry tracing. Each is off unless configured, and costs nothing
// then.
type ops struct {
	mail    core.MailSender // nil: no email
	metrics *prom.Metrics   // nil: METRICS_ADDR unset
	tracer  *otel.Tracer    // nil: OTEL_EXPORTER_OTLP_ENDPOINT unset
	traces  *core.TraceCarrier
}

func newOps(ctx context.Context, cfg *config, log *slog.Logger) (*ops, error) {
	o := &ops{traces: core.NewTraceCarrier(100_000, time.Hour)}
	if cfg.SMTPURL != "" {
		s, err := smtp.New(smtp.Config{URL: cfg.SMTPURL, From: cfg.SMTPFrom})
		if err != nil {
			return nil, err
		}
		o.mail = s
		log.Info("email: smtp relay configured")
	} else if cfg.production() {
		log.Warn("SMTP_URL is empty: device login (cueapi login) cannot send magic links; failure, alert and rotation emails are not sent")
	}
	if cfg.MetricsAddr != "" {
		o.metrics = prom.New(version)
	}
	if cfg.OTLPEndpoint != "" {
		t, err := otel.New(ctx, otel.Config{Endpoint: cfg.OTLPEndpoint, Headers: otel.ParseHeaders(cfg.OTLPHeaders), Version: version, InstanceID: cfg.InstanceID})
		if err != nil {
			return nil, err
		}
		o.tracer = t
		log.Info("tracing: exporting spans over OTLP/HTTP")
	}
	return o, nil
}

// observer is what core reports measurements to (nil when metrics are off).
func (o *ops) observer() core.Observer {
	if o.metrics == nil {
		return nil
	}
	return o.metrics
}

// coreTracer is the span recorder (nil when tracing is off).
func (o *ops) coreTracer() core.Tracer {
	if o.tracer == nil {
		return nil
	}
	return o.tracer
}

// queryTracer records PostgreSQL queries inside traced operations (nil
// when tracing is off).
func (o *ops) queryTracer() pgx.QueryTracer {
	if o.tracer == nil {
		return nil
	}
	return o.tracer.QueryTracer()
}

// instrument counts limiter decisions and auth-cache lookups.
func (o *ops) instrument(l core.RateLimiter, c core.AuthCache) (core.RateLimiter, core.AuthCache) {
	if o.metrics == nil {
		return l, c
	}
	if f, ok := l.(*failoverlimiter.Limiter); ok {
		o.metrics.LimiterDegraded(f.Degraded)
	}
	return o.metrics.Limiter(l), o.metrics.AuthCache(c)
}

// storeMetrics exports the store's pools and the execution backlog.
func (o *ops) storeMetrics(store core.Store, clock core.Clock) {
	if o.metrics == nil {
		return
	}
	if p, ok := store.(interface{ PoolStats() []core.PoolStats }); ok {
		o.metrics.Pools(p.PoolStats)
	}
	o.metrics.Backlog(func(ctx context.Context) (map[string]int, error) {
		q, err := store.ExecutionQueueStats(ctx, &core.ExecutionQueueStatsParams{Now: clock.Now()})
		if err != nil {
			return nil, err
		}
		return map[string]int{"webhook_due": q.PendingWebhooks, "retry_due": q.PendingRetries,
			"stale_delivering": q.StaleDeliveries, "worker_unclaimed": q.PendingWorkerClaims}, nil
	})
}

// serveMetrics runs the /metrics listener until ctx ends.
func (o *ops) serveMetrics(ctx context.Context, cfg *config, log *slog.Logger) (wait func(), err error) {
	if o.metrics == nil {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.metrics.Handler(cfg.MetricsToken))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, err
	}
	log.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics", "token_required", cfg.MetricsToken != "")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener failed", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return func() { <-done }, nil
}

// close flushes buffered spans.
func (o *ops) close() {
	if o.tracer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = o.tracer.Shutdown(ctx)
	}
}
