-- name: DeviceCodeDeleteReplaceable :exec
-- DeviceCodeDeleteReplaceable deletes the row of a code that may be
-- replaced: expired (by status or at @now) or claimed. A live row stays,
-- so the following insert fails on device_codes_device_code_key.
DELETE FROM device_codes
WHERE device_code = @device_code
  AND (status IN ('expired', 'claimed') OR expires_at <= @now);

-- name: DeviceCodeInsert :exec
INSERT INTO device_codes (
    id, device_code, email, status, api_key_sealed, verification_token_hash,
    session_token_hash, user_id, expires_at, created_at
) VALUES (
    @id, @device_code, @email, @status, @api_key_sealed, @verification_token_hash,
    @session_token_hash, @user_id, @expires_at, @created_at
);

-- name: DeviceCodeGet :one
SELECT * FROM device_codes WHERE device_code = @device_code;

-- name: DeviceCodeGetForUpdate :one
SELECT * FROM device_codes WHERE device_code = @device_code FOR NO KEY UPDATE;

-- name: DeviceCodeGetBySessionTokenHash :one
SELECT * FROM device_codes WHERE session_token_hash = @session_token_hash LIMIT 1;

-- name: DeviceCodeUpdate :one
UPDATE device_codes SET
    email = @email,
    status = @status,
    api_key_sealed = @api_key_sealed,
    verification_token_hash = @verification_token_hash,
    session_token_hash = @session_token_hash,
    user_id = @user_id
WHERE id = @id
RETURNING *;

-- name: DeviceCodePurge :execrows
DELETE FROM device_codes WHERE expires_at < @before;
