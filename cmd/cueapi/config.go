package main

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cueapi/cueapi/api"
	"github.com/cueapi/cueapi/core"
)

// config is everything read from the environment. Only cmd reads the
// environment; adapters and core get explicit values.
// maxLongPoll keeps a held long-poll well inside the server's 60 s write
// timeout.
const maxLongPoll = 50 * time.Second

type config struct {
	Host    string
	Port    int
	Env     string // development | test | production
	BaseURL string
	// DashboardURL receives the browser after a magic-link login ("" = none).
	DashboardURL     string
	DevLogMagicLinks bool
	// Dashboard serves the built-in dashboard under /dashboard (DASHBOARD;
	// default on except when ENV=production).
	Dashboard bool

	DatabaseURL string // empty: embedded SQLite in DataDir
	DataDir     string
	DBMaxConns  int
	RedisURL    string // empty: in-process cache and limiter
	RedisPrefix string // namespace of every Redis key

	SessionSecret         string
	SessionSecretPrevious string
	AllowRegister         bool

	WebhookAllowedCIDRs []netip.Prefix
	TrustedProxies      []netip.Prefix
	// CORSOrigins are exact browser origins echoed with credentials
	// allowed; empty: "Access-Control-Allow-Origin: *" without credentials.
	CORSOrigins []string

	DefaultPlan                  string
	DefaultActiveCueLimit        int
	DefaultMonthlyExecutionLimit int
	DefaultRateLimitPerMinute    int

	WorkerHeartbeatTimeout time.Duration
	WorkerClaimTimeout     time.Duration
	WorkerUnclaimedTimeout time.Duration
	WebhookTimeout         time.Duration
	WebhookConcurrency     int
	DeliveryLease          time.Duration
	DeliveryClaimAhead     time.Duration
	ShutdownGrace          time.Duration
	// Events: long-poll hold, digest period and minimum batch, p=4 debounce.
	EventLongPoll        time.Duration
	DigestPeriod         time.Duration
	DigestMinBatch       int
	Priority4Debounce    time.Duration
	DeliveryResultBuffer int
	// Fair delivery: per-destination limit and circuit breaker.
	DeliveryPerDestination     int
	DeliveryBreakerFailures    int
	DeliveryBreakerCooldown    time.Duration
	DeliveryBreakerMaxCooldown time.Duration
	SchedulerLookAhead         time.Duration
	SchedulerBatchSize         int
	MissedRunThreshold         time.Duration
	InstanceID                 string

	LogLevel string
	HSTS     bool

	// MessageTTL sets a message's expires_at (MESSAGE_TTL_DAYS);
	// DisableQuotaEnforcement skips the message quotas.
	MessageTTL              time.Duration
	DisableQuotaEnforcement bool
	// MaxDeliveriesPerUser bounds a sender user's message pushes in flight.
	MaxDeliveriesPerUser int

	// SMTPURL and SMTPFrom configure the mail relay ("" = no email).
	SMTPURL  string
	SMTPFrom string
	// MetricsAddr is the separate /metrics listener ("" = off);
	// MetricsToken, when set, is required as a bearer token.
	MetricsAddr  string
	MetricsToken string
	// OTLPEndpoint turns tracing on (OpenTelemetry over OTLP/HTTP).
	OTLPEndpoint string
	OTLPHeaders  string
}

// seconds is d in whole seconds, for a *_SECONDS setting's default.
func seconds(d time.Duration) int { return int(d / time.Second) }

func (c *config) production() bool  { return c.Env == "production" }
func (c *config) development() bool { return c.Env == "development" }

type envFunc func(string) (string, bool)

func loadConfig(lookup envFunc) (*config, error) { return readConfig(lookup, nil) }

// readConfig reads the configuration; seen, when set, is told every
// variable read with its default (the --help table is built from it).
func readConfig(lookup envFunc, seen func(name, def string)) (*config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if seen == nil {
		seen = func(string, string) {}
	}
	raw := func(k string) string {
		if v, ok := lookup(k); ok {
			return strings.TrimSpace(v)
		}
		return ""
	}
	get := func(k, def string) string {
		seen(k, def)
		if v := raw(k); v != "" {
			return v
		}
		return def
	}
	var errs []string
	getInt := func(k string, def int) int {
		seen(k, strconv.Itoa(def))
		v := raw(k)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: not an integer: %q", k, v))
			return def
		}
		return n
	}
	getBool := func(k string, def bool) bool {
		seen(k, strconv.FormatBool(def))
		v := strings.ToLower(raw(k))
		switch v {
		case "":
			return def
		case "1", "true", "yes", "on":
			return true
		case "0", "false", "no", "off":
			return false
		}
		errs = append(errs, fmt.Sprintf("%s: not a boolean: %q", k, v))
		return def
	}
	getOrigins := func(k string) []string {
		var out []string
		for _, part := range strings.Split(get(k, ""), ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			o, err := api.ParseCORSOrigin(part)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", k, err))
				continue
			}
			out = append(out, o)
		}
		return out
	}
	getSeconds := func(k string, def int) time.Duration { return time.Duration(getInt(k, def)) * time.Second }
	getCIDRs := func(k string) []netip.Prefix {
		var out []netip.Prefix
		for _, part := range strings.Split(get(k, ""), ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if !strings.Contains(part, "/") {
				if a, err := netip.ParseAddr(part); err == nil {
					out = append(out, netip.PrefixFrom(a, a.BitLen()))
					continue
				}
			}
			p, err := netip.ParsePrefix(part)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: bad CIDR %q", k, part))
				continue
			}
			out = append(out, p.Masked())
		}
		return out
	}

	// The defaults of the settings core has policies for live in core.
	acc, disp, sched := core.DefaultAccountsConfig(), core.DefaultDispatcherConfig(), core.DefaultSchedulerConfig()
	c := &config{
		Host:                         get("HOST", "127.0.0.1"),
		Port:                         getInt("PORT", 8000),
		Env:                          get("ENV", "development"),
		BaseURL:                      strings.TrimRight(get("BASE_URL", ""), "/"),
		DashboardURL:                 strings.TrimRight(get("DASHBOARD_URL", ""), "/"),
		DevLogMagicLinks:             getBool("DEV_LOG_MAGIC_LINKS", false),
		DatabaseURL:                  get("DATABASE_URL", ""),
		DataDir:                      get("CUEAPI_DATA_DIR", "./data"),
		DBMaxConns:                   getInt("DATABASE_MAX_CONNS", 16),
		RedisURL:                     get("REDIS_URL", ""),
		RedisPrefix:                  get("REDIS_PREFIX", "cueapi:"),
		SessionSecret:                get("SESSION_SECRET", ""),
		SessionSecretPrevious:        get("SESSION_SECRET_PREVIOUS", ""),
		AllowRegister:                getBool("ALLOW_REGISTER", true),
		WebhookAllowedCIDRs:          getCIDRs("WEBHOOK_ALLOWED_CIDRS"),
		TrustedProxies:               getCIDRs("TRUSTED_PROXIES"),
		CORSOrigins:                  getOrigins("CORS_ORIGINS"),
		DefaultPlan:                  get("DEFAULT_PLAN", acc.DefaultPlan),
		DefaultActiveCueLimit:        getInt("DEFAULT_ACTIVE_CUE_LIMIT", acc.DefaultActiveCueLimit),
		DefaultMonthlyExecutionLimit: getInt("DEFAULT_MONTHLY_EXECUTION_LIMIT", acc.DefaultMonthlyExecutionLimit),
		DefaultRateLimitPerMinute:    getInt("DEFAULT_RATE_LIMIT_PER_MINUTE", acc.DefaultRateLimitPerMinute),
		WorkerHeartbeatTimeout:       getSeconds("WORKER_HEARTBEAT_TIMEOUT_SECONDS", seconds(core.DefaultWorkerHeartbeatTimeout)),
		WorkerClaimTimeout:           getSeconds("WORKER_CLAIM_TIMEOUT_SECONDS", seconds(core.DefaultWorkerClaimTimeout)),
		WorkerUnclaimedTimeout:       getSeconds("WORKER_UNCLAIMED_TIMEOUT_SECONDS", seconds(core.DefaultWorkerUnclaimedTimeout)),
		WebhookTimeout:               getSeconds("WEBHOOK_TIMEOUT_SECONDS", seconds(disp.WebhookTimeout)),
		WebhookConcurrency:           getInt("WEBHOOK_CONCURRENCY", disp.Concurrency),
		DeliveryLease:                getSeconds("DELIVERY_LEASE_SECONDS", 0),
		DeliveryClaimAhead:           time.Duration(getInt("DELIVERY_CLAIM_AHEAD_MS", int(disp.ClaimAhead/time.Millisecond))) * time.Millisecond,
		ShutdownGrace:                getSeconds("SHUTDOWN_GRACE_SECONDS", seconds(disp.ShutdownGrace)),
		DeliveryResultBuffer:         getInt("DELIVERY_RESULT_BUFFER", disp.ResultBuffer),
		EventLongPoll:                getSeconds("EVENTS_LONG_POLL_SECONDS", seconds(core.DefaultLongPollTimeout)),
		DigestPeriod:                 getSeconds("DIGEST_PERIOD_SECONDS", 600),
		DigestMinBatch:               getInt("DIGEST_MIN_BATCH_SIZE", 1),
		Priority4Debounce:            getSeconds("PRIORITY_4_DEBOUNCE_SECONDS", seconds(core.DefaultPriority4Debounce)),
		DeliveryPerDestination:       getInt("DELIVERY_PER_DESTINATION_CONCURRENCY", 0),
		DeliveryBreakerFailures:      getInt("DELIVERY_BREAKER_FAILURES", disp.BreakerFailures),
		DeliveryBreakerCooldown:      getSeconds("DELIVERY_BREAKER_COOLDOWN_SECONDS", seconds(disp.BreakerCooldown)),
		DeliveryBreakerMaxCooldown:   getSeconds("DELIVERY_BREAKER_MAX_COOLDOWN_SECONDS", seconds(disp.BreakerMaxCooldown)),
		SchedulerLookAhead:           time.Duration(getInt("SCHEDULER_LOOKAHEAD_MS", int(sched.LookAhead/time.Millisecond))) * time.Millisecond,
		SchedulerBatchSize:           getInt("SCHEDULER_BATCH_SIZE", sched.BatchSize),
		MissedRunThreshold:           getSeconds("MISSED_RUN_THRESHOLD_SECONDS", seconds(sched.MissedAfter)),
		InstanceID:                   get("INSTANCE_ID", defaultInstanceID()),
		LogLevel:                     strings.ToLower(get("LOG_LEVEL", "info")),
		HSTS:                         getBool("HSTS", false),
		MessageTTL:                   time.Duration(getInt("MESSAGE_TTL_DAYS", 30)) * 24 * time.Hour,
		DisableQuotaEnforcement:      getBool("DISABLE_QUOTA_ENFORCEMENT", false),
		MaxDeliveriesPerUser:         getInt("MAX_CONCURRENT_DELIVERIES_PER_USER", core.MessagePushUserCap),
		SMTPURL:                      get("SMTP_URL", ""),
		SMTPFrom:                     get("SMTP_FROM", ""),
		MetricsAddr:                  get("METRICS_ADDR", ""),
		MetricsToken:                 get("METRICS_TOKEN", ""),
		OTLPEndpoint:                 get("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
		OTLPHeaders:                  get("OTEL_EXPORTER_OTLP_HEADERS", ""),
	}
	if c.BaseURL == "" {
		c.BaseURL = listenURL(c.Host, c.Port)
	}
	if err := checkMetricsAddr(c.MetricsAddr, c.MetricsToken); err != nil {
		errs = append(errs, err.Error())
	}
	c.Dashboard = getBool("DASHBOARD", !c.production())
	switch c.Env {
	case "development", "test", "production":
	default:
		errs = append(errs, fmt.Sprintf("ENV: must be development, test or production, got %q", c.Env))
	}
	if c.WebhookConcurrency < 1 || c.SchedulerBatchSize < 1 || c.WebhookTimeout <= 0 || c.SchedulerLookAhead < 0 || c.DeliveryClaimAhead < 0 || c.MissedRunThreshold <= 0 {
		errs = append(errs, "WEBHOOK_CONCURRENCY, SCHEDULER_BATCH_SIZE, WEBHOOK_TIMEOUT_SECONDS and MISSED_RUN_THRESHOLD_SECONDS must be positive; SCHEDULER_LOOKAHEAD_MS and DELIVERY_CLAIM_AHEAD_MS non-negative")
	}
	if c.MessageTTL <= 0 || c.MaxDeliveriesPerUser < 1 {
		errs = append(errs, "MESSAGE_TTL_DAYS and MAX_CONCURRENT_DELIVERIES_PER_USER must be positive")
	}
	if c.ShutdownGrace <= 0 || c.DeliveryResultBuffer < 1 {
		errs = append(errs, "SHUTDOWN_GRACE_SECONDS and DELIVERY_RESULT_BUFFER must be positive")
	}
	if c.EventLongPoll <= 0 || c.EventLongPoll > maxLongPoll || c.DigestPeriod <= 0 || c.DigestMinBatch < 1 || c.Priority4Debounce < 0 {
		errs = append(errs, "EVENTS_LONG_POLL_SECONDS must be 1-50 (the HTTP write timeout is 60 s), DIGEST_PERIOD_SECONDS and DIGEST_MIN_BATCH_SIZE positive, PRIORITY_4_DEBOUNCE_SECONDS non-negative")
	}
	if c.DeliveryPerDestination < 0 || c.DeliveryBreakerFailures < 1 || c.DeliveryBreakerCooldown <= 0 || c.DeliveryBreakerMaxCooldown < c.DeliveryBreakerCooldown {
		errs = append(errs, "DELIVERY_PER_DESTINATION_CONCURRENCY must be non-negative, DELIVERY_BREAKER_FAILURES and DELIVERY_BREAKER_COOLDOWN_SECONDS positive, DELIVERY_BREAKER_MAX_COOLDOWN_SECONDS at least the cool-down")
	}
	if c.DeliveryLease != 0 && c.DeliveryLease <= c.WebhookTimeout {
		errs = append(errs, "DELIVERY_LEASE_SECONDS must exceed WEBHOOK_TIMEOUT_SECONDS")
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Sprintf("PORT: out of range: %d", c.Port))
	}
	if c.DefaultActiveCueLimit < 0 || c.DefaultMonthlyExecutionLimit < 0 || c.DefaultRateLimitPerMinute < 1 {
		errs = append(errs, "plan limits must be non-negative (rate limit at least 1)")
	}
	if c.production() {
		if err := checkSessionSecret(c.SessionSecret); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// sampleSecrets are values from documentation that must never run in
// production.
var sampleSecrets = map[string]bool{
	"change-me": true, "changeme": true, "secret": true, "your-secret-here": true,
	"test-session-secret-32-chars-minimum!!": true, "dev-secret": true,
	"change-this-to-a-long-random-string": true, "local-dev-secret-key-change-in-production": true,
	"test-secret-key-32-chars-minimum": true,
}

func checkSessionSecret(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("SESSION_SECRET: required when ENV=production")
	case len(s) < 32:
		return fmt.Errorf("SESSION_SECRET: must be at least 32 characters when ENV=production")
	case sampleSecrets[strings.ToLower(s)]:
		return fmt.Errorf("SESSION_SECRET: a sample value; generate one with `openssl rand -hex 32`")
	}
	return nil
}

func defaultInstanceID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "cueapi"
	}
	return h + "-" + strconv.Itoa(os.Getpid())
}

// messaging is the messaging policy of the configuration.
func (c *config) messaging() core.MessagingConfig {
	m := core.DefaultMessagingConfig()
	m.TTL, m.DisableQuotas, m.PushUserCap = c.MessageTTL, c.DisableQuotaEnforcement, c.MaxDeliveriesPerUser
	return m
}
