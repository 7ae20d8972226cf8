-- Fewer index writes per request (issue 16). No request row can be updated in place (HOT): status and
-- lease_until, which every claim and completion change, are in indexes and index predicates, so each
-- update writes an entry into every index of its partition. The per-partition unique index on
-- idempotency_key (016) held one for every row, although most requests carry no key: it now holds
-- only the rows that have one. A unique index ignores NULLs either way, ON CONFLICT DO NOTHING still
-- checks it for the rows that carry a key, and `idempotency_key = …` lookups still use it.

CREATE OR REPLACE FUNCTION ensure_request_partition(epoch integer, only_table regclass DEFAULT NULL) RETURNS integer
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
            EXECUTE format('CREATE UNIQUE INDEX %I ON %I (idempotency_key) WHERE idempotency_key IS NOT NULL',
                           part || '_idempotency_key_key', part);
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

-- The partitions that exist now: the same index, rebuilt partial (same name, so nothing else changes).
DO $partial$
DECLARE
    idx record;
BEGIN
    FOR idx IN
        SELECT ic.relname AS index_name, t.relname AS table_name
        FROM pg_inherits h
        JOIN pg_class t ON t.oid = h.inhrelid
        JOIN pg_index i ON i.indrelid = t.oid
        JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE h.inhparent = 'prediction_requests'::regclass
          AND i.indisunique AND i.indpred IS NULL AND i.indnatts = 1
          AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = t.oid AND attname = 'idempotency_key')
    LOOP
        EXECUTE format('DROP INDEX %I', idx.index_name);
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (idempotency_key) WHERE idempotency_key IS NOT NULL',
                       idx.index_name, idx.table_name);
    END LOOP;
END;
$partial$;
