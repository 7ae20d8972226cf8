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
-- Round 2's files were renumbered to close the gaps their branches left (007, 010–012), byte for byte.
UPDATE schema_migrations SET filename = '007_subject_ref_and_outcomes.sql' WHERE filename = '008_subject_ref_and_outcomes.sql';
UPDATE schema_migrations SET filename = '008_outcome_matching.sql' WHERE filename = '009_outcome_matching.sql';
UPDATE schema_migrations SET filename = '009_explanations.sql' WHERE filename = '013_explanations.sql';
