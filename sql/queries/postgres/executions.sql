-- name: ExecutionCreate :one
-- ExecutionCreate inserts an execution of a cue of @user_id, with the cue's
-- transport; no row when the cue is absent or foreign.
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
    triggered_by, replayed_from, payload, options,
    live_claim_session_token, live_claimed_at, destination, created_at, updated_at
)
SELECT
    @id, cues.id, cues.user_id, cues.transport, @scheduled_for, @status,
    @http_status, @response_body, @attempts, @next_retry, @due_at, @error_message,
    @started_at, @delivered_at, @last_attempt_at, @lease_expires_at,
    @claimed_by_worker, @claimed_at, @last_heartbeat_at,
    @outcome_success, @outcome_result, @outcome_error, @outcome_metadata,
    @outcome_recorded_at, @outcome_state, @outcome_deadline_at,
    @evidence_external_id, @evidence_result_url, @evidence_result_ref,
    @evidence_result_type, @evidence_summary, @evidence_artifacts,
    @evidence_metadata, @evidence_validation_state, @evidence_produced_at,
    @triggered_by, @replayed_from, @payload, @options,
    @live_claim_session_token, @live_claimed_at, @destination, @created_at, @updated_at
FROM cues
WHERE cues.id = @cue_id AND cues.user_id = @user_id
RETURNING *;

-- name: ExecutionGet :one
SELECT * FROM executions WHERE id = @id AND user_id = @user_id;

-- name: ExecutionList :many
-- ExecutionList is a page of a tenant's executions, newest first, with
-- every filter of core.ExecutionListParams (an empty @statuses: any).
SELECT * FROM executions
WHERE user_id = @user_id
  AND (sqlc.narg('cue_id')::text IS NULL OR cue_id = sqlc.narg('cue_id')::text)
  AND (cardinality(@statuses::text[]) = 0 OR status = ANY(@statuses::text[]))
  AND (sqlc.narg('outcome_state')::text IS NULL OR outcome_state = sqlc.narg('outcome_state')::text)
  AND (NOT @no_outcome_state::boolean OR outcome_state IS NULL)
  AND (sqlc.narg('triggered_by')::text IS NULL OR triggered_by = sqlc.narg('triggered_by')::text)
  AND (NOT @scheduled_only::boolean OR triggered_by IS NULL)
  AND (sqlc.narg('result_type')::text IS NULL OR evidence_result_type = sqlc.narg('result_type')::text)
  AND (NOT @has_evidence::boolean OR evidence_external_id IS NOT NULL)
  AND (sqlc.narg('worker_id')::text IS NULL OR claimed_by_worker = sqlc.narg('worker_id')::text)
ORDER BY created_at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: ExecutionCount :one
-- ExecutionCount counts the executions ExecutionList filters.
SELECT count(*) FROM executions
WHERE user_id = @user_id
  AND (sqlc.narg('cue_id')::text IS NULL OR cue_id = sqlc.narg('cue_id')::text)
  AND (cardinality(@statuses::text[]) = 0 OR status = ANY(@statuses::text[]))
  AND (sqlc.narg('outcome_state')::text IS NULL OR outcome_state = sqlc.narg('outcome_state')::text)
  AND (NOT @no_outcome_state::boolean OR outcome_state IS NULL)
  AND (sqlc.narg('triggered_by')::text IS NULL OR triggered_by = sqlc.narg('triggered_by')::text)
  AND (NOT @scheduled_only::boolean OR triggered_by IS NULL)
  AND (sqlc.narg('result_type')::text IS NULL OR evidence_result_type = sqlc.narg('result_type')::text)
  AND (NOT @has_evidence::boolean OR evidence_external_id IS NOT NULL)
  AND (sqlc.narg('worker_id')::text IS NULL OR claimed_by_worker = sqlc.narg('worker_id')::text);

-- name: ExecutionOldestClaimedAt :one
-- ExecutionOldestClaimedAt is the earliest claimed_at among the executions
-- ExecutionList filters; no row when none was claimed.
SELECT claimed_at FROM executions
WHERE user_id = @user_id
  AND (sqlc.narg('cue_id')::text IS NULL OR cue_id = sqlc.narg('cue_id')::text)
  AND (cardinality(@statuses::text[]) = 0 OR status = ANY(@statuses::text[]))
  AND (sqlc.narg('outcome_state')::text IS NULL OR outcome_state = sqlc.narg('outcome_state')::text)
  AND (NOT @no_outcome_state::boolean OR outcome_state IS NULL)
  AND (sqlc.narg('triggered_by')::text IS NULL OR triggered_by = sqlc.narg('triggered_by')::text)
  AND (NOT @scheduled_only::boolean OR triggered_by IS NULL)
  AND (sqlc.narg('result_type')::text IS NULL OR evidence_result_type = sqlc.narg('result_type')::text)
  AND (NOT @has_evidence::boolean OR evidence_external_id IS NOT NULL)
  AND (sqlc.narg('worker_id')::text IS NULL OR claimed_by_worker = sqlc.narg('worker_id')::text)
  AND claimed_at IS NOT NULL
ORDER BY claimed_at
LIMIT 1;

-- name: ExecutionInsertFired :many
-- ExecutionInsertFired inserts a fired batch's executions (pending, due at
-- their scheduled time), one array element each, skipping occurrences that
-- already have one; it returns the cue of each inserted row.
INSERT INTO executions (id, cue_id, user_id, transport, scheduled_for, status, attempts, due_at, destination, created_at, updated_at)
SELECT v.id, v.cue_id, v.user_id, v.transport, v.scheduled_for, 'pending', 0, v.scheduled_for, v.destination, @now, @now
FROM (
    SELECT unnest(@ids::uuid[]) AS id,
           unnest(@cue_ids::text[]) AS cue_id,
           unnest(@user_ids::uuid[]) AS user_id,
           unnest(@transports::text[]) AS transport,
           unnest(@scheduled_fors::timestamptz[]) AS scheduled_for,
           unnest(@destinations::text[]) AS destination
) AS v
ON CONFLICT (cue_id, scheduled_for) DO NOTHING
RETURNING cue_id;

-- name: ExecutionClaimDeliveries :many
-- ExecutionClaimDeliveries claims up to @max_rows due webhook executions,
-- fairly across destinations: within a destination oldest due_at first, at
-- most its room (@room_sizes for @room_destinations, else
-- @per_destination); across destinations round-robin (every destination's
-- first before any second). The ranking looks at the @scan_rows oldest
-- due executions of destinations not skipped (@skip_destinations: room 0),
-- read from the partial index executions_dispatch_idx, so its cost does not
-- grow with the backlog; the chosen rows are re-checked and locked FOR NO
-- KEY UPDATE SKIP LOCKED, so concurrent claimers take disjoint sets
-- (ids as arrays, so both steps read the primary key, never the table).
-- Claiming ahead: executions waiting for their first attempt or a retry
-- due by @due_by (>= @now) are claimed too; their last_attempt_at (and a
-- first started_at) is their due time, when the engine sends them. A
-- lease that has not expired by @now is never taken early.
WITH room AS (
    SELECT unnest(@room_destinations::text[]) AS destination,
           unnest(@room_sizes::integer[]) AS room
), candidates AS (
    SELECT x.id, x.destination, x.due_at
    FROM executions AS x
    WHERE x.transport = 'webhook'
      AND x.status IN ('pending', 'retrying', 'retry_ready', 'delivering')
      AND x.due_at <= @due_by::timestamptz
      AND (x.due_at <= @now::timestamptz OR x.status <> 'delivering')
      AND NOT (x.destination = ANY(@skip_destinations::text[]))
    ORDER BY x.due_at
    LIMIT @scan_rows
), ranked AS (
    SELECT c.id, c.due_at,
           row_number() OVER (PARTITION BY c.destination ORDER BY c.due_at, c.id) AS rn,
           coalesce(r.room, @per_destination::integer) AS room
    FROM candidates AS c
    LEFT JOIN room AS r ON r.destination = c.destination
), chosen AS (
    SELECT id FROM ranked
    WHERE rn <= room
    ORDER BY rn, due_at, id
    LIMIT @max_rows
), picked AS (
    SELECT x.id FROM executions AS x
    WHERE x.id = ANY(ARRAY(SELECT id FROM chosen))
      AND x.transport = 'webhook'
      AND x.status IN ('pending', 'retrying', 'retry_ready', 'delivering')
      AND x.due_at <= @due_by::timestamptz
      AND (x.due_at <= @now::timestamptz OR x.status <> 'delivering')
    FOR NO KEY UPDATE SKIP LOCKED
)
UPDATE executions AS e SET
    status = 'delivering',
    attempts = e.attempts + 1,
    started_at = coalesce(e.started_at, greatest(@now::timestamptz, e.due_at)),
    last_attempt_at = greatest(@now::timestamptz, e.due_at),
    lease_expires_at = @lease_until::timestamptz,
    due_at = @lease_until::timestamptz,
    updated_at = @now::timestamptz
WHERE e.id = ANY(ARRAY(SELECT id FROM picked))
RETURNING e.*;

-- name: ExecutionRecordDeliveries :many
-- ExecutionRecordDeliveries stores attempt results, one array element
-- each, where the execution is still delivering with attempts = attempt;
-- it returns the position (idx) of each applied result. Arrays cannot
-- carry NULL here, so nullable values come with a has_* flag.
UPDATE executions AS e SET
    status = r.status,
    attempts = r.attempts,
    http_status = CASE WHEN r.has_http_status THEN r.http_status END,
    response_body = CASE WHEN r.has_response_body THEN r.response_body END,
    error_message = CASE WHEN r.has_error_message THEN r.error_message END,
    last_attempt_at = @now::timestamptz,
    delivered_at = CASE WHEN r.status = 'success' THEN @now::timestamptz ELSE e.delivered_at END,
    next_retry = CASE WHEN r.has_next_retry THEN r.next_retry END,
    due_at = CASE WHEN r.has_due_at THEN r.due_at END,
    lease_expires_at = NULL,
    outcome_deadline_at = CASE WHEN r.has_outcome_deadline_at THEN r.outcome_deadline_at ELSE e.outcome_deadline_at END,
    updated_at = @now::timestamptz
FROM (
    SELECT unnest(@idxs::integer[]) AS idx,
           unnest(@ids::uuid[]) AS id,
           unnest(@attempt::integer[]) AS attempt,
           unnest(@attempts::integer[]) AS attempts,
           unnest(@statuses::text[]) AS status,
           unnest(@response_codes::integer[]) AS http_status,
           unnest(@has_response_codes::boolean[]) AS has_http_status,
           unnest(@response_bodies::text[]) AS response_body,
           unnest(@has_response_bodies::boolean[]) AS has_response_body,
           unnest(@error_messages::text[]) AS error_message,
           unnest(@has_error_messages::boolean[]) AS has_error_message,
           unnest(@next_retries::timestamptz[]) AS next_retry,
           unnest(@has_next_retries::boolean[]) AS has_next_retry,
           unnest(@due_ats::timestamptz[]) AS due_at,
           unnest(@has_due_ats::boolean[]) AS has_due_at,
           unnest(@outcome_deadline_ats::timestamptz[]) AS outcome_deadline_at,
           unnest(@has_outcome_deadline_ats::boolean[]) AS has_outcome_deadline_at
) AS r
WHERE e.id = r.id AND e.status = 'delivering' AND e.attempts = r.attempt
RETURNING r.idx::integer AS idx, e.cue_id, e.user_id;

-- name: ExecutionDeleteUpcoming :execrows
-- ExecutionDeleteUpcoming deletes a cue's scheduler-created executions that
-- are pending and scheduled after @now.
DELETE FROM executions
WHERE cue_id = @cue_id AND user_id = @user_id
  AND status = 'pending' AND triggered_by IS NULL AND scheduled_for > @now;

-- name: ExecutionQueueStats :one
-- ExecutionQueueStats counts the delivery queue; each count repeats the
-- predicate of the partial index it scans.
SELECT
    (SELECT count(*) FROM executions AS x1
     WHERE x1.transport = 'webhook' AND x1.status IN ('pending', 'retrying', 'retry_ready', 'delivering')
       AND x1.status = 'pending' AND x1.due_at <= @now::timestamptz) AS pending_webhooks,
    (SELECT count(*) FROM executions AS x2
     WHERE x2.transport = 'webhook' AND x2.status IN ('pending', 'retrying', 'retry_ready', 'delivering')
       AND x2.status = 'delivering' AND x2.due_at <= @now::timestamptz) AS stale_deliveries,
    (SELECT count(*) FROM executions AS x3
     WHERE x3.transport = 'webhook' AND x3.status IN ('pending', 'retrying', 'retry_ready', 'delivering')
       AND x3.status IN ('retrying', 'retry_ready')) AS pending_retries,
    (SELECT count(*) FROM executions AS x4
     WHERE x4.transport = 'worker' AND x4.status = 'pending') AS pending_worker_claims;
