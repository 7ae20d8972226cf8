-- The listener's recording statement (sql/queries/listener.sql record_outcomes) as a function whose
-- plan is kept (issue 16). As a prepared statement PostgreSQL re-planned it on most calls: its `= ANY
-- (a parameter)` prunes the partitions only in a custom plan, so the generic plan, costed over every
-- partition, looked dearer; and the foreign-key check of each result insert (`SELECT 1 FROM
-- prediction_requests x WHERE id = $1 FOR KEY SHARE`, a query of PostgreSQL's own) was re-planned on
-- every call for the same reason. For one request at a time that planning was about a third of the
-- statement's CPU (pg_stat_statements on PostgreSQL 15: 100-640 µs of planning per call against 300-800
-- µs of execution, at load 4-6). The function runs with plan_cache_mode = force_generic_plan, which
-- reaches the statements it runs (the foreign-key checks included): each is planned once per session.
-- A generic plan prunes partitions as it starts by the values of its parameters, but not by `= ANY` of
-- one, so each write also bounds its ids by the lowest and highest of its array (plain parameters
-- here): only the partitions holding the batch's ids are opened, however many epochs are kept. An
-- empty array gives NULL bounds, which prune every partition, so a write with no row to touch opens none.
-- What the statement does, and why, is unchanged (sql/queries/listener.sql says it).

CREATE FUNCTION record_prediction_outcomes(
    result_ids bigint[], predictions smallint[], probabilities float8[], model_versions text[],
    model_sha256s text[], failed_ids bigint[], errors text[], released_ids bigint[], listener_id text,
    OUT completed bigint, OUT failed bigint, OUT released bigint
)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    result_lo bigint;
    result_hi bigint;
    failed_lo bigint;
    failed_hi bigint;
    released_lo bigint;
    released_hi bigint;
BEGIN
    SELECT (SELECT min(i) FROM unnest(result_ids) AS i), (SELECT max(i) FROM unnest(result_ids) AS i),
           (SELECT min(i) FROM unnest(failed_ids) AS i), (SELECT max(i) FROM unnest(failed_ids) AS i),
           (SELECT min(i) FROM unnest(released_ids) AS i), (SELECT max(i) FROM unnest(released_ids) AS i)
    INTO result_lo, result_hi, failed_lo, failed_hi, released_lo, released_hi;
    WITH results AS (
        SELECT *
        FROM unnest(result_ids, predictions, probabilities, model_versions, model_sha256s)
             AS t(request_id, prediction, probability, model_version, model_sha256)
    ), failures AS (
        SELECT * FROM unnest(failed_ids, errors) AS t(request_id, error)
    ), done AS (
        UPDATE prediction_requests AS p
        SET status = 'completed', completed_at = clock_timestamp(), lease_until = NULL, error = NULL,
            claimed_by = CASE WHEN p.status = 'pending' THEN listener_id ELSE p.claimed_by END,
            claimed_at = CASE WHEN p.status = 'pending' THEN greatest(now(), p.created_at) ELSE p.claimed_at END,
            attempts   = p.attempts + (p.status = 'pending')::int
        -- = ANY of an array, not a join: an index probe per row in each partition (a join was planned as
        -- a hash over a scan of the whole table), in id order, so two writers of overlapping batches lock
        -- their rows in the same order.
        WHERE p.id = ANY (result_ids) AND p.id BETWEEN result_lo AND result_hi
          AND p.status IN ('pending', 'running')
        RETURNING p.id
    ), inserted AS (
        INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)
        SELECT r.request_id, r.prediction, r.probability, r.model_version, r.model_sha256
        FROM results AS r JOIN done AS c ON c.id = r.request_id
        ON CONFLICT (request_id) DO NOTHING
        RETURNING request_id
    ), failing AS (
        UPDATE prediction_requests AS p
        SET status = 'failed', completed_at = clock_timestamp(), lease_until = NULL, error = f.error,
            claimed_by = CASE WHEN p.status = 'pending' THEN listener_id ELSE p.claimed_by END,
            claimed_at = CASE WHEN p.status = 'pending' THEN greatest(now(), p.created_at) ELSE p.claimed_at END,
            attempts   = p.attempts + (p.status = 'pending')::int
        FROM failures AS f
        WHERE p.id = f.request_id AND p.id = ANY (failed_ids) AND p.id BETWEEN failed_lo AND failed_hi
          AND p.status IN ('pending', 'running')
        RETURNING p.id
    ), releasing AS (
        UPDATE prediction_requests AS p
        SET status = 'pending', lease_until = NULL, attempts = greatest(p.attempts - 1, 0)
        WHERE p.id = ANY (released_ids) AND p.id BETWEEN released_lo AND released_hi
          AND p.status = 'running' AND p.claimed_by = listener_id
        RETURNING p.id
    )
    SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM failing), (SELECT count(*) FROM releasing)
    INTO completed, failed, released;
END;
$$;
COMMENT ON FUNCTION record_prediction_outcomes(bigint[], smallint[], float8[], text[], text[], bigint[], text[], bigint[], text) IS
    'The listener''s recording of one batch (sql/queries/listener.sql record_outcomes): completes the open rows with their results, fails the failures, releases the released; counts of each. Planned once per session (force_generic_plan), each write pruned to the partitions of its ids.';

-- The request_id check across partitions (016), without its planner settings for a few rows. Each
-- insert of one submission paid for four more statements (SET LOCAL enable_hashjoin, enable_mergejoin,
-- then two RESETs) around its probe; those settings were there to keep the probe an index lookup per
-- row and partition, which a LATERAL subquery with LIMIT 1 is by its shape (it cannot be made a join).
-- The range read for a large batch of UUIDv7 ids is as it was (016).
CREATE OR REPLACE FUNCTION prediction_requests_unique_request_id() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    dup uuid;
    n bigint;
    lo uuid;
    hi uuid;
    all_v7 boolean;
BEGIN
    SELECT count(*), min(request_id::text)::uuid, max(request_id::text)::uuid,  -- text order = uuid order
           bool_and(substr(request_id::text, 15, 1) = '7')
    INTO n, lo, hi, all_v7
    FROM new_rows;
    IF n > 64 AND all_v7
       AND ('x' || substr(replace(hi::text, '-', ''), 1, 12))::bit(48)::bigint
           - ('x' || substr(replace(lo::text, '-', ''), 1, 12))::bit(48)::bigint < 3600 * 1000 THEN
        SET LOCAL enable_nestloop = off;
        SELECT n.request_id INTO dup
        FROM new_rows n
        JOIN (SELECT id, request_id FROM prediction_requests WHERE request_id BETWEEN lo AND hi) r
          ON r.request_id = n.request_id AND r.id <> n.id
        LIMIT 1;
        RESET enable_nestloop;
    ELSE
        SELECT n.request_id INTO dup
        FROM new_rows n
        CROSS JOIN LATERAL (
            SELECT 1 FROM prediction_requests r WHERE r.request_id = n.request_id AND r.id <> n.id LIMIT 1
        ) AS other
        LIMIT 1;
    END IF;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION 'duplicate key value violates unique constraint "prediction_requests_request_id_key"'
            USING ERRCODE = 'unique_violation', DETAIL = format('Key (request_id)=(%s) already exists.', dup);
    END IF;
    RETURN NULL;
END;
$$;
