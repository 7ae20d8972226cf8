-- Queries on api_keys: the keys command (python -m service keys ...) and the API's key cache.

-- name: create_api_key
-- :one (name, created_at).
-- Register a key by its SHA-256 (the plain text is printed once and never stored), with its scopes.
INSERT INTO api_keys (name, key_sha256, scopes)
VALUES (%(name)s, %(key_sha256)s, %(scopes)s::text[])
RETURNING name, created_at

-- name: revoke_api_key
-- :one (name, revoked_at).
-- Revoke a key by name; returns nothing when no active key has that name.
UPDATE api_keys
SET revoked_at = now()
WHERE name = %(name)s AND revoked_at IS NULL
RETURNING name, revoked_at

-- name: list_api_keys
-- :many (name, scopes, created_at, revoked_at).
-- Every key with its scopes, oldest first, without its hash.
SELECT name, scopes, created_at, revoked_at
FROM api_keys
ORDER BY created_at, name

-- name: api_key_hashes
-- :many (key_sha256, active).
-- Every key's hash and whether it is active: active ones may call write endpoints; any row at all
-- (even revoked) means keys are in use, so revoking the last key does not open the API.
SELECT key_sha256, revoked_at IS NULL AS active
FROM api_keys

-- name: api_key_cache
-- :many (key_sha256, id, name, scopes, active).
-- The API's key cache: every key's hash, id (recorded on the requests it submits), name (the actor of
-- what it does), scopes, and whether it is active (any row at all, even revoked, means keys are required).
SELECT key_sha256, id, name, scopes, revoked_at IS NULL AS active
FROM api_keys

-- name: revoke_other_development_keys
-- :many (name).
-- make run keeps one development key: revoke every other active key named with its prefix.
UPDATE api_keys
SET revoked_at = now()
WHERE starts_with(name, %(prefix)s) AND revoked_at IS NULL AND key_sha256 <> %(keep_sha256)s
RETURNING name
