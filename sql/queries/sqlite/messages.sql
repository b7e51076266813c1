-- name: MessageInsert :one
INSERT INTO messages (id, user_id, to_user_id, from_agent_id, to_agent_id, thread_id, reply_to, subject, body, preview,
    priority, expects_reply, reply_to_agent_id, delivery_state, metadata, idempotency_key, idempotency_fingerprint,
    correlation_id, notification_for, delivery_mode, effective_delivery_mode, live_fallback_mode, send_at, attempts,
    next_attempt_at, lease_expires_at, last_error, created_at, updated_at, delivered_at, read_at, acked_at, failed_at, expires_at,
    destination)
VALUES (@id, @user_id, @to_user_id, @from_agent_id, @to_agent_id, @thread_id, @reply_to, @subject, @body, @preview,
    @priority, @expects_reply, @reply_to_agent_id, @delivery_state, @metadata, @idempotency_key, @idempotency_fingerprint,
    @correlation_id, @notification_for, @delivery_mode, @effective_delivery_mode, @live_fallback_mode, @send_at, @attempts,
    @next_attempt_at, @lease_expires_at, @last_error, @created_at, @updated_at, @delivered_at, @read_at, @acked_at, @failed_at, @expires_at,
    @destination)
RETURNING *;

-- name: MessageReleaseKey :exec
-- MessageReleaseKey frees a sender user's expired idempotency key.
UPDATE messages SET idempotency_key = NULL
WHERE user_id = @user_id AND idempotency_key = @idempotency_key AND created_at < @before;

-- name: MessageUsageIncrement :exec
INSERT INTO usage_messages_monthly (user_id, month_start, message_count) VALUES (@user_id, @month_start, 1)
ON CONFLICT (user_id, month_start) DO UPDATE SET message_count = usage_messages_monthly.message_count + 1;

-- name: MessageMonthCount :one
SELECT CAST(COALESCE((SELECT message_count FROM usage_messages_monthly WHERE user_id = @user_id AND month_start = @month_start), 0) AS INTEGER);

-- name: MessageGet :one
SELECT * FROM messages
WHERE id = @id AND (CAST(sqlc.narg('viewer') AS TEXT) IS NULL OR user_id = CAST(sqlc.narg('viewer') AS TEXT) OR to_user_id = CAST(sqlc.narg('viewer') AS TEXT));

-- name: MessageGetForUpdate :one
SELECT * FROM messages
WHERE id = @id AND (CAST(sqlc.narg('viewer') AS TEXT) IS NULL OR user_id = CAST(sqlc.narg('viewer') AS TEXT) OR to_user_id = CAST(sqlc.narg('viewer') AS TEXT));

-- name: MessageGetByKey :one
SELECT * FROM messages WHERE user_id = @user_id AND idempotency_key = @idempotency_key;

-- name: MessageUpdate :one
UPDATE messages SET delivery_state = @delivery_state, attempts = @attempts, next_attempt_at = @next_attempt_at,
    lease_expires_at = @lease_expires_at, last_error = @last_error, updated_at = @updated_at,
    delivered_at = @delivered_at, read_at = @read_at, acked_at = @acked_at, failed_at = @failed_at
WHERE id = @id
RETURNING *;

-- name: MessageDeliverQueued :many
-- MessageDeliverQueued delivers an inbox's queued, due messages (of one
-- sender when from_agent_id is set).
UPDATE messages SET delivery_state = 'delivered', delivered_at = @now, updated_at = @now, next_attempt_at = NULL
WHERE to_agent_id = @to_agent_id AND delivery_state = 'queued'
  AND (send_at IS NULL OR send_at <= @now)
  AND (CAST(sqlc.narg('from_agent_id') AS TEXT) IS NULL OR from_agent_id = CAST(sqlc.narg('from_agent_id') AS TEXT))
RETURNING *;

-- name: MessageList :many
SELECT * FROM messages
WHERE (CASE WHEN CAST(@inbox AS INTEGER) THEN to_agent_id ELSE from_agent_id END) = @agent_id
  AND (CAST(sqlc.narg('sender') AS TEXT) IS NULL OR user_id = CAST(sqlc.narg('sender') AS TEXT))
  AND (CAST(sqlc.narg('states') AS TEXT) IS NULL OR delivery_state IN (SELECT value FROM json_each(CAST(sqlc.narg('states') AS TEXT))))
  AND (CAST(sqlc.narg('since') AS TEXT) IS NULL OR created_at > CAST(sqlc.narg('since') AS TEXT))
  AND (CAST(sqlc.narg('thread_id') AS TEXT) IS NULL OR thread_id = CAST(sqlc.narg('thread_id') AS TEXT))
  AND (CAST(sqlc.narg('counterpart') AS TEXT) IS NULL OR (CASE WHEN CAST(@inbox AS INTEGER) THEN from_agent_id ELSE to_agent_id END) = CAST(sqlc.narg('counterpart') AS TEXT))
  AND (CAST(sqlc.narg('due_by') AS TEXT) IS NULL OR send_at IS NULL OR send_at <= CAST(sqlc.narg('due_by') AS TEXT))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: MessageCount :one
SELECT count(*) FROM messages
WHERE (CASE WHEN CAST(@inbox AS INTEGER) THEN to_agent_id ELSE from_agent_id END) = @agent_id
  AND (CAST(sqlc.narg('sender') AS TEXT) IS NULL OR user_id = CAST(sqlc.narg('sender') AS TEXT))
  AND (CAST(sqlc.narg('states') AS TEXT) IS NULL OR delivery_state IN (SELECT value FROM json_each(CAST(sqlc.narg('states') AS TEXT))))
  AND (CAST(sqlc.narg('since') AS TEXT) IS NULL OR created_at > CAST(sqlc.narg('since') AS TEXT))
  AND (CAST(sqlc.narg('thread_id') AS TEXT) IS NULL OR thread_id = CAST(sqlc.narg('thread_id') AS TEXT))
  AND (CAST(sqlc.narg('counterpart') AS TEXT) IS NULL OR (CASE WHEN CAST(@inbox AS INTEGER) THEN from_agent_id ELSE to_agent_id END) = CAST(sqlc.narg('counterpart') AS TEXT))
  AND (CAST(sqlc.narg('due_by') AS TEXT) IS NULL OR send_at IS NULL OR send_at <= CAST(sqlc.narg('due_by') AS TEXT));

-- name: MessageExpire :execrows
UPDATE messages SET delivery_state = 'expired', updated_at = @now, next_attempt_at = NULL
WHERE id IN (SELECT e.id FROM messages e WHERE e.expires_at < @now AND e.delivery_state NOT IN ('acked', 'expired') LIMIT @max_rows);

-- name: MessagePurge :execrows
DELETE FROM messages
WHERE id IN (SELECT p.id FROM messages p
             WHERE (p.delivery_state = 'acked' AND p.acked_at < @before) OR (p.delivery_state = 'expired' AND p.expires_at < @before)
             LIMIT @max_rows);

-- name: MessageReleaseKeys :execrows
UPDATE messages SET idempotency_key = NULL
WHERE id IN (SELECT k.id FROM messages k WHERE k.idempotency_key IS NOT NULL AND k.created_at < @before LIMIT @max_rows);

-- name: MessagePushClaim :many
-- MessagePushClaim claims up to @max_rows due pushes (queued, retry_ready,
-- or delivering past their lease), fairly across destinations like
-- ExecutionClaimDeliveries (@room: JSON array of [destination, room] pairs;
-- @skip: JSON array of destinations whose room is 0; the ranking looks at
-- the @scan_rows oldest due pushes); the surrounding BEGIN IMMEDIATE
-- transaction makes the claim exclusive.
UPDATE messages SET
    delivery_state = 'delivering',
    attempts = attempts + 1,
    lease_expires_at = CAST(@lease_until AS TEXT),
    next_attempt_at = CAST(@lease_until AS TEXT),
    updated_at = CAST(@now AS TEXT)
WHERE id IN (
    SELECT ranked.id FROM (
        SELECT c.id, c.next_attempt_at, coalesce(r.room, CAST(@per_destination AS INTEGER)) AS room,
               row_number() OVER (PARTITION BY c.destination ORDER BY c.next_attempt_at, c.id) AS rn
        FROM (
            SELECT x.id, x.destination, x.next_attempt_at
            FROM messages AS x
            WHERE x.delivery_state IN ('queued', 'retry_ready', 'delivering')
              AND x.next_attempt_at <= CAST(@now AS TEXT)
              AND x.destination NOT IN (SELECT value FROM json_each(CAST(@skip AS TEXT)))
            ORDER BY x.next_attempt_at
            LIMIT CAST(@scan_rows AS INTEGER)
        ) AS c
        LEFT JOIN (SELECT json_extract(value, '$[0]') AS destination, json_extract(value, '$[1]') AS room FROM json_each(CAST(@room AS TEXT))) AS r
            ON r.destination = c.destination
    ) AS ranked
    WHERE ranked.rn <= ranked.room
    ORDER BY ranked.rn, ranked.next_attempt_at, ranked.id
    LIMIT CAST(@max_rows AS INTEGER)
)
RETURNING *;

-- name: MessagePushRecord :one
-- MessagePushRecord stores one push result while the message is still
-- delivering with attempts = @attempt.
UPDATE messages SET
    delivery_state = @delivery_state,
    attempts = @attempts,
    next_attempt_at = sqlc.narg('next_attempt_at'),
    lease_expires_at = NULL,
    last_error = sqlc.narg('last_error'),
    delivered_at = sqlc.narg('delivered_at'),
    failed_at = sqlc.narg('failed_at'),
    updated_at = @now
WHERE id = @id AND delivery_state = 'delivering' AND attempts = @attempt
RETURNING *;
