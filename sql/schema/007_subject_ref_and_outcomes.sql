-- Who a prediction is about, and what really happened: the two facts that close the loop from an
-- answer to its truth (issue 14) and make erasure of one employee possible (issue 11).

ALTER TABLE prediction_requests
    ADD COLUMN subject_ref text CHECK (subject_ref IS NULL OR length(subject_ref) BETWEEN 1 AND 200);
COMMENT ON COLUMN prediction_requests.subject_ref IS
    'Optional pseudonymous reference of the employee the request is about, chosen by the client (never a name or an email): outcomes by subject and erasure find requests by it.';

-- Outcomes by subject and erasure look up one subject's requests, newest first.
CREATE INDEX prediction_requests_subject_ref_idx ON prediction_requests (subject_ref, created_at)
    WHERE subject_ref IS NOT NULL;
COMMENT ON INDEX prediction_requests_subject_ref_idx IS
    'Requests of one subject by submission time (outcomes by subject_ref, erasure).';

-- The observed truth for a prediction. At most one current outcome per request; a correction
-- supersedes the current row (superseded_at set) and inserts the new one, so history is kept.
CREATE TABLE prediction_outcomes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    bigint      NOT NULL REFERENCES prediction_requests (id),
    label         smallint    NOT NULL CHECK (label IN (0, 1)),
    observed_at   timestamptz NOT NULL,
    source        text        NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    superseded_at timestamptz,
    CHECK (superseded_at IS NULL OR superseded_at >= recorded_at)
);

COMMENT ON TABLE prediction_outcomes IS
    'What really happened to the employee a prediction was about (1 = left, 0 = stayed), posted later through POST /outcomes. One current row per request; corrections keep the old row with superseded_at set.';
COMMENT ON COLUMN prediction_outcomes.id IS 'Internal key.';
COMMENT ON COLUMN prediction_outcomes.request_id IS 'prediction_requests.id the outcome is the truth for.';
COMMENT ON COLUMN prediction_outcomes.label IS 'Observed attrition: 1 = the employee left, 0 = stayed.';
COMMENT ON COLUMN prediction_outcomes.observed_at IS 'When the outcome was observed (as the client states it).';
COMMENT ON COLUMN prediction_outcomes.source IS 'Where the outcome came from: how it was matched (request_id or subject_ref) and who posted it (API key name or database role).';
COMMENT ON COLUMN prediction_outcomes.recorded_at IS 'When the outcome was recorded here.';
COMMENT ON COLUMN prediction_outcomes.superseded_at IS 'Set when a correction replaced this outcome; null for the current one.';

CREATE UNIQUE INDEX prediction_outcomes_current_idx ON prediction_outcomes (request_id)
    WHERE superseded_at IS NULL;
COMMENT ON INDEX prediction_outcomes_current_idx IS
    'At most one current outcome per request; the join from predictions to their truth.';
CREATE INDEX prediction_outcomes_request_idx ON prediction_outcomes (request_id, recorded_at);
COMMENT ON INDEX prediction_outcomes_request_idx IS 'The history of outcomes of one request.';
