-- Bootstrap of the migration runner (sql/migrate.py), run before any numbered schema file.
CREATE TABLE IF NOT EXISTS schema_migrations (
    filename   text        PRIMARY KEY,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_migrations IS 'Schema files from sql/schema/ applied to this database, in order, by python -m sql.';
COMMENT ON COLUMN schema_migrations.filename IS 'File name in sql/schema/, e.g. 001_prediction_requests.sql.';
COMMENT ON COLUMN schema_migrations.checksum IS 'SHA-256 of the file when applied; the runner refuses to start if the file changed since.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When the file was applied.';

-- Round 2 closed the numbering gap: 006_api.sql became 005_api_key_notifications.sql, byte for byte.
-- A database that applied the old name is told the new one (same checksum, so nothing reapplies).
UPDATE schema_migrations SET filename = '005_api_key_notifications.sql' WHERE filename = '006_api.sql';
