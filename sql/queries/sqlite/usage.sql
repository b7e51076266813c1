-- name: UsageMonthlyAdd :exec
-- UsageMonthlyAdd adds @n to the user's row of the month.
INSERT INTO usage_monthly (user_id, month_start, execution_count)
VALUES (@user_id, @month_start, @n)
ON CONFLICT (user_id, month_start) DO UPDATE SET
    execution_count = usage_monthly.execution_count + excluded.execution_count;

-- name: UsageMonthlyGet :one
-- UsageMonthlyGet reads one month's count (tests).
SELECT execution_count FROM usage_monthly WHERE user_id = @user_id AND month_start = @month_start;
