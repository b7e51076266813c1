-- 0008: messaging between agents (clients.md §2.9–§2.14, §2.18) (SQLite).
--
-- agents: a tenant's addressable agents (agt_ + 12). webhook_secret_sealed
-- is the whsec_ secret sealed with the SecretBox; URL and secret are set
-- together. metadata is JSON TEXT (an object, checked by core).
CREATE TABLE agents (
    id                    TEXT        PRIMARY KEY,
    user_id               TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slug                  TEXT        NOT NULL CHECK (length(slug) <= 64),
    display_name          TEXT        NOT NULL CHECK (length(display_name) <= 255),
    webhook_url           TEXT,
    webhook_secret_sealed TEXT,
    metadata              TEXT        NOT NULL DEFAULT '{}',
    status                TEXT        NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline', 'away')),
    parent_agent_id       TEXT        REFERENCES agents (id) ON DELETE SET NULL,
    last_seen_at          TEXT,
    deleted_at            TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    CONSTRAINT agents_user_slug_key UNIQUE (user_id, slug),
    CONSTRAINT agents_webhook_pair CHECK ((webhook_url IS NULL) = (webhook_secret_sealed IS NULL))
);

CREATE INDEX agents_user_created_idx ON agents (user_id, created_at);

-- messages: one row per message (notify copies are rows of their own).
-- user_id is the sender's user, to_user_id the recipient agent's owner (the
-- two users that may see it). Push delivery state: attempts dispatched,
-- next_attempt_at (due time of a queued/retry_ready push), lease_expires_at
-- (a delivering push's lease; past it, the attempt is stale), destination
-- (host[:port] of the recipient's webhook at send time: the delivery
-- engine's fairness and breaker key).
CREATE TABLE messages (
    id                      TEXT        PRIMARY KEY,
    user_id                 TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id              TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    from_agent_id           TEXT        NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    to_agent_id             TEXT        NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    thread_id               TEXT        NOT NULL,
    reply_to                TEXT        REFERENCES messages (id) ON DELETE SET NULL,
    subject                 TEXT        CHECK (length(subject) <= 255),
    body                    TEXT        NOT NULL CHECK (length(CAST(body AS BLOB)) <= 32768),
    preview                 TEXT        NOT NULL,
    priority                INTEGER     NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    expects_reply           INTEGER     NOT NULL DEFAULT 0,
    reply_to_agent_id       TEXT        REFERENCES agents (id) ON DELETE SET NULL,
    delivery_state          TEXT        NOT NULL CHECK (delivery_state IN ('queued', 'delivering', 'retry_ready', 'delivered', 'read', 'claimed', 'acked', 'expired', 'failed')),
    metadata                TEXT        NOT NULL DEFAULT '{}',
    idempotency_key         TEXT,
    idempotency_fingerprint TEXT,
    correlation_id          TEXT        CHECK (length(correlation_id) <= 255),
    notification_for        TEXT,
    delivery_mode           TEXT,
    effective_delivery_mode TEXT        NOT NULL,
    live_fallback_mode      TEXT,
    send_at                 TEXT,
    attempts                INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at         TEXT,
    lease_expires_at        TEXT,
    last_error              TEXT,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    delivered_at            TEXT,
    read_at                 TEXT,
    acked_at                TEXT,
    failed_at               TEXT,
    expires_at              TEXT NOT NULL,
    destination             TEXT        NOT NULL DEFAULT ''
);

CREATE INDEX messages_to_agent_idx ON messages (to_agent_id, created_at);
CREATE INDEX messages_from_agent_idx ON messages (from_agent_id, created_at);
CREATE INDEX messages_thread_idx ON messages (thread_id, created_at);
CREATE INDEX messages_expires_idx ON messages (expires_at);
CREATE UNIQUE INDEX messages_user_idempotency_key ON messages (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The push queue: due pushes, and delivering ones whose lease (their
-- next_attempt_at) expired.
CREATE INDEX messages_push_due_idx ON messages (destination, next_attempt_at) WHERE delivery_state IN ('queued', 'retry_ready', 'delivering') AND next_attempt_at IS NOT NULL;

-- usage_messages_monthly: new (non-copy) messages per sender user per UTC
-- month (clients.md §2.13.3).
CREATE TABLE usage_messages_monthly (
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month_start   TEXT    NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, month_start)
);
