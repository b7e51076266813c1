-- 0014: the cue count lives on the users row (SQLite).
--
-- Migration 0010 gave SQLite PostgreSQL's scheme: triggers on cues append
-- ±1 to cue_count_deltas and CueCreate folds the tenant's deltas into
-- users.active_cue_count. PostgreSQL needs the deltas so that status
-- changes do not wait on the tenant's row lock (see its 0010 and 0014);
-- SQLite has one writer at a time and no row locks, so here the triggers
-- update users.active_cue_count themselves. A creation no longer appends a
-- delta that the next creation deletes, and CueCreate reads the count
-- instead of settling it. cue_count_deltas stays (empty), as both dialects
-- keep the same tables.
DROP TRIGGER cues_count_insert;
DROP TRIGGER cues_count_delete;
DROP TRIGGER cues_count_update;

UPDATE users SET active_cue_count = active_cue_count + (
    SELECT coalesce(sum(d.delta), 0) FROM cue_count_deltas d WHERE d.user_id = users.id)
WHERE id IN (SELECT user_id FROM cue_count_deltas);
DELETE FROM cue_count_deltas;

CREATE TRIGGER cues_count_insert AFTER INSERT ON cues
WHEN NEW.status IN ('active', 'paused')
BEGIN
    UPDATE users SET active_cue_count = active_cue_count + 1 WHERE id = NEW.user_id;
END;

CREATE TRIGGER cues_count_delete AFTER DELETE ON cues
WHEN OLD.status IN ('active', 'paused')
BEGIN
    UPDATE users SET active_cue_count = active_cue_count - 1 WHERE id = OLD.user_id;
END;

CREATE TRIGGER cues_count_update AFTER UPDATE OF status, user_id ON cues
WHEN (OLD.status IN ('active', 'paused')) <> (NEW.status IN ('active', 'paused')) OR NEW.user_id <> OLD.user_id
BEGIN
    UPDATE users SET active_cue_count = active_cue_count - 1
    WHERE id = OLD.user_id AND OLD.status IN ('active', 'paused');
    UPDATE users SET active_cue_count = active_cue_count + 1
    WHERE id = NEW.user_id AND NEW.status IN ('active', 'paused');
END;
