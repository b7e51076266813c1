-- name: WorkerCountActive :one
-- WorkerCountActive counts workers seen at or after @since, of one tenant or
-- (user_id NULL) of all tenants.
SELECT count(*) FROM workers
WHERE last_heartbeat >= @since
  AND (sqlc.narg('user_id')::uuid IS NULL OR user_id = sqlc.narg('user_id')::uuid);

-- name: WorkerHeartbeat :exec
-- WorkerHeartbeat upserts a worker: handlers are replaced (NULL when none
-- were reported) and last_heartbeat moves to @now; created_at stays the
-- first heartbeat's.
INSERT INTO workers (user_id, worker_id, handlers, last_heartbeat, created_at)
VALUES (@user_id, @worker_id, @handlers, @now, @now)
ON CONFLICT (user_id, worker_id) DO UPDATE SET
    handlers = excluded.handlers,
    last_heartbeat = excluded.last_heartbeat;

-- name: WorkerList :many
-- WorkerList returns a tenant's workers, most recent heartbeat first (ties
-- by worker_id).
SELECT * FROM workers
WHERE user_id = @user_id
ORDER BY last_heartbeat DESC, worker_id;

-- name: WorkerDelete :execrows
DELETE FROM workers WHERE user_id = @user_id AND worker_id = @worker_id;
