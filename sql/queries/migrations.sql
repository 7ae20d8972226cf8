-- name: take_migration_lock
-- :none.
-- Serialise migration runners: the second waits until the first commits, then sees its work.
SELECT pg_advisory_xact_lock(hashtext('futurisys.schema_migrations'))

-- name: applied_migrations
-- :many (filename, checksum).
-- Files already applied, with their checksums.
SELECT filename, checksum FROM schema_migrations ORDER BY filename

-- name: record_migration
-- :none.
-- Remember that a schema file was applied.
INSERT INTO schema_migrations (filename, checksum) VALUES (%(filename)s, %(checksum)s)

-- name: migrations_table_exists
-- :one (present).
-- Whether the runner ever ran on this database.
SELECT to_regclass('schema_migrations') IS NOT NULL AS present
