-- name: AlertUserLock :one
-- AlertUserLock reads where the tenant wants alerts delivered. SQLite has
-- no row locks: the surrounding BEGIN IMMEDIATE transaction holds the
-- database's write lock, so the de-duplication check and insert of
-- AlertInsertUnlessRecent run one at a time.
SELECT alert_webhook_url FROM users WHERE id = @user_id;

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
      AND a.created_at > CAST(@dedup_since AS TEXT)
      AND CASE WHEN CAST(sqlc.narg('cue_id') AS TEXT) IS NOT NULL THEN a.cue_id = CAST(sqlc.narg('cue_id') AS TEXT)
               ELSE a.execution_id IS CAST(sqlc.narg('execution_id') AS TEXT) END
);

-- name: AlertList :many
SELECT * FROM alerts
WHERE user_id = @user_id
  AND (CAST(sqlc.narg('alert_type') AS TEXT) IS NULL OR alert_type = CAST(sqlc.narg('alert_type') AS TEXT))
  AND (CAST(sqlc.narg('since') AS TEXT) IS NULL OR created_at >= CAST(sqlc.narg('since') AS TEXT))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: AlertCount :one
SELECT count(*) FROM alerts
WHERE user_id = @user_id
  AND (CAST(sqlc.narg('alert_type') AS TEXT) IS NULL OR alert_type = CAST(sqlc.narg('alert_type') AS TEXT))
  AND (CAST(sqlc.narg('since') AS TEXT) IS NULL OR created_at >= CAST(sqlc.narg('since') AS TEXT));

-- name: AlertListDue :many
-- AlertListDue reads up to @max_rows alerts due for delivery, fairly
-- across destinations: within a destination oldest next_delivery_at first,
-- at most its room (@room, a JSON array of [destination, room] pairs, else
-- @per_destination; @skip, a JSON array, lists the destinations whose room
-- is 0); across destinations round-robin. The ranking looks at the
-- @scan_rows oldest due alerts of destinations not skipped (the partial
-- index alerts_delivery_idx). They come with their tenants' alert URL and
-- sealed secret; the surrounding BEGIN IMMEDIATE transaction makes the
-- claim that follows exclusive.
SELECT sqlc.embed(alerts), users.alert_webhook_url, users.alert_secret_sealed
FROM alerts JOIN users ON users.id = alerts.user_id
WHERE alerts.id IN (
    SELECT ranked.id FROM (
        SELECT c.id, c.next_delivery_at, coalesce(r.room, CAST(@per_destination AS INTEGER)) AS room,
               row_number() OVER (PARTITION BY c.destination ORDER BY c.next_delivery_at, c.id) AS rn
        FROM (
            SELECT x.id, x.destination, x.next_delivery_at
            FROM alerts AS x
            WHERE x.delivery_status = 'pending'
              AND x.next_delivery_at <= CAST(@now AS TEXT)
              AND x.destination NOT IN (SELECT value FROM json_each(CAST(@skip AS TEXT)))
            ORDER BY x.next_delivery_at
            LIMIT CAST(@scan_rows AS INTEGER)
        ) AS c
        LEFT JOIN (SELECT json_extract(value, '$[0]') AS destination, json_extract(value, '$[1]') AS room FROM json_each(CAST(@room AS TEXT))) AS r
            ON r.destination = c.destination
    ) AS ranked
    WHERE ranked.rn <= ranked.room
    ORDER BY ranked.rn, ranked.next_delivery_at, ranked.id
    LIMIT CAST(@max_rows AS INTEGER)
)
ORDER BY alerts.next_delivery_at, alerts.id;

-- name: AlertSetDestination :exec
-- AlertSetDestination moves a due alert to the destination of its tenant's
-- current alert URL (the tenant changed it since it was queued).
UPDATE alerts SET destination = @destination WHERE id = @id;

-- name: AlertClaim :exec
-- AlertClaim leases due alerts until @lease_until and counts the attempt.
UPDATE alerts SET
    next_delivery_at = CAST(@lease_until AS TEXT),
    delivery_attempts = delivery_attempts + 1
WHERE id IN (sqlc.slice('ids'));

-- name: AlertFailUndeliverable :exec
-- AlertFailUndeliverable gives up due alerts whose tenant no longer has an
-- alert URL.
UPDATE alerts SET
    delivery_status = 'failed',
    next_delivery_at = NULL,
    last_delivery_error = @last_delivery_error
WHERE id IN (sqlc.slice('ids'));

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
UPDATE alerts SET acknowledged = 1
WHERE id = @id AND user_id = @user_id;
