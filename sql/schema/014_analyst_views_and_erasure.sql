-- Least-privilege roles (issue 11), the parts that are schema objects: the views analysts read, and
-- the erasure of one subject. The roles themselves are in sql/roles.sql (cluster-wide, created by
-- python -m sql before any schema file) and what each may do in sql/grants.sql (applied after them).

-- Analysts: every answered and unanswered request with its features, result and current outcome,
-- without the subject reference, the idempotency key or who sent it. A view runs with its owner's
-- rights, so analysts need no grant on the tables underneath.
CREATE VIEW analyst_predictions AS
SELECT r.request_id, r.model_name, r.status, r.features, r.created_at, r.completed_at, r.error,
       p.prediction, p.probability, p.model_version, p.created_at AS answered_at,
       o.label AS outcome_label, o.observed_at AS outcome_observed_at
FROM prediction_requests AS r
LEFT JOIN prediction_results AS p ON p.request_id = r.id
LEFT JOIN prediction_outcomes AS o ON o.request_id = r.id AND o.superseded_at IS NULL;

COMMENT ON VIEW analyst_predictions IS
    'For analysts (futurisys_analyst): one row per prediction request with its features, answer and current observed outcome; no subject_ref, idempotency key or submitting key.';
COMMENT ON COLUMN analyst_predictions.request_id IS 'Public request id.';
COMMENT ON COLUMN analyst_predictions.model_name IS 'Model asked for.';
COMMENT ON COLUMN analyst_predictions.status IS 'pending, running, completed or failed.';
COMMENT ON COLUMN analyst_predictions.features IS 'The employee features sent (JSON object keyed by snake_case feature name).';
COMMENT ON COLUMN analyst_predictions.created_at IS 'When the request was submitted.';
COMMENT ON COLUMN analyst_predictions.completed_at IS 'When it was answered or failed.';
COMMENT ON COLUMN analyst_predictions.error IS 'Why it failed, if it did.';
COMMENT ON COLUMN analyst_predictions.prediction IS '1 = predicted to leave, 0 = to stay; null while unanswered.';
COMMENT ON COLUMN analyst_predictions.probability IS 'Predicted probability of attrition.';
COMMENT ON COLUMN analyst_predictions.model_version IS 'Version of the model that answered.';
COMMENT ON COLUMN analyst_predictions.answered_at IS 'When the answer was written.';
COMMENT ON COLUMN analyst_predictions.outcome_label IS 'Observed truth (1 = left, 0 = stayed), when posted.';
COMMENT ON COLUMN analyst_predictions.outcome_observed_at IS 'When the outcome was observed.';

CREATE VIEW analyst_explanations AS
SELECT r.request_id, x.model_name, x.model_version, x.method, x.scale, x.base_value, x.output_value,
       x.contributions, x.created_at
FROM prediction_explanations AS x
JOIN prediction_requests AS r ON r.id = x.request_id;

COMMENT ON VIEW analyst_explanations IS
    'For analysts (futurisys_analyst): the explanation of each explained prediction, by public request id.';
COMMENT ON COLUMN analyst_explanations.request_id IS 'Public request id.';
COMMENT ON COLUMN analyst_explanations.model_name IS 'Model that answered.';
COMMENT ON COLUMN analyst_explanations.model_version IS 'Version explained (the one that answered).';
COMMENT ON COLUMN analyst_explanations.method IS 'linear_log_odds, tree_shap or constant.';
COMMENT ON COLUMN analyst_explanations.scale IS 'log_odds or probability.';
COMMENT ON COLUMN analyst_explanations.base_value IS 'Model output at the baseline.';
COMMENT ON COLUMN analyst_explanations.output_value IS 'Model output for this request.';
COMMENT ON COLUMN analyst_explanations.contributions IS 'JSON array of {feature, value, contribution}.';
COMMENT ON COLUMN analyst_explanations.created_at IS 'When the explanation was written.';


-- Erasure of one subject (python -m sql erase --subject-ref REF): its requests and every row that
-- references them (results, outcomes, explanations, and whatever later tables point at
-- prediction_requests), in one transaction, with one audit event that holds the counts and not the
-- reference. Runs as the owner (SECURITY DEFINER); only the owner may call it (sql/grants.sql).
CREATE FUNCTION erase_subject(ref text) RETURNS TABLE (table_name text, rows_erased bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    fk record;
    n bigint;
    counts jsonb := '{}';
BEGIN
    IF ref IS NULL OR ref = '' THEN
        RAISE EXCEPTION 'erase_subject: a subject reference is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Lock the subject's requests in id order, as listeners do: a listener writing one of them
    -- finishes first, and one that comes later finds the row gone and skips it.
    PERFORM 1 FROM prediction_requests WHERE subject_ref = ref ORDER BY id FOR UPDATE;
    -- Every foreign key that points at prediction_requests (top-level constraints only: a partitioned
    -- table's clones per partition are covered by their parent's).
    FOR fk IN
        SELECT c.conrelid::regclass AS child,
               array_agg(quote_ident(ca.attname) ORDER BY k.ord) AS child_cols,
               array_agg(quote_ident(pa.attname) ORDER BY k.ord) AS parent_cols
        FROM pg_constraint c
        CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k (child_att, parent_att, ord)
        JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.child_att
        JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.parent_att
        WHERE c.contype = 'f' AND c.confrelid = 'prediction_requests'::regclass AND c.conparentid = 0
        GROUP BY c.oid, c.conrelid
        ORDER BY c.conrelid::regclass::text
    LOOP
        EXECUTE format(
            'DELETE FROM %s WHERE (%s) IN (SELECT %s FROM prediction_requests WHERE subject_ref = $1)',
            fk.child, array_to_string(fk.child_cols, ', '), array_to_string(fk.parent_cols, ', ')
        ) USING ref;
        GET DIAGNOSTICS n = ROW_COUNT;
        counts := counts || jsonb_build_object(fk.child::text, coalesce((counts ->> fk.child::text)::bigint, 0) + n);
    END LOOP;
    DELETE FROM prediction_requests WHERE subject_ref = ref;
    GET DIAGNOSTICS n = ROW_COUNT;
    counts := jsonb_build_object('prediction_requests', n) || counts;
    -- The trail says that a subject was erased and how many rows went, never which subject.
    PERFORM audit('data.erased', NULL, jsonb_build_object('rows', counts));
    RETURN QUERY SELECT key, value::bigint FROM jsonb_each_text(counts) ORDER BY key <> 'prediction_requests', key;
END;
$$;

COMMENT ON FUNCTION erase_subject(text) IS
    'Erase one subject: its prediction_requests and every row referencing them, in the calling transaction; returns rows erased per table and appends one data.erased audit event with the counts (not the reference).';
-- Only the owner may call it (sql/grants.sql); PUBLIC may not, from the moment it exists.
REVOKE EXECUTE ON FUNCTION erase_subject(text) FROM PUBLIC;
