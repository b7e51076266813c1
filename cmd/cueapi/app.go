package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/cueapi/cueapi/adapters/authcache"
	"github.com/cueapi/cueapi/adapters/failoverlimiter"
	"github.com/cueapi/cueapi/adapters/fernet"
	"github.com/cueapi/cueapi/adapters/memlimiter"
	"github.com/cueapi/cueapi/adapters/netguard"
	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/adapters/redislimiter"
	"github.com/cueapi/cueapi/adapters/sqlite"
	"github.com/cueapi/cueapi/adapters/webhook"
	"github.com/cueapi/cueapi/api"
	"github.com/cueapi/cueapi/core"
)

// app is the wired service: adapters, core services and the HTTP handler.
type app struct {
	cfg        *config
	log        *slog.Logger
	clock      core.Clock
	store      core.Store
	redis      *redis.Client
	guard      *netguard.Guard
	box        core.SecretBox
	accounts   *core.Accounts
	cues       *core.Cues
	executions *core.Executions
	scheduler  *core.Scheduler
	dispatcher *core.Dispatcher
	workers    *core.Workers
	outcomes   *core.Outcomes
	alerts     *core.Alerts
	usage      *core.UsageService
	echo       *core.Echo
	sweeper    *core.Sweeper
	notifier   *core.Notifier
	ops        *ops
	handler    http.Handler
}

// overrides lets tests replace the clock and the resolver.
type overrides struct {
	clock    core.Clock
	resolver core.Resolver
	mailer   core.Mailer
}

func openStore(ctx context.Context, cfg *config, log *slog.Logger) (core.Store, error) {
	return openTracedStore(ctx, cfg, log, nil)
}

// openTracedStore opens the store; tracer (PostgreSQL only, may be nil)
// records its queries.
func openTracedStore(ctx context.Context, cfg *config, log *slog.Logger, tracer pgx.QueryTracer) (core.Store, error) {
	if cfg.DatabaseURL != "" {
		log.Info("store: postgresql")
		return postgres.New(ctx, postgres.Config{URL: cfg.DatabaseURL, MaxConns: int32(cfg.DBMaxConns), Tracer: tracer})
	}
	path := filepath.Join(cfg.DataDir, "cueapi.db")
	log.Info("store: embedded sqlite", "path", path)
	return sqlite.New(ctx, sqlite.Config{Path: path})
}

func newApp(ctx context.Context, cfg *config, log *slog.Logger, ov overrides) (*app, error) {
	a := &app{cfg: cfg, log: log, clock: ov.clock}
	if a.clock == nil {
		a.clock = core.SystemClock{}
	}
	o, err := newOps(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a.ops = o
	store, err := openTracedStore(ctx, cfg, log, a.ops.queryTracer())
	if err != nil {
		a.ops.close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	a.store = store

	box, err := secretBox(cfg, a.clock, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	a.box = box

	resolver := ov.resolver
	if resolver == nil {
		resolver = netguard.DNSResolver{}
	}
	if len(cfg.WebhookAllowedCIDRs) > 0 {
		log.Warn("WEBHOOK_ALLOWED_CIDRS lets callbacks reach otherwise blocked ranges", "cidrs", fmt.Sprint(cfg.WebhookAllowedCIDRs))
	}
	a.guard = netguard.New(netguard.Config{
		Production: cfg.production(), AllowHTTP: cfg.development(),
		AllowedCIDRs: cfg.WebhookAllowedCIDRs, Resolver: resolver,
	})

	var (
		limiter core.RateLimiter = memlimiter.New()
		cache   core.AuthCache   = authcache.NewMemory(a.clock)
	)
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			store.Close()
			// The parser's error quotes the URL, password included.
			return nil, errors.New("REDIS_URL: not a valid redis:// or rediss:// URL")
		}
		// Fail fast when Redis is down: the limiter then falls back to the
		// in-process window instead of stalling every request.
		opts.DialTimeout = time.Second
		opts.DialerRetries = 1
		opts.MaxRetries = 1
		a.redis = redis.NewClient(opts)
		limiter = failoverlimiter.New(redislimiter.New(a.redis, cfg.RedisPrefix), memlimiter.New(), failoverlimiter.Config{RetryPrimaryAfter: 5 * time.Second})
		cache = authcache.NewRedis(a.redis, cfg.RedisPrefix, a.clock)
		log.Info("redis: shared rate limits and auth cache")
	}
	limiter, cache = a.ops.instrument(limiter, cache)
	a.ops.storeMetrics(store, a.clock)
	a.notifier = a.ops.notifier(cfg, store, limiter, a.clock, log)

	accCfg := core.DefaultAccountsConfig()
	accCfg.AllowRegister = cfg.AllowRegister || cfg.development()
	accCfg.DefaultPlan = cfg.DefaultPlan
	accCfg.DefaultActiveCueLimit = cfg.DefaultActiveCueLimit
	accCfg.DefaultMonthlyExecutionLimit = cfg.DefaultMonthlyExecutionLimit
	accCfg.DefaultRateLimitPerMinute = cfg.DefaultRateLimitPerMinute
	accCfg.Notifier = a.notifier
	a.accounts = core.NewAccounts(accCfg, store, cache, box, a.guard, core.NewSessions(cfg.SessionSecret), a.clock, log)
	a.cues = core.NewCues(core.CuesConfig{WorkerHeartbeatTimeout: cfg.WorkerHeartbeatTimeout}, store, a.guard, a.clock)

	a.executions = core.NewExecutions(store, a.clock)
	a.executions.SetTraces(a.ops.traces)
	deliverer := webhook.New(a.guard, webhook.Config{MaxIdleConnsPerHost: cfg.WebhookConcurrency})
	a.scheduler = core.NewScheduler(core.SchedulerConfig{
		InstanceID: cfg.InstanceID, BatchSize: cfg.SchedulerBatchSize, LookAhead: cfg.SchedulerLookAhead,
		MissedAfter: cfg.MissedRunThreshold, Observer: a.ops.observer(),
	}, store, a.clock, log)
	a.dispatcher = core.NewDispatcher(core.DispatcherConfig{
		Concurrency: cfg.WebhookConcurrency, WebhookTimeout: cfg.WebhookTimeout, Lease: cfg.DeliveryLease,
		Notifier: a.notifier, Observer: a.ops.observer(), Tracer: a.ops.coreTracer(), Traces: a.ops.traces,
	}, store, deliverer, box, a.clock, log)
	deps := api.Deps{
		Log: log, Clock: a.clock, Accounts: a.accounts, Cues: a.cues, Executions: a.executions, Limiter: limiter,
		ServeSpec: !cfg.production(), TrustedProxies: cfg.TrustedProxies, HSTS: cfg.HSTS,
		CORSOrigins: cfg.CORSOrigins, Observer: a.ops.observer(), Tracer: a.ops.coreTracer(),
	}
	{
		work := store
		workersCfg := core.WorkersConfig{ClaimLease: cfg.WorkerClaimTimeout, UnclaimedTimeout: cfg.WorkerUnclaimedTimeout, Observer: a.ops.observer()}
		a.alerts = core.NewAlerts(work, deliverer, box, a.clock, log)
		a.alerts.SetNotifier(a.notifier)
		a.alerts.SetObserver(a.ops.observer())
		a.outcomes = core.NewOutcomes(work, a.alerts, a.clock)
		a.outcomes.SetObserver(a.ops.observer())
		a.workers = core.NewWorkers(workersCfg, work, a.clock)
		a.usage = core.NewUsage(store, work, limiter, a.clock)
		a.echo = core.NewEcho(work, limiter, a.clock)
		a.sweeper = core.NewSweeper(work, workersCfg, a.dispatcher, a.alerts, a.clock, log)
		a.dispatcher.SetGate(func(ctx context.Context, d *core.Delivery) bool { return a.usage.Blocked(ctx, d.Execution.TenantID) })
		a.dispatcher.OnFailed(func(ctx context.Context, d *core.Delivery) { a.alerts.RunFinished(ctx, d.Execution.TenantID, d.Cue) })
		deps.Workers, deps.Outcomes, deps.Alerts, deps.Usage, deps.Echo = a.workers, a.outcomes, a.alerts, a.usage, a.echo
		deps.DeviceLogin = core.NewDeviceLogin(core.DeviceLoginConfig{
			BaseURL: cfg.BaseURL, DashboardURL: cfg.DashboardURL, AllowRegister: accCfg.AllowRegister,
			LogMagicLinks: cfg.development() && cfg.DevLogMagicLinks,
		}, store, work, a.accounts, limiter, a.magicLinkMailer(ov), a.clock, log)
	}
	a.scheduler.OnFired(a.dispatcher.WakeAt)
	a.cues.OnScheduleChange(a.scheduler.Wake)
	a.executions.OnCreated(a.dispatcher.Wake)

	health := &api.Health{Store: store, Clock: a.clock, Scheduler: schedulerStatus(store), Queue: queueStats(store, a.clock)}
	if a.redis != nil {
		rc := a.redis
		health.RedisPing = func(ctx context.Context) error { return rc.Ping(ctx).Err() }
	}
	deps.Health = health
	h, err := api.NewHandler(deps)
	if err != nil {
		a.close()
		return nil, err
	}
	a.handler = h
	return a, nil
}

func schedulerStatus(store core.Store) api.SchedulerStatus {
	return func(ctx context.Context) (time.Time, int, int, bool) {
		hb, err := store.SchedulerHeartbeatLatest(ctx)
		if err != nil {
			return time.Time{}, 0, 0, false
		}
		return hb.LastRun, hb.CuesLastCycle, hb.CycleDurationMs, true
	}
}

func queueStats(store core.Store, clock core.Clock) api.QueueStats {
	return func(ctx context.Context) (int, int, int, int, error) {
		q, err := store.ExecutionQueueStats(ctx, &core.ExecutionQueueStatsParams{Now: clock.Now()})
		if err != nil {
			return 0, 0, 0, 0, err
		}
		return q.PendingWebhooks, q.StaleDeliveries, q.PendingRetries, q.PendingWorkerClaims, nil
	}
}

// runEngine runs the scheduler and the dispatcher until ctx ends.
func (a *app) runEngine(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.scheduler.Run(ctx) }()
	go func() { defer wg.Done(); a.dispatcher.Run(ctx) }()
	if a.sweeper != nil {
		wg.Add(2)
		go func() { defer wg.Done(); a.sweeper.Run(ctx, time.Second) }()
		go func() { defer wg.Done(); a.alerts.Run(ctx, time.Second) }()
	}
	// The notifier outlives the producers: it stops (sending what is still
	// queued) once the last escalation queued its email.
	nctx, stopNotifier := context.WithCancel(context.WithoutCancel(ctx))
	notified := make(chan struct{})
	go func() { defer close(notified); a.notifier.Run(nctx) }()
	return func() {
		wg.Wait()
		// Every producer of escalations has stopped: wait for the last ones.
		a.dispatcher.Wait()
		stopNotifier()
		<-notified
	}
}

// magicLinkMailer sends device-login magic links: a test's override, else
// the notifier (nil without a mail relay).
func (a *app) magicLinkMailer(ov overrides) core.Mailer {
	if ov.mailer != nil {
		return ov.mailer
	}
	if a.notifier != nil {
		return a.notifier
	}
	return nil
}

func (a *app) close() {
	if a.ops != nil {
		a.ops.close()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.store != nil {
		_ = a.store.Close()
	}
}

// secretBox builds the sealing box for stored secrets (API-key reveal
// copies, webhook and alert signing secrets). The key is derived from
// SESSION_SECRET as the reference does (Fernet, SHA-256 of the secret);
// SESSION_SECRET_PREVIOUS keeps old copies readable after a change. Without
// SESSION_SECRET (development only) a random key is kept in
// CUEAPI_DATA_DIR/secret.key.
func secretBox(cfg *config, clock core.Clock, log *slog.Logger) (core.SecretBox, error) {
	now := func() time.Time { return clock.Now() }
	if cfg.SessionSecret != "" {
		var opts []fernet.Option
		if cfg.SessionSecretPrevious != "" {
			opts = append(opts, fernet.WithFallbackKeys(fernet.KeyFromSecret(cfg.SessionSecretPrevious)))
		}
		return fernet.New(fernet.KeyFromSecret(cfg.SessionSecret), now, opts...), nil
	}
	key, err := dataDirKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.DatabaseURL != "" {
		log.Warn("SESSION_SECRET is empty: secrets are sealed with a key file in CUEAPI_DATA_DIR; every replica must share SESSION_SECRET instead")
	}
	return fernet.New(key, now), nil
}

func dataDirKey(dir string) ([32]byte, error) {
	var key [32]byte
	path := filepath.Join(dir, "secret.key")
	b, err := os.ReadFile(path)
	if err == nil {
		return fernet.ParseKey(strings.TrimSpace(string(b)))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return key, fmt.Errorf("read %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return key, err
	}
	if _, err := rand.Read(key[:]); err != nil {
		return key, err
	}
	enc := base64.URLEncoding.EncodeToString(key[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process created it first
			return dataDirKey(dir)
		}
		return key, err
	}
	defer f.Close()
	if _, err := f.WriteString(enc + "\n"); err != nil {
		return key, err
	}
	return key, nil
}
