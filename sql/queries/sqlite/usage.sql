-- name: UsageMonthlyAdd :exec
-- UsageMonthlyAdd adds @n to the user's row of the month.
INSERT INTO usage_monthly (user_id, month_start, execution_count)
VALUES (@user_id, @month_start, @n)
ON CONFLICT (user_id, month_start) DO UPDATE SET
    execution_count = usage_monthly.execution_count + excluded.execution_count;

-- name: UsageMonthlyGet :one
-- UsageMonthlyGet reads one month's count (tests).
SELECT execution_count FROM usage_monthly WHERE user_id = @user_id AND month_start = @month_start;

-- name: UsageGet :one
SELECT execution_count, grace_started_at FROM usage_monthly
WHERE user_id = @user_id AND month_start = @month_start;

-- name: UsageStartGrace :one
-- UsageStartGrace sets the month's grace_started_at unless already set and
-- returns the stored value.
INSERT INTO usage_monthly (user_id, month_start, execution_count, grace_started_at)
VALUES (@user_id, @month_start, 0, @now)
ON CONFLICT (user_id, month_start) DO UPDATE SET
    grace_started_at = coalesce(usage_monthly.grace_started_at, excluded.grace_started_at)
RETURNING grace_started_at;

-- name: OutcomeCounts :one
-- OutcomeCounts counts the tenant's executions created in
-- [@created_from, @created_to) (the index executions_user_created_idx):
-- with an outcome, of those successful, and failed (a failure outcome, or
-- none and failed/missed).
SELECT
    count(CASE WHEN outcome_recorded_at IS NOT NULL THEN 1 END) AS reported,
    count(CASE WHEN outcome_recorded_at IS NOT NULL AND outcome_success = 1 THEN 1 END) AS succeeded,
    count(CASE WHEN (outcome_recorded_at IS NOT NULL AND outcome_success = 0)
                 OR (outcome_recorded_at IS NULL AND status IN ('failed', 'missed')) THEN 1 END) AS failed
FROM executions
WHERE user_id = @user_id AND created_at >= @created_from AND created_at < @created_to;
