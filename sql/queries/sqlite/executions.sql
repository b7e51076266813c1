-- name: ExecutionInsert :exec
INSERT INTO executions (
    id, cue_id, user_id, transport, scheduled_for, status,
    http_status, response_body, attempts, next_retry, due_at, error_message,
    started_at, delivered_at, last_attempt_at, lease_expires_at,
    claimed_by_worker, claimed_at, last_heartbeat_at,
    outcome_success, outcome_result, outcome_error, outcome_metadata,
    outcome_recorded_at, outcome_state, outcome_deadline_at,
    evidence_external_id, evidence_result_url, evidence_result_ref,
    evidence_result_type, evidence_summary, evidence_artifacts,
    evidence_metadata, evidence_validation_state, evidence_produced_at,
    triggered_by, replayed_from, created_at, updated_at
) VALUES (
    @id, @cue_id, @user_id, @transport, @scheduled_for, @status,
    @http_status, @response_body, @attempts, @next_retry, @due_at, @error_message,
    @started_at, @delivered_at, @last_attempt_at, @lease_expires_at,
    @claimed_by_worker, @claimed_at, @last_heartbeat_at,
    @outcome_success, @outcome_result, @outcome_error, @outcome_metadata,
    @outcome_recorded_at, @outcome_state, @outcome_deadline_at,
    @evidence_external_id, @evidence_result_url, @evidence_result_ref,
    @evidence_result_type, @evidence_summary, @evidence_artifacts,
    @evidence_metadata, @evidence_validation_state, @evidence_produced_at,
    @triggered_by, @replayed_from, @created_at, @updated_at
);

-- name: ExecutionList :many
SELECT * FROM executions
WHERE user_id = @user_id
  AND (CAST(sqlc.narg('cue_id') AS TEXT) IS NULL OR cue_id = CAST(sqlc.narg('cue_id') AS TEXT))
  AND (CAST(sqlc.narg('status') AS TEXT) IS NULL OR status = CAST(sqlc.narg('status') AS TEXT))
  AND (CAST(sqlc.narg('outcome_state') AS TEXT) IS NULL OR outcome_state = CAST(sqlc.narg('outcome_state') AS TEXT))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: ExecutionCount :one
SELECT count(*) FROM executions
WHERE user_id = @user_id
  AND (CAST(sqlc.narg('cue_id') AS TEXT) IS NULL OR cue_id = CAST(sqlc.narg('cue_id') AS TEXT))
  AND (CAST(sqlc.narg('status') AS TEXT) IS NULL OR status = CAST(sqlc.narg('status') AS TEXT))
  AND (CAST(sqlc.narg('outcome_state') AS TEXT) IS NULL OR outcome_state = CAST(sqlc.narg('outcome_state') AS TEXT));
