-- Benchmark only: %(n)s completed requests with their results, as a long-running system would hold.
-- Run with session_replication_role = replica so the completion trigger does not NOTIFY a million times.
WITH requests AS (
    INSERT INTO prediction_requests
        (model_name, status, features, created_at, claimed_at, completed_at, claimed_by, attempts)
    SELECT 'logistic', 'completed', '{"age": 40}'::jsonb,
           now() - make_interval(secs => g), now() - make_interval(secs => g),
           now() - make_interval(secs => g), 'bench-fill', 1
    FROM generate_series(1, %(n)s) AS g
    RETURNING id
)
INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)
SELECT id, 0, 0.1, 'bench-fill', repeat('0', 64) FROM requests
