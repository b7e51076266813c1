-- name: AlertUserLock :one
-- AlertUserLock locks the tenant's row, so that the de-duplication check
-- and insert of AlertInsertUnlessRecent run one tenant's alerts one at a
-- time, and reads where the tenant wants alerts delivered.
SELECT alert_webhook_url FROM users WHERE id = @user_id FOR NO KEY UPDATE;

-- name: AlertInsertUnlessRecent :execrows
-- AlertInsertUnlessRecent inserts the alert unless the tenant has one of
-- the same type created after @dedup_since about the same cue (when
-- @cue_id is set) or else the same execution (NULL matching NULL).
INSERT INTO alerts (
    id, user_id, cue_id, execution_id, alert_type, severity, message, metadata,
    acknowledged, delivery_status, delivery_attempts, next_delivery_at, destination, created_at
)
SELECT
    @id, @user_id, sqlc.narg('cue_id'), sqlc.narg('execution_id'), @alert_type, @severity, @message, sqlc.narg('metadata'),
    @acknowledged, sqlc.narg('delivery_status'), 0, sqlc.narg('next_delivery_at'), @destination, @created_at
WHERE NOT EXISTS (
    SELECT 1 FROM alerts AS a
    WHERE a.user_id = @user_id
      AND a.alert_type = @alert_type
      AND a.created_at > @dedup_since::timestamptz
      AND CASE WHEN sqlc.narg('cue_id')::text IS NOT NULL THEN a.cue_id = sqlc.narg('cue_id')::text
               ELSE a.execution_id IS NOT DISTINCT FROM sqlc.narg('execution_id')::uuid END
);

-- name: AlertList :many
SELECT * FROM alerts
WHERE user_id = @user_id
  AND (sqlc.narg('alert_type')::text IS NULL OR alert_type = sqlc.narg('alert_type')::text)
  AND (sqlc.narg('since')::timestamptz IS NULL OR created_at >= sqlc.narg('since')::timestamptz)
ORDER BY created_at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: AlertCount :one
SELECT count(*) FROM alerts
WHERE user_id = @user_id
  AND (sqlc.narg('alert_type')::text IS NULL OR alert_type = sqlc.narg('alert_type')::text)
  AND (sqlc.narg('since')::timestamptz IS NULL OR created_at >= sqlc.narg('since')::timestamptz);

-- name: AlertListDue :many
-- AlertListDue locks up to @max_rows alerts due for delivery, fairly
-- across destinations: within a destination oldest next_delivery_at first,
-- at most its room (@room_sizes for @room_destinations, else
-- @per_destination); across destinations round-robin. The ranking looks at
-- the @scan_rows oldest due alerts of destinations not skipped
-- (@skip_destinations: room 0; the partial index alerts_delivery_idx); the
-- chosen rows are re-checked and locked FOR NO KEY UPDATE SKIP LOCKED, so
-- concurrent claimers take disjoint sets. They come with their tenants'
-- alert URL and sealed secret (the users rows are read, not locked).
WITH room AS (
    SELECT unnest(@room_destinations::text[]) AS destination,
           unnest(@room_sizes::integer[]) AS room
), candidates AS (
    SELECT x.id, x.destination, x.next_delivery_at
    FROM alerts AS x
    WHERE x.delivery_status = 'pending'
      AND x.next_delivery_at <= @now::timestamptz
      AND NOT (x.destination = ANY(@skip_destinations::text[]))
    ORDER BY x.next_delivery_at
    LIMIT @scan_rows
), ranked AS (
    SELECT c.id, c.next_delivery_at,
           row_number() OVER (PARTITION BY c.destination ORDER BY c.next_delivery_at, c.id) AS rn,
           coalesce(r.room, @per_destination::integer) AS room
    FROM candidates AS c
    LEFT JOIN room AS r ON r.destination = c.destination
), chosen AS (
    SELECT id FROM ranked
    WHERE rn <= room
    ORDER BY rn, next_delivery_at, id
    LIMIT @max_rows
)
SELECT sqlc.embed(alerts), users.alert_webhook_url, users.alert_secret_sealed
FROM alerts JOIN users ON users.id = alerts.user_id
WHERE alerts.id = ANY(ARRAY(SELECT id FROM chosen))
  AND alerts.delivery_status = 'pending'
  AND alerts.next_delivery_at <= @now::timestamptz
ORDER BY alerts.next_delivery_at, alerts.id
FOR NO KEY UPDATE OF alerts SKIP LOCKED;

-- name: AlertSetDestination :exec
-- AlertSetDestination moves a locked due alert to the destination of its
-- tenant's current alert URL (the tenant changed it since it was queued).
UPDATE alerts SET destination = @destination WHERE id = @id;

-- name: AlertClaim :exec
-- AlertClaim leases locked due alerts until @lease_until and counts the
-- attempt.
UPDATE alerts SET
    next_delivery_at = @lease_until::timestamptz,
    delivery_attempts = delivery_attempts + 1
WHERE id = ANY(@ids::uuid[]);

-- name: AlertFailUndeliverable :exec
-- AlertFailUndeliverable gives up locked due alerts whose tenant no longer
-- has an alert URL.
UPDATE alerts SET
    delivery_status = 'failed',
    next_delivery_at = NULL,
    last_delivery_error = @last_delivery_error
WHERE id = ANY(@ids::uuid[]);

-- name: AlertRecordDelivery :execrows
-- AlertRecordDelivery stores an attempt's result on an alert still pending
-- under the claim that made the attempt (delivery_attempts = @attempt); an
-- absent @last_delivery_error keeps the previous one.
UPDATE alerts SET
    delivery_status = @delivery_status,
    delivery_attempts = @delivery_attempts,
    delivered_at = coalesce(sqlc.narg('delivered_at'), delivered_at),
    next_delivery_at = sqlc.narg('next_delivery_at'),
    last_delivery_error = coalesce(sqlc.narg('last_delivery_error'), last_delivery_error)
WHERE id = @id AND delivery_status = 'pending' AND delivery_attempts = @attempt;

-- name: AlertAcknowledge :execrows
-- AlertAcknowledge marks one of the tenant's alerts acknowledged (any
-- number of times).
UPDATE alerts SET acknowledged = true
WHERE id = @id AND user_id = @user_id;
