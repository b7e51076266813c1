-- name: CueInsert :one
INSERT INTO cues (
    id, user_id, name, description, status, transport,
    schedule_type, schedule_cron, schedule_at, schedule_timezone,
    callback_url, callback_method, callback_headers, payload,
    retry_max_attempts, retry_backoff_minutes,
    on_failure_email, on_failure_webhook, on_failure_pause,
    verification_mode, catch_up, outcome_deadline_seconds,
    next_run, last_run, run_count, fired_count, skipped_count, last_error,
    created_at, updated_at
) VALUES (
    @id, @user_id, @name, @description, @status, @transport,
    @schedule_type, @schedule_cron, @schedule_at, @schedule_timezone,
    @callback_url, @callback_method, @callback_headers, @payload,
    @retry_max_attempts, @retry_backoff_minutes,
    @on_failure_email, @on_failure_webhook, @on_failure_pause,
    @verification_mode, @catch_up, @outcome_deadline_seconds,
    @next_run, @last_run, @run_count, @fired_count, @skipped_count, @last_error,
    @created_at, @updated_at
)
RETURNING *;

-- name: CueGet :one
SELECT * FROM cues WHERE id = @id AND user_id = @user_id;

-- name: CueGetForUpdate :one
-- CueGetForUpdate locks the row for a read-modify-write.
SELECT * FROM cues WHERE id = @id AND user_id = @user_id FOR NO KEY UPDATE;

-- name: CueGetByName :one
SELECT * FROM cues WHERE user_id = @user_id AND name = @name;

-- name: CueNameTaken :one
SELECT EXISTS (SELECT 1 FROM cues WHERE user_id = @user_id AND name = @name);

-- name: CueCountTowardLimit :one
-- CueCountTowardLimit counts the cues that count against the tenant's
-- active cue limit: active and paused ones.
SELECT count(*) FROM cues WHERE user_id = @user_id AND status IN ('active', 'paused');

-- name: CueList :many
SELECT * FROM cues
WHERE user_id = @user_id
  AND (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
ORDER BY created_at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: CueCount :one
SELECT count(*) FROM cues
WHERE user_id = @user_id
  AND (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text);

-- name: CueCountByStatus :many
SELECT status, count(*) AS n FROM cues WHERE user_id = @user_id GROUP BY status;

-- name: CueUpdate :one
-- CueUpdate writes every mutable column; id, user_id, transport, the
-- counters and created_at never change here.
UPDATE cues SET
    name = @name,
    description = @description,
    status = @status,
    schedule_type = @schedule_type,
    schedule_cron = @schedule_cron,
    schedule_at = @schedule_at,
    schedule_timezone = @schedule_timezone,
    callback_url = @callback_url,
    callback_method = @callback_method,
    callback_headers = @callback_headers,
    payload = @payload,
    retry_max_attempts = @retry_max_attempts,
    retry_backoff_minutes = @retry_backoff_minutes,
    on_failure_email = @on_failure_email,
    on_failure_webhook = @on_failure_webhook,
    on_failure_pause = @on_failure_pause,
    verification_mode = @verification_mode,
    catch_up = @catch_up,
    outcome_deadline_seconds = @outcome_deadline_seconds,
    next_run = @next_run,
    last_run = @last_run,
    last_error = @last_error,
    updated_at = @updated_at
WHERE id = @id AND user_id = @user_id
RETURNING *;

-- name: CueDelete :execrows
DELETE FROM cues WHERE id = @id AND user_id = @user_id;
