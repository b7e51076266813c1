-- 0014: creations count themselves (PostgreSQL).
--
-- Migration 0010's trigger appended a +1 to cue_count_deltas for every new
-- cue, which the tenant's next creation deleted again (CueCountSettle). At
-- a few thousand creations a second the deltas table's index filled with
-- dead entries faster than autovacuum removed them, and every settle read
-- them all: a millisecond and more per creation group, while holding the
-- tenant's lock.
--
-- CueCreate holds the tenant's lock while it inserts, so it can add its own
-- admitted cues to users.active_cue_count in the same transaction
-- (CueInsert's count_add) instead. UserLockForCreate marks the transaction
-- (the transaction-local setting cueapi.counted_creates); the trigger then
-- skips the rows it inserts. Every other change of a cue's status still
-- appends a delta without waiting on the users row, as before.
CREATE OR REPLACE FUNCTION cue_count_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ('active', 'paused')
       AND (TG_OP = 'DELETE' OR NEW.status NOT IN ('active', 'paused') OR NEW.user_id <> OLD.user_id) THEN
        INSERT INTO cue_count_deltas (user_id, delta) VALUES (OLD.user_id, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ('active', 'paused')
       AND (TG_OP = 'UPDATE' AND (OLD.status NOT IN ('active', 'paused') OR NEW.user_id <> OLD.user_id)
            OR TG_OP = 'INSERT' AND coalesce(current_setting('cueapi.counted_creates', true), '') <> 'on') THEN
        INSERT INTO cue_count_deltas (user_id, delta) VALUES (NEW.user_id, 1);
    END IF;
    RETURN NULL;
END
$$;
