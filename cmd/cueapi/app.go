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

	"github.com/redis/go-redis/v9"

	"github.com/cueapi/cueapi/adapters/authcache"
	"github.com/cueapi/cueapi/adapters/failoverlimiter"
	"github.com/cueapi/cueapi/adapters/fernet"
	"github.com/cueapi/cueapi/adapters/memlimiter"
	"github.com/cueapi/cueapi/adapters/netguard"
	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/adapters/redislimiter"
	"github.com/cueapi/cueapi/adapters/sqlite"
	"github.com/cueapi/cueapi/api"
	"github.com/cueapi/cueapi/core"
)

// app is the wired service: adapters, core services and the HTTP handler.
type app struct {
	cfg      *config
	log      *slog.Logger
	clock    core.Clock
	store    core.Store
	redis    *redis.Client
	guard    *netguard.Guard
	box      core.SecretBox
	accounts *core.Accounts
	cues     *core.Cues
	handler  http.Handler
}

// overrides lets tests replace the clock and the resolver.
type overrides struct {
	clock    core.Clock
	resolver core.Resolver
}

func openStore(ctx context.Context, cfg *config, log *slog.Logger) (core.Store, error) {
	if cfg.DatabaseURL != "" {
		log.Info("store: postgresql")
		return postgres.New(ctx, postgres.Config{URL: cfg.DatabaseURL})
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
	store, err := openStore(ctx, cfg, log)
	if err != nil {
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
			return nil, fmt.Errorf("REDIS_URL: %w", err)
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

	accCfg := core.DefaultAccountsConfig()
	accCfg.AllowRegister = cfg.AllowRegister || cfg.development()
	accCfg.DefaultPlan = cfg.DefaultPlan
	accCfg.DefaultActiveCueLimit = cfg.DefaultActiveCueLimit
	accCfg.DefaultMonthlyExecutionLimit = cfg.DefaultMonthlyExecutionLimit
	accCfg.DefaultRateLimitPerMinute = cfg.DefaultRateLimitPerMinute
	a.accounts = core.NewAccounts(accCfg, store, cache, box, a.guard, core.NewSessions(cfg.SessionSecret), a.clock, log)
	a.cues = core.NewCues(core.CuesConfig{WorkerHeartbeatTimeout: cfg.WorkerHeartbeatTimeout}, store, a.guard, a.clock)

	health := &api.Health{Store: store, Clock: a.clock}
	if a.redis != nil {
		rc := a.redis
		health.RedisPing = func(ctx context.Context) error { return rc.Ping(ctx).Err() }
	}
	h, err := api.NewHandler(api.Deps{
		Log: log, Clock: a.clock, Accounts: a.accounts, Cues: a.cues, Limiter: limiter, Health: health,
		ServeSpec: !cfg.production(), TrustedProxies: cfg.TrustedProxies, HSTS: cfg.HSTS,
	})
	if err != nil {
		a.close()
		return nil, err
	}
	a.handler = h
	return a, nil
}

func (a *app) close() {
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
