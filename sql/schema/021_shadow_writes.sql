-- Cheaper shadow rows (issue 14: one shadow challenger costs at most 30 % of listener throughput).
--
-- The foreign key from shadow_predictions to prediction_requests checked every shadow row with its own
-- lookup of the partitioned requests, locking the request (FOR KEY SHARE: one more WAL record per row),
-- and on tables not yet analysed that lookup took 0.6 ms a row (PostgreSQL 18, EXPLAIN ANALYZE: 320 of
-- 359 ms for 512 rows): more than the challenger's inference and the rest of its write together. The key
-- goes, and so does the second index, (model_name, request_id): the compare query reaches shadow rows
-- from the requests of its window through the primary key (request_id, model_name), as the catch-up of
-- the listener does.
--
-- What the foreign key did is kept otherwise:
--   * which tables belong to a request: request_linked_tables() names the tables tied to
--     prediction_requests by request id without a foreign key. request_partition_family() lists them
--     with the referencing tables, so they keep getting a partition per epoch and retention still
--     detaches and drops theirs; erase_subject() deletes their rows with the rest of the subject's;
--   * no row for a request that is gone: the listener writes shadow rows only for requests that exist
--     (a semi-join in the insert, no row lock), holding the shared advisory lock
--     shadow_writes_lock_key(); erasure takes that lock exclusively before it deletes, so a shadow write
--     either commits before the erasure deletes (and its rows are deleted too) or starts after the
--     erasure committed (and finds the requests gone).

ALTER TABLE shadow_predictions DROP CONSTRAINT shadow_predictions_request_id_fkey;
DROP INDEX shadow_predictions_model_idx;

COMMENT ON COLUMN shadow_predictions.request_id IS
    'prediction_requests.id scored in the shadow (its answer is in prediction_results). No foreign key (schema 021): the listener writes rows only for existing requests, and erasure and retention find them through request_linked_tables().';

CREATE FUNCTION request_linked_tables() RETURNS TABLE (table_name regclass, request_column name)
LANGUAGE sql STABLE AS $$
    SELECT 'shadow_predictions'::regclass, 'request_id'::name
$$;
COMMENT ON FUNCTION request_linked_tables() IS
    'Tables tied to prediction_requests by request id WITHOUT a foreign key (the key cost more than the write on the listener''s path): partitioned with it (request_partition_family), erased with it (erase_subject).';

CREATE FUNCTION shadow_writes_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtext('futurisys.shadow_writes')::bigint $$;
COMMENT ON FUNCTION shadow_writes_lock_key() IS
    'Advisory lock taken shared by each transaction writing shadow rows and exclusively by erase_subject(): no shadow row outlives the erasure of its request.';

CREATE OR REPLACE FUNCTION request_partition_family() RETURNS TABLE (table_name regclass, partition_column name)
LANGUAGE sql STABLE AS $$
    SELECT f.table_name, f.partition_column FROM (
        SELECT 'prediction_requests'::regclass AS table_name, 'id'::name AS partition_column, 0 AS ord
        UNION ALL
        -- Once prediction_requests is partitioned, only its partitioned children (a partition detached
        -- by retention still carries the foreign key until it is dropped).
        SELECT DISTINCT c.conrelid::regclass, a.attname, 1
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_class t ON t.oid = c.conrelid
        WHERE c.contype = 'f' AND c.confrelid = 'prediction_requests'::regclass
          AND c.conrelid <> 'prediction_requests'::regclass AND c.conparentid = 0
          AND (t.relkind = 'p' OR (SELECT relkind FROM pg_class WHERE oid = 'prediction_requests'::regclass) = 'r')
        UNION
        -- The tables tied to it without a foreign key.
        SELECT l.table_name, l.request_column, 1 FROM request_linked_tables() l
    ) AS f
    ORDER BY f.ord, f.table_name::text
$$;
COMMENT ON FUNCTION request_partition_family() IS
    'prediction_requests, every table with a foreign key to it and every table of request_linked_tables(), each with the column it is partitioned by (the id / the request_id).';

-- As in 014, with the tables of request_linked_tables() deleted from too, under the exclusive shadow lock.
CREATE OR REPLACE FUNCTION erase_subject(ref text) RETURNS TABLE (table_name text, rows_erased bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    fk record;
    n bigint;
    counts jsonb := '{}';
BEGIN
    IF ref IS NULL OR ref = '' THEN
        RAISE EXCEPTION 'erase_subject: a subject reference is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Lock the subject's requests in id order, as listeners do: a listener writing one of them
    -- finishes first, and one that comes later finds the row gone and skips it.
    PERFORM 1 FROM prediction_requests WHERE subject_ref = ref ORDER BY id FOR UPDATE;
    -- Shadow writes in flight commit first (their rows are deleted below); later ones find the requests
    -- gone. Listeners wait for it only briefly (lock_timeout) and leave the rows to their catch-up.
    PERFORM pg_advisory_xact_lock(shadow_writes_lock_key());
    -- Every foreign key that points at prediction_requests (top-level constraints only: a partitioned
    -- table's clones per partition are covered by their parent's), and the tables linked without one.
    FOR fk IN
        SELECT * FROM (
            SELECT c.conrelid::regclass AS child,
                   array_agg(quote_ident(ca.attname) ORDER BY k.ord) AS child_cols,
                   array_agg(quote_ident(pa.attname) ORDER BY k.ord) AS parent_cols
            FROM pg_constraint c
            CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k (child_att, parent_att, ord)
            JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.child_att
            JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.parent_att
            WHERE c.contype = 'f' AND c.confrelid = 'prediction_requests'::regclass AND c.conparentid = 0
            GROUP BY c.oid, c.conrelid
            UNION ALL
            SELECT l.table_name, ARRAY[quote_ident(l.request_column)], ARRAY['id']
            FROM request_linked_tables() l
        ) AS children
        ORDER BY child::text
    LOOP
        EXECUTE format(
            'DELETE FROM %s WHERE (%s) IN (SELECT %s FROM prediction_requests WHERE subject_ref = $1)',
            fk.child, array_to_string(fk.child_cols, ', '), array_to_string(fk.parent_cols, ', ')
        ) USING ref;
        GET DIAGNOSTICS n = ROW_COUNT;
        counts := counts || jsonb_build_object(fk.child::text, coalesce((counts ->> fk.child::text)::bigint, 0) + n);
    END LOOP;
    DELETE FROM prediction_requests WHERE subject_ref = ref;
    GET DIAGNOSTICS n = ROW_COUNT;
    counts := jsonb_build_object('prediction_requests', n) || counts;
    -- The trail says that a subject was erased and how many rows went, never which subject.
    PERFORM audit('data.erased', NULL, jsonb_build_object('rows', counts));
    RETURN QUERY SELECT key, value::bigint FROM jsonb_each_text(counts) ORDER BY key <> 'prediction_requests', key;
END;
$$;
COMMENT ON FUNCTION erase_subject(text) IS
    'Erase one subject: its prediction_requests, every row referencing them and the rows of request_linked_tables() for them, in the calling transaction; returns rows erased per table and appends one data.erased audit event with the counts (not the reference).';
