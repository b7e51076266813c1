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
SELECT COALESCE((SELECT message_count FROM usage_messages_monthly WHERE user_id = @user_id AND month_start = @month_start), 0)::integer;

-- name: MessageGet :one
SELECT * FROM messages
WHERE id = @id AND (sqlc.narg('viewer')::uuid IS NULL OR user_id = sqlc.narg('viewer')::uuid OR to_user_id = sqlc.narg('viewer')::uuid);

-- name: MessageGetForUpdate :one
SELECT * FROM messages
WHERE id = @id AND (sqlc.narg('viewer')::uuid IS NULL OR user_id = sqlc.narg('viewer')::uuid OR to_user_id = sqlc.narg('viewer')::uuid)
FOR UPDATE;

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
  AND (sqlc.narg('from_agent_id')::text IS NULL OR from_agent_id = sqlc.narg('from_agent_id')::text)
RETURNING *;

-- name: MessageList :many
SELECT * FROM messages
WHERE (CASE WHEN @inbox::boolean THEN to_agent_id ELSE from_agent_id END) = @agent_id
  AND (sqlc.narg('sender')::uuid IS NULL OR user_id = sqlc.narg('sender')::uuid)
  AND (sqlc.narg('states')::text[] IS NULL OR delivery_state = ANY(sqlc.narg('states')::text[]))
  AND (sqlc.narg('since')::timestamptz IS NULL OR created_at > sqlc.narg('since')::timestamptz)
  AND (sqlc.narg('thread_id')::text IS NULL OR thread_id = sqlc.narg('thread_id')::text)
  AND (sqlc.narg('counterpart')::text IS NULL OR (CASE WHEN @inbox::boolean THEN from_agent_id ELSE to_agent_id END) = sqlc.narg('counterpart')::text)
  AND (sqlc.narg('due_by')::timestamptz IS NULL OR send_at IS NULL OR send_at <= sqlc.narg('due_by')::timestamptz)
ORDER BY created_at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: MessageCount :one
SELECT count(*) FROM messages
WHERE (CASE WHEN @inbox::boolean THEN to_agent_id ELSE from_agent_id END) = @agent_id
  AND (sqlc.narg('sender')::uuid IS NULL OR user_id = sqlc.narg('sender')::uuid)
  AND (sqlc.narg('states')::text[] IS NULL OR delivery_state = ANY(sqlc.narg('states')::text[]))
  AND (sqlc.narg('since')::timestamptz IS NULL OR created_at > sqlc.narg('since')::timestamptz)
  AND (sqlc.narg('thread_id')::text IS NULL OR thread_id = sqlc.narg('thread_id')::text)
  AND (sqlc.narg('counterpart')::text IS NULL OR (CASE WHEN @inbox::boolean THEN from_agent_id ELSE to_agent_id END) = sqlc.narg('counterpart')::text)
  AND (sqlc.narg('due_by')::timestamptz IS NULL OR send_at IS NULL OR send_at <= sqlc.narg('due_by')::timestamptz);

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
-- ExecutionClaimDeliveries: the ranking looks at the @scan_rows oldest due
-- pushes of destinations not skipped (@skip_destinations: room 0), read
-- from the partial index messages_push_due_idx; the attempt counts at claim
-- time, and next_attempt_at moves to the lease end (a stale attempt is due
-- again).
WITH room AS (
    SELECT unnest(@room_destinations::text[]) AS destination,
           unnest(@room_sizes::integer[]) AS room
), candidates AS (
    SELECT x.id, x.destination, x.next_attempt_at
    FROM messages AS x
    WHERE x.delivery_state IN ('queued', 'retry_ready', 'delivering')
      AND x.next_attempt_at <= @now::timestamptz
      AND NOT (x.destination = ANY(@skip_destinations::text[]))
    ORDER BY x.next_attempt_at
    LIMIT @scan_rows
), ranked AS (
    SELECT c.id, c.next_attempt_at,
           row_number() OVER (PARTITION BY c.destination ORDER BY c.next_attempt_at, c.id) AS rn,
           coalesce(r.room, @per_destination::integer) AS room
    FROM candidates AS c
    LEFT JOIN room AS r ON r.destination = c.destination
), chosen AS (
    SELECT id FROM ranked
    WHERE rn <= room
    ORDER BY rn, next_attempt_at, id
    LIMIT @max_rows
), picked AS (
    SELECT x.id FROM messages AS x
    WHERE x.id = ANY(ARRAY(SELECT id FROM chosen))
      AND x.delivery_state IN ('queued', 'retry_ready', 'delivering')
      AND x.next_attempt_at <= @now::timestamptz
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE messages AS m SET
    delivery_state = 'delivering',
    attempts = m.attempts + 1,
    lease_expires_at = @lease_until::timestamptz,
    next_attempt_at = @lease_until::timestamptz,
    updated_at = @now::timestamptz
WHERE m.id = ANY(ARRAY(SELECT id FROM picked))
RETURNING m.*;

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
