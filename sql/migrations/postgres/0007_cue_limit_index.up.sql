-- 0007: creation cost independent of table size (PostgreSQL).
--
-- CueCreate counts the tenant's active and paused cues (the active cue
-- limit) while holding the tenant's lock. Without an index on
-- (user_id, status) a generic plan, which cannot see the tenant, scans the
-- whole table; with it the count reads only the tenant's own entries. The
-- name check already uses cues_user_id_name_key.
CREATE INDEX cues_user_status_idx ON cues (user_id, status);
