-- name: EventInsert :many
-- EventInsert writes an event unless (event_type, idempotency_key) is
-- already stored (then nothing is returned). SQLite runs one writer at a
-- time, so ids follow commit order.
INSERT INTO events (user_id, event_type, recipient_agent_id, payload, emitted_at, idempotency_key, priority)
VALUES (@user_id, @event_type, @recipient_agent_id, @payload, @emitted_at, sqlc.narg('idempotency_key'), sqlc.narg('priority'))
ON CONFLICT (event_type, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *;

-- name: EventGetByKey :one
SELECT * FROM events WHERE event_type = @event_type AND idempotency_key = @idempotency_key;

-- name: EventList :many
SELECT * FROM events
WHERE recipient_agent_id = @recipient_agent_id AND user_id = @user_id AND id > @since
  AND (CAST(sqlc.narg('event_type') AS TEXT) IS NULL OR event_type = CAST(sqlc.narg('event_type') AS TEXT))
ORDER BY id
LIMIT @max_rows;

-- name: EventPurge :execrows
DELETE FROM events WHERE id IN (
    SELECT e.id FROM events AS e WHERE e.emitted_at < CAST(@before AS TEXT) ORDER BY e.emitted_at LIMIT @max_rows
);

-- name: EventDigestCandidates :many
SELECT * FROM events
WHERE digested_at IS NULL AND priority IN (1, 2) AND event_type = 'message.delivered'
ORDER BY recipient_agent_id, id
LIMIT @max_rows;

-- name: EventMarkDigested :execrows
UPDATE events SET digested_at = @now WHERE id IN (sqlc.slice('ids')) AND digested_at IS NULL;

-- name: SubscriptionInsert :exec
INSERT INTO subscriptions (
    id, user_id, subscriber_agent_id, event_type, delivery_target, webhook_url, webhook_secret_sealed, inline_body, created_at
) VALUES (
    @id, @user_id, @subscriber_agent_id, @event_type, @delivery_target, sqlc.narg('webhook_url'), sqlc.narg('webhook_secret_sealed'), @inline_body, @created_at
);

-- name: SubscriptionList :many
SELECT * FROM subscriptions
WHERE user_id = @user_id AND subscriber_agent_id = @subscriber_agent_id AND detached_at IS NULL
ORDER BY created_at, id;

-- name: SubscriptionDetach :exec
UPDATE subscriptions SET detached_at = @now
WHERE id = @id AND user_id = @user_id AND subscriber_agent_id = @subscriber_agent_id AND detached_at IS NULL;

-- name: SubscriptionAck :exec
UPDATE subscriptions SET last_acked_event_id = @event_id
WHERE id = @id AND user_id = @user_id AND subscriber_agent_id = @subscriber_agent_id AND detached_at IS NULL
  AND (last_acked_event_id IS NULL OR last_acked_event_id < @event_id);

-- name: SubscriptionAckPulls :exec
UPDATE subscriptions SET last_acked_event_id = @event_id
WHERE user_id = @user_id AND subscriber_agent_id = @subscriber_agent_id AND detached_at IS NULL
  AND delivery_target = 'pull'
  AND (CAST(sqlc.narg('event_type') AS TEXT) IS NULL OR event_type = CAST(sqlc.narg('event_type') AS TEXT))
  AND (last_acked_event_id IS NULL OR last_acked_event_id < @event_id);

-- name: SubscriptionDue :many
-- SubscriptionDue lists active webhook subscriptions, neither paused nor
-- leased at @now, with events after their watermark; lowest watermark first.
SELECT s.* FROM subscriptions AS s
WHERE s.delivery_target = 'webhook' AND s.detached_at IS NULL
  AND (s.paused_until IS NULL OR s.paused_until <= CAST(@now AS TEXT))
  AND (s.lease_until IS NULL OR s.lease_until <= CAST(@now AS TEXT))
  AND EXISTS (
      SELECT 1 FROM events AS e
      WHERE e.recipient_agent_id = s.subscriber_agent_id AND e.event_type = s.event_type
        AND e.id > COALESCE(s.last_dispatched_event_id, 0)
  )
ORDER BY COALESCE(s.last_dispatched_event_id, 0), s.id
LIMIT @max_rows;

-- name: SubscriptionLease :many
-- SubscriptionLease leases the listed subscriptions still free at @now
-- (a conditional update: concurrent claimers lease disjoint sets).
UPDATE subscriptions SET lease_until = @lease_until
WHERE (lease_until IS NULL OR lease_until <= CAST(@now AS TEXT))
  AND (paused_until IS NULL OR paused_until <= CAST(@now AS TEXT))
  AND delivery_target = 'webhook' AND detached_at IS NULL
  -- The slice comes last: sqlc numbers the parameters after it wrongly.
  AND id IN (sqlc.slice('ids'))
RETURNING *;

-- name: SubscriptionPendingEvents :many
SELECT * FROM events
WHERE recipient_agent_id = @recipient_agent_id AND event_type = @event_type AND id > @since
ORDER BY id
LIMIT @max_rows;

-- name: SubscriptionRecordDispatch :execrows
-- SubscriptionRecordDispatch stores a dispatch result, fenced on the lease
-- it was claimed under (@next_lease: NULL releases it, a time keeps it
-- leased until then); the acknowledgement watermark never goes down.
UPDATE subscriptions SET
    last_dispatched_event_id = sqlc.narg('last_dispatched_event_id'),
    last_acked_event_id = CASE
        WHEN CAST(sqlc.narg('acked_event_id') AS INTEGER) IS NOT NULL
         AND (last_acked_event_id IS NULL OR last_acked_event_id < CAST(sqlc.narg('acked_event_id') AS INTEGER))
        THEN CAST(sqlc.narg('acked_event_id') AS INTEGER) ELSE last_acked_event_id END,
    last_dispatched_at = sqlc.narg('last_dispatched_at'),
    consecutive_failures = @consecutive_failures,
    paused_until = sqlc.narg('paused_until'),
    last_p4_at = sqlc.narg('last_p4_at'),
    lease_until = sqlc.narg('next_lease')
WHERE id = @id AND lease_until = @claimed_lease;
