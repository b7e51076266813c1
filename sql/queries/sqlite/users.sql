-- name: UserInsert :one
INSERT INTO users (
    id, email, api_key_hash, api_key_prefix, api_key_sealed, plan,
    active_cue_limit, monthly_execution_limit, rate_limit_per_minute,
    webhook_secret_sealed, alert_webhook_url, alert_secret_sealed,
    created_at, updated_at, slug, active_cue_count
) VALUES (
    @id, @email, @api_key_hash, @api_key_prefix, @api_key_sealed, @plan,
    @active_cue_limit, @monthly_execution_limit, @rate_limit_per_minute,
    @webhook_secret_sealed, @alert_webhook_url, @alert_secret_sealed,
    @created_at, @updated_at, @slug, @active_cue_count
)
RETURNING *;

-- name: UserGet :one
SELECT * FROM users WHERE id = @id;

-- name: UserGetForUpdate :one
-- UserGetForUpdate reads the row for a read-modify-write. SQLite has no row
-- locks: the surrounding BEGIN IMMEDIATE transaction holds the database's
-- write lock, which serializes it with every other writer.
SELECT * FROM users WHERE id = @id;

-- name: UserGetByAPIKeyHash :one
SELECT * FROM users WHERE api_key_hash = @api_key_hash;

-- name: UserGetByEmail :one
SELECT * FROM users WHERE email = @email;

-- name: UserUpdate :one
UPDATE users SET
    email = @email,
    plan = @plan,
    active_cue_limit = @active_cue_limit,
    monthly_execution_limit = @monthly_execution_limit,
    rate_limit_per_minute = @rate_limit_per_minute,
    webhook_secret_sealed = @webhook_secret_sealed,
    alert_webhook_url = @alert_webhook_url,
    alert_secret_sealed = @alert_secret_sealed,
    updated_at = @updated_at
WHERE id = @id
RETURNING *;

-- name: UserSetAPIKey :one
UPDATE users SET
    api_key_hash = @api_key_hash,
    api_key_prefix = @api_key_prefix,
    api_key_sealed = @api_key_sealed,
    updated_at = @updated_at
WHERE id = @id
RETURNING *;

-- name: RotatedKeyInsert :exec
INSERT INTO rotated_keys (key_hash, user_id, rotated_at) VALUES (@key_hash, @user_id, @rotated_at);

-- name: RotatedKeyGet :one
SELECT rotated_at FROM rotated_keys WHERE key_hash = @key_hash;
