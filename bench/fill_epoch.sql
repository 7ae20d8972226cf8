-- Benchmark only: %(n)s completed requests with their results in partition epoch %(epoch)s, created over
-- %(span_days)s day(s) ending %(days_ago)s - %(span_days)s days ago. Run with session_replication_role =
-- replica (no trigger per row, no NOTIFY) after ensure_request_partition(epoch).
-- request_id is a UUIDv7 of the row's created_at, as the API makes them (time-ordered: each epoch's ids
-- append to the right of its request_id index); bench/partitions.py puts gen_random_uuid() in its place
-- before PostgreSQL 18, which has no uuidv7().
WITH requests AS (
    INSERT INTO prediction_requests
        (id, request_id, model_name, status, features, created_at, claimed_at, completed_at, claimed_by,
         attempts)
    OVERRIDING SYSTEM VALUE
    SELECT %(epoch)s::bigint * request_epoch_width() + g, uuidv7(t - now()), 'logistic', 'completed',
           '{"age": 40}'::jsonb, t, t, t, 'bench-fill', 1
    FROM generate_series(1, %(n)s) AS g,
         LATERAL (SELECT now() - make_interval(secs => 86400 * (%(days_ago)s::float8
                  - %(span_days)s::float8 * g / %(n)s))) AS x (t)
    RETURNING id, created_at
)
INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256, created_at)
SELECT id, 0, 0.1, 'bench-fill', repeat('0', 64), created_at FROM requests
