-- 0009: agent events and subscriptions (clients.md §2.15, §2.18) (PostgreSQL).
--
-- An event is an append-only row addressed to one recipient agent; its
-- bigserial id is the pull cursor. Rows are written in the transaction of
-- the change that causes them (a new message), so a committed change always
-- has its event and ids are handed out in commit-independent but strictly
-- increasing order. user_id is the recipient agent's owner, kept on the row
-- so every read is tenant-scoped without a join.
CREATE TABLE events (
    id                 bigserial   PRIMARY KEY,
    user_id            uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type         text        NOT NULL,
    recipient_agent_id varchar(20) NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    payload            jsonb       NOT NULL,
    emitted_at         timestamptz NOT NULL,
    idempotency_key    text,
    -- Set when a message.digest event bundled this (low-priority) event.
    digested_at        timestamptz,
    -- Payload priority (1-5) of message events, for digests and the webhook policy.
    priority           smallint
);

CREATE INDEX events_recipient_id_idx ON events (recipient_agent_id, id);
CREATE UNIQUE INDEX events_type_idem_key ON events (event_type, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_emitted_idx ON events (emitted_at);
CREATE INDEX events_undigested_idx ON events (recipient_agent_id, id) WHERE digested_at IS NULL AND priority IN (1, 2) AND event_type = 'message.delivered';

CREATE TABLE subscriptions (
    id                       uuid        PRIMARY KEY,
    user_id                  uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subscriber_agent_id      varchar(20) NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    event_type               text        NOT NULL,
    delivery_target          text        NOT NULL CHECK (delivery_target IN ('pull', 'webhook')),
    -- The full URL; responses redact it to scheme://host[:port].
    webhook_url              text,
    -- whsec_ secret sealed with the SecretBox.
    webhook_secret_sealed    text,
    inline_body              boolean     NOT NULL DEFAULT false,
    last_dispatched_event_id bigint,
    last_dispatched_at       timestamptz,
    last_acked_event_id      bigint,
    consecutive_failures     integer     NOT NULL DEFAULT 0,
    paused_until             timestamptz,
    -- Last delivery of a batch holding a priority-4 event (p=4 debounce).
    last_p4_at               timestamptz,
    -- Dispatch lease: one replica sends a subscription's batch at a time.
    lease_until              timestamptz,
    created_at               timestamptz NOT NULL,
    detached_at              timestamptz,
    CHECK ((delivery_target = 'webhook') = (webhook_url IS NOT NULL)),
    CHECK ((webhook_url IS NULL) = (webhook_secret_sealed IS NULL))
);

CREATE UNIQUE INDEX subscriptions_active_key ON subscriptions (subscriber_agent_id, event_type, delivery_target) WHERE detached_at IS NULL;
CREATE INDEX subscriptions_webhook_idx ON subscriptions (last_dispatched_event_id) WHERE delivery_target = 'webhook' AND detached_at IS NULL;
