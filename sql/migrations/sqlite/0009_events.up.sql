-- 0009: agent events and subscriptions (clients.md §2.15, §2.18) (SQLite).
--
-- An event is an append-only row addressed to one recipient agent; its
-- INTEGER PRIMARY KEY AUTOINCREMENT id is the pull cursor (never reused,
-- strictly increasing; SQLite serializes writers, so ids also follow commit
-- order). Rows are written in the transaction of the change that causes
-- them (a new message). user_id is the recipient agent's owner, kept on the
-- row so every read is tenant-scoped without a join.
CREATE TABLE events (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type         TEXT    NOT NULL,
    recipient_agent_id TEXT    NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    payload            TEXT    NOT NULL CHECK (json_valid(payload)),
    emitted_at         TEXT    NOT NULL,
    idempotency_key    TEXT,
    -- Set when a message.digest event bundled this (low-priority) event.
    digested_at        TEXT,
    -- Payload priority (1-5) of message events, for digests and the webhook policy.
    priority           INTEGER
);

CREATE INDEX events_recipient_id_idx ON events (recipient_agent_id, id);
CREATE UNIQUE INDEX events_type_idem_key ON events (event_type, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_emitted_idx ON events (emitted_at);
CREATE INDEX events_undigested_idx ON events (recipient_agent_id, id) WHERE digested_at IS NULL AND priority IN (1, 2) AND event_type = 'message.delivered';

CREATE TABLE subscriptions (
    id                       TEXT    PRIMARY KEY,
    user_id                  TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subscriber_agent_id      TEXT    NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    event_type               TEXT    NOT NULL,
    delivery_target          TEXT    NOT NULL CHECK (delivery_target IN ('pull', 'webhook')),
    -- The full URL; responses redact it to scheme://host[:port].
    webhook_url              TEXT,
    -- whsec_ secret sealed with the SecretBox.
    webhook_secret_sealed    TEXT,
    inline_body              INTEGER NOT NULL DEFAULT 0 CHECK (inline_body IN (0, 1)),
    last_dispatched_event_id INTEGER,
    last_dispatched_at       TEXT,
    last_acked_event_id      INTEGER,
    consecutive_failures     INTEGER NOT NULL DEFAULT 0,
    paused_until             TEXT,
    -- Last delivery of a batch holding a priority-4 event (p=4 debounce).
    last_p4_at               TEXT,
    -- Dispatch lease: one process sends a subscription's batch at a time.
    lease_until              TEXT,
    created_at               TEXT    NOT NULL,
    detached_at              TEXT,
    CHECK ((delivery_target = 'webhook') = (webhook_url IS NOT NULL)),
    CHECK ((webhook_url IS NULL) = (webhook_secret_sealed IS NULL))
);

CREATE UNIQUE INDEX subscriptions_active_key ON subscriptions (subscriber_agent_id, event_type, delivery_target) WHERE detached_at IS NULL;
CREATE INDEX subscriptions_webhook_idx ON subscriptions (last_dispatched_event_id) WHERE delivery_target = 'webhook' AND detached_at IS NULL;
