-- 0005: execution filters and claims of today's clients (SQLite).
--
-- Worker executions are claimable from pending and retry_ready
-- (clients.md C7): the claimable index covers both.
DROP INDEX executions_claimable_idx;
CREATE INDEX executions_claimable_idx ON executions (user_id, scheduled_for)
    WHERE transport = 'worker' AND status IN ('pending', 'retry_ready');
-- The worker_id filter of GET /v1/executions.
CREATE INDEX executions_user_worker_idx ON executions (user_id, claimed_by_worker)
    WHERE claimed_by_worker IS NOT NULL;

-- users.slug (clients.md G1): the right-hand side of agent@user addresses,
-- derived from the e-mail local part exactly as core.SlugBase does for new
-- accounts: lower-cased, every character outside [a-z0-9] a "-" (walked
-- one character at a time), runs of "-" collapsed (six passes collapse any
-- run of a local part's at most 64 characters), trimmed, "user" if empty,
-- cut to 60. Duplicates keep the base of the oldest account; the others
-- get the base cut to 55 plus "-" and the first 4 characters of their id.
ALTER TABLE users ADD COLUMN slug TEXT NOT NULL DEFAULT '';
WITH RECURSIVE w(id, l, i, out) AS (
    SELECT id, lower(substr(email, 1, instr(email, '@') - 1)), 1, '' FROM users
    UNION ALL
    SELECT id, l, i + 1, out || CASE WHEN substr(l, i, 1) GLOB '[a-z0-9]' THEN substr(l, i, 1) ELSE '-' END
    FROM w WHERE i <= length(l)
)
UPDATE users SET slug = (
    SELECT trim(replace(replace(replace(replace(replace(replace(w.out, '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '-') FROM w WHERE w.id = users.id AND w.i = length(w.l) + 1
);
UPDATE users SET slug = 'user' WHERE slug = '';
UPDATE users SET slug = rtrim(substr(slug, 1, 60), '-');
UPDATE users SET slug = rtrim(substr(slug, 1, 55), '-') || '-' || substr(id, 1, 4)
WHERE EXISTS (
    SELECT 1 FROM users AS o
    WHERE o.slug = users.slug AND (o.created_at < users.created_at OR (o.created_at = users.created_at AND o.id < users.id))
);
CREATE UNIQUE INDEX unique_user_slug ON users (slug);
