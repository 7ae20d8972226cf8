-- Prediction requests: one row per submitted prediction, written by the API, claimed by listeners.
CREATE TABLE prediction_requests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id      uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    model_name      text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    features        jsonb       NOT NULL CHECK (jsonb_typeof(features) = 'object'),
    idempotency_key text        UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_at      timestamptz,
    completed_at    timestamptz,
    claimed_by      text,
    lease_until     timestamptz,
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error           text,
    CHECK (status <> 'running' OR (claimed_by IS NOT NULL AND lease_until IS NOT NULL))
);

COMMENT ON TABLE prediction_requests IS
    'One row per prediction request. The API inserts it as pending; a listener claims it (running), then marks it completed (with a row in prediction_results) or failed (with error).';
COMMENT ON COLUMN prediction_requests.id IS 'Internal key; prediction_results.request_id points here.';
COMMENT ON COLUMN prediction_requests.request_id IS 'Public identifier returned to clients and used in /predictions/{request_id}.';
COMMENT ON COLUMN prediction_requests.model_name IS 'Model asked for (the default model when the client named none), e.g. logistic or random_forest_e04.';
COMMENT ON COLUMN prediction_requests.status IS 'pending: waiting for a listener; running: claimed under a lease; completed: result written; failed: see error.';
COMMENT ON COLUMN prediction_requests.features IS 'Validated input features as a JSON object keyed by snake_case feature name.';
COMMENT ON COLUMN prediction_requests.idempotency_key IS 'Client-supplied Idempotency-Key header; a retried submission with the same key returns this row instead of inserting another.';
COMMENT ON COLUMN prediction_requests.created_at IS 'When the API inserted the request (submission time).';
COMMENT ON COLUMN prediction_requests.claimed_at IS 'When a listener last claimed the request; claimed_at - created_at is the queue wait.';
COMMENT ON COLUMN prediction_requests.completed_at IS 'When the request reached completed or failed; completed_at - claimed_at is the inference and write time.';
COMMENT ON COLUMN prediction_requests.claimed_by IS 'Listener id (host:pid:n) holding or last holding the request.';
COMMENT ON COLUMN prediction_requests.lease_until IS 'A running request whose lease has passed belongs to a dead listener and is claimable again.';
COMMENT ON COLUMN prediction_requests.attempts IS 'How many times a listener claimed the request; past the maximum it is failed.';
COMMENT ON COLUMN prediction_requests.error IS 'Why the request failed (inference error, attempts exhausted); null otherwise.';

-- Claiming reads only pending rows in id order: the partial index keeps it O(batch), not O(table).
CREATE INDEX prediction_requests_pending_idx ON prediction_requests (id) WHERE status = 'pending';
-- The lease sweep looks only at running rows.
CREATE INDEX prediction_requests_running_lease_idx ON prediction_requests (lease_until) WHERE status = 'running';
-- History filtered by model or status, newest first (keyset on id).
CREATE INDEX prediction_requests_model_id_idx ON prediction_requests (model_name, id DESC);
CREATE INDEX prediction_requests_status_id_idx ON prediction_requests (status, id DESC);
CREATE INDEX prediction_requests_created_at_idx ON prediction_requests (created_at);

COMMENT ON INDEX prediction_requests_pending_idx IS 'Claim query: pending rows in arrival order.';
COMMENT ON INDEX prediction_requests_running_lease_idx IS 'Lease sweep: running rows by lease expiry.';
COMMENT ON INDEX prediction_requests_model_id_idx IS 'History filtered by model, newest first.';
COMMENT ON INDEX prediction_requests_status_id_idx IS 'History filtered by status, newest first; queue depth by status.';
COMMENT ON INDEX prediction_requests_created_at_idx IS 'History and metrics over a time range.';

-- One notification per INSERT statement (not per row): a 10,000-row batch wakes listeners once.
-- Only pending rows notify; the payload stays empty (listeners claim from the table, not the payload).
CREATE FUNCTION notify_prediction_requested() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'pending') THEN
        PERFORM pg_notify('prediction_requested', '');
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION notify_prediction_requested() IS
    'Statement-level: sends one NOTIFY prediction_requested per INSERT that added pending rows.';

CREATE TRIGGER prediction_requested
    AFTER INSERT ON prediction_requests
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_prediction_requested();
COMMENT ON TRIGGER prediction_requested ON prediction_requests IS
    'Wakes LISTENing listeners once per insert statement.';

-- A failed request has no result row: tell waiting API callers through the completion channel too.
CREATE FUNCTION notify_prediction_failed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('prediction_completed', NEW.request_id::text);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION notify_prediction_failed() IS
    'Sends NOTIFY prediction_completed with the public request_id when a request turns failed.';

CREATE TRIGGER prediction_failed
    AFTER UPDATE OF status ON prediction_requests
    FOR EACH ROW WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed')
    EXECUTE FUNCTION notify_prediction_failed();
COMMENT ON TRIGGER prediction_failed ON prediction_requests IS
    'Wakes API callers waiting on a request that failed.';
