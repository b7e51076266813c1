-- 0013: the outcome-deadline index's predicate as on PostgreSQL (where it
-- lets an outcome update its execution in place): an outcome clears
-- outcome_deadline_at in the same write, so "outcome_deadline_at IS NOT
-- NULL" alone selects the same rows.
DROP INDEX executions_outcome_deadline_idx;
CREATE INDEX executions_outcome_deadline_idx ON executions (outcome_deadline_at)
    WHERE outcome_deadline_at IS NOT NULL;
