-- Queries the API runs on prediction_requests and prediction_results (service/repository/requests.py).

-- name: insert_prediction_request
-- :one (request_id, model_name, status, created_at).
-- Submit one request (the API picks its public uuid), recording the key that sent it. With an
-- idempotency key already used, nothing is inserted and nothing returned: the caller then reads the
-- original with find_request_by_idempotency_key.
INSERT INTO prediction_requests (request_id, model_name, features, idempotency_key, subject_ref, api_key_id)
VALUES (%(request_id)s, %(model_name)s, %(features)s, %(idempotency_key)s, %(subject_ref)s, %(api_key_id)s)
ON CONFLICT DO NOTHING  -- the partition's unique index on idempotency_key (016)
RETURNING request_id, model_name, status, created_at

-- name: find_request_by_idempotency_key
-- :one (request_id, model_name, status, created_at, features, api_key_id).
-- The request an earlier submission made with this Idempotency-Key (a separate statement, so it sees
-- a concurrent retry's row once that one committed), with the key that submitted it.
SELECT request_id, model_name, status, created_at, features, api_key_id
FROM prediction_requests
WHERE idempotency_key = %(idempotency_key)s

-- name: copy_prediction_batch
-- :none.
-- Submit a chunk of a batch (service/repository/requests.py submit_batch) that carries no
-- Idempotency-Key: one binary COPY, its own commit, so one prediction_requested notification per
-- chunk and the listener starts on the first chunk while the next ones are stored. COPY has no
-- ON CONFLICT: a request_id already used fails the chunk (the unique index, or the 016 trigger).
COPY prediction_requests (request_id, model_name, features, subject_ref, api_key_id) FROM STDIN (FORMAT BINARY)

-- name: insert_prediction_batch
-- :none.
-- Submit a chunk of a batch under an Idempotency-Key, for one model, in one statement (so one
-- prediction_requested notification). request_ids, items (a JSON array of feature objects),
-- idempotency_keys and subject_refs (each array or NULL) are zipped in order; api_key_id is the key
-- that sent them all. A key already used skips its row: the caller reads the originals with
-- find_requests_by_idempotency_keys.
INSERT INTO prediction_requests (request_id, model_name, features, idempotency_key, subject_ref, api_key_id)
SELECT t.request_id, %(model_name)s, t.features, t.idempotency_key, t.subject_ref, %(api_key_id)s::bigint
FROM ROWS FROM (
    unnest(%(request_ids)s::uuid[]),
    jsonb_array_elements(%(items)s::jsonb),
    unnest(%(idempotency_keys)s::text[]),
    unnest(%(subject_refs)s::text[])
) AS t (request_id, features, idempotency_key, subject_ref)
ON CONFLICT DO NOTHING  -- the partition's unique index on idempotency_key (016)

-- name: find_requests_by_idempotency_keys
-- :many (idempotency_key, request_id, api_key_id, model_name, features).
-- The requests stored under these idempotency keys (a retried batch chunk, this call's own rows
-- included): their public ids, the keys that submitted them, and what they asked, so that a retry
-- with other items under the same key is told apart (409).
SELECT idempotency_key, request_id, api_key_id, model_name, features
FROM prediction_requests
WHERE idempotency_key = ANY(%(idempotency_keys)s::text[])

-- name: get_prediction
-- :one (request_id, model_name, status, created_at, features, error, prediction, probability,
--   model_version, result_created_at, subject_ref, outcome_label, outcome_observed_at,
--   outcome_recorded_at, outcome_source, api_key_id).
-- One request with its result and current outcome, if any: the body of GET /predictions/{request_id}.
SELECT r.request_id, r.model_name, r.status, r.created_at, r.features, r.error,
       res.prediction, res.probability, res.model_version, res.created_at AS result_created_at,
       r.subject_ref, o.label AS outcome_label, o.observed_at AS outcome_observed_at,
       o.recorded_at AS outcome_recorded_at, o.source AS outcome_source, r.api_key_id
FROM prediction_requests r
LEFT JOIN prediction_results res ON res.request_id = r.id
LEFT JOIN prediction_outcomes o ON o.request_id = r.id AND o.superseded_at IS NULL
WHERE r.request_id = %(request_id)s

-- name: lookup_predictions
-- :many (ord, request_id, model_name, status, created_at, features, error, prediction, probability,
--   model_version, result_created_at, subject_ref, outcome_label, outcome_observed_at,
--   outcome_recorded_at, outcome_source, api_key_id).
-- Many requests with their results, one row per id asked, in the order asked (ordinality), with
-- request columns null where no request has that id: the body of POST /predictions/lookup.
SELECT asked.ord, r.request_id, r.model_name, r.status, r.created_at, r.features, r.error,
       res.prediction, res.probability, res.model_version, res.created_at AS result_created_at,
       r.subject_ref, o.label AS outcome_label, o.observed_at AS outcome_observed_at,
       o.recorded_at AS outcome_recorded_at, o.source AS outcome_source, r.api_key_id
FROM unnest(%(request_ids)s::uuid[]) WITH ORDINALITY AS asked (request_id, ord)
LEFT JOIN prediction_requests r ON r.request_id = asked.request_id
LEFT JOIN prediction_results res ON res.request_id = r.id
LEFT JOIN prediction_outcomes o ON o.request_id = r.id AND o.superseded_at IS NULL
ORDER BY asked.ord

-- name: prediction_history
-- :many (id, request_id, model_name, status, created_at, features, error, prediction, probability,
--   model_version, result_created_at, subject_ref, outcome_label, outcome_observed_at,
--   outcome_recorded_at, outcome_source, api_key_id).
-- A page of requests with their results, newest first, by keyset on id (before_id: the cursor).
-- Every filter is optional (NULL means no filter; api_key_id: only that key's requests, for a
-- submit-only key); limit is the page size plus one.
SELECT r.id, r.request_id, r.model_name, r.status, r.created_at, r.features, r.error,
       res.prediction, res.probability, res.model_version, res.created_at AS result_created_at,
       r.subject_ref, o.label AS outcome_label, o.observed_at AS outcome_observed_at,
       o.recorded_at AS outcome_recorded_at, o.source AS outcome_source, r.api_key_id
FROM prediction_requests r
LEFT JOIN prediction_results res ON res.request_id = r.id
LEFT JOIN prediction_outcomes o ON o.request_id = r.id AND o.superseded_at IS NULL
WHERE (%(status)s::text IS NULL OR r.status = %(status)s::text)
  AND (%(model_name)s::text IS NULL OR r.model_name = %(model_name)s::text)
  AND (%(created_from)s::timestamptz IS NULL OR r.created_at >= %(created_from)s::timestamptz)
  AND (%(created_to)s::timestamptz IS NULL OR r.created_at < %(created_to)s::timestamptz)
  AND (%(api_key_id)s::bigint IS NULL OR r.api_key_id = %(api_key_id)s::bigint)
  AND (%(before_id)s::bigint IS NULL OR r.id < %(before_id)s::bigint)
ORDER BY r.id DESC
LIMIT %(limit)s

-- name: prediction_history_count
-- :one (total). How many requests match the history filters over all pages, counted up to `cap`
-- rows so that a huge table costs a bounded index scan; total = cap means "cap or more".
SELECT count(*) AS total
FROM (
    SELECT 1 FROM prediction_requests r
    WHERE (%(status)s::text IS NULL OR r.status = %(status)s::text)
      AND (%(model_name)s::text IS NULL OR r.model_name = %(model_name)s::text)
      AND (%(created_from)s::timestamptz IS NULL OR r.created_at >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR r.created_at < %(created_to)s::timestamptz)
      AND (%(api_key_id)s::bigint IS NULL OR r.api_key_id = %(api_key_id)s::bigint)
    LIMIT %(cap)s
) AS matching

-- name: listen_api_channels
-- :none.
-- The API's one LISTEN connection: completions wake waiting callers, promotions refresh the model
-- catalog, key changes refresh the API-key cache.
LISTEN prediction_completed; LISTEN model_promoted; LISTEN api_keys_changed

-- name: insert_prediction_requests_grouped
-- :many (request_id, model_name, status, created_at).
-- Group commit: the single submissions that arrived together, one statement and one commit for all
-- (so one prediction_requested notification). Parallel arrays zipped in order; with an idempotency key
-- already used (or used twice in the group), that row is not inserted and not returned: the caller
-- reads the original with find_request_by_idempotency_key, as for one submission. api_key_ids: the
-- key that sent each.
INSERT INTO prediction_requests (request_id, model_name, features, idempotency_key, subject_ref, api_key_id)
SELECT t.request_id, t.model_name, t.features, t.idempotency_key, t.subject_ref, t.api_key_id
FROM ROWS FROM (
    unnest(%(request_ids)s::uuid[]),
    unnest(%(model_names)s::text[]),
    jsonb_array_elements(%(items)s::jsonb),
    unnest(%(idempotency_keys)s::text[]),
    unnest(%(subject_refs)s::text[]),
    unnest(%(api_key_ids)s::bigint[])
) AS t (request_id, model_name, features, idempotency_key, subject_ref, api_key_id)
ON CONFLICT DO NOTHING  -- the partition's unique index on idempotency_key (016)
RETURNING request_id, model_name, status, created_at
