-- Retraining from labelled production traffic (python -m model_store train --from-outcomes).

-- name: labelled_requests
-- :many (features, label). Answered requests submitted at or after `since` (NULL: all) with a current
-- outcome; one row per employee when the requests carry a subject_ref (their newest request), so a
-- subject predicted every month does not weigh twelve times.
SELECT DISTINCT ON (coalesce(r.subject_ref, r.request_id::text)) r.features, o.label
FROM prediction_requests r
JOIN prediction_results res ON res.request_id = r.id
JOIN prediction_outcomes o ON o.request_id = r.id AND o.superseded_at IS NULL
WHERE %(since)s::timestamptz IS NULL OR r.created_at >= %(since)s::timestamptz
ORDER BY coalesce(r.subject_ref, r.request_id::text), r.created_at DESC, r.id DESC;
