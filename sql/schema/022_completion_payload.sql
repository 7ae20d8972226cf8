-- The answer in the completion notification (issue 16): a caller waiting (?wait=S) on a request is
-- answered from the NOTIFY prediction_completed payload, without re-reading the request and its result.
--
-- Payload, '|'-separated, model_version last (so it may hold any character):
--   <request uuid>|c|<prediction>|<probability>|<result created_at, µs since 1970 UTC>|<model_version>
--   <request uuid>|f|<error>
--   <request uuid>                           (as before 022: the waiter re-reads the row)
-- The answer is sent only when it is the whole of what GET /predictions/{request_id} would show beside
-- the request's own columns: completed (or failed) with no current outcome, and the payload within
-- NOTIFY's 8000 bytes; anything else (an outcome, a long error, a result written outside the listener's
-- one statement) sends the bare uuid and the waiter re-reads. The API reads both forms (so it runs on a
-- database before 022 too); an API process older than this file does not recognise the longer form and
-- answers its waiters only at their deadline (still right, but slow): upgrade the API, then migrate.
-- Both functions run as the owner (SECURITY DEFINER, trigger-only): the roles that finish requests
-- (futurisys_listener, or a role of one's own) need not read the outcomes to say there is none.
-- The probability is float8's shortest exact text (extra_float_digits 1, fixed for the function): the
-- waiter's float is the one a re-read would load.

CREATE OR REPLACE FUNCTION notify_prediction_completed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET extra_float_digits = 1 AS $$
BEGIN
    PERFORM pg_notify('prediction_completed', CASE
        WHEN r.status = 'completed' AND r.error IS NULL AND o.request_id IS NULL
             AND octet_length(a.answer) < 8000 THEN a.answer
        ELSE r.request_id::text END)
    FROM new_rows n
    JOIN prediction_requests r ON r.id = n.request_id
    LEFT JOIN prediction_outcomes o ON o.request_id = r.id AND o.superseded_at IS NULL
    CROSS JOIN LATERAL (
        SELECT concat_ws('|', r.request_id, 'c', n.prediction, n.probability,
                         (extract(epoch FROM n.created_at) * 1000000)::bigint, n.model_version)
    ) AS a (answer);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION notify_prediction_completed() IS
    'Sends NOTIFY prediction_completed for each new result: the public request_id with the answer (schema 022 payload: request_id|c|prediction|probability|created_at µs|model_version), or the bare request_id when the waiter must re-read.';

CREATE OR REPLACE FUNCTION notify_prediction_failed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    answer text := concat_ws('|', NEW.request_id, 'f', NEW.error);
BEGIN
    IF NEW.error IS NOT NULL AND octet_length(answer) < 8000
       AND NOT EXISTS (SELECT 1 FROM prediction_results WHERE request_id = NEW.id)
       AND NOT EXISTS (SELECT 1 FROM prediction_outcomes WHERE request_id = NEW.id AND superseded_at IS NULL)
    THEN
        PERFORM pg_notify('prediction_completed', answer);
    ELSE
        PERFORM pg_notify('prediction_completed', NEW.request_id::text);
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION notify_prediction_failed() IS
    'Sends NOTIFY prediction_completed when a request turns failed: the public request_id with the error (schema 022 payload: request_id|f|error), or the bare request_id when the waiter must re-read.';
