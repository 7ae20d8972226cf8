-- One kind of request id: the API mints UUIDv7 ids (service/ids.py: time-ordered, so a partition's ids
-- grow with its rows), and a row inserted without one (SQL by hand, a script) now gets the same kind
-- instead of a random version-4 UUID from gen_random_uuid().
-- PostgreSQL 18 has uuidv7(); this is the same layout for the versions this project supports: 48 bits
-- of Unix milliseconds, then version 7, the variant and random bits.

CREATE FUNCTION uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

COMMENT ON FUNCTION uuid_v7() IS
    'A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, version 7, variant, random bits; the default of prediction_requests.request_id, the same kind of id the API mints.';

-- On the partitioned table this reaches every partition, and partitions made later copy it.
ALTER TABLE prediction_requests ALTER COLUMN request_id SET DEFAULT uuid_v7();
