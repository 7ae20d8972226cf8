-- Which deployed models the listeners can answer with (model_availability): written by each listener
-- (listener/availability.py), read by the API (/health, GET /models/).

-- name: publish_model_availability
-- :none.
-- One listener's view of every deployed model, replacing its previous rows: parallel arrays, one
-- element per model (error null when available). Rows of models no longer deployed are deleted.
WITH fresh AS (
    SELECT *
    FROM unnest(%(model_names)s::text[], %(model_versions)s::text[], %(available)s::boolean[],
                %(errors)s::text[], %(next_retry_at)s::timestamptz[])
         AS t (model_name, model_version, available, error, next_retry_at)
), gone AS (
    DELETE FROM model_availability
    WHERE listener_id = %(listener_id)s AND model_name <> ALL (%(model_names)s::text[])
)
INSERT INTO model_availability (listener_id, model_name, model_version, available, error, next_retry_at)
SELECT %(listener_id)s, model_name, model_version, available, error, next_retry_at FROM fresh
ON CONFLICT (listener_id, model_name) DO UPDATE
SET model_version = EXCLUDED.model_version, available = EXCLUDED.available, error = EXCLUDED.error,
    next_retry_at = EXCLUDED.next_retry_at, updated_at = now()

-- name: unavailable_models
-- :many (model_name, error, next_retry_at). Deployed models that a live listener (not stopped, a
-- heartbeat within alive_seconds) reports it cannot load, for the version deployed now.
SELECT a.model_name, min(a.error) AS error, min(a.next_retry_at) AS next_retry_at
FROM model_availability a
JOIN listener_heartbeats h ON h.listener_id = a.listener_id
JOIN model_deployments d ON d.model_name = a.model_name AND d.version = a.model_version
WHERE NOT a.available
  AND h.stopped_at IS NULL
  AND h.last_seen_at > now() - make_interval(secs => %(alive_seconds)s::float8)
GROUP BY a.model_name
ORDER BY a.model_name
