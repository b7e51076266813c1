-- 0010: creation cost independent of table size (SQLite).
--
-- Same scheme as PostgreSQL's 0010 (see there): the tenant's active and
-- paused cues number users.active_cue_count plus the sum of its
-- cue_count_deltas, which triggers on cues append; CueCreate folds the
-- deltas into the user row under the write lock.
ALTER TABLE users ADD COLUMN active_cue_count INTEGER NOT NULL DEFAULT 0;

CREATE TABLE cue_count_deltas (
    user_id TEXT    NOT NULL,
    delta   INTEGER NOT NULL
);

CREATE INDEX cue_count_deltas_user_id_idx ON cue_count_deltas (user_id);

UPDATE users SET active_cue_count = (
    SELECT count(*) FROM cues c WHERE c.user_id = users.id AND c.status IN ('active', 'paused'));

CREATE TRIGGER cues_count_insert AFTER INSERT ON cues
WHEN NEW.status IN ('active', 'paused')
BEGIN
    INSERT INTO cue_count_deltas (user_id, delta) VALUES (NEW.user_id, 1);
END;

CREATE TRIGGER cues_count_delete AFTER DELETE ON cues
WHEN OLD.status IN ('active', 'paused')
BEGIN
    INSERT INTO cue_count_deltas (user_id, delta) VALUES (OLD.user_id, -1);
END;

CREATE TRIGGER cues_count_update AFTER UPDATE OF status, user_id ON cues
WHEN (OLD.status IN ('active', 'paused')) <> (NEW.status IN ('active', 'paused')) OR NEW.user_id <> OLD.user_id
BEGIN
    INSERT INTO cue_count_deltas (user_id, delta)
    SELECT OLD.user_id, -1 WHERE OLD.status IN ('active', 'paused');
    INSERT INTO cue_count_deltas (user_id, delta)
    SELECT NEW.user_id, 1 WHERE NEW.status IN ('active', 'paused');
END;
