-- Pull-worker claims, execution read-modify-writes and the worker sweeps.
-- Lock order (as everywhere): a cue before its executions, usage rows last.

-- name: ExecutionClaimable :many
-- ExecutionClaimable lists up to @max_rows of a tenant's worker executions
-- ready to claim (pending or retry_ready, scheduled by @now), oldest
-- scheduled_for first, with their cues. The task and agent filters (the
-- effective payload's "task" / "agent" string) apply before the limit. It
-- scans the partial index executions_claimable_idx.
SELECT sqlc.embed(executions), sqlc.embed(cues)
FROM executions JOIN cues ON cues.id = executions.cue_id
WHERE executions.user_id = @user_id
  AND executions.transport = 'worker' AND executions.status IN ('pending', 'retry_ready')
  AND executions.scheduled_for <= @now::timestamptz
  AND (sqlc.narg('task')::text IS NULL OR COALESCE(executions.payload, cues.payload) -> 'task' = to_jsonb(sqlc.narg('task')::text))
  AND (sqlc.narg('agent')::text IS NULL OR COALESCE(executions.payload, cues.payload) -> 'agent' = to_jsonb(sqlc.narg('agent')::text))
ORDER BY executions.scheduled_for, executions.id
LIMIT @max_rows;

-- name: ExecutionClaimWorkerPickNext :one
-- ExecutionClaimWorkerPickNext locks a tenant's oldest claimable worker
-- execution (optionally of payload task @task), skipping rows another
-- claimer has locked, and returns its cue's outcome deadline. No row when
-- nothing is claimable.
SELECT e.id, c.outcome_deadline_seconds
FROM executions AS e JOIN cues AS c ON c.id = e.cue_id
WHERE e.user_id = @user_id
  AND e.transport = 'worker' AND e.status IN ('pending', 'retry_ready')
  AND e.scheduled_for <= @now::timestamptz
  AND (sqlc.narg('task')::text IS NULL OR COALESCE(e.payload, c.payload) -> 'task' = to_jsonb(sqlc.narg('task')::text))
ORDER BY e.scheduled_for, e.id
LIMIT 1
FOR NO KEY UPDATE OF e SKIP LOCKED;

-- name: ExecutionClaimWorkerPickByID :one
-- ExecutionClaimWorkerPickByID locks one execution by id if it is the
-- tenant's, worker transport, pending or retry_ready and scheduled by @now,
-- and returns its cue's outcome deadline. It waits for a concurrent claimer and then
-- re-checks the row, so the second of two claimers finds nothing.
SELECT e.id, c.outcome_deadline_seconds
FROM executions AS e JOIN cues AS c ON c.id = e.cue_id
WHERE e.id = @id AND e.user_id = @user_id
  AND e.transport = 'worker' AND e.status IN ('pending', 'retry_ready')
  AND e.scheduled_for <= @now::timestamptz
FOR NO KEY UPDATE OF e;

-- name: ExecutionClaimWorker :one
-- ExecutionClaimWorker claims a picked (locked) execution for @worker_id
-- if it is still claimable (pending or retry_ready).
UPDATE executions SET
    status = 'delivering',
    claimed_by_worker = @worker_id::text,
    claimed_at = @now::timestamptz,
    started_at = @now::timestamptz,
    last_attempt_at = @now::timestamptz,
    attempts = attempts + 1,
    lease_expires_at = @lease_until::timestamptz,
    due_at = @lease_until::timestamptz,
    outcome_deadline_at = sqlc.narg('outcome_deadline_at')::timestamptz,
    updated_at = @now::timestamptz
WHERE id = @id AND status IN ('pending', 'retry_ready')
RETURNING *;

-- name: ExecutionsGetForUpdateWithCue :many
-- ExecutionsGetForUpdateWithCue locks the executions of @ids owned by one
-- of @user_ids, and their cues, in one round trip: rows in (cue,
-- execution) order, each row's cue first (a locking clause locks its
-- relations in the order it names them), as every read-modify-write of a
-- cue and its executions does, so concurrent groups take their locks in
-- one order. The caller matches each execution to its own tenant.
SELECT sqlc.embed(c), sqlc.embed(e)
FROM executions e JOIN cues c ON c.id = e.cue_id AND c.user_id = e.user_id
WHERE e.id = ANY(@ids::uuid[]) AND e.user_id = ANY(@user_ids::uuid[])
ORDER BY c.id, e.id
FOR NO KEY UPDATE OF c, e;

-- name: ExecutionSave :batchone
-- ExecutionSave writes the columns a read-modify-write may change; a batch
-- query: a group of updates (ExecutionUpdate) saves in one round trip.
UPDATE executions SET
    status = @status,
    error_message = @error_message,
    delivered_at = @delivered_at,
    lease_expires_at = @lease_expires_at,
    due_at = @due_at,
    claimed_by_worker = @claimed_by_worker,
    claimed_at = @claimed_at,
    last_heartbeat_at = @last_heartbeat_at,
    outcome_success = @outcome_success,
    outcome_result = @outcome_result,
    outcome_error = @outcome_error,
    outcome_metadata = @outcome_metadata,
    outcome_recorded_at = @outcome_recorded_at,
    outcome_state = @outcome_state,
    outcome_deadline_at = @outcome_deadline_at,
    evidence_external_id = @evidence_external_id,
    evidence_result_url = @evidence_result_url,
    evidence_result_ref = @evidence_result_ref,
    evidence_result_type = @evidence_result_type,
    evidence_summary = @evidence_summary,
    evidence_artifacts = @evidence_artifacts,
    evidence_metadata = @evidence_metadata,
    evidence_validation_state = @evidence_validation_state,
    evidence_produced_at = @evidence_produced_at,
    options = @options,
    live_claim_session_token = @live_claim_session_token,
    live_claimed_at = @live_claimed_at,
    updated_at = @updated_at
WHERE id = @id
RETURNING *;

-- name: ExecutionListExpiredLeases :many
-- ExecutionListExpiredLeases lists up to @max_rows worker claims whose
-- lease expired by @now, oldest lease first, without locking them
-- (executions_lease_idx).
SELECT id, cue_id, attempts FROM executions
WHERE transport = 'worker' AND status = 'delivering' AND lease_expires_at <= @now::timestamptz
ORDER BY lease_expires_at, id
LIMIT @max_rows;

-- name: ExecutionListUnclaimed :many
-- ExecutionListUnclaimed lists up to @max_rows pending worker executions
-- claimable since @cutoff or earlier, oldest first, without locking them
-- (executions_unclaimed_idx).
SELECT id, cue_id FROM executions
WHERE transport = 'worker' AND status = 'pending' AND due_at <= @cutoff::timestamptz
ORDER BY due_at, id
LIMIT @max_rows;

-- name: CueLockManySkipLocked :many
-- CueLockManySkipLocked locks the cues among @ids that no other
-- transaction holds, in id order, and returns what the sweeps' decisions
-- depend on.
SELECT id, schedule_type, on_failure_pause, retry_max_attempts FROM cues
WHERE id = ANY(@ids::text[])
ORDER BY id
FOR NO KEY UPDATE SKIP LOCKED;

-- name: ExecutionExpireLeases :many
-- ExecutionExpireLeases ends the expired worker claims among @ids (each
-- still at the attempts listed in @attempts) whose cue is among @cue_ids
-- (cues the caller has locked), skipping rows another transaction holds
-- and re-checking each: those among @reset_ids (the caller decided they
-- have attempts left) go back to pending, claimable again from @now; the
-- others fail.
WITH picked AS (
    SELECT e.id FROM executions AS e
    JOIN (
        SELECT unnest(@ids::uuid[]) AS id, unnest(@attempts::integer[]) AS attempts
    ) AS l ON l.id = e.id AND l.attempts = e.attempts
    WHERE e.cue_id = ANY(@cue_ids::text[])
      AND e.transport = 'worker' AND e.status = 'delivering'
      AND e.lease_expires_at <= @now::timestamptz
    ORDER BY e.id
    FOR NO KEY UPDATE OF e SKIP LOCKED
)
UPDATE executions AS x SET
    status = CASE WHEN x.id = ANY(@reset_ids::uuid[]) THEN 'pending' ELSE 'failed' END,
    error_message = CASE WHEN x.id = ANY(@reset_ids::uuid[]) THEN @reset_message::text ELSE @exhausted_message::text END,
    claimed_by_worker = CASE WHEN x.id = ANY(@reset_ids::uuid[]) THEN NULL ELSE x.claimed_by_worker END,
    claimed_at = CASE WHEN x.id = ANY(@reset_ids::uuid[]) THEN NULL ELSE x.claimed_at END,
    started_at = CASE WHEN x.id = ANY(@reset_ids::uuid[]) THEN NULL ELSE x.started_at END,
    last_heartbeat_at = CASE WHEN x.id = ANY(@reset_ids::uuid[]) THEN NULL ELSE x.last_heartbeat_at END,
    due_at = CASE WHEN x.id = ANY(@reset_ids::uuid[]) THEN @now::timestamptz END,
    lease_expires_at = NULL,
    outcome_deadline_at = NULL,
    updated_at = @now::timestamptz
FROM picked
WHERE x.id = picked.id AND x.status = 'delivering'
RETURNING x.*;

-- name: ExecutionMarkUnclaimedMissed :many
-- ExecutionMarkUnclaimedMissed marks missed the pending worker executions
-- among @ids, claimable since @cutoff or earlier, whose cue is among
-- @cue_ids (cues the caller has locked), skipping rows another transaction
-- holds and re-checking each.
WITH picked AS (
    SELECT e.id FROM executions AS e
    WHERE e.id = ANY(@ids::uuid[]) AND e.cue_id = ANY(@cue_ids::text[])
      AND e.transport = 'worker' AND e.status = 'pending'
      AND e.due_at <= @cutoff::timestamptz
    ORDER BY e.id
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE executions AS x SET
    status = 'missed',
    error_message = @missed_message::text,
    due_at = NULL,
    updated_at = @now::timestamptz
FROM picked
WHERE x.id = picked.id AND x.status = 'pending'
RETURNING x.*;

-- name: ExecutionExpireOutcomeDeadlines :many
-- ExecutionExpireOutcomeDeadlines times out up to @max_rows executions
-- whose outcome deadline passed by @now without an outcome, oldest deadline
-- first, skipping rows another transaction holds
-- (executions_outcome_deadline_idx).
WITH picked AS (
    SELECT id FROM executions
    WHERE outcome_recorded_at IS NULL AND outcome_deadline_at IS NOT NULL
      AND outcome_deadline_at <= @now::timestamptz
    ORDER BY outcome_deadline_at, id
    LIMIT @max_rows
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE executions AS x SET
    status = 'outcome_timeout',
    outcome_deadline_at = NULL,
    lease_expires_at = NULL,
    due_at = NULL,
    updated_at = @now::timestamptz
FROM picked
WHERE x.id = picked.id AND x.outcome_recorded_at IS NULL AND x.outcome_deadline_at <= @now::timestamptz
RETURNING x.*;

-- name: ExecutionRecentFinished :many
-- ExecutionRecentFinished returns a cue's latest finished executions,
-- newest first (executions_cue_created_idx).
SELECT * FROM executions
WHERE cue_id = @cue_id AND user_id = @user_id
  AND status IN ('success', 'failed', 'missed', 'outcome_timeout')
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;
