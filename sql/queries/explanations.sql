-- Explanations: the API asks for one and reads it; a listener claims the asked ones, computes them
-- with the model version that answered, and records them (on request, or at answer time).

-- name: request_explanation
-- :one (status) or none. The API asks for the explanation of a prediction (by public request id):
-- a new pending row, or a failed one asked again (pending anew, attempts reset); a pending, running
-- or completed row is left as it is. No row back when it was left alone or the request is unknown.
INSERT INTO explanation_requests (request_id)
SELECT id FROM prediction_requests WHERE request_id = %(request_id)s
ON CONFLICT (request_id) DO UPDATE
SET status = 'pending', requested_at = clock_timestamp(), attempts = 0, error = NULL,
    claimed_at = NULL, completed_at = NULL, lease_until = NULL
WHERE explanation_requests.status = 'failed'
RETURNING status

-- name: get_explanation
-- :one (request_id, model_name, request_status, request_error, explanation_status, explanation_error,
--   model_version, method, scale, base_value, output_value, contributions, created_at, api_key_id).
-- Everything GET /predictions/{request_id}/explanation shows, by public request id:
-- the request's own status and error, the explanation request's, the explanation when it exists, and
-- the key that submitted the request (who may see it).
SELECT p.request_id, p.model_name, p.status AS request_status, p.error AS request_error,
       e.status AS explanation_status, e.error AS explanation_error,
       x.model_version, x.method, x.scale, x.base_value, x.output_value, x.contributions, x.created_at,
       p.api_key_id
FROM prediction_requests AS p
LEFT JOIN explanation_requests AS e ON e.request_id = p.id
LEFT JOIN prediction_explanations AS x ON x.request_id = p.id
WHERE p.request_id = %(request_id)s

-- name: claim_explanations
-- :many (id, request_id, model_name, features, model_version, model_sha256, probability, request_error).
-- Claim up to batch_size pending explanation requests whose prediction is settled, oldest first:
-- answered ones come with the version and hash that answered; failed ones (no result) with the
-- prediction's error, to be failed in turn. Requests still waiting for their answer stay pending.
WITH claimable AS (
    SELECT e.id
    FROM explanation_requests AS e
    JOIN prediction_requests AS p ON p.id = e.request_id
    WHERE e.status = 'pending' AND p.status IN ('completed', 'failed')
    ORDER BY e.id
    LIMIT %(batch_size)s::int
    FOR UPDATE OF e SKIP LOCKED
), claimed AS (
    UPDATE explanation_requests AS e
    SET status      = 'running',
        claimed_by  = %(listener_id)s,
        claimed_at  = clock_timestamp(),
        lease_until = clock_timestamp() + make_interval(secs => %(lease_seconds)s::float8),
        attempts    = e.attempts + 1
    FROM claimable AS c
    WHERE e.id = c.id
    RETURNING e.request_id
)
SELECT p.id, p.request_id, p.model_name, p.features, r.model_version, r.model_sha256, r.probability,
       p.error AS request_error
FROM claimed AS c
JOIN prediction_requests AS p ON p.id = c.request_id
LEFT JOIN prediction_results AS r ON r.request_id = p.id
ORDER BY p.id

-- name: record_explanations
-- :one (written, failed). One statement per batch: insert the explanations (parallel arrays) of
-- exactly the artifact whose answer is stored (a late writer's explanation of another answer is
-- dropped; a request explained already keeps its first explanation), mark their explanation requests
-- completed (explanations at answer time have none) and the failures failed with their error.
WITH explained AS (
    SELECT *
    FROM unnest(%(request_ids)s::bigint[], %(model_names)s::text[], %(model_versions)s::text[],
                %(model_sha256s)s::text[], %(methods)s::text[], %(scales)s::text[],
                %(base_values)s::float8[], %(output_values)s::float8[], %(contributions)s::jsonb[])
         AS t(request_id, model_name, model_version, model_sha256, method, scale, base_value,
              output_value, contributions)
), inserted AS (
    INSERT INTO prediction_explanations (request_id, model_name, model_version, model_sha256, method,
                                         scale, base_value, output_value, contributions)
    SELECT x.request_id, x.model_name, x.model_version, x.model_sha256, x.method, x.scale, x.base_value,
           x.output_value, x.contributions
    FROM explained AS x
    WHERE EXISTS (SELECT 1 FROM prediction_results AS r
                  WHERE r.request_id = x.request_id AND r.model_sha256 = x.model_sha256)
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id
), completed AS (
    UPDATE explanation_requests AS e
    SET status = 'completed', completed_at = clock_timestamp(), lease_until = NULL, error = NULL
    WHERE e.status IN ('pending', 'running')
      AND (e.request_id IN (SELECT request_id FROM inserted)
           OR e.request_id IN (SELECT request_id FROM prediction_explanations
                               WHERE request_id = ANY (%(request_ids)s::bigint[])))
    RETURNING e.id
), failed AS (
    UPDATE explanation_requests AS e
    SET status = 'failed', completed_at = clock_timestamp(), lease_until = NULL, error = f.error
    FROM unnest(%(failed_ids)s::bigint[], %(errors)s::text[]) AS f(request_id, error)
    WHERE e.request_id = f.request_id AND e.status IN ('pending', 'running')
    RETURNING e.id
)
SELECT (SELECT count(*) FROM inserted) AS written, (SELECT count(*) FROM failed) AS failed

-- name: sweep_expired_explanations
-- :one (requeued, failed). Running explanation requests whose lease passed (their listener died):
-- pending again, or failed with the reason once they used max_attempts claims.
WITH expired AS (
    SELECT id FROM explanation_requests
    WHERE status = 'running' AND lease_until < clock_timestamp()
    ORDER BY id
    FOR UPDATE SKIP LOCKED
), swept AS (
    UPDATE explanation_requests AS e
    SET status       = CASE WHEN e.attempts >= %(max_attempts)s::int THEN 'failed' ELSE 'pending' END,
        error        = CASE WHEN e.attempts >= %(max_attempts)s::int
                            THEN format('gave up after %%s attempts: the lease of listener %%s expired '
                                        'while it computed the explanation', e.attempts, e.claimed_by)
                            ELSE e.error END,
        completed_at = CASE WHEN e.attempts >= %(max_attempts)s::int THEN clock_timestamp() END,
        lease_until  = NULL
    FROM expired AS x
    WHERE e.id = x.id
    RETURNING e.status
)
SELECT count(*) FILTER (WHERE status = 'pending') AS requeued,
       count(*) FILTER (WHERE status = 'failed')  AS failed
FROM swept

-- name: explained_model_version
-- :one (artifact_path, sha256, sklearn_version) or none. Where the version that answered a request
-- lives, deployed or not: explanations always use that version.
SELECT artifact_path, sha256, sklearn_version
FROM model_versions
WHERE model_name = %(model_name)s AND version = %(version)s

-- name: request_explanations
-- :none. The API asks for the explanations of many predictions at once (public request ids): a new
-- pending row for each known, not failed request that has none, of the key only_key alone unless it
-- is null; rows that exist (failed ones too: asking again is POST /predictions/{request_id}/explanation)
-- and unknown ids are left alone.
INSERT INTO explanation_requests (request_id)
SELECT p.id FROM prediction_requests AS p
WHERE p.request_id = ANY (%(request_ids)s::uuid[]) AND p.status <> 'failed'
  AND (%(only_key)s::bigint IS NULL OR p.api_key_id = %(only_key)s::bigint)
ORDER BY p.id
ON CONFLICT (request_id) DO NOTHING

-- name: lookup_explanations
-- :many (ord, request_id, model_name, request_status, request_error, api_key_id, explanation_status,
--   explanation_error, model_version, method, scale, base_value, output_value, created_at, contributions).
-- One row per id asked, in the order asked (ordinality): what get_explanation shows, with the
-- contributions cut to the largest `top` (null: all); request columns null where no request has the id;
-- api_key_id says who may see it.
SELECT asked.ord, p.request_id, p.model_name, p.status AS request_status, p.error AS request_error,
       p.api_key_id,
       e.status AS explanation_status, e.error AS explanation_error,
       x.model_version, x.method, x.scale, x.base_value, x.output_value, x.created_at,
       CASE WHEN %(top)s::int IS NULL THEN x.contributions
            ELSE (SELECT coalesce(jsonb_agg(c.value ORDER BY c.ord), '[]'::jsonb)
                  FROM jsonb_array_elements(x.contributions) WITH ORDINALITY AS c (value, ord)
                  WHERE c.ord <= %(top)s::int)
       END AS contributions
FROM unnest(%(request_ids)s::uuid[]) WITH ORDINALITY AS asked (request_id, ord)
LEFT JOIN prediction_requests AS p ON p.request_id = asked.request_id
LEFT JOIN explanation_requests AS e ON e.request_id = p.id
LEFT JOIN prediction_explanations AS x ON x.request_id = p.id
ORDER BY asked.ord
