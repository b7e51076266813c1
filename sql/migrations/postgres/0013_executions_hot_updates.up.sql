-- 0013: outcomes and other late writes of an execution update it in place
-- (PostgreSQL heap-only tuples).
--
-- An execution is written several times after its insert (claim, result,
-- outcome, evidence). An update that changes no indexed column, and no
-- column of a partial index's predicate, can stay on its page as a
-- heap-only tuple, without a new entry in each of the table's dozen
-- indexes, when the page has room. Two things prevented it:
--
-- * executions_outcome_deadline_idx's predicate read outcome_recorded_at,
--   which every outcome sets. An outcome clears outcome_deadline_at in the
--   same write (core.Outcomes.Report), so "outcome_deadline_at IS NOT NULL"
--   alone selects the same rows; ExecutionExpireOutcomeDeadlines still
--   checks outcome_recorded_at on the rows it reads.
-- * Pages were packed. Leave 15 % of each new page free (existing pages
--   keep their layout until rewritten).
DROP INDEX executions_outcome_deadline_idx;
CREATE INDEX executions_outcome_deadline_idx ON executions (outcome_deadline_at)
    WHERE outcome_deadline_at IS NOT NULL;

ALTER TABLE executions SET (fillfactor = 85);
