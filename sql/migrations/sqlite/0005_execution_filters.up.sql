-- 0005: execution filters and claims of today's clients (SQLite).
--
-- Worker executions are claimable from pending and retry_ready
-- (clients.md C7): the claimable index covers both.
DROP INDEX executions_claimable_idx;
CREATE INDEX executions_claimable_idx ON executions (user_id, scheduled_for)
    WHERE transport = 'worker' AND status IN ('pending', 'retry_ready');
-- The worker_id filter of GET /v1/executions.
CREATE INDEX executions_user_worker_idx ON executions (user_id, claimed_by_worker)
    WHERE claimed_by_worker IS NOT NULL;
