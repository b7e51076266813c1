-- 0011: fair delivery (PostgreSQL).
--
-- Every webhook execution records its destination (the lower-cased
-- host[:port] of its cue's callback URL when it was created): the claim
-- shares the dispatcher's slots fairly across destinations (at most N per
-- destination, round-robin) and the circuit breaker parks one destination
-- at a time. The partial index serves the claim's per-destination ranking.
ALTER TABLE executions ADD COLUMN destination text NOT NULL DEFAULT '';

-- Executions still to be delivered take their cue's current destination.
UPDATE executions AS e
SET destination = lower(coalesce(substring(c.callback_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/?#]*)'), ''))
FROM cues AS c
WHERE c.id = e.cue_id
  AND e.transport = 'webhook'
  AND e.status IN ('pending', 'retrying', 'retry_ready', 'delivering')
  AND c.callback_url IS NOT NULL;

CREATE INDEX executions_dispatch_dest_idx ON executions (destination, due_at, id)
    WHERE transport = 'webhook' AND status IN ('pending', 'retrying', 'retry_ready', 'delivering');
