-- name: WorkerCountActive :one
-- WorkerCountActive counts workers seen at or after @since, of one tenant or
-- (user_id NULL) of all tenants.
SELECT count(*) FROM workers
WHERE last_heartbeat >= @since
  AND (sqlc.narg('user_id')::uuid IS NULL OR user_id = sqlc.narg('user_id')::uuid);
