-- Queries on api_keys: the keys command (python -m service keys ...) and the API's key cache.

-- name: create_api_key
-- Register a key by its SHA-256 (the plain text is printed once and never stored).
INSERT INTO api_keys (name, key_sha256)
VALUES (%(name)s, %(key_sha256)s)
RETURNING name, created_at

-- name: revoke_api_key
-- Revoke a key by name; returns nothing when no active key has that name.
UPDATE api_keys
SET revoked_at = now()
WHERE name = %(name)s AND revoked_at IS NULL
RETURNING name, revoked_at

-- name: list_api_keys
-- Every key, oldest first, without its hash.
SELECT name, created_at, revoked_at
FROM api_keys
ORDER BY created_at, name

-- name: api_key_hashes
-- Every key's hash and whether it is active: active ones may call write endpoints; any row at all
-- (even revoked) means keys are in use, so revoking the last key does not open the API.
SELECT key_sha256, revoked_at IS NULL AS active
FROM api_keys

-- name: revoke_other_development_keys
-- make run keeps one development key: revoke every other active key named with its prefix.
UPDATE api_keys
SET revoked_at = now()
WHERE starts_with(name, %(prefix)s) AND revoked_at IS NULL AND key_sha256 <> %(keep_sha256)s
RETURNING name
