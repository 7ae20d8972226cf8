-- Retention by partition (issue 11, item 3): prediction_requests and every table that references it
-- (results, outcomes, explanations, and whatever later files added) become range-partitioned on the
-- request's internal id, in "epochs" of 2^40 ids. Epoch k holds ids [k * 2^40, (k + 1) * 2^40); the
-- partition maintenance (python -m sql retention, sql/retention.py) opens a new epoch on a schedule
-- by moving the id sequence to its first id, so each epoch holds the requests of one period (a day by
-- default) and their results, outcomes and explanations sit in partitions with the same bounds:
-- retention detaches and drops whole partitions, children first, never DELETEs rows.
--
-- Why the id and not created_at or the UUIDv7: the id is every child's foreign key, so partitioning on
-- it keeps every foreign key, the 1-1 result rule (UNIQUE prediction_results.request_id) and the
-- outcome and explanation rules native, with no new column in any child (the request inserts only lose
-- the target of ON CONFLICT). The two keys that cannot include the id are kept by the database so:
--   * request_id (public UUID): a unique index on each partition, and a statement-level trigger that
--     refuses a value another partition already holds;
--   * idempotency_key: a unique index on each partition (ON CONFLICT DO NOTHING still waits for a
--     concurrent retry and then does nothing), and a trigger that skips a row whose key an earlier
--     partition already holds (the same outcome as ON CONFLICT DO NOTHING).
--
-- The conversion below is generic: it reads the tables' current columns, constraints, indexes,
-- triggers, comments, grants, row-level policies and dependent views from the catalog, so columns and
-- indexes added by earlier files (api_key_id, …) survive. It runs in the migration's one transaction.

-- The width of one epoch of ids, and its bounds.
CREATE FUNCTION request_epoch_width() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 1099511627776::bigint $$;
COMMENT ON FUNCTION request_epoch_width() IS
    'Ids per partition epoch (2^40): epoch k of prediction_requests holds ids [k * 2^40, (k + 1) * 2^40).';

CREATE FUNCTION request_epoch(id bigint) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT (id / request_epoch_width())::integer $$;
COMMENT ON FUNCTION request_epoch(bigint) IS 'The partition epoch a prediction_requests.id falls in.';

-- The tables partitioned with prediction_requests, parent first, and the column each is partitioned by.
CREATE FUNCTION request_partition_family() RETURNS TABLE (table_name regclass, partition_column name)
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
    ) AS f
    ORDER BY f.ord, f.table_name::text
$$;
COMMENT ON FUNCTION request_partition_family() IS
    'prediction_requests and every table with a foreign key to it, each with the column it is partitioned by (the id / the referencing request_id).';

-- Create (if missing) the partitions of epoch k of every table of the family. Each partition is
-- created alone and then attached, which takes only SHARE UPDATE EXCLUSIVE on the parents (traffic
-- goes on), and being empty it attaches without a scan.
CREATE FUNCTION ensure_request_partition(epoch integer, only_table regclass DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    fam record;
    part text;
    lo bigint := epoch * request_epoch_width();
    hi bigint := (epoch + 1) * request_epoch_width();
    created integer := 0;
BEGIN
    FOR fam IN SELECT * FROM request_partition_family() f WHERE only_table IS NULL OR f.table_name = only_table LOOP
        part := format('%s_p%s', fam.table_name::text, epoch);
        CONTINUE WHEN to_regclass(part) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, fam.table_name);
        IF fam.table_name = 'prediction_requests'::regclass THEN
            -- The keys that cannot include the partition column are unique per partition here.
            EXECUTE format('CREATE UNIQUE INDEX %I ON %I (request_id)', part || '_request_id_key', part);
            EXECUTE format('CREATE UNIQUE INDEX %I ON %I (idempotency_key)', part || '_idempotency_key_key', part);
        END IF;
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                       fam.table_name, part, lo, hi);
        IF (SELECT relowner FROM pg_class WHERE oid = fam.table_name) <> (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN
            EXECUTE format('ALTER TABLE %I OWNER TO %I', part,
                           (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = fam.table_name));
        END IF;
        EXECUTE format('COMMENT ON TABLE %I IS %L', part,
                       format('Partition epoch %s of %s (%s ids [%s, %s)); retention drops it whole.',
                              epoch, fam.table_name, fam.partition_column, lo, hi));
        created := created + 1;
    END LOOP;
    RETURN created;
END;
$$;
COMMENT ON FUNCTION ensure_request_partition(integer, regclass) IS
    'Create the partitions of one epoch for prediction_requests and every table referencing it, or only for only_table (idempotent); returns how many it created. The maintenance creates one table''s partition per transaction, parent first, so each holds its locks briefly.';

-- The keys of prediction_requests that a partitioned unique index cannot hold (see the top).
CREATE FUNCTION prediction_requests_idempotency() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM prediction_requests WHERE idempotency_key = NEW.idempotency_key) THEN
        RETURN NULL;  -- an earlier submission holds the key: skip the row, like ON CONFLICT DO NOTHING
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION prediction_requests_idempotency() IS
    'Before each inserted request with an idempotency_key: skips the row when any partition already holds the key (ON CONFLICT DO NOTHING semantics); within one partition its unique index decides, so concurrent retries wait for each other.';

-- One statement-level check per insert (not one trigger call per row). A few rows: one index probe per
-- row and partition. A large batch of UUIDv7 ids (what the API sends) all minted within an hour: only
-- the ids in that span are read from each partition (one index descent in every partition the span
-- misses), then hash-joined; otherwise the probes. Measured in make bench.
CREATE FUNCTION prediction_requests_unique_request_id() RETURNS trigger
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
        SET LOCAL enable_hashjoin = off;
        SET LOCAL enable_mergejoin = off;
        SELECT n.request_id INTO dup
        FROM new_rows n JOIN prediction_requests r ON r.request_id = n.request_id AND r.id <> n.id
        LIMIT 1;
        RESET enable_hashjoin;
        RESET enable_mergejoin;
    END IF;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION 'duplicate key value violates unique constraint "prediction_requests_request_id_key"'
            USING ERRCODE = 'unique_violation', DETAIL = format('Key (request_id)=(%s) already exists.', dup);
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION prediction_requests_unique_request_id() IS
    'After each insert statement: refuses (unique_violation) a request_id that another partition already holds; within one partition its unique index decides.';

DO $convert$
DECLARE
    fam record;
    obj record;
    tbl text;
    col name;
    has_rows boolean;
    ddl text[];            -- constraints, indexes, triggers, policies, comments, grants to replay
    views text[] := '{}';  -- dependent views (oldest dependency first) to recreate
    view_rows record;
    seq text;
    max_id bigint;
    cols text;
BEGIN
    -- Anything else pointing at a family table (a foreign key to a result's id, …) would be lost.
    FOR obj IN
        SELECT c.conname, c.conrelid::regclass AS from_table, c.confrelid::regclass AS to_table
        FROM pg_constraint c
        WHERE c.contype = 'f'
          AND c.confrelid IN (SELECT table_name FROM request_partition_family())
          AND c.confrelid <> 'prediction_requests'::regclass
    LOOP
        RAISE EXCEPTION '016: foreign key % from % to % is not handled by the partitioning',
            obj.conname, obj.from_table, obj.to_table;
    END LOOP;

    -- Views over the family (any depth): their definitions, comments, grants; dropped, recreated last.
    FOR view_rows IN
        WITH RECURSIVE deps AS (
            SELECT DISTINCT v.oid, 1 AS depth
            FROM pg_depend d
            JOIN pg_rewrite r ON r.oid = d.objid
            JOIN pg_class v ON v.oid = r.ev_class
            WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
              AND d.refobjid IN (SELECT table_name FROM request_partition_family())
              AND v.relkind IN ('v', 'm') AND v.oid <> d.refobjid
            UNION ALL
            SELECT v.oid, deps.depth + 1
            FROM deps
            JOIN pg_depend d ON d.refobjid = deps.oid AND d.classid = 'pg_rewrite'::regclass
            JOIN pg_rewrite r ON r.oid = d.objid
            JOIN pg_class v ON v.oid = r.ev_class
            WHERE v.relkind IN ('v', 'm') AND v.oid <> deps.oid
        )
        SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname) AS name, max(deps.depth) AS depth
        FROM deps JOIN pg_class c ON c.oid = deps.oid JOIN pg_namespace n ON n.oid = c.relnamespace
        GROUP BY c.oid, c.relkind, n.nspname, c.relname
        ORDER BY max(deps.depth)
    LOOP
        views := views || format('CREATE %s %s%s AS %s',
            CASE view_rows.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, view_rows.name,
            (SELECT coalesce(' WITH (' || array_to_string(reloptions, ', ') || ')', '')
             FROM pg_class WHERE oid = view_rows.oid),
            pg_get_viewdef(view_rows.oid));
        views := views || format('ALTER %s %s OWNER TO %I',
            CASE view_rows.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, view_rows.name,
            (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = view_rows.oid));
        IF obj_description(view_rows.oid, 'pg_class') IS NOT NULL THEN
            views := views || format('COMMENT ON %s %s IS %L',
                CASE view_rows.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                view_rows.name, obj_description(view_rows.oid, 'pg_class'));
        END IF;
        views := views || ARRAY(
            SELECT format('COMMENT ON COLUMN %s.%I IS %L', view_rows.name, a.attname, col_description(view_rows.oid, a.attnum))
            FROM pg_attribute a WHERE a.attrelid = view_rows.oid AND a.attnum > 0
              AND col_description(view_rows.oid, a.attnum) IS NOT NULL);
        views := views || ARRAY(
            SELECT format('GRANT %s ON %s TO %s', acl.privilege_type, view_rows.name,
                          CASE acl.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(acl.grantee)) END)
            FROM pg_class c, aclexplode(c.relacl) AS acl
            WHERE c.oid = view_rows.oid AND acl.grantee <> c.relowner);
        views := views || ARRAY(
            SELECT format('GRANT %s (%I) ON %s TO %s', acl.privilege_type, a.attname, view_rows.name,
                          CASE acl.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(acl.grantee)) END)
            FROM pg_attribute a, aclexplode(a.attacl) AS acl
            WHERE a.attrelid = view_rows.oid AND a.attacl IS NOT NULL);
    END LOOP;
    FOR i IN REVERSE coalesce(array_length(views, 1), 0) .. 1 LOOP
        IF views[i] LIKE 'CREATE %' THEN
            EXECUTE format('DROP %s IF EXISTS %s',
                CASE WHEN views[i] LIKE 'CREATE MATERIALIZED VIEW %' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                substring(views[i] FROM '^CREATE (?:MATERIALIZED )?VIEW (\S+)'));
        END IF;
    END LOOP;

    -- Children first, then the parent: the foreign keys point from children to the parent.
    CREATE TEMP TABLE conversion (ord integer, tbl text, col name, ddl text[]) ON COMMIT DROP;
    FOR fam IN SELECT row_number() OVER () AS ord, * FROM request_partition_family() LOOP
        tbl := fam.table_name::text;
        col := fam.partition_column;
        ddl := '{}';
        -- Constraints other than NOT NULL / CHECK (LIKE copies those): unique keys gain the partition
        -- column when they lack it, except the parent's request_id and idempotency_key (see the top).
        FOR obj IN
            SELECT c.conname, c.contype, pg_get_constraintdef(c.oid) AS def,
                   obj_description(c.oid, 'pg_constraint') AS note,
                   (SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
                    WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)) AS cols
            FROM pg_constraint c
            WHERE c.conrelid = fam.table_name AND c.contype IN ('p', 'u', 'f', 'x')
            ORDER BY array_position(ARRAY['p', 'u', 'x', 'f']::"char"[], c.contype), c.conname
        LOOP
            IF obj.contype IN ('p', 'u') AND NOT col = ANY (obj.cols) THEN
                IF tbl = 'prediction_requests' THEN
                    CONTINUE;  -- request_id, idempotency_key: per partition + trigger
                END IF;
                obj.def := regexp_replace(obj.def, '\)$', format(', %I)', col));
            END IF;
            ddl := ddl || format('ALTER TABLE %s ADD CONSTRAINT %I %s', tbl, obj.conname, obj.def);
            IF obj.note IS NOT NULL THEN
                ddl := ddl || format('COMMENT ON CONSTRAINT %I ON %s IS %L', obj.conname, tbl, obj.note);
            END IF;
        END LOOP;
        -- Indexes that are not constraints.
        FOR obj IN
            SELECT i.indexrelid, pg_get_indexdef(i.indexrelid) AS def, i.indisunique,
                   obj_description(i.indexrelid, 'pg_class') AS note, ic.relname AS name
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
            WHERE i.indrelid = fam.table_name
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
        LOOP
            IF obj.indisunique AND NOT EXISTS (
                SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                WHERE i.indexrelid = obj.indexrelid AND a.attname = col
            ) THEN
                RAISE EXCEPTION '016: unique index % on % lacks the partition column %', obj.name, tbl, col;
            END IF;
            ddl := ddl || obj.def;
            IF obj.note IS NOT NULL THEN
                ddl := ddl || format('COMMENT ON INDEX %I IS %L', obj.name, obj.note);
            END IF;
        END LOOP;
        -- Triggers (user-defined, not the ones foreign keys make).
        FOR obj IN
            SELECT t.tgname, pg_get_triggerdef(t.oid) AS def, obj_description(t.oid, 'pg_trigger') AS note
            FROM pg_trigger t WHERE t.tgrelid = fam.table_name AND NOT t.tgisinternal
        LOOP
            ddl := ddl || obj.def;
            IF obj.note IS NOT NULL THEN
                ddl := ddl || format('COMMENT ON TRIGGER %I ON %s IS %L', obj.tgname, tbl, obj.note);
            END IF;
        END LOOP;
        -- Row-level security and its policies.
        IF (SELECT relrowsecurity FROM pg_class WHERE oid = fam.table_name) THEN
            ddl := ddl || format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
        END IF;
        IF (SELECT relforcerowsecurity FROM pg_class WHERE oid = fam.table_name) THEN
            ddl := ddl || format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
        END IF;
        FOR obj IN SELECT * FROM pg_policies WHERE schemaname = 'public' AND tablename = tbl LOOP
            ddl := ddl || format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s', obj.policyname, tbl,
                obj.permissive, obj.cmd, array_to_string(obj.roles, ', '),
                coalesce(' USING (' || obj.qual || ')', ''), coalesce(' WITH CHECK (' || obj.with_check || ')', ''));
        END LOOP;
        -- Grants on the table and its columns (the owner's own are implicit).
        ddl := ddl || ARRAY(
            SELECT format('GRANT %s ON %s TO %s', acl.privilege_type, tbl,
                          CASE acl.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(acl.grantee)) END)
            FROM pg_class c, aclexplode(c.relacl) AS acl
            WHERE c.oid = fam.table_name AND acl.grantee <> c.relowner);
        ddl := ddl || ARRAY(
            SELECT format('GRANT %s (%I) ON %s TO %s', acl.privilege_type, a.attname, tbl,
                          CASE acl.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(acl.grantee)) END)
            FROM pg_attribute a, aclexplode(a.attacl) AS acl
            WHERE a.attrelid = fam.table_name AND a.attacl IS NOT NULL);
        IF obj_description(fam.table_name, 'pg_class') IS NOT NULL THEN
            ddl := ddl || format('COMMENT ON TABLE %s IS %L', tbl, obj_description(fam.table_name, 'pg_class'));
        END IF;
        -- The owner (a schema owner role, say) stays the owner; its partitions follow it.
        ddl := format('ALTER TABLE %s OWNER TO %I', tbl,
                      (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = fam.table_name)) || ddl;
        INSERT INTO conversion VALUES (fam.ord, tbl, col, ddl);
    END LOOP;

    -- The new tables beside the old, the rows copied into epoch 0, the old tables dropped.
    FOR fam IN SELECT * FROM conversion ORDER BY ord LOOP
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS'
                       ' INCLUDING GENERATED INCLUDING COMMENTS INCLUDING STATISTICS) PARTITION BY RANGE (%I)',
                       fam.tbl || '_partitioned', fam.tbl, fam.col);
    END LOOP;
    FOR fam IN SELECT * FROM conversion ORDER BY ord LOOP
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
        FROM pg_attribute a
        WHERE a.attrelid = fam.tbl::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', fam.tbl || '_p0', fam.tbl);
        EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM %I', fam.tbl || '_p0', cols, cols, fam.tbl);
    END LOOP;
    FOR fam IN SELECT * FROM conversion ORDER BY ord DESC LOOP
        -- Sequences owned by the old identity columns go with them; the new ones continue below.
        EXECUTE format('DROP TABLE %I', fam.tbl);
        EXECUTE format('ALTER TABLE %I RENAME TO %I', fam.tbl || '_partitioned', fam.tbl);
    END LOOP;
    FOR fam IN SELECT * FROM conversion ORDER BY ord LOOP
        FOREACH tbl IN ARRAY fam.ddl LOOP
            EXECUTE tbl;
        END LOOP;
    END LOOP;
    -- Attach the copied rows as epoch 0 (its ids are all below 2^40), then make every later epoch's
    -- partitions with ensure_request_partition().
    FOR fam IN SELECT * FROM conversion ORDER BY ord LOOP
        IF fam.tbl = 'prediction_requests' THEN
            CREATE UNIQUE INDEX prediction_requests_p0_request_id_key ON prediction_requests_p0 (request_id);
            CREATE UNIQUE INDEX prediction_requests_p0_idempotency_key_key ON prediction_requests_p0 (idempotency_key);
        END IF;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (0) TO (%s)',
                       fam.tbl, fam.tbl || '_p0', request_epoch_width());
        EXECUTE format('ALTER TABLE %I OWNER TO %I', fam.tbl || '_p0',
                       (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = fam.tbl::regclass));
        EXECUTE format('COMMENT ON TABLE %I IS %L', fam.tbl || '_p0',
                       format('Partition epoch 0 of %s (%s ids [0, %s)); retention drops it whole.',
                              fam.tbl, fam.col, request_epoch_width()));
        -- Identity sequences continue after the copied rows.
        FOR obj IN
            SELECT a.attname FROM pg_attribute a
            WHERE a.attrelid = fam.tbl::regclass AND a.attidentity <> '' AND a.attnum > 0
        LOOP
            seq := pg_get_serial_sequence(fam.tbl, obj.attname);
            EXECUTE format('SELECT max(%I) FROM %I', obj.attname, fam.tbl) INTO max_id;
            IF max_id IS NOT NULL THEN
                PERFORM setval(seq, max_id);
            END IF;
            EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', seq, fam.tbl || '_' || obj.attname || '_seq');
        END LOOP;
    END LOOP;
    FOREACH tbl IN ARRAY views LOOP
        EXECUTE tbl;
    END LOOP;
END;
$convert$;

-- request_id and idempotency_key unique across partitions (each partition's unique indexes keep them
-- unique within it).
CREATE TRIGGER prediction_requests_idempotency
    BEFORE INSERT ON prediction_requests
    FOR EACH ROW WHEN (NEW.idempotency_key IS NOT NULL) EXECUTE FUNCTION prediction_requests_idempotency();
COMMENT ON TRIGGER prediction_requests_idempotency ON prediction_requests IS
    'Skips a request whose idempotency_key another partition already holds.';
CREATE TRIGGER prediction_requests_unique_request_id
    AFTER INSERT ON prediction_requests
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION prediction_requests_unique_request_id();
COMMENT ON TRIGGER prediction_requests_unique_request_id ON prediction_requests IS
    'Refuses a request_id another partition already holds.';

-- The next epoch exists before the maintenance opens it.
SELECT ensure_request_partition(1);
