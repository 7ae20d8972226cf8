-- Queries behind POST /outcomes (service/repository/outcomes.py). Both take the posted items as four
-- arrays zipped in order (request_ids, subject_refs, labels, observed_at), a horizon in days and
-- submitted_by (the API key whose requests alone may match, or NULL for all), and run in one
-- transaction: first supersede_changed_outcomes, then record_new_outcomes.

-- name: supersede_changed_outcomes
-- :many (request_id).
-- Corrections: the current outcome of a matched request whose label or observed_at differs from the
-- posted one stops being current (kept as history). Returns one row per outcome superseded.
UPDATE prediction_outcomes o
SET superseded_at = clock_timestamp()
FROM outcome_matches(%(request_ids)s::uuid[], %(subject_refs)s::text[], %(labels)s::smallint[],
                     %(observed_at)s::timestamptz[], make_interval(days => %(horizon_days)s),
                     %(submitted_by)s::bigint) AS m
WHERE m.wins
  AND o.request_id = m.request_id
  AND o.superseded_at IS NULL
  AND (o.label, o.observed_at) IS DISTINCT FROM (m.label, m.observed_at)
RETURNING o.request_id

-- name: record_new_outcomes
-- :one (matched, recorded, unknown_items).
-- Insert the posted outcome of every matched request that has no current outcome (new, or just
-- superseded); a request whose current outcome already says the same is left alone. Returns the
-- counts: matched requests, outcomes recorded, and the (1-based) items that matched no request.
WITH m AS (
    SELECT *
    FROM outcome_matches(%(request_ids)s::uuid[], %(subject_refs)s::text[], %(labels)s::smallint[],
                         %(observed_at)s::timestamptz[], make_interval(days => %(horizon_days)s),
                         %(submitted_by)s::bigint)
), recorded AS (
    INSERT INTO prediction_outcomes (request_id, label, observed_at, source)
    SELECT m.request_id, m.label, m.observed_at, 'matched by ' || m.matched_by || '; ' || %(source)s
    FROM m
    WHERE m.wins
      AND NOT EXISTS (
          SELECT 1 FROM prediction_outcomes o WHERE o.request_id = m.request_id AND o.superseded_at IS NULL
      )
    RETURNING request_id
)
SELECT (SELECT count(*) FROM m WHERE m.wins) AS matched,
       (SELECT count(*) FROM recorded) AS recorded,
       ARRAY(
           SELECT g FROM generate_series(1, cardinality(%(labels)s::smallint[])) AS g
           WHERE NOT EXISTS (SELECT 1 FROM m WHERE m.item = g)
           ORDER BY g
       ) AS unknown_items
