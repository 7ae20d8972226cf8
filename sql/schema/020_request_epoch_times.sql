-- Public request_id lookups that probe the partition the request is in, not every partition (issue 11).
-- request_id has a unique index per partition (016), so `WHERE request_id = $1` plans, locks and probes
-- every partition of prediction_requests, prediction_results and prediction_outcomes: with ten epochs
-- that is most of the time of GET /predictions/{id}. A UUIDv7 carries the millisecond it was minted,
-- and a request is inserted (and given its id, hence its epoch) right after: so the epoch(s) open
-- around that time hold it. request_epoch_times records when each epoch was opened, written by the
-- statement that opens it (sql/queries/retention.sql open_epoch); request_id_lo / request_id_hi give
-- the id range of those epochs, which get_prediction adds to its conditions (the executor then skips
-- the other partitions before it opens them, in the prepared statement's generic plan too). Not a v7:
-- the whole id range. Not found in the range (an epoch opened by hand, a row inserted long after its
-- id was minted): the caller asks every partition (get_prediction_everywhere), so a lookup never
-- misses a row.
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

-- The bounds of the ids a UUIDv7 request is expected in: the epochs open at some moment within five
-- minutes of its timestamp (the API's clock may differ a little from the database's, and a request is
-- inserted a little after its id is minted, maybe after an epoch switch). Any other id: every id.
-- PL/pgSQL, so that the epoch query's plan is kept by the session (a SQL function's is not).
CREATE FUNCTION request_id_lo(request_id uuid) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    minted timestamptz := to_timestamp(request_id_millis(request_id) / 1000.0);
    first_epoch integer;
BEGIN
    IF minted IS NOT NULL THEN
        SELECT e.epoch INTO first_epoch FROM request_epoch_times e
        WHERE e.opened_at <= minted - interval '5 minutes' ORDER BY e.opened_at DESC LIMIT 1;
    END IF;
    RETURN coalesce(first_epoch::bigint * request_epoch_width(), 0);
END;
$$;
COMMENT ON FUNCTION request_id_lo(uuid) IS
    'The first id of the partition epochs a UUIDv7 request id is expected in (open within 5 minutes of its timestamp); 0 for any other id.';

CREATE FUNCTION request_id_hi(request_id uuid) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    minted timestamptz := to_timestamp(request_id_millis(request_id) / 1000.0);
    last_epoch integer;
BEGIN
    IF minted IS NOT NULL THEN
        SELECT e.epoch INTO last_epoch FROM request_epoch_times e
        WHERE e.opened_at <= minted + interval '5 minutes' ORDER BY e.opened_at DESC LIMIT 1;
    END IF;
    RETURN coalesce((last_epoch + 1)::bigint * request_epoch_width(), 9223372036854775807);
END;
$$;
COMMENT ON FUNCTION request_id_hi(uuid) IS
    'One past the last id of the partition epochs a UUIDv7 request id is expected in (open within 5 minutes of its timestamp); the largest bigint for any other id.';
