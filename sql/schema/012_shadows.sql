-- Shadow challengers (issue 14): model versions scored on the default model's traffic beside it, their
-- answers stored apart and never returned to clients; and the audit of every change of default.

CREATE TABLE model_shadows (
    model_name text        PRIMARY KEY,
    version    text        NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version)
);

COMMENT ON TABLE model_shadows IS
    'Model versions running in the shadow of the default model: the listener scores every request answered by the default with each of them too, after the answer is written (python -m model_store shadow / unshadow).';
COMMENT ON COLUMN model_shadows.model_name IS 'Model name of the challenger (one shadow version per name).';
COMMENT ON COLUMN model_shadows.version IS 'model_versions.version of the challenger that is scored.';
COMMENT ON COLUMN model_shadows.started_at IS 'When this version started to run in the shadow.';

CREATE TABLE shadow_predictions (
    request_id    bigint           NOT NULL REFERENCES prediction_requests (id) ON DELETE CASCADE,
    model_name    text             NOT NULL,
    model_version text             NOT NULL,
    model_sha256  text,
    prediction    smallint         CHECK (prediction IN (0, 1)),
    probability   double precision CHECK (probability BETWEEN 0 AND 1),
    error         text,
    created_at    timestamptz      NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (request_id, model_name),
    CHECK ((error IS NULL) = (prediction IS NOT NULL AND probability IS NOT NULL AND model_sha256 IS NOT NULL))
);

COMMENT ON TABLE shadow_predictions IS
    'What a shadow challenger answered for a request the default model answered: one row per request and challenger, never shown to the client. A challenger that could not answer leaves a row with its error instead.';
COMMENT ON COLUMN shadow_predictions.request_id IS 'prediction_requests.id scored in the shadow (its answer is in prediction_results).';
COMMENT ON COLUMN shadow_predictions.model_name IS 'Model name of the challenger.';
COMMENT ON COLUMN shadow_predictions.model_version IS 'model_versions.version of the challenger that scored it.';
COMMENT ON COLUMN shadow_predictions.model_sha256 IS 'SHA-256 of the challenger artifact that answered; null when it failed.';
COMMENT ON COLUMN shadow_predictions.prediction IS 'The challenger''s decision at its own threshold (1 = leaves); null when it failed.';
COMMENT ON COLUMN shadow_predictions.probability IS 'The challenger''s probability of attrition; null when it failed.';
COMMENT ON COLUMN shadow_predictions.error IS 'Why the challenger could not answer (artifact refused, inference error); null when it answered.';
COMMENT ON COLUMN shadow_predictions.created_at IS 'When the shadow answer was written (after the client''s answer).';

CREATE INDEX shadow_predictions_model_idx ON shadow_predictions (model_name, request_id);
COMMENT ON INDEX shadow_predictions_model_idx IS 'The pairs of one challenger (GET /models/compare).';

-- Running listeners reload their shadows on the same notification as a promotion.
CREATE TRIGGER model_shadows_changed
    AFTER INSERT OR UPDATE OR DELETE ON model_shadows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_model_promoted();
COMMENT ON TRIGGER model_shadows_changed ON model_shadows IS 'Tells running listeners to reload their shadows.';

-- A shadow started, switched to another version, or stopped: audited whatever path did it.
CREATE FUNCTION audit_model_shadows() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM audit('model.shadow_stopped', OLD.model_name, jsonb_build_object('version', OLD.version));
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM audit('model.shadow_started', NEW.model_name,
                      jsonb_build_object('from_version', NULL, 'to_version', NEW.version));
    ELSIF OLD.version IS DISTINCT FROM NEW.version THEN
        PERFORM audit('model.shadow_started', NEW.model_name,
                      jsonb_build_object('from_version', OLD.version, 'to_version', NEW.version));
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION audit_model_shadows() IS 'Writes model.shadow_started / model.shadow_stopped to audit_events.';

CREATE TRIGGER model_shadows_audited AFTER INSERT OR UPDATE OF version OR DELETE ON model_shadows
    FOR EACH ROW EXECUTE FUNCTION audit_model_shadows();
COMMENT ON TRIGGER model_shadows_audited ON model_shadows IS 'Every shadow change is an audit event.';

-- Deployments, again: a change of the default model is a promotion too, even when no version changes
-- (making the already deployed `logistic` the default). The row that loses the default remembers itself for
-- the transaction, so the event of the row that takes it says from which model and version it came.
CREATE OR REPLACE FUNCTION audit_model_deployments() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    stated_action text := nullif(current_setting('futurisys.audit_details', true), '')::jsonb ->> 'action';
    became_default boolean := NEW.is_default AND (TG_OP = 'INSERT' OR NOT OLD.is_default);
    previous jsonb;
    facts jsonb;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.is_default AND NOT NEW.is_default THEN
        PERFORM set_config('futurisys.previous_default',
                           jsonb_build_object('model', OLD.model_name, 'version', OLD.version)::text, true);
    END IF;
    previous := nullif(current_setting('futurisys.previous_default', true), '')::jsonb;
    -- Same version, and no default left another model in this transaction: the first default is set on a
    -- fresh registration (set_default_if_none), not promoted over anything.
    IF TG_OP = 'UPDATE' AND OLD.version IS NOT DISTINCT FROM NEW.version
       AND NOT (became_default AND previous IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    facts := jsonb_build_object(
        'from_version', CASE WHEN TG_OP = 'UPDATE' THEN OLD.version END,
        'to_version', NEW.version
    );
    IF became_default THEN
        facts := facts || jsonb_build_object('from_default', previous);
        PERFORM set_config('futurisys.previous_default', '', true);
    END IF;
    PERFORM audit(
        coalesce(stated_action, CASE TG_OP WHEN 'INSERT' THEN 'model.deployed' ELSE 'model.promoted' END),
        NEW.model_name,
        facts
    );
    RETURN NULL;
END;
$$;

DROP TRIGGER model_deployments_audited ON model_deployments;
CREATE TRIGGER model_deployments_audited AFTER INSERT OR UPDATE OF version, is_default ON model_deployments
    FOR EACH ROW EXECUTE FUNCTION audit_model_deployments();
COMMENT ON TRIGGER model_deployments_audited ON model_deployments IS
    'Every new deployment, version change and change of default is an audit event (from and to).';
