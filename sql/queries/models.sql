-- name: insert_model_version
-- :one (id).
-- Register one trained artifact; a (model_name, version) already registered is left as it is
-- (rows are the trust anchor: never rewritten). Returns nothing when the row existed.
INSERT INTO model_versions (
    model_name, version, artifact_path, sha256, sklearn_version, threshold,
    metrics, feature_schema, training_data_sha256, trained_at,
    training_source, training_rows, training_positives, reference
) VALUES (
    %(model_name)s, %(version)s, %(artifact_path)s, %(sha256)s, %(sklearn_version)s, %(threshold)s,
    %(metrics)s, %(feature_schema)s, %(training_data_sha256)s, %(trained_at)s,
    %(training_source)s, %(training_rows)s, %(training_positives)s, %(reference)s
)
ON CONFLICT (model_name, version) DO NOTHING
RETURNING id;

-- name: fill_model_version_training
-- :one (version).
-- Give a version registered before schema 018 what it was fitted on, once: only the same artifact
-- (sha256), only rows without a reference yet, and only when the recorded training data fingerprint
-- is the one the reference was computed from. Returns the version when it was filled.
UPDATE model_versions
SET training_source = %(training_source)s, training_rows = %(training_rows)s,
    training_positives = %(training_positives)s, reference = %(reference)s
WHERE model_name = %(model_name)s AND version = %(version)s AND sha256 = %(sha256)s
  AND reference IS NULL AND training_data_sha256 = %(training_data_sha256)s
RETURNING version;

-- name: model_version_sha256
-- :one (sha256).
-- The registered sha256 of one (model_name, version), to check a re-registration is the same artifact.
SELECT sha256 FROM model_versions WHERE model_name = %(model_name)s AND version = %(version)s;

-- name: newest_model_version
-- :one (version).
-- The most recently registered version of a model name (none when the name was never registered).
SELECT version FROM model_versions
WHERE model_name = %(model_name)s
ORDER BY created_at DESC, id DESC
LIMIT 1;

-- name: deployed_version
-- :one (version).
-- The version that currently answers for a model name (none when the name is not deployed).
SELECT version FROM model_deployments WHERE model_name = %(model_name)s;

-- name: deploy_version
-- :none.
-- Make `version` the one that answers for `model_name`, keeping its default flag. Fires NOTIFY model_promoted.
INSERT INTO model_deployments (model_name, version)
VALUES (%(model_name)s, %(version)s)
ON CONFLICT (model_name) DO UPDATE
    SET version = EXCLUDED.version, updated_at = now()
    WHERE model_deployments.version IS DISTINCT FROM EXCLUDED.version;

-- name: set_default_if_none
-- :none.
-- Make `model_name` the default model when no model is the default yet.
UPDATE model_deployments SET is_default = true, updated_at = now()
WHERE model_name = %(model_name)s
  AND NOT EXISTS (SELECT 1 FROM model_deployments WHERE is_default);

-- name: clear_other_defaults
-- :none.
-- First half of a promotion: no other model stays the default (the unique index allows one).
UPDATE model_deployments SET is_default = false, updated_at = now()
WHERE is_default AND model_name <> %(model_name)s;

-- name: promote_model
-- :none.
-- Second half of a promotion: `model_name` answers with `version` and becomes the default.
-- Fires NOTIFY model_promoted (delivered once, at commit).
INSERT INTO model_deployments (model_name, version, is_default)
VALUES (%(model_name)s, %(version)s, true)
ON CONFLICT (model_name) DO UPDATE
    SET version = EXCLUDED.version, is_default = true, updated_at = now();

-- name: list_deployed_models
-- :many (model_name, version, is_default, sha256, artifact_path, sklearn_version, threshold, metrics,
--   feature_schema, trained_at, training_data_sha256, training_source, training_rows,
--   training_positives).
-- Every deployed model with the registered facts of the version that answers for it, by name.
SELECT d.model_name, d.version, d.is_default, v.sha256, v.artifact_path, v.sklearn_version,
       v.threshold, v.metrics, v.feature_schema, v.trained_at,
       v.training_data_sha256, v.training_source, v.training_rows, v.training_positives
FROM model_deployments d
JOIN model_versions v USING (model_name, version)
ORDER BY d.model_name;

-- name: list_model_versions
-- :many (model_name, version, sha256, sklearn_version, threshold, created_at, deployed, is_default,
--   training_data_sha256, training_rows, has_reference).
-- Every registered artifact, newest first, with whether it is the deployed one for its name, and what
-- it was fitted on (training data fingerprint, row count, whether a drift reference is stored).
SELECT v.model_name, v.version, v.sha256, v.sklearn_version, v.threshold, v.created_at,
       (d.version IS NOT NULL) AS deployed, coalesce(d.is_default, false) AS is_default,
       v.training_data_sha256, v.training_rows, (v.reference IS NOT NULL) AS has_reference
FROM model_versions v
LEFT JOIN model_deployments d ON d.model_name = v.model_name AND d.version = v.version
ORDER BY v.model_name, v.created_at DESC, v.id DESC;
