-- 0005: execution filters and claims of today's clients (PostgreSQL).
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
-- accounts: lower-cased, every run of characters outside [a-z0-9] one "-",
-- trimmed, "user" if empty, cut to 60. Duplicates keep the base of the
-- oldest account; the others get the base cut to 55 plus "-" and the
-- first 4 characters of their id.
ALTER TABLE users ADD COLUMN slug text;
UPDATE users SET slug = rtrim(left(coalesce(nullif(trim(BOTH '-' FROM regexp_replace(
    lower(split_part(email, '@', 1)) COLLATE "C", '[^a-z0-9]+', '-', 'g')), ''), 'user'), 60), '-');
UPDATE users AS u SET slug = rtrim(left(u.slug, 55), '-') || '-' || left(u.id::text, 4)
FROM (SELECT id, row_number() OVER (PARTITION BY slug ORDER BY created_at, id) AS n FROM users) AS d
WHERE d.id = u.id AND d.n > 1;
ALTER TABLE users ALTER COLUMN slug SET NOT NULL;
ALTER TABLE users ADD CONSTRAINT unique_user_slug UNIQUE (slug);
