-- 0001: the initial schema (PostgreSQL).
--
-- The union of the reference's models and migrations (spec/engine.md §1):
-- every column the code reads, with the foreign keys, CHECKs and partial
-- indexes. Times are timestamptz (UTC, microseconds); ids of users,
-- executions, alerts and device codes are uuid; cue ids are text
-- ("cue_" + 12 of [a-z0-9]). Secrets are stored sealed (*_sealed) or hashed
-- (*_hash), never in clear. No column defaults to now(): the application
-- clock supplies every time.

CREATE TABLE users (
    id                      uuid        PRIMARY KEY,
    email                   text        NOT NULL,
    api_key_hash            text        NOT NULL,
    api_key_prefix          text        NOT NULL,
    api_key_sealed          text,
    plan                    text        NOT NULL DEFAULT 'free',
    active_cue_limit        integer     NOT NULL,
    monthly_execution_limit integer     NOT NULL,
    rate_limit_per_minute   integer     NOT NULL,
    webhook_secret_sealed   text        NOT NULL,
    alert_webhook_url       text,
    alert_secret_sealed     text,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_api_key_hash_key UNIQUE (api_key_hash)
);

CREATE INDEX users_api_key_prefix_idx ON users (api_key_prefix);

-- Tombstones of rotated API keys, so authentication can tell "rotated" from
-- "unknown".
CREATE TABLE rotated_keys (
    key_hash   text        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rotated_at timestamptz NOT NULL
);

CREATE INDEX rotated_keys_user_id_idx ON rotated_keys (user_id);

CREATE TABLE cues (
    id                       text        PRIMARY KEY,
    user_id                  uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                     text        NOT NULL CHECK (char_length(name) <= 255),
    description              text,
    status                   text        NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'failed')),
    transport                text        NOT NULL CHECK (transport IN ('webhook', 'worker')),
    schedule_type            text        NOT NULL CHECK (schedule_type IN ('once', 'recurring')),
    schedule_cron            text,
    schedule_at              timestamptz,
    schedule_timezone        text        NOT NULL,
    callback_url             text,
    callback_method          text        NOT NULL CHECK (callback_method IN ('POST', 'GET', 'PUT', 'PATCH')),
    callback_headers         jsonb       NOT NULL DEFAULT '{}',
    payload                  jsonb       NOT NULL DEFAULT '{}',
    retry_max_attempts       integer     NOT NULL,
    retry_backoff_minutes    jsonb       NOT NULL,
    on_failure_email         boolean     NOT NULL,
    on_failure_webhook       text,
    on_failure_pause         boolean     NOT NULL,
    verification_mode        text        CHECK (verification_mode IS NULL OR verification_mode IN
                                             ('none', 'require_external_id', 'require_result_url', 'require_artifacts', 'manual')),
    catch_up                 text        NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest', 'skip', 'all')),
    outcome_deadline_seconds integer,
    next_run                 timestamptz,
    last_run                 timestamptz,
    run_count                integer     NOT NULL DEFAULT 0,
    fired_count              integer     NOT NULL DEFAULT 0,
    skipped_count            integer     NOT NULL DEFAULT 0,
    last_error               text,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    CONSTRAINT cues_user_id_name_key UNIQUE (user_id, name)
);

-- Listing a tenant's cues newest first (ties by id).
CREATE INDEX cues_user_created_idx ON cues (user_id, created_at DESC, id DESC);
-- The scheduler's scan for due cues.
CREATE INDEX cues_due_idx ON cues (next_run) WHERE status = 'active' AND next_run IS NOT NULL;

CREATE TABLE executions (
    id                        uuid        PRIMARY KEY,
    cue_id                    text        NOT NULL REFERENCES cues (id) ON DELETE CASCADE,
    -- Denormalized from cues.user_id so tenant-scoped queries need no join.
    user_id                   uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    transport                 text        NOT NULL CHECK (transport IN ('webhook', 'worker')),
    scheduled_for             timestamptz NOT NULL,
    status                    text        NOT NULL CHECK (status IN ('pending', 'delivering', 'success', 'failed', 'retrying',
                                                                     'retry_ready', 'missed', 'pending_outcome', 'outcome_timeout')),
    http_status               integer,
    response_body             text,
    attempts                  integer     NOT NULL DEFAULT 0,
    next_retry                timestamptz,
    -- When the dispatcher may next act on the execution.
    due_at                    timestamptz,
    error_message             text,
    started_at                timestamptz,
    delivered_at              timestamptz,
    last_attempt_at           timestamptz,
    lease_expires_at          timestamptz,
    claimed_by_worker         text,
    claimed_at                timestamptz,
    last_heartbeat_at         timestamptz,
    outcome_success           boolean,
    outcome_result            text,
    outcome_error             text,
    outcome_metadata          jsonb,
    -- Non-NULL iff an outcome was recorded (write-once).
    outcome_recorded_at       timestamptz,
    outcome_state             text,
    outcome_deadline_at       timestamptz,
    evidence_external_id      text,
    evidence_result_url       text,
    evidence_result_ref       text,
    evidence_result_type      text,
    evidence_summary          text,
    evidence_artifacts        jsonb,
    evidence_metadata         jsonb,
    evidence_validation_state text,
    evidence_produced_at      timestamptz,
    triggered_by              text,
    replayed_from             uuid,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
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
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    worker_id      text        NOT NULL CHECK (char_length(worker_id) <= 255),
    -- A JSON array of handler names; NULL when the worker did not report any.
    handlers       jsonb,
    last_heartbeat timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (user_id, worker_id)
);

CREATE INDEX workers_last_heartbeat_idx ON workers (last_heartbeat);

CREATE TABLE alerts (
    id                  uuid        PRIMARY KEY,
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- No foreign key: alerts outlive the cue and execution they are about.
    cue_id              text,
    execution_id        uuid,
    alert_type          text        NOT NULL CHECK (alert_type IN ('consecutive_failures', 'verification_failed', 'outcome_timeout')),
    severity            text        NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    message             text        NOT NULL,
    metadata            jsonb,
    acknowledged        boolean     NOT NULL DEFAULT false,
    delivery_status     text,
    delivery_attempts   integer     NOT NULL DEFAULT 0,
    next_delivery_at    timestamptz,
    delivered_at        timestamptz,
    last_delivery_error text,
    created_at          timestamptz NOT NULL
);

CREATE INDEX alerts_user_created_idx ON alerts (user_id, created_at DESC);
CREATE INDEX alerts_delivery_idx ON alerts (next_delivery_at) WHERE delivery_status = 'pending';

CREATE TABLE usage_monthly (
    user_id          uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- First day of the UTC month.
    month_start      date        NOT NULL,
    execution_count  integer     NOT NULL DEFAULT 0,
    grace_started_at timestamptz,
    PRIMARY KEY (user_id, month_start)
);

CREATE TABLE device_codes (
    id                      uuid        PRIMARY KEY,
    device_code             text        NOT NULL,
    email                   text,
    status                  text        NOT NULL CHECK (status IN ('pending', 'email_sent', 'approved', 'expired', 'claimed')),
    api_key_sealed          text,
    verification_token_hash text,
    session_token_hash      text,
    user_id                 uuid,
    expires_at              timestamptz NOT NULL,
    created_at              timestamptz NOT NULL,
    CONSTRAINT device_codes_device_code_key UNIQUE (device_code)
);

CREATE INDEX device_codes_verification_token_hash_idx ON device_codes (verification_token_hash);
CREATE INDEX device_codes_session_token_hash_idx ON device_codes (session_token_hash);

CREATE TABLE echo_entries (
    token       text        PRIMARY KEY,
    body        jsonb       NOT NULL,
    headers     jsonb       NOT NULL,
    received_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

CREATE TABLE scheduler_heartbeats (
    instance_id       text        PRIMARY KEY,
    last_run          timestamptz NOT NULL,
    cues_last_cycle   integer     NOT NULL,
    cycle_duration_ms integer     NOT NULL
);
