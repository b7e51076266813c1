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

// app is the wired service: the adapters, the core application and the
// HTTP handler. newApp builds all of it; nothing is set afterwards.
type app struct {
	*core.Application
	cfg   *config
	log   *slog.Logger
	clock core.Clock
	store core.Store
	// rawStore is the adapter under the decorators (the API benchmark's
	// bare baseline reads through its pool).
	rawStore core.Store
	redis    *redis.Client
	ops      *ops
	handler  http.Handler
	// feed announces committed changes (dashboard live feed); closeFeed
	// releases it.
	feed      core.ChangeFeed
	closeFeed func()
	// authLocal is the in-process auth cache (nil without Redis).
	authLocal *authcache.Local
	// stopStreams ends the dashboard's live-feed streams (nil: none).
	stopStreams func()
}

// overrides lets tests replace the clock, the resolver and the mailer.
type overrides struct {
	clock    core.Clock
	resolver core.Resolver
	mailer   core.Mailer
	// wrapStore wraps the store (fault injection).
	wrapStore func(core.Store) core.Store
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

// newApp builds the whole service from cfg: the adapters (store, limiter,
// auth cache, SSRF guard, deliverer, secret box), the core application over
// them (core.NewApplication connects the services) and the HTTP handler.
func newApp(ctx context.Context, cfg *config, log *slog.Logger, ov overrides) (_ *app, err error) {
	a := &app{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	clock := ov.clock
	if clock == nil {
		clock = core.SystemClock{}
	}
	a.clock = clock
	if a.ops, err = newOps(ctx, cfg, log); err != nil {
		return nil, err
	}
	store, err := openTracedStore(ctx, cfg, log, a.ops.queryTracer())
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	a.store, a.rawStore = store, store
	// Committed changes are announced on the change feed (dashboard live feed).
	if a.feed, a.closeFeed, err = openChangeFeed(ctx, cfg, log); err != nil {
		return nil, fmt.Errorf("open change feed: %w", err)
	}
	a.store = core.NewPublishingStore(store, a.feed, log)
	if ov.wrapStore != nil {
		a.store = ov.wrapStore(a.store)
	}
	box, err := secretBox(cfg, clock, log)
	if err != nil {
		return nil, err
	}

	resolver := ov.resolver
	if resolver == nil {
		resolver = netguard.DNSResolver{}
	}
	if len(cfg.WebhookAllowedCIDRs) > 0 {
		log.Warn("WEBHOOK_ALLOWED_CIDRS lets callbacks reach otherwise blocked ranges", "cidrs", fmt.Sprint(cfg.WebhookAllowedCIDRs))
	}
	guard := netguard.New(netguard.Config{
		Production: cfg.production(), AllowHTTP: cfg.development(),
		AllowedCIDRs: cfg.WebhookAllowedCIDRs, Resolver: resolver,
	})

	ports := core.Ports{
		Store: a.store, Limiter: memlimiter.New(), AuthCache: authcache.NewMemory(clock),
		Deliverer: webhook.New(guard, webhook.Config{MaxIdleConnsPerHost: cfg.WebhookConcurrency}),
		Box:       box, Guard: guard, Clock: clock, Log: log, Mailer: ov.mailer,
		Mail: a.ops.mail, Observer: a.ops.observer(), Tracer: a.ops.coreTracer(), Changes: a.feed,
	}
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			// The parser's error quotes the URL, password included.
			return nil, errors.New("REDIS_URL: not a valid redis:// or rediss:// URL")
		}
		// Fail fast when Redis is down: the limiter then falls back to the
		// in-process window instead of stalling every request.
		opts.DialTimeout = time.Second
		opts.DialerRetries = 1
		opts.MaxRetries = 1
		a.redis = redis.NewClient(opts)
		// A local allowance per bucket (redislimiter.Local): most requests
		// are counted in memory and recorded in Redis with the next call.
		shared := redislimiter.NewLocal(redislimiter.New(a.redis, cfg.RedisPrefix), 0)
		ports.Limiter = failoverlimiter.New(shared, memlimiter.New(), failoverlimiter.Config{RetryPrimaryAfter: 5 * time.Second})
		// Like the limiter, the auth cache backs off while Redis is
		// unreachable: requests authenticate from the store meanwhile.
		// Requests authenticate from memory while this replica's
		// invalidation subscription is healthy (authcache.Local), from
		// Redis otherwise.
		local := authcache.NewLocal(authcache.NewRedis(a.redis, cfg.RedisPrefix, clock), clock, log, authcache.LocalConfig{})
		a.authLocal = local
		ports.AuthCache = authcache.NewFailover(local, clock, log,
			authcache.FailoverConfig{RetryAfter: 5 * time.Second})
		ports.Redis = shared
		log.Info("redis: shared rate limits and auth cache")
	}
	ports.Limiter, ports.AuthCache = a.ops.instrument(ports.Limiter, ports.AuthCache)
	a.ops.storeMetrics(store, clock)

	appCfg := core.ApplicationConfig{
		Accounts:      core.DefaultAccountsConfig(),
		SessionSecret: cfg.SessionSecret,
		Cues:          core.CuesConfig{WorkerHeartbeatTimeout: cfg.WorkerHeartbeatTimeout},
		Scheduler: core.SchedulerConfig{
			InstanceID: cfg.InstanceID, BatchSize: cfg.SchedulerBatchSize, LookAhead: cfg.SchedulerLookAhead,
			MissedAfter: cfg.MissedRunThreshold,
		},
		Dispatcher: core.DispatcherConfig{
			Concurrency: cfg.WebhookConcurrency, WebhookTimeout: cfg.WebhookTimeout, Lease: cfg.DeliveryLease,
			ClaimAhead: cfg.DeliveryClaimAhead, ShutdownGrace: cfg.ShutdownGrace, ResultBuffer: cfg.DeliveryResultBuffer,
			PerDestination: cfg.DeliveryPerDestination, BreakerFailures: cfg.DeliveryBreakerFailures,
			BreakerCooldown: cfg.DeliveryBreakerCooldown, BreakerMaxCooldown: cfg.DeliveryBreakerMaxCooldown,
		},
		Workers: core.WorkersConfig{ClaimLease: cfg.WorkerClaimTimeout, UnclaimedTimeout: cfg.WorkerUnclaimedTimeout},
	}
	appCfg.Health.StoreKind = core.StoreSQLite
	if cfg.DatabaseURL != "" {
		appCfg.Health.StoreKind = core.StorePostgres
	}
	appCfg.Accounts.AllowRegister = cfg.AllowRegister || cfg.development()
	appCfg.Accounts.DefaultPlan = cfg.DefaultPlan
	appCfg.Accounts.DefaultActiveCueLimit = cfg.DefaultActiveCueLimit
	appCfg.Accounts.DefaultMonthlyExecutionLimit = cfg.DefaultMonthlyExecutionLimit
	appCfg.Accounts.DefaultRateLimitPerMinute = cfg.DefaultRateLimitPerMinute
	appCfg.DeviceLogin = core.DeviceLoginConfig{
		BaseURL: cfg.BaseURL, DashboardURL: cfg.DashboardURL, AllowRegister: appCfg.Accounts.AllowRegister,
		LogMagicLinks: cfg.development() && cfg.DevLogMagicLinks,
	}
	appCfg.Events = core.EventsConfig{LongPollTimeout: cfg.EventLongPoll, DigestPeriod: cfg.DigestPeriod, DigestMinBatch: cfg.DigestMinBatch, Priority4Debounce: cfg.Priority4Debounce}
	if cfg.Priority4Debounce == 0 {
		appCfg.Events.Priority4Debounce = -1 // PRIORITY_4_DEBOUNCE_SECONDS=0: no debounce
	}
	appCfg.Notifier = core.NotifierConfig{BaseURL: cfg.BaseURL, DashboardURL: cfg.DashboardURL}
	appCfg.Messaging = cfg.messaging()
	if a.Application, err = core.NewApplication(appCfg, ports); err != nil {
		return nil, err
	}

	h, err := api.NewHandler(api.Deps{
		Log: log, Clock: clock, Limiter: ports.Limiter,
		Accounts: a.Accounts, Cues: a.Cues, Executions: a.Executions, Workers: a.Workers, Outcomes: a.Outcomes,
		Alerts: a.Alerts, Usage: a.Usage, Echo: a.Echo, DeviceLogin: a.DeviceLogin, Agents: a.Agents, Messages: a.Messages, Events: a.Events, Health: &api.Health{Service: a.Health},
		ServeSpec: !cfg.production(), TrustedProxies: cfg.TrustedProxies, HSTS: cfg.HSTS, CORSOrigins: cfg.CORSOrigins,
		Observer: a.ops.observer(), Tracer: a.ops.coreTracer(),
	})
	if err != nil {
		return nil, err
	}
	if a.handler, err = a.withDashboard(h, a.DeviceLogin); err != nil {
		return nil, err
	}
	return a, nil
}

// Run starts the engine (core.Application.Run) and, next to it, the
// cross-process wake-ups: changes committed by any replica wake this one's
// scheduler and dispatcher (core.Application.FollowChanges).
func (a *app) Run(ctx context.Context) (wait func()) {
	waitEngine := a.Application.Run(ctx)
	followed := make(chan struct{})
	go func() { defer close(followed); a.FollowChanges(ctx, a.feed) }()
	return func() {
		waitEngine()
		<-followed
	}
}

func (a *app) close() {
	if a.ops != nil {
		a.ops.close()
	}
	if a.authLocal != nil {
		a.authLocal.Close()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.store != nil {
		_ = a.store.Close()
	}
	if a.closeFeed != nil {
		a.closeFeed()
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
