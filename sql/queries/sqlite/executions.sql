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
  AND (CAST(sqlc.narg('cue_id') AS TEXT) IS NULL OR cue_id = CAST(sqlc.narg('cue_id') AS TEXT))
  AND (CAST(sqlc.narg('statuses') AS TEXT) IS NULL OR status IN (SELECT value FROM json_each(CAST(sqlc.narg('statuses') AS TEXT))))
  AND (CAST(sqlc.narg('outcome_state') AS TEXT) IS NULL OR outcome_state = CAST(sqlc.narg('outcome_state') AS TEXT))
  AND (NOT CAST(@no_outcome_state AS BOOLEAN) OR outcome_state IS NULL)
  AND (CAST(sqlc.narg('triggered_by') AS TEXT) IS NULL OR triggered_by = CAST(sqlc.narg('triggered_by') AS TEXT))
  AND (NOT CAST(@scheduled_only AS BOOLEAN) OR triggered_by IS NULL)
  AND (CAST(sqlc.narg('result_type') AS TEXT) IS NULL OR evidence_result_type = CAST(sqlc.narg('result_type') AS TEXT))
  AND (NOT CAST(@has_evidence AS BOOLEAN) OR evidence_external_id IS NOT NULL)
  AND (CAST(sqlc.narg('worker_id') AS TEXT) IS NULL OR claimed_by_worker = CAST(sqlc.narg('worker_id') AS TEXT))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: ExecutionCount :one
-- ExecutionCount counts the executions ExecutionList filters.
SELECT count(*) FROM executions
WHERE user_id = @user_id
  AND (CAST(sqlc.narg('cue_id') AS TEXT) IS NULL OR cue_id = CAST(sqlc.narg('cue_id') AS TEXT))
  AND (CAST(sqlc.narg('statuses') AS TEXT) IS NULL OR status IN (SELECT value FROM json_each(CAST(sqlc.narg('statuses') AS TEXT))))
  AND (CAST(sqlc.narg('outcome_state') AS TEXT) IS NULL OR outcome_state = CAST(sqlc.narg('outcome_state') AS TEXT))
  AND (NOT CAST(@no_outcome_state AS BOOLEAN) OR outcome_state IS NULL)
  AND (CAST(sqlc.narg('triggered_by') AS TEXT) IS NULL OR triggered_by = CAST(sqlc.narg('triggered_by') AS TEXT))
  AND (NOT CAST(@scheduled_only AS BOOLEAN) OR triggered_by IS NULL)
  AND (CAST(sqlc.narg('result_type') AS TEXT) IS NULL OR evidence_result_type = CAST(sqlc.narg('result_type') AS TEXT))
  AND (NOT CAST(@has_evidence AS BOOLEAN) OR evidence_external_id IS NOT NULL)
  AND (CAST(sqlc.narg('worker_id') AS TEXT) IS NULL OR claimed_by_worker = CAST(sqlc.narg('worker_id') AS TEXT));

-- name: ExecutionOldestClaimedAt :one
-- ExecutionOldestClaimedAt is the earliest claimed_at among the executions
-- ExecutionList filters; no row when none was claimed.
SELECT claimed_at FROM executions
WHERE user_id = @user_id
  AND (CAST(sqlc.narg('cue_id') AS TEXT) IS NULL OR cue_id = CAST(sqlc.narg('cue_id') AS TEXT))
  AND (CAST(sqlc.narg('statuses') AS TEXT) IS NULL OR status IN (SELECT value FROM json_each(CAST(sqlc.narg('statuses') AS TEXT))))
  AND (CAST(sqlc.narg('outcome_state') AS TEXT) IS NULL OR outcome_state = CAST(sqlc.narg('outcome_state') AS TEXT))
  AND (NOT CAST(@no_outcome_state AS BOOLEAN) OR outcome_state IS NULL)
  AND (CAST(sqlc.narg('triggered_by') AS TEXT) IS NULL OR triggered_by = CAST(sqlc.narg('triggered_by') AS TEXT))
  AND (NOT CAST(@scheduled_only AS BOOLEAN) OR triggered_by IS NULL)
  AND (CAST(sqlc.narg('result_type') AS TEXT) IS NULL OR evidence_result_type = CAST(sqlc.narg('result_type') AS TEXT))
  AND (NOT CAST(@has_evidence AS BOOLEAN) OR evidence_external_id IS NOT NULL)
  AND (CAST(sqlc.narg('worker_id') AS TEXT) IS NULL OR claimed_by_worker = CAST(sqlc.narg('worker_id') AS TEXT))
  AND claimed_at IS NOT NULL
ORDER BY claimed_at
LIMIT 1;

-- name: ExecutionInsertFired :execrows
-- ExecutionInsertFired inserts one fired occurrence (pending, due at its
-- scheduled time) unless it already has an execution.
INSERT INTO executions (id, cue_id, user_id, transport, scheduled_for, status, attempts, due_at, destination, created_at, updated_at)
VALUES (@id, @cue_id, @user_id, @transport, @scheduled_for, 'pending', 0, @scheduled_for, @destination, @now, @now)
ON CONFLICT (cue_id, scheduled_for) DO NOTHING;

-- name: ExecutionClaimDeliveries :many
-- ExecutionClaimDeliveries claims up to @max_rows due webhook executions,
-- fairly across destinations: within a destination oldest due_at first, at
-- most its room (@room, a JSON array of [destination, room] pairs, else
-- @per_destination; @skip, a JSON array, lists the destinations whose room
-- is 0); across destinations
-- round-robin (every destination's first before any second). The ranking
-- looks at the @scan_rows oldest due executions of destinations not
-- skipped (the partial index executions_dispatch_idx), so its cost does not
-- grow with the backlog. The surrounding BEGIN IMMEDIATE transaction makes
-- the claim exclusive. Claiming ahead: executions waiting for their first
-- attempt or a retry due by @due_by (>= @now) are claimed too; their
-- last_attempt_at (and a first started_at) is their due time, when the
-- engine sends them. A lease that has not expired by @now is never taken
-- early.
UPDATE executions SET
    status = 'delivering',
    attempts = attempts + 1,
    started_at = coalesce(started_at, max(CAST(@now AS TEXT), due_at)),
    last_attempt_at = max(CAST(@now AS TEXT), due_at),
    lease_expires_at = CAST(@lease_until AS TEXT),
    due_at = CAST(@lease_until AS TEXT),
    updated_at = CAST(@now AS TEXT)
WHERE id IN (
    SELECT ranked.id FROM (
        SELECT c.id, c.due_at, coalesce(r.room, CAST(@per_destination AS INTEGER)) AS room,
               row_number() OVER (PARTITION BY c.destination ORDER BY c.due_at, c.id) AS rn
        FROM (
            SELECT x.id, x.destination, x.due_at
            FROM executions AS x
            WHERE x.transport = 'webhook'
              AND x.status IN ('pending', 'retrying', 'retry_ready', 'delivering')
              AND x.due_at <= CAST(@due_by AS TEXT)
              AND (x.due_at <= CAST(@now AS TEXT) OR x.status <> 'delivering')
              AND x.destination NOT IN (SELECT value FROM json_each(CAST(@skip AS TEXT)))
            ORDER BY x.due_at
            LIMIT CAST(@scan_rows AS INTEGER)
        ) AS c
        LEFT JOIN (SELECT json_extract(value, '$[0]') AS destination, json_extract(value, '$[1]') AS room FROM json_each(CAST(@room AS TEXT))) AS r
            ON r.destination = c.destination
    ) AS ranked
    WHERE ranked.rn <= ranked.room
    ORDER BY ranked.rn, ranked.due_at, ranked.id
    LIMIT CAST(@max_rows AS INTEGER)
)
RETURNING *;

-- name: ExecutionRecordDeliveries :one
-- ExecutionRecordDeliveries stores one attempt result if the execution is
-- still delivering with attempts = @attempt; no row otherwise.
UPDATE executions SET
    status = @status,
    attempts = @attempts,
    http_status = @http_status,
    response_body = @response_body,
    error_message = @error_message,
    last_attempt_at = CAST(@now AS TEXT),
    delivered_at = CASE WHEN @status = 'success' THEN @now ELSE delivered_at END,
    next_retry = @next_retry,
    due_at = @due_at,
    lease_expires_at = NULL,
    outcome_deadline_at = coalesce(@outcome_deadline_at, outcome_deadline_at),
    updated_at = @now
WHERE id = @id AND status = 'delivering' AND attempts = @attempt
RETURNING cue_id, user_id;

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
       AND x1.status = 'pending' AND x1.due_at <= CAST(@now AS TEXT)) AS pending_webhooks,
    (SELECT count(*) FROM executions AS x2
     WHERE x2.transport = 'webhook' AND x2.status IN ('pending', 'retrying', 'retry_ready', 'delivering')
       AND x2.status = 'delivering' AND x2.due_at <= @now) AS stale_deliveries,
    (SELECT count(*) FROM executions AS x3
     WHERE x3.transport = 'webhook' AND x3.status IN ('pending', 'retrying', 'retry_ready', 'delivering')
       AND x3.status IN ('retrying', 'retry_ready')) AS pending_retries,
    (SELECT count(*) FROM executions AS x4
     WHERE x4.transport = 'worker' AND x4.status = 'pending') AS pending_worker_claims;

-- name: ExecutionCountByStatusSince :many
-- ExecutionCountByStatusSince counts a cue's executions created at or after
-- @since per status (cue statistics). On SQLite, in process, this second
-- statement is cheaper than folding the counts into the cue's read as JSON.
SELECT status, count(*) AS n FROM executions
WHERE cue_id = @cue_id AND user_id = @user_id AND created_at >= @since
GROUP BY status;
