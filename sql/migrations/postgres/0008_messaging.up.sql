-- 0008: messaging between agents (clients.md §2.9–§2.14, §2.18) (PostgreSQL).
--
-- agents: a tenant's addressable agents (agt_ + 12). webhook_secret_sealed
-- is the whsec_ secret sealed with the SecretBox; URL and secret are set
-- together. metadata is JSON text (an object, checked by core).
CREATE TABLE agents (
    id                    text        PRIMARY KEY,
    user_id               uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slug                  text        NOT NULL CHECK (length(slug) <= 64),
    display_name          text        NOT NULL CHECK (length(display_name) <= 255),
    webhook_url           text,
    webhook_secret_sealed text,
    metadata              text        NOT NULL DEFAULT '{}',
    status                text        NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline', 'away')),
    parent_agent_id       text        REFERENCES agents (id) ON DELETE SET NULL,
    last_seen_at          timestamptz,
    deleted_at            timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
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
    id                      text        PRIMARY KEY,
    user_id                 uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id              uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    from_agent_id           text        NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    to_agent_id             text        NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    thread_id               text        NOT NULL,
    reply_to                text        REFERENCES messages (id) ON DELETE SET NULL,
    subject                 text        CHECK (length(subject) <= 255),
    body                    text        NOT NULL CHECK (octet_length(body) <= 32768),
    preview                 text        NOT NULL,
    priority                integer     NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    expects_reply           boolean     NOT NULL DEFAULT false,
    reply_to_agent_id       text        REFERENCES agents (id) ON DELETE SET NULL,
    delivery_state          text        NOT NULL CHECK (delivery_state IN ('queued', 'delivering', 'retry_ready', 'delivered', 'read', 'claimed', 'acked', 'expired', 'failed')),
    metadata                text        NOT NULL DEFAULT '{}',
    idempotency_key         text,
    idempotency_fingerprint text,
    correlation_id          text        CHECK (length(correlation_id) <= 255),
    notification_for        text,
    delivery_mode           text,
    effective_delivery_mode text        NOT NULL,
    live_fallback_mode      text,
    send_at                 timestamptz,
    attempts                integer     NOT NULL DEFAULT 0,
    next_attempt_at         timestamptz,
    lease_expires_at        timestamptz,
    last_error              text,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    delivered_at            timestamptz,
    read_at                 timestamptz,
    acked_at                timestamptz,
    failed_at               timestamptz,
    expires_at              timestamptz NOT NULL,
    destination             text        NOT NULL DEFAULT ''
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
    user_id       uuid    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month_start   date    NOT NULL,
    message_count integer NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, month_start)
);
