-- 0011: fair delivery (SQLite).
--
-- Every webhook execution records its destination (the lower-cased
-- host[:port] of its cue's callback URL when it was created): the claim
-- shares the dispatcher's slots fairly across destinations (at most N per
-- destination, round-robin) and the circuit breaker parks one destination
-- at a time. The partial index serves the claim's per-destination ranking.
ALTER TABLE executions ADD COLUMN destination TEXT NOT NULL DEFAULT '';

-- Executions still to be delivered take their cue's current destination:
-- the URL after "scheme://", up to the first "/", "?" or "#", without
-- userinfo.
UPDATE executions
SET destination = (
    SELECT lower(
        CASE WHEN instr(h3, '@') > 0 THEN substr(h3, instr(h3, '@') + 1) ELSE h3 END)
    FROM (
        SELECT CASE WHEN instr(h2, '#') > 0 THEN substr(h2, 1, instr(h2, '#') - 1) ELSE h2 END AS h3
        FROM (
            SELECT CASE WHEN instr(h1, '?') > 0 THEN substr(h1, 1, instr(h1, '?') - 1) ELSE h1 END AS h2
            FROM (
                SELECT CASE WHEN instr(r, '/') > 0 THEN substr(r, 1, instr(r, '/') - 1) ELSE r END AS h1
                FROM (
                    SELECT CASE WHEN instr(c.callback_url, '://') > 0
                                THEN substr(c.callback_url, instr(c.callback_url, '://') + 3) ELSE '' END AS r
                    FROM cues AS c WHERE c.id = executions.cue_id AND c.callback_url IS NOT NULL
                )
            )
        )
    )
)
WHERE transport = 'webhook'
  AND status IN ('pending', 'retrying', 'retry_ready', 'delivering')
  AND EXISTS (SELECT 1 FROM cues AS c WHERE c.id = executions.cue_id AND c.callback_url IS NOT NULL);

CREATE INDEX executions_dispatch_dest_idx ON executions (destination, due_at, id)
    WHERE transport = 'webhook' AND status IN ('pending', 'retrying', 'retry_ready', 'delivering');
