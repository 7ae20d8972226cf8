-- Public request_id lookups that probe the partition the request is in, not every partition (issue 11).
-- request_id has a unique index per partition (016), so `WHERE request_id = $1` plans, locks and probes
-- every partition of prediction_requests, prediction_results and prediction_outcomes: with ten epochs
-- that is most of the time of GET /predictions/{id}. A UUIDv7 carries the millisecond it was minted,
-- and a request is inserted (and given its id, hence its epoch) right after: so the epoch(s) open
-- around that time hold it. request_epoch_times records when each epoch was opened, written by the
-- statement that opens it (sql/queries/retention.sql open_epoch), and prediction_by_request_id looks
-- in those epochs' partitions first, then everywhere when the id is not a v7 or is not found there
-- (an epoch opened by hand, a row inserted long after its id was minted): a lookup never misses a row.
-- Uniqueness is unchanged: the 016 trigger still checks every partition.

CREATE TABLE request_epoch_times (
    epoch integer PRIMARY KEY,
    opened_at timestamptz NOT NULL UNIQUE
);
COMMENT ON TABLE request_epoch_times IS
    'When each partition epoch of prediction_requests was opened (new ids drawn from it); written by open_epoch, read by prediction_by_request_id to find the partition a UUIDv7 request id is in.';

-- Epochs already opened: epoch 0 from the start, the others from their first request (an epoch
-- opened but still empty from now: it is the one requests go to from here on). An epoch with no
-- time here is only found by the full probe.
INSERT INTO request_epoch_times (epoch, opened_at) VALUES (0, '-infinity');
DO $backfill$
DECLARE
    part record;
    first_at timestamptz;
    current_epoch integer := (
        SELECT request_epoch(CASE WHEN is_called THEN last_value + 1 ELSE last_value END)
        FROM prediction_requests_id_seq);
BEGIN
    FOR part IN
        SELECT substring(c.relname FROM '_p([0-9]+)$')::int AS epoch, c.oid::regclass AS tbl
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'prediction_requests'::regclass AND c.relname ~ '_p[0-9]+$'
        ORDER BY 1
    LOOP
        CONTINUE WHEN part.epoch = 0 OR part.epoch > current_epoch;
        EXECUTE format('SELECT min(created_at) FROM %s', part.tbl) INTO first_at;
        IF first_at IS NULL AND part.epoch = current_epoch THEN
            first_at := now();
        END IF;
        IF first_at IS NOT NULL THEN
            INSERT INTO request_epoch_times (epoch, opened_at) VALUES (part.epoch, first_at)
            ON CONFLICT DO NOTHING;
        END IF;
    END LOOP;
END;
$backfill$;

-- The Unix milliseconds of a UUIDv7 (its first 48 bits); NULL for any other version.
CREATE FUNCTION request_id_millis(request_id uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN substr(request_id::text, 15, 1) = '7'
                THEN ('x' || substr(replace(request_id::text, '-', ''), 1, 12))::bit(48)::bigint END
$$;
COMMENT ON FUNCTION request_id_millis(uuid) IS
    'The Unix milliseconds a UUIDv7 was minted at; NULL when the uuid is not version 7.';

-- The ids of the epochs a UUIDv7 request is expected in: those open at some moment within `margin`
-- of its timestamp (the API's clock may differ from the database's a little, and a request is inserted
-- a little after its id is minted, maybe after an epoch switch). NULL when the id is not a v7 or
-- its time is before every recorded epoch.
CREATE FUNCTION request_id_candidate_ids(request_id uuid, margin interval DEFAULT '5 minutes',
                                         OUT lo bigint, OUT hi bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT first.epoch::bigint * request_epoch_width(), (last.epoch + 1)::bigint * request_epoch_width()
    FROM (SELECT to_timestamp(request_id_millis(request_id) / 1000.0) AS minted) AS t,
         LATERAL (SELECT epoch FROM request_epoch_times WHERE opened_at <= t.minted - margin
                  ORDER BY opened_at DESC LIMIT 1) AS first,
         LATERAL (SELECT epoch FROM request_epoch_times WHERE opened_at <= t.minted + margin
                  ORDER BY opened_at DESC LIMIT 1) AS last
$$;
COMMENT ON FUNCTION request_id_candidate_ids(uuid, interval) IS
    'The id range [lo, hi) of the partition epochs a UUIDv7 request id is expected in (opened within margin of its timestamp); no row when it is not a v7 or predates every recorded epoch.';

-- One request with its result and current outcome: the body of GET /predictions/{request_id}
-- (sql/queries/requests.sql get_prediction). Each statement is planned with its values (not a generic
-- plan), so the planner keeps only the candidate epochs' partitions: it locks and probes those alone.
CREATE FUNCTION prediction_by_request_id(wanted uuid)
RETURNS TABLE (request_id uuid, model_name text, status text, created_at timestamptz, features jsonb,
               error text, prediction smallint, probability double precision, model_version text,
               result_created_at timestamptz, subject_ref text, outcome_label smallint,
               outcome_observed_at timestamptz, outcome_recorded_at timestamptz, outcome_source text,
               api_key_id bigint)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
    lo bigint;
    hi bigint;
    minted timestamptz;
BEGIN
    minted := to_timestamp(request_id_millis(wanted) / 1000.0);
    IF minted IS NOT NULL THEN
        SELECT e.epoch::bigint * request_epoch_width() INTO lo FROM request_epoch_times e
        WHERE e.opened_at <= minted - interval '5 minutes' ORDER BY e.opened_at DESC LIMIT 1;
        SELECT (e.epoch + 1)::bigint * request_epoch_width() INTO hi FROM request_epoch_times e
        WHERE e.opened_at <= minted + interval '5 minutes' ORDER BY e.opened_at DESC LIMIT 1;
    END IF;
    IF lo IS NOT NULL THEN
        RETURN QUERY
        SELECT r.request_id, r.model_name, r.status, r.created_at, r.features, r.error,
               res.prediction, res.probability, res.model_version, res.created_at,
               r.subject_ref, o.label, o.observed_at, o.recorded_at, o.source, r.api_key_id
        FROM prediction_requests r
        LEFT JOIN prediction_results res
               ON res.request_id = r.id AND res.request_id >= lo AND res.request_id < hi
        LEFT JOIN prediction_outcomes o
               ON o.request_id = r.id AND o.superseded_at IS NULL AND o.request_id >= lo AND o.request_id < hi
        WHERE r.request_id = wanted AND r.id >= lo AND r.id < hi;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    -- Not a v7, or not where its time says: every partition.
    RETURN QUERY
    SELECT r.request_id, r.model_name, r.status, r.created_at, r.features, r.error,
           res.prediction, res.probability, res.model_version, res.created_at,
           r.subject_ref, o.label, o.observed_at, o.recorded_at, o.source, r.api_key_id
    FROM prediction_requests r
    LEFT JOIN prediction_results res ON res.request_id = r.id
    LEFT JOIN prediction_outcomes o ON o.request_id = r.id AND o.superseded_at IS NULL
    WHERE r.request_id = wanted;
END;
$$;
COMMENT ON FUNCTION prediction_by_request_id(uuid) IS
    'A request with its result and current outcome by public request_id (GET /predictions/{id}): the partitions of the epochs its UUIDv7 timestamp points to first, then all of them; never misses a row.';
