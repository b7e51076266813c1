-- name: AgentInsert :one
INSERT INTO agents (id, user_id, slug, display_name, webhook_url, webhook_secret_sealed, metadata, status,
                    parent_agent_id, last_seen_at, deleted_at, created_at, updated_at)
VALUES (@id, @user_id, @slug, @display_name, @webhook_url, @webhook_secret_sealed, @metadata, @status,
        @parent_agent_id, @last_seen_at, @deleted_at, @created_at, @updated_at)
RETURNING *;

-- name: AgentGet :one
-- AgentGet reads an agent by id, of one tenant when user_id is set.
SELECT * FROM agents
WHERE id = @id
  AND (sqlc.narg('user_id')::uuid IS NULL OR user_id = sqlc.narg('user_id')::uuid)
  AND (@include_deleted::boolean OR deleted_at IS NULL);

-- name: AgentGetBySlug :one
SELECT a.* FROM agents a JOIN users u ON u.id = a.user_id
WHERE u.slug = @user_slug AND a.slug = @slug
  AND (sqlc.narg('user_id')::uuid IS NULL OR a.user_id = sqlc.narg('user_id')::uuid)
  AND (@include_deleted::boolean OR a.deleted_at IS NULL);

-- name: AgentGetForUpdate :one
SELECT * FROM agents WHERE user_id = @user_id AND id = @id FOR UPDATE;

-- name: AgentList :many
SELECT * FROM agents
WHERE user_id = @user_id
  AND (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (@include_deleted::boolean OR deleted_at IS NULL)
ORDER BY created_at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: AgentCount :one
SELECT count(*) FROM agents
WHERE user_id = @user_id
  AND (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (@include_deleted::boolean OR deleted_at IS NULL);

-- name: AgentTouch :exec
UPDATE agents SET last_seen_at = @now WHERE id = @id;

-- name: AgentUpdate :one
UPDATE agents SET display_name = @display_name, webhook_url = @webhook_url,
    webhook_secret_sealed = @webhook_secret_sealed, metadata = @metadata, status = @status,
    deleted_at = @deleted_at, updated_at = @updated_at
WHERE user_id = @user_id AND id = @id
RETURNING *;
