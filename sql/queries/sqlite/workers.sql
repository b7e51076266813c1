-- name: WorkerCountActive :one
-- WorkerCountActive counts workers seen at or after @since, of one tenant or
-- (user_id NULL) of all tenants.
SELECT count(*) FROM workers
WHERE last_heartbeat >= @since
  AND (CAST(sqlc.narg('user_id') AS TEXT) IS NULL OR user_id = CAST(sqlc.narg('user_id') AS TEXT));
