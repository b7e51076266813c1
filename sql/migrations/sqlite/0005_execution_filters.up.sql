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
-- derived from the e-mail local part (core.SlugBase): lower-cased, every
-- run of characters outside [a-z0-9] one "-" (the ASCII characters an
-- address may hold are replaced, then runs collapsed; the local part is at
-- most 64 characters, so six passes suffice), trimmed, "user" if empty.
-- A local part with non-ASCII characters falls back to "user". Duplicates
-- are suffixed with the first 4 characters of their id.
ALTER TABLE users ADD COLUMN slug TEXT NOT NULL DEFAULT '';
UPDATE users SET slug = trim(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(lower(substr(email, 1, instr(email, '@') - 1)), '!', '-'), '#', '-'), '$', '-'), '%', '-'), '&', '-'), '''', '-'), '*', '-'), '+', '-'), '.', '-'), '/', '-'), '=', '-'), '?', '-'), '^', '-'), '_', '-'), '`', '-'), '{', '-'), '|', '-'), '}', '-'), '~', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '-');
UPDATE users SET slug = 'user' WHERE slug = '' OR slug GLOB '*[^a-z0-9-]*';
UPDATE users SET slug = substr(slug, 1, 55);
UPDATE users SET slug = slug || '-' || substr(id, 1, 4)
WHERE EXISTS (
    SELECT 1 FROM users AS o
    WHERE o.slug = users.slug AND (o.created_at < users.created_at OR (o.created_at = users.created_at AND o.id < users.id))
);
CREATE UNIQUE INDEX unique_user_slug ON users (slug);
