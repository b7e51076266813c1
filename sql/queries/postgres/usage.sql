-- name: UsageMonthlyAdd :exec
-- UsageMonthlyAdd adds counts to the users' rows of the month, in user id
-- order (so concurrent batches never wait for each other in a cycle).
INSERT INTO usage_monthly (user_id, month_start, execution_count)
SELECT v.user_id, @month_start, v.n
FROM (SELECT unnest(@user_ids::uuid[]) AS user_id, unnest(@counts::integer[]) AS n) AS v
ORDER BY v.user_id
ON CONFLICT (user_id, month_start) DO UPDATE SET
    execution_count = usage_monthly.execution_count + excluded.execution_count;

-- name: UsageMonthlyGet :one
-- UsageMonthlyGet reads one month's count (tests).
SELECT execution_count FROM usage_monthly WHERE user_id = @user_id AND month_start = @month_start;
