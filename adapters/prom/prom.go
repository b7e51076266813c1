// Package prom is the Prometheus adapter: it implements core.Observer,
// decorates the rate limiter and the auth cache with counters, exports the
// store's pool statistics and the Go runtime, and serves /metrics.
//
// Every label is low-cardinality by construction (route templates, fixed
// outcome names, pool names): never a tenant, cue or execution id.
package prom

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cueapi/cueapi/core"
)

const ns = "cueapi"

var lagBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// Metrics owns a registry and every cueapi metric. Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	httpSeries    sync.Map // httpKey → *httpSeries
	fireLag       prometheus.Histogram
	deliveryLag   prometheus.Histogram
	deliveries    *prometheus.CounterVec
	attemptDur    *prometheus.HistogramVec
	inFlight      prometheus.Gauge
	workerClaims  prometheus.Counter
	leaseExpiries *prometheus.CounterVec
	outcomes      *prometheus.CounterVec
	alerts        *prometheus.CounterVec
	emails        *prometheus.CounterVec
	limiter       *prometheus.CounterVec
	authCache     *prometheus.CounterVec
}

var _ core.Observer = (*Metrics)(nil)

// New registers every metric, the Go runtime and process collectors, and
// cueapi_build_info{version}.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
			Help: "API requests by method, route template and status code."}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
			Help: "API request latency by method and route template.", Buckets: prometheus.DefBuckets}, []string{"method", "route"}),
		fireLag: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "scheduler_fire_lag_seconds",
			Help: "How late the scheduler materialized each occurrence (fired - due; 0 when ahead of time).", Buckets: lagBuckets}),
		deliveryLag: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "delivery_lag_seconds",
			Help: "How late the first attempt of a scheduled execution started (started - due).", Buckets: lagBuckets}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "deliveries_total",
			Help: "Webhook delivery attempts by outcome (success, retry, failed, timeout, blocked_ssrf)."}, []string{"outcome"}),
		attemptDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "delivery_attempt_duration_seconds",
			Help: "Webhook attempt latency by outcome.", Buckets: prometheus.DefBuckets}, []string{"outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "deliveries_in_flight",
			Help: "Webhook attempts in progress in this process."}),
		workerClaims: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "worker_claims_total",
			Help: "Executions claimed by pull workers."}),
		leaseExpiries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "lease_expiries_total",
			Help: "Leases that ran out: delivery (a process died mid-attempt), worker (claim lease), unclaimed (nobody claimed)."}, []string{"kind"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "outcomes_total",
			Help: "Reported or verified outcomes by resulting state."}, []string{"state"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "alert_webhooks_total",
			Help: "Alert webhook attempts by result (delivered, failed)."}, []string{"result"}),
		emails: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "emails_total",
			Help: "Emails by kind and result (sent, failed)."}, []string{"kind", "result"}),
		limiter: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rate_limit_decisions_total",
			Help: "Rate limiter decisions (allowed, limited, error)."}, []string{"decision"}),
		authCache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "auth_cache_requests_total",
			Help: "API-key cache lookups (hit, miss, error)."}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.httpRequests, m.httpDuration, m.fireLag, m.deliveryLag, m.deliveries, m.attemptDur,
		m.inFlight, m.workerClaims, m.leaseExpiries, m.outcomes, m.alerts, m.emails, m.limiter, m.authCache} {
		f(c)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "build_info", Help: "The running version.", ConstLabels: prometheus.Labels{"version": version}})
	bi.Set(1)
	f(bi)
	// Known label values start at zero, so rates exist before the first event.
	for _, o := range []core.DeliveryOutcome{core.DeliverySuccess, core.DeliveryRetry, core.DeliveryFailed, core.DeliveryTimedOut, core.DeliveryBlockedSSRF} {
		m.deliveries.WithLabelValues(string(o))
	}
	for _, d := range []string{"allowed", "limited", "error"} {
		m.limiter.WithLabelValues(d)
	}
	for _, r := range []string{"hit", "miss", "error"} {
		m.authCache.WithLabelValues(r)
	}
	return m
}

// Registry exposes the registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics; with a token, only to "Authorization: Bearer
// <token>".
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// HTTPRequest implements core.Observer.
func (m *Metrics) HTTPRequest(method, route string, status int, elapsed time.Duration) {
	k := httpKey{method: method, route: route, status: status}
	v, ok := m.httpSeries.Load(k)
	if !ok {
		// The label sets are bounded (methods × route templates ×
		// statuses): each is resolved once, then read without hashing the
		// labels or taking the vectors' locks on every request.
		v, _ = m.httpSeries.LoadOrStore(k, &httpSeries{
			count:    m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)),
			duration: m.httpDuration.WithLabelValues(method, route),
		})
	}
	s := v.(*httpSeries)
	s.count.Inc()
	s.duration.Observe(elapsed.Seconds())
}

// httpKey is one label set of the HTTP request metrics.
type httpKey struct {
	method, route string
	status        int
}

// httpSeries are a label set's resolved series.
type httpSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// CueFired implements core.Observer.
func (m *Metrics) CueFired(lag time.Duration) { m.fireLag.Observe(lag.Seconds()) }

// DeliveryLag implements core.Observer.
func (m *Metrics) DeliveryLag(lag time.Duration) { m.deliveryLag.Observe(lag.Seconds()) }

// DeliveryStarted implements core.Observer.
func (m *Metrics) DeliveryStarted() { m.inFlight.Inc() }

// DeliveryFinished implements core.Observer.
func (m *Metrics) DeliveryFinished(outcome core.DeliveryOutcome, elapsed time.Duration) {
	m.inFlight.Dec()
	m.deliveries.WithLabelValues(string(outcome)).Inc()
	m.attemptDur.WithLabelValues(string(outcome)).Observe(elapsed.Seconds())
}

// WorkerClaimed implements core.Observer.
func (m *Metrics) WorkerClaimed() { m.workerClaims.Inc() }

// LeaseExpired implements core.Observer.
func (m *Metrics) LeaseExpired(kind string) { m.leaseExpiries.WithLabelValues(kind).Inc() }

// OutcomeRecorded implements core.Observer.
func (m *Metrics) OutcomeRecorded(state core.OutcomeState) {
	m.outcomes.WithLabelValues(string(state)).Inc()
}

// AlertDelivered implements core.Observer.
func (m *Metrics) AlertDelivered(ok bool) { m.alerts.WithLabelValues(result(ok, "delivered")).Inc() }

// MailSent implements core.Observer.
func (m *Metrics) MailSent(kind string, ok bool) {
	m.emails.WithLabelValues(kind, result(ok, "sent")).Inc()
}

func result(ok bool, yes string) string {
	if ok {
		return yes
	}
	return "failed"
}

// Limiter counts the decisions of l.
func (m *Metrics) Limiter(l core.RateLimiter) core.RateLimiter { return &limiter{RateLimiter: l, m: m} }

type limiter struct {
	core.RateLimiter
	m *Metrics
}

func (l *limiter) Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (core.RateDecision, error) {
	d, err := l.RateLimiter.Allow(ctx, key, limit, window, now)
	switch {
	case err != nil:
		l.m.limiter.WithLabelValues("error").Inc()
	case d.Allowed:
		l.m.limiter.WithLabelValues("allowed").Inc()
	default:
		l.m.limiter.WithLabelValues("limited").Inc()
	}
	return d, err
}

// AuthCache counts the hits and misses of c.
func (m *Metrics) AuthCache(c core.AuthCache) core.AuthCache { return &authCache{AuthCache: c, m: m} }

type authCache struct {
	core.AuthCache
	m *Metrics
}

func (c *authCache) Get(ctx context.Context, keyHash string) (*core.User, bool, error) {
	u, ok, err := c.AuthCache.Get(ctx, keyHash)
	switch {
	case err != nil:
		c.m.authCache.WithLabelValues("error").Inc()
	case ok:
		c.m.authCache.WithLabelValues("hit").Inc()
	default:
		c.m.authCache.WithLabelValues("miss").Inc()
	}
	return u, ok, err
}

// LimiterDegraded exports cueapi_rate_limiter_degraded: 1 while decisions
// come from the in-process fallback instead of Redis.
func (m *Metrics) LimiterDegraded(degraded func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "rate_limiter_degraded",
		Help: "1 while rate-limit decisions come from the in-process fallback (Redis unreachable)."}, func() float64 {
		if degraded() {
			return 1
		}
		return 0
	}))
}

// Pools exports the store's connection pools.
func (m *Metrics) Pools(stats func() []core.PoolStats) {
	m.reg.MustRegister(&poolCollector{stats: stats})
}

var (
	poolConns = prometheus.NewDesc(ns+"_store_pool_connections", "Store pool connections by state (in_use, idle, max).", []string{"pool", "state"}, nil)
	poolWaits = prometheus.NewDesc(ns+"_store_pool_waits_total", "Connection acquisitions that had to wait.", []string{"pool"}, nil)
	poolWait  = prometheus.NewDesc(ns+"_store_pool_wait_seconds_total", "Total time spent waiting for a connection.", []string{"pool"}, nil)
)

type poolCollector struct{ stats func() []core.PoolStats }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConns
	ch <- poolWaits
	ch <- poolWait
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.stats() {
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(p.InUse), p.Pool, "in_use")
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(p.Idle), p.Pool, "idle")
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(p.Max), p.Pool, "max")
		ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(p.WaitCount), p.Pool)
		ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, p.WaitDuration.Seconds(), p.Pool)
	}
}

// Backlog exports cueapi_executions_backlog{queue}: executions waiting, read
// from the store at scrape time (bounded by a 2 s timeout).
func (m *Metrics) Backlog(read func(ctx context.Context) (map[string]int, error)) {
	m.reg.MustRegister(&backlogCollector{read: read})
}

var backlogDesc = prometheus.NewDesc(ns+"_executions_backlog", "Executions waiting: webhook_due (due, not yet delivered), retry_due, stale_delivering, worker_unclaimed.", []string{"queue"}, nil)

type backlogCollector struct {
	read func(ctx context.Context) (map[string]int, error)
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- backlogDesc }

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	q, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(backlogDesc, err)
		return
	}
	for name, n := range q {
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n), name)
	}
}
