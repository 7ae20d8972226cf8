-- Queries behind GET /monitoring/summary (service/repository/monitoring.py). Each reads one time window
-- of requests by submission time, [since, until), through prediction_requests_created_at_idx.

-- name: monitoring_throughput
-- :many (bucket, pending, running, completed, failed).
-- Requests submitted per bucket of bucket_seconds (buckets aligned on the Unix epoch), counted by the
-- status each request has now. Every bucket that overlaps the window is returned, empty ones as zeros.
WITH counted AS (
    SELECT date_bin(make_interval(secs => %(bucket_seconds)s), created_at, TIMESTAMPTZ 'epoch') AS bucket,
           count(*) FILTER (WHERE status = 'pending') AS pending,
           count(*) FILTER (WHERE status = 'running') AS running,
           count(*) FILTER (WHERE status = 'completed') AS completed,
           count(*) FILTER (WHERE status = 'failed') AS failed
    FROM prediction_requests
    WHERE created_at >= %(since)s AND created_at < %(until)s
    GROUP BY 1
)
SELECT b.bucket,
       coalesce(c.pending, 0) AS pending,
       coalesce(c.running, 0) AS running,
       coalesce(c.completed, 0) AS completed,
       coalesce(c.failed, 0) AS failed
FROM generate_series(
         date_bin(make_interval(secs => %(bucket_seconds)s), %(since)s::timestamptz, TIMESTAMPTZ 'epoch'),
         %(until)s::timestamptz,
         make_interval(secs => %(bucket_seconds)s)
     ) AS b (bucket)
LEFT JOIN counted c ON c.bucket = b.bucket
WHERE b.bucket < %(until)s
ORDER BY b.bucket

-- name: monitoring_latency
-- :one (count, percentiles, max).
-- Submit-to-result latency in milliseconds (result created_at - request created_at) of the window's
-- answered requests: how many, the 50th/90th/95th/99th percentiles (interpolated) and the maximum.
SELECT count(*) AS count,
       percentile_cont(ARRAY[0.5, 0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY answered.ms) AS percentiles,
       max(answered.ms) AS max
FROM (
    -- date_part, unlike extract, stays in float8 (no numeric arithmetic on every row).
    SELECT date_part('epoch', res.created_at - r.created_at) * 1000 AS ms
    FROM prediction_requests r
    JOIN prediction_results res ON res.request_id = r.id
    WHERE r.created_at >= %(since)s AND r.created_at < %(until)s
) AS answered

-- name: monitoring_probability_histogram
-- :many (model_name, bin_start, bin_end, count).
-- Predicted probabilities of the window's answered requests per model, in `bins` equal bins over [0, 1]
-- (a probability of exactly 1 counts in the last bin). Every bin of every model that answered is
-- returned, empty ones as zeros, in model then bin order.
WITH binned AS (
    SELECT r.model_name,
           least(width_bucket(res.probability, 0.0, 1.0, %(bins)s), %(bins)s) AS bin,
           count(*) AS count
    FROM prediction_requests r
    JOIN prediction_results res ON res.request_id = r.id
    WHERE r.created_at >= %(since)s AND r.created_at < %(until)s
    GROUP BY 1, 2
)
SELECT m.model_name,
       (b.bin - 1)::float8 / %(bins)s AS bin_start,
       b.bin::float8 / %(bins)s AS bin_end,
       coalesce(c.count, 0) AS count
FROM (SELECT DISTINCT model_name FROM binned) AS m
CROSS JOIN generate_series(1, %(bins)s) AS b (bin)
LEFT JOIN binned c ON c.model_name = m.model_name AND c.bin = b.bin
ORDER BY m.model_name, b.bin

-- name: monitoring_listeners
-- :many (listener_id, hostname, pid, mode, started_at, last_seen_at, stopped_at, processed, failed,
--   alive).
-- Listeners seen during the window (or alive now), alive first. Alive: not stopped, and a heartbeat
-- within the last alive_seconds.
SELECT listener_id, hostname, pid, mode, started_at, last_seen_at, stopped_at, processed, failed,
       (stopped_at IS NULL
        AND last_seen_at > clock_timestamp() - make_interval(secs => %(alive_seconds)s)) AS alive
FROM listener_heartbeats
WHERE last_seen_at >= %(since)s
   OR (stopped_at IS NULL AND last_seen_at > clock_timestamp() - make_interval(secs => %(alive_seconds)s))
ORDER BY alive DESC, last_seen_at DESC
LIMIT %(limit)s

-- name: monitoring_feature_sample
-- :many (features).
-- Features of the window's most recent requests (newest first, at most `limit`): the sample whose
-- drift against the default version's training rows the API measures.
SELECT features
FROM prediction_requests
WHERE created_at >= %(since)s AND created_at < %(until)s
ORDER BY created_at DESC
LIMIT %(limit)s

-- name: monitoring_drift_reference
-- :one (model_name, version, training_data_sha256, training_rows, reference).
-- The default version's drift reference and what it was computed from (none when no model is the
-- default; reference null for a version registered without one).
SELECT v.model_name, v.version, v.training_data_sha256, v.training_rows, v.reference
FROM model_deployments d
JOIN model_versions v USING (model_name, version)
WHERE d.is_default
