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
