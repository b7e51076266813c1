-- name: CueInsert :batchone
-- CueInsert is a batch query: CueCreate sends the inserts of one group
-- commit in one round trip. @count_add is added to the tenant's
-- active_cue_count (migration 0014): CueCreate passes the number of active
-- and paused cues it admitted for the tenant with the tenant's last insert
-- of the group, 0 with the others.
WITH counted AS (
    UPDATE users SET active_cue_count = active_cue_count + @count_add::integer
    WHERE id = @user_id AND @count_add::integer <> 0
)
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
)
RETURNING *;

-- name: CueGet :one
SELECT * FROM cues WHERE id = @id AND user_id = @user_id;

-- name: CueGetWithCounts :one
-- CueGetWithCounts reads the cue and, in the same statement, its executions
-- created at or after @since counted per status, as a JSON object
-- {"status": n} ('{}' when none).
SELECT sqlc.embed(cues),
    (SELECT coalesce(jsonb_object_agg(x.status, x.n), '{}'::jsonb)
     FROM (SELECT status, count(*) AS n FROM executions
           WHERE executions.cue_id = cues.id AND executions.user_id = cues.user_id
             AND executions.created_at >= @since::timestamptz
           GROUP BY status) AS x)::jsonb AS counts
FROM cues WHERE cues.id = @id AND cues.user_id = @user_id;

-- name: CueGetDetail :many
-- CueGetDetail reads a cue's detail in one statement: one row per execution
-- of the page (newest first, as ExecutionList), each with the cue, the
-- cue's executions created at or after @since counted per status (as in
-- CueGetWithCounts) and the total of its executions. No row when the page is
-- empty (or the cue absent): CueGetWithCounts then tells which.
SELECT sqlc.embed(cues), sqlc.embed(executions),
    (SELECT coalesce(jsonb_object_agg(x.status, x.n), '{}'::jsonb)
     FROM (SELECT e.status, count(*) AS n FROM executions e
           WHERE e.cue_id = @id AND e.user_id = @user_id AND e.created_at >= @since::timestamptz
           GROUP BY e.status) AS x)::jsonb AS counts,
    (SELECT count(*) FROM executions e WHERE e.cue_id = @id AND e.user_id = @user_id) AS total
FROM cues JOIN executions ON executions.cue_id = cues.id AND executions.user_id = cues.user_id
WHERE cues.id = @id AND cues.user_id = @user_id
ORDER BY executions.created_at DESC, executions.id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: CueGetForUpdate :one
-- CueGetForUpdate locks the row for a read-modify-write.
SELECT * FROM cues WHERE id = @id AND user_id = @user_id FOR NO KEY UPDATE;

-- name: CueGetByName :one
SELECT * FROM cues WHERE user_id = @user_id AND name = @name;

-- name: UserLockForCreate :exec
-- UserLockForCreate takes the tenant's row lock before CueCountSettle,
-- which must run as a separate statement: its snapshot then includes the
-- count and deltas of every creation that held the lock before. It marks
-- the transaction as one that counts its own inserts (CueInsert's
-- count_add), so the count trigger skips them (migration 0014), and turns
-- bitmap scans off for it: CueCountSettle's delete then walks the deltas
-- index with a plain index scan, which marks the entries of rows an
-- earlier settle deleted as dead, so later settles skip them (a bitmap
-- scan visits every one of them again until autovacuum: 66,667 after a
-- bulk change of as many cues, 2-7 ms for each creation group).
SELECT set_config('cueapi.counted_creates', 'on', true), set_config('enable_bitmapscan', 'off', true)
FROM users WHERE id = @id FOR NO KEY UPDATE;

-- name: CueCountSettle :one
-- CueCountSettle folds the tenant's committed cue_count_deltas into
-- users.active_cue_count (migration 0010) and returns the cues that count
-- against the active cue limit (active and paused ones) and which of @names
-- the tenant has taken. Run under UserLockForCreate. The users row is
-- written only when there are deltas: at a high creation rate a write per
-- settle would leave a long chain of row versions for every later lookup.
WITH d AS (DELETE FROM cue_count_deltas WHERE cue_count_deltas.user_id = @user_id RETURNING delta),
s AS (SELECT coalesce(sum(d.delta), 0)::integer AS n FROM d),
w AS (UPDATE users SET active_cue_count = users.active_cue_count + s.n FROM s WHERE users.id = @user_id AND s.n <> 0)
SELECT (u.active_cue_count + s.n)::integer AS active_cue_count,
    ARRAY(SELECT c.name FROM cues c WHERE c.user_id = u.id AND c.name = ANY(@names::text[]))::text[] AS taken
FROM users u, s WHERE u.id = @user_id;

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
-- CueListDue locks up to @max_rows active cues due by @horizon, oldest
-- next_run first, skipping cues another transaction has locked (another
-- scheduler's batch). It scans the partial index cues_due_idx.
SELECT * FROM cues
WHERE status = 'active' AND next_run IS NOT NULL AND next_run <= @horizon::timestamptz
ORDER BY next_run
LIMIT @max_rows
FOR NO KEY UPDATE SKIP LOCKED;

-- name: CueSaveFired :exec
-- CueSaveFired saves a fired batch's plans, one array element per cue.
-- Arrays cannot carry NULL here, so next_run and last_error come with a
-- has_* flag.
UPDATE cues SET
    next_run = CASE WHEN v.has_next_run THEN v.next_run END,
    status = v.status,
    last_error = CASE WHEN v.has_last_error THEN v.last_error END,
    skipped_count = cues.skipped_count + v.skipped,
    fired_count = cues.fired_count + v.fired,
    updated_at = @now
FROM (
    SELECT unnest(@ids::text[]) AS id,
           unnest(@next_runs::timestamptz[]) AS next_run,
           unnest(@has_next_runs::boolean[]) AS has_next_run,
           unnest(@statuses::text[]) AS status,
           unnest(@last_errors::text[]) AS last_error,
           unnest(@has_last_errors::boolean[]) AS has_last_error,
           unnest(@skipped::integer[]) AS skipped,
           unnest(@fired::integer[]) AS fired
) AS v
WHERE cues.id = v.id;

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
WHERE cues.id = ANY(@ids::text[]);

-- name: CueLockMany :exec
-- CueLockMany locks cues in id order, so that transactions updating
-- several cues never wait for each other in a cycle.
SELECT id FROM cues WHERE id = ANY(@ids::text[]) ORDER BY id FOR NO KEY UPDATE;

-- name: CueRecordDeliveries :exec
-- CueRecordDeliveries applies delivery results' effects, aggregated per
-- cue: run_count += runs, last_run = @now when set_last_run, and status
-- (an empty string: none) only from active; paused also clears next_run.
UPDATE cues SET
    run_count = cues.run_count + v.runs,
    last_run = CASE WHEN v.set_last_run THEN @now ELSE cues.last_run END,
    status = CASE WHEN v.status <> '' AND cues.status = 'active' THEN v.status ELSE cues.status END,
    next_run = CASE WHEN v.status = 'paused' AND cues.status = 'active' THEN NULL ELSE cues.next_run END,
    updated_at = @now
FROM (
    SELECT unnest(@ids::text[]) AS id,
           unnest(@runs::integer[]) AS runs,
           unnest(@set_last_runs::boolean[]) AS set_last_run,
           unnest(@statuses::text[]) AS status
) AS v
WHERE cues.id = v.id;

-- name: CueSubtractFired :exec
-- CueSubtractFired takes @n cancelled executions off fired_count, never
-- below zero.
UPDATE cues SET fired_count = greatest(fired_count - @n::integer, 0), updated_at = @now
WHERE id = @id AND user_id = @user_id;
