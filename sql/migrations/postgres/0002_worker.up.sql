-- 0002: the worker sweep (PostgreSQL).
--
-- Pending worker executions by when they became claimable (due_at: the
-- scheduled time, or the time a claim's lease expired), so the sweep that
-- marks long-unclaimed ones missed scans only them, across tenants.
CREATE INDEX executions_unclaimed_idx ON executions (due_at)
    WHERE transport = 'worker' AND status = 'pending';
