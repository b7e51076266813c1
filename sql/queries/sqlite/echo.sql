-- name: EchoPut :exec
INSERT INTO echo_entries (token, body, headers, received_at, expires_at)
VALUES (@token, @body, @headers, @received_at, @expires_at)
ON CONFLICT (token) DO UPDATE SET
    body = excluded.body,
    headers = excluded.headers,
    received_at = excluded.received_at,
    expires_at = excluded.expires_at;

-- name: EchoGet :one
SELECT * FROM echo_entries WHERE token = @token AND expires_at > @now;

-- name: EchoPurge :execrows
DELETE FROM echo_entries WHERE expires_at <= @before;
