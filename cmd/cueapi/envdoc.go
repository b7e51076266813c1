package main

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// envVar is one row of the configuration table.
type envVar struct {
	Name, Default, Help string
}

// envHelp describes every variable `cueapi serve` reads. Names and defaults
// are not written here: envTable records them from readConfig itself, so
// the table cannot drift from the code; a test keeps README.md's
// Configuration section equal to the table.
var envHelp = map[string]string{
	"HOST":                                  "Listen address (`HOST=0.0.0.0` in containers).",
	"PORT":                                  "Listen port.",
	"ENV":                                   "`development`, `test` or `production`. Production requires https callback URLs, a strong `SESSION_SECRET`, and hides `/openapi.json`. `http://` callbacks are accepted only in development.",
	"BASE_URL":                              "Public base URL (device-login verification URL, magic links, emails). Empty: the listen address.",
	"DASHBOARD_URL":                         "Where the magic-link page sends the browser after a login, and the link in notification emails. Empty: a \"return to your terminal\" page; no token leaves for another origin.",
	"DEV_LOG_MAGIC_LINKS":                   "With `ENV=development` and no `SMTP_URL` only: write magic links to the log instead of emailing them. Without email, `submit-email` answers 503 `email_not_configured`.",
	"DATABASE_URL":                          "PostgreSQL URL. Empty: embedded SQLite in `CUEAPI_DATA_DIR`.",
	"CUEAPI_DATA_DIR":                       "Embedded database, and the sealing key file when `SESSION_SECRET` is empty.",
	"DATABASE_MAX_CONNS":                    "PostgreSQL pool size per process.",
	"REDIS_URL":                             "Redis URL for shared rate limits and auth cache. Empty: in-process.",
	"REDIS_PREFIX":                          "Namespace of every Redis key (lets deployments share one Redis).",
	"SESSION_SECRET":                        "Signs session JWTs; derives the key that seals stored secrets (API-key reveal copies, webhook and alert secrets). Required (≥ 32 chars) in production.",
	"SESSION_SECRET_PREVIOUS":               "A former `SESSION_SECRET`, so secrets sealed with it stay readable after a change.",
	"ALLOW_REGISTER":                        "`false` closes `POST /v1/auth/register` and sign-ups by magic link (always open in development).",
	"WEBHOOK_ALLOWED_CIDRS":                 "Comma-separated CIDRs that outbound requests may reach although the SSRF policy blocks them (e.g. `127.0.0.1/32` for a local receiver). Logged at start-up.",
	"TRUSTED_PROXIES":                       "CIDRs of proxies whose `X-Forwarded-For` is believed for the client IP.",
	"CORS_ORIGINS":                          "Comma-separated exact browser origins (`https://app.example.com`) that get their origin echoed with `Access-Control-Allow-Credentials: true`. Empty: `Access-Control-Allow-Origin: *` without credentials.",
	"DEFAULT_PLAN":                          "Plan label of new accounts.",
	"DEFAULT_ACTIVE_CUE_LIMIT":              "Active + paused cues per account.",
	"DEFAULT_MONTHLY_EXECUTION_LIMIT":       "Executions per account per UTC month.",
	"DEFAULT_RATE_LIMIT_PER_MINUTE":         "API requests per key per minute.",
	"WORKER_HEARTBEAT_TIMEOUT_SECONDS":      "A worker seen within this is active.",
	"WORKER_CLAIM_TIMEOUT_SECONDS":          "Worker claim lease (`lease_seconds`); an execution heartbeat renews it. An expired lease puts the execution back in the claimable pool with the attempt counted.",
	"WORKER_UNCLAIMED_TIMEOUT_SECONDS":      "A worker execution nobody claims for this long becomes `missed` (and runs `on_failure`).",
	"WEBHOOK_TIMEOUT_SECONDS":               "Total deadline of one webhook attempt.",
	"WEBHOOK_CONCURRENCY":                   "Deliveries in flight per process.",
	"DELIVERY_LEASE_SECONDS":                "How long a claimed delivery is held before another process may retry it (a process that died mid-attempt). `0`: `WEBHOOK_TIMEOUT_SECONDS` + 30; otherwise it must exceed `WEBHOOK_TIMEOUT_SECONDS`.",
	"SHUTDOWN_GRACE_SECONDS":                "On SIGTERM/SIGINT the process stops claiming deliveries, drains HTTP requests and lets deliveries in flight finish for this long; then it cancels them and releases their leases so another replica (or the next start) retries them at once (same attempt number, not counted). Set the supervisor's stop timeout to the grace plus about 5 s (Kubernetes `terminationGracePeriodSeconds: 15`, systemd `TimeoutStopSec=15`, `docker stop -t 15`).",
	"MESSAGE_TTL_DAYS":                      "Days a message lives: `expires_at` = send time + this. A background job marks older messages `expired` and deletes acked and expired ones 7 days later.",
	"DISABLE_QUOTA_ENFORCEMENT":             "`true` skips the message quotas (per-minute send rate by plan, the priority 4–5 limits, the monthly message quota).",
	"MAX_CONCURRENT_DELIVERIES_PER_USER":    "Message pushes (to agents' `webhook_url`) in flight per sending user per process; an attempt over the cap is postponed 30 s without counting.",
	"DELIVERY_RESULT_BUFFER":                "Delivery results kept in memory when their database write fails; they are written again with backoff while their leases last, so an outage shorter than the lease sends nothing twice. When full, the oldest are dropped (WARN) and retried after lease expiry.",
	"DELIVERY_PER_DESTINATION_CONCURRENCY":  "Deliveries in flight per destination (host[:port] of the URL) per process, for every kind of delivery; claims take at most this many per destination, round-robin across destinations, so a slow or huge destination cannot hold every slot. A destination that is alone with work due may use the slots nobody else needs, all but this many, which stay free for a destination that shows up. `0`: `WEBHOOK_CONCURRENCY`/8, at least 4 (or `WEBHOOK_CONCURRENCY` when smaller).",
	"DELIVERY_BREAKER_FAILURES":             "Consecutive failures (timeouts, connection errors, 429, 5xx) of one destination that open its circuit breaker: its due deliveries are then parked without being sent — each counts as a failed attempt and is due again when the cool-down ends — and hold no slot.",
	"DELIVERY_BREAKER_COOLDOWN_SECONDS":     "How long an open breaker parks its destination; a longer `Retry-After` from the destination wins. Then one probe goes out: success closes the breaker, failure reopens it for twice as long.",
	"DELIVERY_BREAKER_MAX_COOLDOWN_SECONDS": "Upper bound of the doubling cool-down (a receiver's `Retry-After` may still park longer, up to 6 h).",
	"EVENTS_LONG_POLL_SECONDS":              "How long `GET /v1/agents/{ref}/events?wait=long` holds a pull with nothing to return before answering `{\"events\": []}` (1-50; clients need a longer HTTP timeout, the SDK and CLI default to 30 s). On shutdown held polls answer at once.",
	"DIGEST_PERIOD_SECONDS":                 "Period of `message.digest` emission: each period, every agent's undigested priority-1/2 `message.delivered` events are bundled into one digest event.",
	"DIGEST_MIN_BATCH_SIZE":                 "Fewest low-priority events a `message.digest` bundles; agents with fewer wait for the next period.",
	"PRIORITY_4_DEBOUNCE_SECONDS":           "Webhook subscriptions: priority-4 events are held back for this long after a batch holding one was delivered to the subscription (`0` disables).",
	"SCHEDULER_LOOKAHEAD_MS":                "Executions are created this long before they are due (never delivered early), so bursts of cues due at one instant are ready on time. `0` disables.",
	"DELIVERY_CLAIM_AHEAD_MS":               "Webhook executions are claimed up to this long before they are due and sent at their due time from memory, so the claim's database round trips are off the delivery's path (at most `SCHEDULER_LOOKAHEAD_MS` is useful). A claimed execution holds a delivery slot while it waits; a process that dies meanwhile leaves it to its lease, and a cue paused or deleted in that window still fires that once. `0` disables.",
	"SCHEDULER_BATCH_SIZE":                  "Due cues fired per transaction.",
	"MISSED_RUN_THRESHOLD_SECONDS":          "An occurrence later than this when the scheduler reaches it (downtime) is \"missed\" and handled by the cue's `catch_up` policy.",
	"INSTANCE_ID":                           "Names this process in scheduler heartbeats and traces.",
	"LOG_LEVEL":                             "`debug`, `info`, `warn`, `error`. Logs are JSON on stderr, one line per request with its `request_id`.",
	"HSTS":                                  "Send `Strict-Transport-Security` (set when served over TLS).",
	"SMTP_URL":                              "Mail relay for magic links (device login), `on_failure` emails, alert emails and key/secret rotation notices: `smtp://user:pass@host:587` (STARTTLS required), `smtps://user:pass@host:465` (implicit TLS), `smtp://host:25?starttls=off` (no TLS, explicit opt-out). Empty: no email.",
	"SMTP_FROM":                             "Sender of every email, e.g. `CueAPI <noreply@example.com>`. Required with `SMTP_URL`.",
	"METRICS_ADDR":                          "Prometheus `/metrics` on a separate listener, e.g. `127.0.0.1:9464`. Empty: off. A non-loopback address requires `METRICS_TOKEN`.",
	"METRICS_TOKEN":                         "Bearer token required by `/metrics` when set.",
	"OTEL_EXPORTER_OTLP_ENDPOINT":           "OpenTelemetry collector base URL (OTLP/HTTP, e.g. `http://127.0.0.1:4318`): spans for requests and webhook deliveries. Empty: tracing off (webhooks still carry `traceparent`).",
	"OTEL_EXPORTER_OTLP_HEADERS":            "Headers sent to the collector, `k1=v1,k2=v2`.",
	"DASHBOARD":                             "Serve the built-in dashboard under `/dashboard` (on by default except with `ENV=production`).",
}

// envShown replaces defaults computed at start-up with what they mean.
var envShown = map[string]string{
	"INSTANCE_ID":                          "hostname-pid",
	"BASE_URL":                             "empty",
	"DELIVERY_LEASE_SECONDS":               "0",
	"DELIVERY_PER_DESTINATION_CONCURRENCY": "0 (WEBHOOK_CONCURRENCY/8)",
	"DASHBOARD":                            "true (false in production)",
}

// envTable lists every variable in the order readConfig reads them.
func envTable() []envVar {
	var out []envVar
	seen := map[string]bool{}
	_, _ = readConfig(func(string) (string, bool) { return "", false }, func(name, def string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if v, ok := envShown[name]; ok {
			def = v
		}
		if def == "" {
			def = "empty"
		}
		out = append(out, envVar{Name: name, Default: def, Help: envHelp[name]})
	})
	return out
}

// envUsage is the environment part of `cueapi --help`.
func envUsage() string {
	var b strings.Builder
	b.WriteString("environment (cueapi serve and cueapi migrate):\n")
	for _, v := range envTable() {
		fmt.Fprintf(&b, "  %-34s default: %s\n      %s\n", v.Name, v.Default, strings.ReplaceAll(v.Help, "`", ""))
	}
	return b.String()
}

// envMarkdown renders the README's Configuration table.
func envMarkdown() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning |\n|---|---|---|\n")
	for _, v := range envTable() {
		def := v.Default
		if def != "empty" && def != "hostname-pid" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, v.Help)
	}
	return b.String()
}

// listenURL is the development default of BASE_URL: the listen address,
// with "localhost" for a wildcard or loopback host.
func listenURL(host string, port int) string {
	if a, err := netip.ParseAddr(host); host == "" || (err == nil && (a.IsUnspecified() || a.IsLoopback())) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// checkMetricsAddr refuses to expose unauthenticated metrics beyond
// loopback.
func checkMetricsAddr(addr, token string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("METRICS_ADDR: not host:port: %q", addr)
	}
	if token != "" || host == "localhost" {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		return nil
	}
	return fmt.Errorf("METRICS_ADDR: %q is not a loopback address; set METRICS_TOKEN to expose metrics beyond this host", addr)
}
