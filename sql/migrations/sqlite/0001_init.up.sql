-- 0001: the initial schema (SQLite).
--
-- The same tables, columns, constraints and index names as
-- ../postgres/0001_init.up.sql, in SQLite's types:
--   * uuids, JSON and times are TEXT. Times are UTC in the fixed-width form
--     2006-01-02T15:04:05.000000Z (always six fraction digits), so string
--     comparison orders them; the adapter converts. month_start is
--     'YYYY-MM-DD'.
--   * integers and booleans are INTEGER (booleans 0 or 1).
-- No column defaults to the database clock: the application clock supplies
-- every time.

CREATE TABLE users (
    id                      TEXT    PRIMARY KEY,
    email                   TEXT    NOT NULL,
    api_key_hash            TEXT    NOT NULL,
    api_key_prefix          TEXT    NOT NULL,
    api_key_sealed          TEXT,
    plan                    TEXT    NOT NULL DEFAULT 'free',
    active_cue_limit        INTEGER NOT NULL,
    monthly_execution_limit INTEGER NOT NULL,
    rate_limit_per_minute   INTEGER NOT NULL,
    webhook_secret_sealed   TEXT    NOT NULL,
    alert_webhook_url       TEXT,
    alert_secret_sealed     TEXT,
    created_at              TEXT    NOT NULL,
    updated_at              TEXT    NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_api_key_hash_key UNIQUE (api_key_hash)
);

CREATE INDEX users_api_key_prefix_idx ON users (api_key_prefix);

-- Tombstones of rotated API keys, so authentication can tell "rotated" from
-- "unknown".
CREATE TABLE rotated_keys (
    key_hash   TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rotated_at TEXT NOT NULL
);

CREATE INDEX rotated_keys_user_id_idx ON rotated_keys (user_id);

CREATE TABLE cues (
    id                       TEXT    PRIMARY KEY,
    user_id                  TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                     TEXT    NOT NULL CHECK (length(name) <= 255),
    description              TEXT,
    status                   TEXT    NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'failed')),
    transport                TEXT    NOT NULL CHECK (transport IN ('webhook', 'worker')),
    schedule_type            TEXT    NOT NULL CHECK (schedule_type IN ('once', 'recurring')),
    schedule_cron            TEXT,
    schedule_at              TEXT,
    schedule_timezone        TEXT    NOT NULL,
    callback_url             TEXT,
    callback_method          TEXT    NOT NULL CHECK (callback_method IN ('POST', 'GET', 'PUT', 'PATCH')),
    callback_headers         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(callback_headers)),
    payload                  TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    retry_max_attempts       INTEGER NOT NULL,
    retry_backoff_minutes    TEXT    NOT NULL CHECK (json_valid(retry_backoff_minutes)),
    on_failure_email         INTEGER NOT NULL CHECK (on_failure_email IN (0, 1)),
    on_failure_webhook       TEXT,
    on_failure_pause         INTEGER NOT NULL CHECK (on_failure_pause IN (0, 1)),
    verification_mode        TEXT    CHECK (verification_mode IS NULL OR verification_mode IN
                                         ('none', 'require_external_id', 'require_result_url', 'require_artifacts', 'manual')),
    catch_up                 TEXT    NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest', 'skip', 'all')),
    outcome_deadline_seconds INTEGER,
    next_run                 TEXT,
    last_run                 TEXT,
    run_count                INTEGER NOT NULL DEFAULT 0,
    fired_count              INTEGER NOT NULL DEFAULT 0,
    skipped_count            INTEGER NOT NULL DEFAULT 0,
    last_error               TEXT,
    created_at               TEXT    NOT NULL,
    updated_at               TEXT    NOT NULL,
    CONSTRAINT cues_user_id_name_key UNIQUE (user_id, name)
);

-- Listing a tenant's cues newest first (ties by id).
CREATE INDEX cues_user_created_idx ON cues (user_id, created_at DESC, id DESC);
-- The scheduler's scan for due cues.
CREATE INDEX cues_due_idx ON cues (next_run) WHERE status = 'active' AND next_run IS NOT NULL;

CREATE TABLE executions (
    id                        TEXT    PRIMARY KEY,
    cue_id                    TEXT    NOT NULL REFERENCES cues (id) ON DELETE CASCADE,
    -- Denormalized from cues.user_id so tenant-scoped queries need no join.
    user_id                   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    transport                 TEXT    NOT NULL CHECK (transport IN ('webhook', 'worker')),
    scheduled_for             TEXT    NOT NULL,
    status                    TEXT    NOT NULL CHECK (status IN ('pending', 'delivering', 'success', 'failed', 'retrying',
                                                                 'retry_ready', 'missed', 'pending_outcome', 'outcome_timeout')),
    http_status               INTEGER,
    response_body             TEXT,
    attempts                  INTEGER NOT NULL DEFAULT 0,
    next_retry                TEXT,
    -- When the dispatcher may next act on the execution.
    due_at                    TEXT,
    error_message             TEXT,
    started_at                TEXT,
    delivered_at              TEXT,
    last_attempt_at           TEXT,
    lease_expires_at          TEXT,
    claimed_by_worker         TEXT,
    claimed_at                TEXT,
    last_heartbeat_at         TEXT,
    outcome_success           INTEGER CHECK (outcome_success IS NULL OR outcome_success IN (0, 1)),
    outcome_result            TEXT,
    outcome_error             TEXT,
    outcome_metadata          TEXT    CHECK (outcome_metadata IS NULL OR json_valid(outcome_metadata)),
    -- Non-NULL iff an outcome was recorded (write-once).
    outcome_recorded_at       TEXT,
    outcome_state             TEXT,
    outcome_deadline_at       TEXT,
    evidence_external_id      TEXT,
    evidence_result_url       TEXT,
    evidence_result_ref       TEXT,
    evidence_result_type      TEXT,
    evidence_summary          TEXT,
    evidence_artifacts        TEXT    CHECK (evidence_artifacts IS NULL OR json_valid(evidence_artifacts)),
    evidence_metadata         TEXT    CHECK (evidence_metadata IS NULL OR json_valid(evidence_metadata)),
    evidence_validation_state TEXT,
    evidence_produced_at      TEXT,
    triggered_by              TEXT,
    replayed_from             TEXT,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    -- The scheduler's idempotency key: one execution per occurrence.
    CONSTRAINT executions_cue_id_scheduled_for_key UNIQUE (cue_id, scheduled_for)
);

CREATE INDEX executions_user_created_idx ON executions (user_id, created_at DESC, id DESC);
CREATE INDEX executions_cue_created_idx ON executions (cue_id, created_at DESC, id DESC);
-- Webhook executions the dispatcher has to deliver, retry or recover.
CREATE INDEX executions_dispatch_idx ON executions (due_at)
    WHERE transport = 'webhook' AND status IN ('pending', 'retrying', 'retry_ready', 'delivering');
-- Worker executions waiting to be claimed.
CREATE INDEX executions_claimable_idx ON executions (user_id, scheduled_for)
    WHERE transport = 'worker' AND status = 'pending';
-- Worker claims whose lease may expire.
CREATE INDEX executions_lease_idx ON executions (lease_expires_at)
    WHERE transport = 'worker' AND status = 'delivering';
-- Executions waiting for an outcome before a deadline.
CREATE INDEX executions_outcome_deadline_idx ON executions (outcome_deadline_at)
    WHERE outcome_recorded_at IS NULL AND outcome_deadline_at IS NOT NULL;

CREATE TABLE workers (
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    worker_id      TEXT NOT NULL CHECK (length(worker_id) <= 255),
    -- A JSON array of handler names; NULL when the worker did not report any.
    handlers       TEXT CHECK (handlers IS NULL OR json_valid(handlers)),
    last_heartbeat TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (user_id, worker_id)
);

CREATE INDEX workers_last_heartbeat_idx ON workers (last_heartbeat);

CREATE TABLE alerts (
    id                  TEXT    PRIMARY KEY,
    user_id             TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- No foreign key: alerts outlive the cue and execution they are about.
    cue_id              TEXT,
    execution_id        TEXT,
    alert_type          TEXT    NOT NULL CHECK (alert_type IN ('consecutive_failures', 'verification_failed', 'outcome_timeout')),
    severity            TEXT    NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    message             TEXT    NOT NULL,
    metadata            TEXT    CHECK (metadata IS NULL OR json_valid(metadata)),
    acknowledged        INTEGER NOT NULL DEFAULT 0 CHECK (acknowledged IN (0, 1)),
    delivery_status     TEXT,
    delivery_attempts   INTEGER NOT NULL DEFAULT 0,
    next_delivery_at    TEXT,
    delivered_at        TEXT,
    last_delivery_error TEXT,
    created_at          TEXT    NOT NULL
);

CREATE INDEX alerts_user_created_idx ON alerts (user_id, created_at DESC);
CREATE INDEX alerts_delivery_idx ON alerts (next_delivery_at) WHERE delivery_status = 'pending';

CREATE TABLE usage_monthly (
    user_id          TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- First day of the UTC month, 'YYYY-MM-DD'.
    month_start      TEXT    NOT NULL,
    execution_count  INTEGER NOT NULL DEFAULT 0,
    grace_started_at TEXT,
    PRIMARY KEY (user_id, month_start)
);

CREATE TABLE device_codes (
    id                      TEXT PRIMARY KEY,
    device_code             TEXT NOT NULL,
    email                   TEXT,
    status                  TEXT NOT NULL CHECK (status IN ('pending', 'email_sent', 'approved', 'expired', 'claimed')),
    api_key_sealed          TEXT,
    verification_token_hash TEXT,
    session_token_hash      TEXT,
    user_id                 TEXT,
    expires_at              TEXT NOT NULL,
    created_at              TEXT NOT NULL,
    CONSTRAINT device_codes_device_code_key UNIQUE (device_code)
);

CREATE INDEX device_codes_verification_token_hash_idx ON device_codes (verification_token_hash);
CREATE INDEX device_codes_session_token_hash_idx ON device_codes (session_token_hash);

CREATE TABLE echo_entries (
    token       TEXT PRIMARY KEY,
    body        TEXT NOT NULL CHECK (json_valid(body)),
    headers     TEXT NOT NULL CHECK (json_valid(headers)),
    received_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

CREATE TABLE scheduler_heartbeats (
    instance_id       TEXT    PRIMARY KEY,
    last_run          TEXT    NOT NULL,
    cues_last_cycle   INTEGER NOT NULL,
    cycle_duration_ms INTEGER NOT NULL
);
