-- Which requests a batch of posted outcomes is the truth for (POST /outcomes, issue 14). One function,
-- so the two statements that record outcomes (supersede what changed, insert what is new) match the
-- same rows, and a DBA can ask it the same question from psql.

CREATE FUNCTION outcome_matches(
    asked_request_ids  uuid[],
    asked_subject_refs text[],
    asked_labels       smallint[],
    asked_observed_at  timestamptz[],
    horizon            interval
) RETURNS TABLE (
    item        bigint,
    request_id  bigint,
    label       smallint,
    observed_at timestamptz,
    matched_by  text,
    wins        boolean
)
LANGUAGE sql STABLE AS $$
    WITH asked AS (
        SELECT a.item, a.public_id, a.subject_ref, a.label, a.observed_at
        FROM unnest(asked_request_ids, asked_subject_refs, asked_labels, asked_observed_at) WITH ORDINALITY
             AS a (public_id, subject_ref, label, observed_at, item)
    ), hit AS (
        SELECT a.item, r.id AS request_id, a.label, a.observed_at, 'request_id' AS matched_by
        FROM asked a
        JOIN prediction_requests r ON r.request_id = a.public_id
        UNION ALL
        -- A subject's outcome is the truth for the predictions made about it before it was observed,
        -- back to the horizon: an older prediction was about another situation.
        SELECT a.item, r.id, a.label, a.observed_at, 'subject_ref'
        FROM asked a
        JOIN prediction_requests r
          ON r.subject_ref = a.subject_ref
         AND r.created_at < a.observed_at
         AND r.created_at >= a.observed_at - horizon
        WHERE a.public_id IS NULL
    )
    -- A request matched by several items of one post takes the last of them (in the items' order).
    SELECT h.item, h.request_id, h.label, h.observed_at, h.matched_by,
           row_number() OVER (PARTITION BY h.request_id ORDER BY h.item DESC) = 1 AS wins
    FROM hit h
$$;

COMMENT ON FUNCTION outcome_matches(uuid[], text[], smallint[], timestamptz[], interval) IS
    'Posted outcomes (arrays zipped in order: request_id or NULL, subject_ref, label, observed_at) matched to requests: by public request_id, or by subject_ref for that subject''s requests made in [observed_at - horizon, observed_at). One row per (item, request); wins marks the item whose outcome the request takes (the last that matched it). Items with no row matched nothing.';
