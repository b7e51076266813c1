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
    acknowledged, delivery_status, delivery_attempts, next_delivery_at, created_at
)
SELECT
    @id, @user_id, sqlc.narg('cue_id'), sqlc.narg('execution_id'), @alert_type, @severity, @message, sqlc.narg('metadata'),
    @acknowledged, sqlc.narg('delivery_status'), 0, sqlc.narg('next_delivery_at'), @created_at
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
-- AlertListDue locks up to @max_rows alerts due for delivery, oldest
-- next_delivery_at first (the partial index alerts_delivery_idx), skipping
-- rows another claimer holds, with their tenants' alert URL and sealed
-- secret (the users rows are read, not locked).
SELECT sqlc.embed(alerts), users.alert_webhook_url, users.alert_secret_sealed
FROM alerts JOIN users ON users.id = alerts.user_id
WHERE alerts.delivery_status = 'pending' AND alerts.next_delivery_at <= @now::timestamptz
ORDER BY alerts.next_delivery_at, alerts.id
LIMIT @max_rows
FOR NO KEY UPDATE OF alerts SKIP LOCKED;

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
-- AlertRecordDelivery stores an attempt's result on an alert still
-- pending; an absent @last_delivery_error keeps the previous one.
UPDATE alerts SET
    delivery_status = @delivery_status,
    delivered_at = coalesce(sqlc.narg('delivered_at'), delivered_at),
    next_delivery_at = sqlc.narg('next_delivery_at'),
    last_delivery_error = coalesce(sqlc.narg('last_delivery_error'), last_delivery_error)
WHERE id = @id AND delivery_status = 'pending';

-- name: AlertAcknowledge :execrows
-- AlertAcknowledge marks one of the tenant's alerts acknowledged (any
-- number of times).
UPDATE alerts SET acknowledged = true
WHERE id = @id AND user_id = @user_id;
