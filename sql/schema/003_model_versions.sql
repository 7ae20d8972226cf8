-- The model registry's trust anchor: every trained artifact, and which version answers for each name.
CREATE TABLE model_versions (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_name           text             NOT NULL,
    version              text             NOT NULL,
    artifact_path        text             NOT NULL,
    sha256               text             NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    sklearn_version      text             NOT NULL,
    threshold            double precision NOT NULL DEFAULT 0.5 CHECK (threshold BETWEEN 0 AND 1),
    metrics              jsonb            NOT NULL DEFAULT '{}',
    feature_schema       jsonb            NOT NULL,
    training_data_sha256 text,
    trained_at           timestamptz,
    created_at           timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (model_name, version)
);

COMMENT ON TABLE model_versions IS
    'Every trained model artifact ever registered. The registry refuses to load a file whose bytes do not hash to sha256 here.';
COMMENT ON COLUMN model_versions.id IS 'Internal key.';
COMMENT ON COLUMN model_versions.model_name IS 'Model family: dummy, logistic, random_forest, random_forest_e04.';
COMMENT ON COLUMN model_versions.version IS 'Version label of this artifact, unique within model_name.';
COMMENT ON COLUMN model_versions.artifact_path IS 'joblib file, relative to the model store directory (MODEL_STORE_DIR).';
COMMENT ON COLUMN model_versions.sha256 IS 'SHA-256 of the artifact file bytes; the only hash the registry trusts.';
COMMENT ON COLUMN model_versions.sklearn_version IS 'scikit-learn version that trained the artifact; a different running version logs a warning.';
COMMENT ON COLUMN model_versions.threshold IS 'Decision threshold on the attrition probability: prediction = 1 when probability >= threshold.';
COMMENT ON COLUMN model_versions.metrics IS 'Held-out test metrics (roc_auc, pr_auc, f1, precision, recall) and cross-validation mean and std.';
COMMENT ON COLUMN model_versions.feature_schema IS 'Features the model expects: name, type, range or categories, description.';
COMMENT ON COLUMN model_versions.training_data_sha256 IS 'Fingerprint of the training data the artifact was fitted on.';
COMMENT ON COLUMN model_versions.trained_at IS 'When training finished.';
COMMENT ON COLUMN model_versions.created_at IS 'When the artifact was registered here.';

CREATE TABLE model_deployments (
    model_name text        PRIMARY KEY,
    version    text        NOT NULL,
    is_default boolean     NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version)
);

COMMENT ON TABLE model_deployments IS
    'Which registered version answers for each model name, and which model is the default. Changing a row is a promotion.';
COMMENT ON COLUMN model_deployments.model_name IS 'Model name clients ask for.';
COMMENT ON COLUMN model_deployments.version IS 'model_versions.version that answers for model_name.';
COMMENT ON COLUMN model_deployments.is_default IS 'True for the one model used when a request names none.';
COMMENT ON COLUMN model_deployments.updated_at IS 'When this deployment last changed.';

CREATE UNIQUE INDEX model_deployments_one_default_idx ON model_deployments ((true)) WHERE is_default;
COMMENT ON INDEX model_deployments_one_default_idx IS 'At most one default model.';

-- Running listeners and API processes reload deployments when told, without restart.
CREATE FUNCTION notify_model_promoted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('model_promoted', '');
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION notify_model_promoted() IS 'Sends NOTIFY model_promoted after any change of model_deployments.';

CREATE TRIGGER model_promoted
    AFTER INSERT OR UPDATE OR DELETE ON model_deployments
    FOR EACH STATEMENT EXECUTE FUNCTION notify_model_promoted();
COMMENT ON TRIGGER model_promoted ON model_deployments IS 'Tells running processes to reload which versions answer.';
