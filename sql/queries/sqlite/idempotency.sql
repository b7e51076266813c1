-- name: IdempotencyDeleteExpired :exec
-- IdempotencyDeleteExpired frees the key when its window ended
-- (created_at < @expired_before).
DELETE FROM idempotency_keys
WHERE user_id = @user_id AND scope = @scope AND key = @key AND created_at < @expired_before;

-- name: IdempotencyInsert :execrows
-- IdempotencyInsert records a key for its request; 0 rows when it is held.
INSERT INTO idempotency_keys (user_id, scope, key, fingerprint, cue_id, execution_id, created_at)
VALUES (@user_id, @scope, @key, @fingerprint, @cue_id, @execution_id, @created_at)
ON CONFLICT (user_id, scope, key) DO NOTHING;

-- name: IdempotencyGet :one
SELECT * FROM idempotency_keys WHERE user_id = @user_id AND scope = @scope AND key = @key;
