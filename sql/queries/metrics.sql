-- Queries behind GET /metrics and GET /health (service/repository/metrics.py).

-- name: ping_database
-- :one (ok).
-- Is the database reachable (health check, LISTEN connection liveness).
SELECT 1 AS ok

-- name: queue_depth_by_status
-- :many (status, requests).
-- How many requests are in each status (the status index keeps this an index-only scan).
SELECT status, count(*) AS requests
FROM prediction_requests
GROUP BY status

-- name: result_latency_since
-- :many (bucket, results, seconds, last_id).
-- Submit-to-result latency of results written after result id after_id, bucketed by the histogram
-- bounds (width_bucket: 0 = below the first bound, i = in [bounds[i], bounds[i+1]), len(bounds) = at or
-- above the last). Only results
-- older than settle_seconds are counted, so a result committed late with a smaller id is not skipped.
SELECT width_bucket(extract(epoch FROM res.created_at - r.created_at)::float8, %(bounds)s::float8[])
           AS bucket,
       count(*) AS results,
       sum(extract(epoch FROM res.created_at - r.created_at))::float8 AS seconds,
       max(res.id) AS last_id
FROM prediction_results res
JOIN prediction_requests r ON r.id = res.request_id
WHERE res.id > %(after_id)s
  AND res.created_at < clock_timestamp() - make_interval(secs => %(settle_seconds)s)
GROUP BY 1

-- name: listeners_alive
-- :one (listeners).
-- Listeners that sent a heartbeat within the last alive_seconds and did not stop.
SELECT count(*) AS listeners
FROM listener_heartbeats
WHERE stopped_at IS NULL
  AND last_seen_at > clock_timestamp() - make_interval(secs => %(alive_seconds)s)
