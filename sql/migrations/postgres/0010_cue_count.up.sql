-- 0010: creation cost independent of table size (PostgreSQL).
--
-- CueCreate admits a cue against the tenant's active cue limit (active and
-- paused cues). Counting them is O(tenant's cues) even with
-- cues_user_status_idx; instead the count is maintained:
--
--   count = users.active_cue_count + sum(cue_count_deltas.delta of the user)
--
-- A trigger on cues appends ±1 to cue_count_deltas whenever a row enters or
-- leaves {active, paused}. Appending never waits on a lock, so the
-- scheduler, dispatcher and sweeps that change statuses of many tenants'
-- cues in one transaction cannot deadlock on the users rows. CueCreate,
-- holding the tenant's lock, folds the tenant's committed deltas into
-- users.active_cue_count (CueCountSettle); the deltas table therefore holds
-- only the changes since the tenant's last creation.
ALTER TABLE users ADD COLUMN active_cue_count integer NOT NULL DEFAULT 0;

CREATE TABLE cue_count_deltas (
    -- No foreign key: a user's deletion cascades to its cues, whose
    -- deletion appends deltas for the user being deleted.
    user_id uuid    NOT NULL,
    delta   integer NOT NULL
);

CREATE INDEX cue_count_deltas_user_id_idx ON cue_count_deltas (user_id);

UPDATE users u SET active_cue_count = (
    SELECT count(*) FROM cues c WHERE c.user_id = u.id AND c.status IN ('active', 'paused'));

CREATE FUNCTION cue_count_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ('active', 'paused')
       AND (TG_OP = 'DELETE' OR NEW.status NOT IN ('active', 'paused') OR NEW.user_id <> OLD.user_id) THEN
        INSERT INTO cue_count_deltas (user_id, delta) VALUES (OLD.user_id, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ('active', 'paused')
       AND (TG_OP = 'INSERT' OR OLD.status NOT IN ('active', 'paused') OR NEW.user_id <> OLD.user_id) THEN
        INSERT INTO cue_count_deltas (user_id, delta) VALUES (NEW.user_id, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cues_count_track AFTER INSERT OR DELETE OR UPDATE OF status, user_id ON cues
    FOR EACH ROW EXECUTE FUNCTION cue_count_track();
