-- Explanations (issue 15): why a model answered what it did, feature by feature. Asked for like a
-- prediction (a row, a NOTIFY, a listener claims it), computed by the listener with the model version
-- that answered the request, and kept here beside the answer.

CREATE TABLE explanation_requests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id   bigint      NOT NULL UNIQUE REFERENCES prediction_requests (id) ON DELETE CASCADE,
    status       text        NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_at   timestamptz,
    completed_at timestamptz,
    claimed_by   text,
    lease_until  timestamptz,
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error        text,
    CHECK (status <> 'running' OR (claimed_by IS NOT NULL AND lease_until IS NOT NULL))
);

COMMENT ON TABLE explanation_requests IS
    'One row per prediction someone asked to have explained (POST /predictions/{request_id}/explanation). A listener claims it once the prediction is answered, then marks it completed (a row in prediction_explanations) or failed (error).';
COMMENT ON COLUMN explanation_requests.id IS 'Internal key.';
COMMENT ON COLUMN explanation_requests.request_id IS 'prediction_requests.id of the prediction to explain; one explanation request per prediction. Erasing the request erases this row.';
COMMENT ON COLUMN explanation_requests.status IS 'pending: waiting (also while the prediction itself is not answered yet); running: claimed under a lease; completed: see prediction_explanations; failed: see error.';
COMMENT ON COLUMN explanation_requests.requested_at IS 'When the explanation was (last) asked for.';
COMMENT ON COLUMN explanation_requests.claimed_at IS 'When a listener last claimed it.';
COMMENT ON COLUMN explanation_requests.completed_at IS 'When it reached completed or failed.';
COMMENT ON COLUMN explanation_requests.claimed_by IS 'Listener id (host:pid:n) holding or last holding it.';
COMMENT ON COLUMN explanation_requests.lease_until IS 'A running row whose lease has passed belongs to a dead listener and is claimable again.';
COMMENT ON COLUMN explanation_requests.attempts IS 'How many times a listener claimed it; past the listener''s maximum it is failed.';
COMMENT ON COLUMN explanation_requests.error IS 'Why no explanation exists (the prediction failed, its model version can no longer be loaded, …); null otherwise.';

-- Claiming reads only pending rows in id order; the lease sweep only running ones.
CREATE INDEX explanation_requests_pending_idx ON explanation_requests (id) WHERE status = 'pending';
CREATE INDEX explanation_requests_running_lease_idx ON explanation_requests (lease_until) WHERE status = 'running';
COMMENT ON INDEX explanation_requests_pending_idx IS 'Claim query: pending explanation requests in arrival order.';
COMMENT ON INDEX explanation_requests_running_lease_idx IS 'Lease sweep: running explanation requests by lease expiry.';

CREATE TABLE prediction_explanations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    bigint           NOT NULL UNIQUE REFERENCES prediction_requests (id) ON DELETE CASCADE,
    model_name    text             NOT NULL,
    model_version text             NOT NULL,
    model_sha256  text             NOT NULL,
    method        text             NOT NULL CHECK (method IN ('linear_log_odds', 'tree_shap', 'constant')),
    scale         text             NOT NULL CHECK (scale IN ('log_odds', 'probability')),
    base_value    double precision NOT NULL,
    output_value  double precision NOT NULL,
    contributions jsonb            NOT NULL CHECK (jsonb_typeof(contributions) = 'array'),
    created_at    timestamptz      NOT NULL DEFAULT clock_timestamp()
);

COMMENT ON TABLE prediction_explanations IS
    'Why the model answered what it did: base_value + the sum of the contributions = output_value, the model''s output on scale. Written once per prediction by a listener, on request or at answer time (LISTENER_EXPLAIN_AT_ANSWER).';
COMMENT ON COLUMN prediction_explanations.id IS 'Internal key.';
COMMENT ON COLUMN prediction_explanations.request_id IS 'prediction_requests.id explained; UNIQUE: one explanation per prediction. Erasing the request erases its explanation (it holds the features).';
COMMENT ON COLUMN prediction_explanations.model_name IS 'Model that answered the request.';
COMMENT ON COLUMN prediction_explanations.model_version IS 'model_versions.version explained: always the one in prediction_results, even after a promotion.';
COMMENT ON COLUMN prediction_explanations.model_sha256 IS 'SHA-256 of the artifact bytes the explanation was computed from (= prediction_results.model_sha256).';
COMMENT ON COLUMN prediction_explanations.method IS 'linear_log_odds: coefficient times (value - training mean), one-hot columns summed per feature; tree_shap: exact path-dependent TreeSHAP of the forest''s probability, one-hot columns summed; constant: a model that ignores its input (all contributions 0).';
COMMENT ON COLUMN prediction_explanations.scale IS 'What base_value and the contributions add up to: log_odds (logit of the probability) or probability.';
COMMENT ON COLUMN prediction_explanations.base_value IS 'The model''s output for the baseline: at the training mean (linear), the forest''s expected output over its training cover (trees), the constant itself.';
COMMENT ON COLUMN prediction_explanations.output_value IS 'The model''s output for this request on scale (logit or probability of attrition), as the explanation recomputed it.';
COMMENT ON COLUMN prediction_explanations.contributions IS 'JSON array of {feature, value, contribution}, one per feature the client sent, largest absolute contribution first; positive raises the risk of leaving.';
COMMENT ON COLUMN prediction_explanations.created_at IS 'When the explanation was written.';

-- A new explanation request (or one asked again after it failed) wakes the listeners.
CREATE FUNCTION notify_explanation_requested() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('explanation_requested', '');
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION notify_explanation_requested() IS
    'Sends NOTIFY explanation_requested when explanation requests become pending.';

CREATE TRIGGER explanation_requested
    AFTER INSERT OR UPDATE OF status ON explanation_requests
    FOR EACH ROW WHEN (NEW.status = 'pending')
    EXECUTE FUNCTION notify_explanation_requested();
COMMENT ON TRIGGER explanation_requested ON explanation_requests IS
    'Wakes LISTENing listeners for a pending explanation request (identical notifications of one transaction are delivered once).';

-- Callers waiting on a request (?wait=S) are woken through the API's one completion channel, with the
-- public request id: an explanation written or refused is news about that request too.
CREATE FUNCTION notify_explanation_completed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('prediction_completed', r.request_id::text)
    FROM new_rows n JOIN prediction_requests r ON r.id = n.request_id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION notify_explanation_completed() IS
    'Sends NOTIFY prediction_completed with the public request_id of each request whose explanation was written.';

CREATE TRIGGER explanation_completed
    AFTER INSERT ON prediction_explanations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_explanation_completed();
COMMENT ON TRIGGER explanation_completed ON prediction_explanations IS
    'Wakes API callers waiting (?wait=S) for the explanation of a request.';

CREATE FUNCTION notify_explanation_failed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('prediction_completed', r.request_id::text)
    FROM prediction_requests r WHERE r.id = NEW.request_id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION notify_explanation_failed() IS
    'Sends NOTIFY prediction_completed with the public request_id when its explanation request turns failed.';

CREATE TRIGGER explanation_failed
    AFTER UPDATE OF status ON explanation_requests
    FOR EACH ROW WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed')
    EXECUTE FUNCTION notify_explanation_failed();
COMMENT ON TRIGGER explanation_failed ON explanation_requests IS
    'Wakes API callers waiting on an explanation that could not be computed.';
