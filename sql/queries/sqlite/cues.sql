-- name: CueInsert :exec
-- CueInsert stores a new cue. No RETURNING: the row is the bound values
-- (no column has a default the insert leaves to it, no trigger rewrites
-- the row), so CueCreate builds it from them instead of reading it back.
INSERT INTO cues (
    id, user_id, name, description, status, transport,
    schedule_type, schedule_cron, schedule_at, schedule_timezone,
    callback_url, callback_method, callback_headers, payload,
    retry_max_attempts, retry_backoff_minutes,
    on_failure_email, on_failure_webhook, on_failure_pause,
    verification_mode, catch_up, outcome_deadline_seconds, options,
    next_run, last_run, run_count, fired_count, skipped_count, last_error,
    created_at, updated_at
) VALUES (
    @id, @user_id, @name, @description, @status, @transport,
    @schedule_type, @schedule_cron, @schedule_at, @schedule_timezone,
    @callback_url, @callback_method, @callback_headers, @payload,
    @retry_max_attempts, @retry_backoff_minutes,
    @on_failure_email, @on_failure_webhook, @on_failure_pause,
    @verification_mode, @catch_up, @outcome_deadline_seconds, @options,
    @next_run, @last_run, @run_count, @fired_count, @skipped_count, @last_error,
    @created_at, @updated_at
);

-- name: CueGet :one
SELECT * FROM cues WHERE id = @id AND user_id = @user_id;

-- name: CueGetForUpdate :one
-- CueGetForUpdate reads the row for a read-modify-write; the surrounding
-- BEGIN IMMEDIATE transaction serializes it with every other writer.
SELECT * FROM cues WHERE id = @id AND user_id = @user_id;

-- name: CueGetByName :one
SELECT * FROM cues WHERE user_id = @user_id AND name = @name;

-- name: CueNameTaken :one
SELECT EXISTS (SELECT 1 FROM cues WHERE user_id = @user_id AND name = @name);

-- name: CueActiveCount :one
-- CueActiveCount is the tenant's cues that count against the active cue
-- limit (active and paused ones), which the triggers on cues keep
-- (migration 0014). No rows when the tenant does not exist.
SELECT active_cue_count FROM users WHERE id = @id;

-- name: CueList :many
SELECT * FROM cues
WHERE user_id = @user_id
  AND (CAST(sqlc.narg('status') AS TEXT) IS NULL OR status = CAST(sqlc.narg('status') AS TEXT))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: CueCount :one
SELECT count(*) FROM cues
WHERE user_id = @user_id
  AND (CAST(sqlc.narg('status') AS TEXT) IS NULL OR status = CAST(sqlc.narg('status') AS TEXT));

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
    options = @options,
    next_run = @next_run,
    last_run = @last_run,
    last_error = @last_error,
    updated_at = @updated_at
WHERE id = @id AND user_id = @user_id
RETURNING *;

-- name: CueDelete :execrows
DELETE FROM cues WHERE id = @id AND user_id = @user_id;

-- name: CueListDue :many
-- CueListDue reads up to @max_rows active cues due by @horizon, oldest
-- next_run first (the partial index cues_due_idx); the surrounding BEGIN
-- IMMEDIATE transaction keeps every other writer out until it commits.
SELECT * FROM cues
WHERE status = 'active' AND next_run IS NOT NULL AND next_run <= CAST(@horizon AS TEXT)
ORDER BY next_run
LIMIT @max_rows;

-- name: CueSaveFired :exec
-- CueSaveFired saves one fired cue's plan.
UPDATE cues SET
    next_run = @next_run,
    status = @status,
    last_error = @last_error,
    skipped_count = skipped_count + @skipped,
    fired_count = fired_count + @fired,
    updated_at = @now
WHERE id = @id;

-- name: CueNextDueAt :one
-- CueNextDueAt is the earliest next_run of the active cues (cues_due_idx).
SELECT next_run FROM cues
WHERE status = 'active' AND next_run IS NOT NULL
ORDER BY next_run
LIMIT 1;

-- name: CueListForDelivery :many
-- CueListForDelivery reads claimed executions' cues with their owners'
-- sealed webhook secrets.
SELECT sqlc.embed(cues), users.webhook_secret_sealed
FROM cues JOIN users ON users.id = cues.user_id
WHERE cues.id IN (sqlc.slice('ids'));

-- name: CueRecordDeliveries :exec
-- CueRecordDeliveries applies one cue's delivery results, aggregated:
-- run_count += runs, last_run = @now when set_last_run, and status =
-- new_status (an empty string: none) only from active; paused also clears
-- next_run.
UPDATE cues SET
    run_count = run_count + @runs,
    last_run = CASE WHEN CAST(@set_last_run AS INTEGER) THEN CAST(@now AS TEXT) ELSE last_run END,
    status = CASE WHEN CAST(@new_status AS TEXT) <> '' AND status = 'active' THEN @new_status ELSE status END,
    next_run = CASE WHEN @new_status = 'paused' AND status = 'active' THEN NULL ELSE next_run END,
    updated_at = @now
WHERE id = @id;

-- name: CueSubtractFired :exec
-- CueSubtractFired takes @n cancelled executions off fired_count, never
-- below zero.
UPDATE cues SET fired_count = max(fired_count - @n, 0), updated_at = @now
WHERE id = @id AND user_id = @user_id;
