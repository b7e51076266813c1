-- Pull-worker claims, execution read-modify-writes and the worker sweeps.
-- Every writer runs in a BEGIN IMMEDIATE transaction, which the database's
-- write lock makes exclusive; updates still re-check the state they expect.

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
  AND executions.scheduled_for <= CAST(@now AS TEXT)
  AND (CAST(sqlc.narg('task') AS TEXT) IS NULL
       OR (json_type(COALESCE(executions.payload, cues.payload), '$.task') = 'text'
           AND json_extract(COALESCE(executions.payload, cues.payload), '$.task') = CAST(sqlc.narg('task') AS TEXT)))
  AND (CAST(sqlc.narg('agent') AS TEXT) IS NULL
       OR (json_type(COALESCE(executions.payload, cues.payload), '$.agent') = 'text'
           AND json_extract(COALESCE(executions.payload, cues.payload), '$.agent') = CAST(sqlc.narg('agent') AS TEXT)))
ORDER BY executions.scheduled_for, executions.id
LIMIT @max_rows;

-- name: ExecutionClaimWorkerPickNext :one
-- ExecutionClaimWorkerPickNext finds a tenant's oldest claimable worker
-- execution (optionally of payload task @task) and its cue's outcome
-- deadline.
SELECT executions.id, cues.outcome_deadline_seconds
FROM executions JOIN cues ON cues.id = executions.cue_id
WHERE executions.user_id = @user_id
  AND executions.transport = 'worker' AND executions.status IN ('pending', 'retry_ready')
  AND executions.scheduled_for <= CAST(@now AS TEXT)
  AND (CAST(sqlc.narg('task') AS TEXT) IS NULL
       OR (json_type(COALESCE(executions.payload, cues.payload), '$.task') = 'text'
           AND json_extract(COALESCE(executions.payload, cues.payload), '$.task') = CAST(sqlc.narg('task') AS TEXT)))
ORDER BY executions.scheduled_for, executions.id
LIMIT 1;

-- name: ExecutionClaimWorkerPickByID :one
-- ExecutionClaimWorkerPickByID finds one execution by id if it is the
-- tenant's, worker transport, pending or retry_ready and scheduled by @now,
-- and its cue's outcome deadline.
SELECT executions.id, cues.outcome_deadline_seconds
FROM executions JOIN cues ON cues.id = executions.cue_id
WHERE executions.id = @id AND executions.user_id = @user_id
  AND executions.transport = 'worker' AND executions.status IN ('pending', 'retry_ready')
  AND executions.scheduled_for <= CAST(@now AS TEXT);

-- name: ExecutionClaimWorker :one
-- ExecutionClaimWorker claims a picked execution for @worker_id if it is
-- still claimable (pending or retry_ready).
UPDATE executions SET
    status = 'delivering',
    claimed_by_worker = CAST(@worker_id AS TEXT),
    claimed_at = CAST(@now AS TEXT),
    started_at = CAST(@now AS TEXT),
    last_attempt_at = CAST(@now AS TEXT),
    attempts = attempts + 1,
    lease_expires_at = CAST(@lease_until AS TEXT),
    due_at = CAST(@lease_until AS TEXT),
    outcome_deadline_at = @outcome_deadline_at,
    updated_at = CAST(@now AS TEXT)
WHERE id = @id AND status IN ('pending', 'retry_ready')
RETURNING *;

-- name: ExecutionGetForUpdate :one
-- ExecutionGetForUpdate reads the row for a read-modify-write; the
-- surrounding BEGIN IMMEDIATE transaction serializes it with every other
-- writer.
SELECT * FROM executions WHERE id = @id AND user_id = @user_id;

-- name: ExecutionSave :one
-- ExecutionSave writes the columns a read-modify-write may change.
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
-- lease expired by @now, oldest lease first (executions_lease_idx), with
-- what their handling depends on.
SELECT executions.id, executions.attempts, executions.triggered_by,
       cues.retry_max_attempts, cues.schedule_type, cues.on_failure_pause
FROM executions JOIN cues ON cues.id = executions.cue_id
WHERE executions.transport = 'worker' AND executions.status = 'delivering'
  AND executions.lease_expires_at <= CAST(@now AS TEXT)
ORDER BY executions.lease_expires_at, executions.id
LIMIT @max_rows;

-- name: ExecutionResetLease :one
-- ExecutionResetLease returns an expired claim to pending, claimable again
-- from @now, if it is still delivering with an expired lease.
UPDATE executions SET
    status = 'pending',
    error_message = CAST(@message AS TEXT),
    claimed_by_worker = NULL,
    claimed_at = NULL,
    started_at = NULL,
    last_heartbeat_at = NULL,
    due_at = CAST(@now AS TEXT),
    lease_expires_at = NULL,
    outcome_deadline_at = NULL,
    updated_at = CAST(@now AS TEXT)
WHERE id = @id AND status = 'delivering' AND lease_expires_at <= CAST(@now AS TEXT)
RETURNING *;

-- name: ExecutionFailLease :one
-- ExecutionFailLease fails an expired claim with no attempt left, if it is
-- still delivering with an expired lease.
UPDATE executions SET
    status = 'failed',
    error_message = CAST(@message AS TEXT),
    due_at = NULL,
    lease_expires_at = NULL,
    outcome_deadline_at = NULL,
    updated_at = CAST(@now AS TEXT)
WHERE id = @id AND status = 'delivering' AND lease_expires_at <= CAST(@now AS TEXT)
RETURNING *;

-- name: ExecutionListUnclaimed :many
-- ExecutionListUnclaimed lists up to @max_rows pending worker executions
-- claimable since @cutoff or earlier, oldest first
-- (executions_unclaimed_idx), with what their cue effects depend on.
SELECT executions.id, executions.triggered_by, cues.schedule_type, cues.on_failure_pause
FROM executions JOIN cues ON cues.id = executions.cue_id
WHERE executions.transport = 'worker' AND executions.status = 'pending'
  AND executions.due_at <= CAST(@cutoff AS TEXT)
ORDER BY executions.due_at, executions.id
LIMIT @max_rows;

-- name: ExecutionMarkUnclaimedMissed :one
-- ExecutionMarkUnclaimedMissed marks a pending worker execution missed if
-- it is still pending and claimable since @cutoff or earlier.
UPDATE executions SET
    status = 'missed',
    error_message = CAST(@message AS TEXT),
    due_at = NULL,
    updated_at = CAST(@now AS TEXT)
WHERE id = @id AND status = 'pending' AND due_at <= CAST(@cutoff AS TEXT)
RETURNING *;

-- name: ExecutionExpireOutcomeDeadlines :many
-- ExecutionExpireOutcomeDeadlines times out up to @max_rows executions
-- whose outcome deadline passed by @now without an outcome, oldest deadline
-- first (executions_outcome_deadline_idx).
UPDATE executions SET
    status = 'outcome_timeout',
    outcome_deadline_at = NULL,
    lease_expires_at = NULL,
    due_at = NULL,
    updated_at = CAST(@now AS TEXT)
WHERE id IN (
    SELECT id FROM executions
    WHERE outcome_recorded_at IS NULL AND outcome_deadline_at IS NOT NULL
      AND outcome_deadline_at <= CAST(@now AS TEXT)
    ORDER BY outcome_deadline_at, id
    LIMIT CAST(@max_rows AS INTEGER)
)
RETURNING *;

-- name: ExecutionRecentFinished :many
-- ExecutionRecentFinished returns a cue's latest finished executions,
-- newest first (executions_cue_created_idx).
SELECT * FROM executions
WHERE cue_id = @cue_id AND user_id = @user_id
  AND status IN ('success', 'failed', 'missed', 'outcome_timeout')
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;
