-- Prediction results: exactly one per completed request (UNIQUE foreign key: 1-1 by construction).
CREATE TABLE prediction_results (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    bigint           NOT NULL UNIQUE REFERENCES prediction_requests (id),
    prediction    smallint         NOT NULL CHECK (prediction IN (0, 1)),
    probability   double precision NOT NULL CHECK (probability BETWEEN 0 AND 1),
    model_version text             NOT NULL,
    model_sha256  text             NOT NULL,
    created_at    timestamptz      NOT NULL DEFAULT clock_timestamp()
);

COMMENT ON TABLE prediction_results IS
    'The answer to a prediction request, written once by the listener that ran the model.';
COMMENT ON COLUMN prediction_results.id IS 'Internal key.';
COMMENT ON COLUMN prediction_results.request_id IS 'prediction_requests.id this answers; UNIQUE, so a second result for one request is rejected by the database.';
COMMENT ON COLUMN prediction_results.prediction IS 'Predicted class: 1 = the employee is predicted to leave (attrition), 0 = to stay.';
COMMENT ON COLUMN prediction_results.probability IS 'Predicted probability of attrition (class 1), compared with the model version''s threshold.';
COMMENT ON COLUMN prediction_results.model_version IS 'model_versions.version of the model that answered.';
COMMENT ON COLUMN prediction_results.model_sha256 IS 'SHA-256 of the artifact bytes that answered (matches model_versions.sha256).';
COMMENT ON COLUMN prediction_results.created_at IS 'When the result was written.';

-- Each waiting API caller needs its own request_id, so one notification per result row, but sent
-- from one statement-level call (a transition table), not one trigger call per row.
CREATE FUNCTION notify_prediction_completed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('prediction_completed', r.request_id::text)
    FROM new_rows n JOIN prediction_requests r ON r.id = n.request_id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION notify_prediction_completed() IS
    'Sends NOTIFY prediction_completed with the public request_id of the request a new result answers.';

CREATE TRIGGER prediction_completed
    AFTER INSERT ON prediction_results
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_prediction_completed();
COMMENT ON TRIGGER prediction_completed ON prediction_results IS
    'Wakes API callers waiting (?wait=S) on the request.';
