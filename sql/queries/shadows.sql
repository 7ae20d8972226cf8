-- Shadow challengers: which versions run in the shadow of the default (model_store shadow / unshadow),
-- what they answered (the listener, after the client's answer), how they compare (GET /models/compare),
-- and the trail of model changes (GET /models/events, model_store rollback).

-- name: list_shadows
-- :many (model_name, version, is_default, sha256, artifact_path, sklearn_version, threshold, metrics,
--   feature_schema, trained_at, started_at).
-- Every shadow with the registered facts of its version, shaped like list_deployed_models
-- (is_default always false), by name.
SELECT s.model_name, s.version, false AS is_default, v.sha256, v.artifact_path, v.sklearn_version,
       v.threshold, v.metrics, v.feature_schema, v.trained_at, s.started_at
FROM model_shadows s
JOIN model_versions v USING (model_name, version)
ORDER BY s.model_name;

-- name: start_shadow
-- :one (version).
-- Run `version` of `model_name` in the shadow of the default (replacing another version of that name).
-- Fires NOTIFY model_promoted and the model.shadow_started audit event. Returns nothing when unchanged.
INSERT INTO model_shadows (model_name, version)
VALUES (%(model_name)s, %(version)s)
ON CONFLICT (model_name) DO UPDATE
    SET version = EXCLUDED.version, started_at = now()
    WHERE model_shadows.version IS DISTINCT FROM EXCLUDED.version
RETURNING version;

-- name: stop_shadow
-- :one (version) of the shadow stopped, none when `model_name` was not a shadow.
-- Fires NOTIFY model_promoted and the model.shadow_stopped audit event.
DELETE FROM model_shadows WHERE model_name = %(model_name)s RETURNING version;

-- name: begin_shadow_write
-- :one (synchronous_commit, lock_timeout).
-- First statement of a transaction writing shadow rows: it commits without waiting for the WAL flush (a
-- row lost to a server crash is scored again by the catch-up: shadow_catch_up), and waits at most 50 ms
-- for an erasure holding the shadow lock (then the rows are left to the catch-up, the answers go on).
SELECT set_config('synchronous_commit', 'off', true) AS synchronous_commit,
       set_config('lock_timeout', '50ms', true) AS lock_timeout

-- name: lock_shadow_writes
-- :none.
-- Second statement: the shared side of the lock erase_subject() takes exclusively (schema 021). Its own
-- statement, so that the insert after it sees an erasure that committed while this one waited.
SELECT pg_advisory_xact_lock_shared(shadow_writes_lock_key())

-- name: record_shadow_rows
-- :none.
-- The challengers' answers, or their errors, for requests already answered: parallel arrays, one
-- element per row (model_sha256, prediction and probability null where error is set). Rows of requests
-- that no longer exist (erased since their answer) are left out. A row written twice (a listener that
-- stalled past its lease, a catch-up that went first) fails the whole statement: the listener then
-- writes the batch again with record_shadow_rows_again.
INSERT INTO shadow_predictions
    (request_id, model_name, model_version, model_sha256, prediction, probability, error)
SELECT t.request_id, t.model_name, t.model_version, t.model_sha256, t.prediction, t.probability, t.error
FROM unnest(%(request_ids)s::bigint[], %(model_names)s::text[], %(model_versions)s::text[],
            %(model_sha256s)s::text[], %(predictions)s::smallint[], %(probabilities)s::float8[],
            %(errors)s::text[])
     AS t(request_id, model_name, model_version, model_sha256, prediction, probability, error)
-- = ANY of an array: an index probe per row and partition, never a scan of the requests.
WHERE t.request_id = ANY (ARRAY(SELECT id FROM prediction_requests WHERE id = ANY (%(request_ids)s::bigint[])))

-- name: record_shadow_rows_again
-- :none.
-- As record_shadow_rows, skipping the rows already written (the catch-up, and a retry after a conflict).
INSERT INTO shadow_predictions
    (request_id, model_name, model_version, model_sha256, prediction, probability, error)
SELECT t.request_id, t.model_name, t.model_version, t.model_sha256, t.prediction, t.probability, t.error
FROM unnest(%(request_ids)s::bigint[], %(model_names)s::text[], %(model_versions)s::text[],
            %(model_sha256s)s::text[], %(predictions)s::smallint[], %(probabilities)s::float8[],
            %(errors)s::text[])
     AS t(request_id, model_name, model_version, model_sha256, prediction, probability, error)
WHERE t.request_id = ANY (ARRAY(SELECT id FROM prediction_requests WHERE id = ANY (%(request_ids)s::bigint[])))
ON CONFLICT (request_id, model_name) DO NOTHING

-- name: shadow_catch_up_start
-- :one (started_at, after_id).
-- Where a listener's catch-up of one shadow starts: just before the first request submitted since the
-- shadow started (none yet: after the newest request). None when the shadow is no longer attached.
SELECT s.started_at,
       coalesce((SELECT r.id - 1 FROM prediction_requests r WHERE r.created_at >= s.started_at
                 ORDER BY r.created_at LIMIT 1),
                (SELECT max(id) FROM prediction_requests), 0) AS after_id
FROM model_shadows s
WHERE s.model_name = %(model_name)s AND s.version = %(model_version)s

-- name: shadow_catch_up
-- :one (scanned_through, first_unsettled, ids, features).
-- The next `limit` requests of the default model after `after_id`, submitted since the shadow started:
-- the last id looked at; the first that is not settled yet (open, or answered less than `grace_seconds`
-- ago: its listener may still be writing its shadow rows), before which the next scan starts again; and
-- the answered ones without a shadow row of this challenger (a listener killed between the answer's commit
-- and the shadow's, a server crash that lost an asynchronous commit), with their features, by id. A
-- request the challenger's own version answered (promoted while still a shadow) is not compared with itself.
WITH scanned AS (
    SELECT r.id, r.status, r.features, r.created_at,
           r.status IN ('completed', 'failed')
               AND r.completed_at < clock_timestamp() - make_interval(secs => %(grace_seconds)s::float8) AS settled
    FROM prediction_requests r
    WHERE r.model_name = %(default_model)s AND r.id > %(after_id)s::bigint
    ORDER BY r.id
    LIMIT %(limit)s::int
), missing AS (
    SELECT s.id, s.features
    FROM scanned s
    WHERE s.settled AND s.status = 'completed' AND s.created_at >= %(started_at)s::timestamptz
      AND NOT EXISTS (SELECT 1 FROM shadow_predictions p
                      WHERE p.request_id = s.id AND p.model_name = %(model_name)s::text)
      AND NOT EXISTS (SELECT 1 FROM prediction_results res
                      WHERE res.request_id = s.id AND %(model_name)s::text = %(default_model)s::text
                        AND res.model_version = %(model_version)s::text)
)
SELECT (SELECT max(id) FROM scanned) AS scanned_through,
       (SELECT min(id) FROM scanned WHERE NOT settled) AS first_unsettled,
       coalesce((SELECT array_agg(id ORDER BY id) FROM missing), '{}') AS ids,
       coalesce((SELECT array_agg(features ORDER BY id) FROM missing), '{}') AS features

-- name: compare_challenger
-- :one (paired, shadow_errors, challenger_versions, agreement, mean_abs_difference, labelled, positives,
--   primary_roc_auc, challenger_roc_auc, roc_auc_difference, difference_variance, z).
-- A challenger against the answers given to clients on the same requests submitted in
-- [since, until) (challenger version: the given one, else every version of the name): paired requests,
-- shadow errors, agreement of decisions, mean absolute probability difference, and on the labelled pairs
-- (current outcomes) both ROC-AUCs with DeLong's variance of their difference and its z statistic.
-- Each ROC-AUC is the mean of its structural components: per positive, the share of negatives scored
-- below it (ties one half); per negative, the share of positives scored above it. The variance of the
-- difference is var(components of A - B) over positives / m + the same over negatives / n. NULL when a
-- class is missing (AUC) or has fewer than two rows (variance).
WITH shadow AS (
    SELECT s.request_id, s.model_version, s.prediction, s.probability, s.error
    FROM shadow_predictions s
    JOIN prediction_requests r ON r.id = s.request_id
    WHERE s.model_name = %(challenger)s
      AND (%(version)s::text IS NULL OR s.model_version = %(version)s::text)
      AND r.created_at >= %(since)s AND r.created_at < %(until)s
), pairs AS (
    SELECT s.request_id AS id, res.probability AS p_primary, res.prediction AS d_primary,
           s.probability AS p_challenger, s.prediction AS d_challenger, o.label AS y
    FROM shadow s
    JOIN prediction_results res ON res.request_id = s.request_id
    LEFT JOIN prediction_outcomes o ON o.request_id = s.request_id AND o.superseded_at IS NULL
    WHERE s.error IS NULL
), counted AS (
    SELECT count(*) AS paired,
           avg((d_primary = d_challenger)::int::float8) AS agreement,
           avg(abs(p_primary - p_challenger)) AS mean_abs_difference,
           count(y) AS labelled,
           count(*) FILTER (WHERE y = 1) AS positives
    FROM pairs
), scores AS (
    SELECT id, y, 'primary' AS side, p_primary AS p FROM pairs WHERE y IS NOT NULL
    UNION ALL
    SELECT id, y, 'challenger' AS side, p_challenger AS p FROM pairs WHERE y IS NOT NULL
), by_probability AS (
    SELECT side, p,
           count(*) FILTER (WHERE y = 1)::float8 AS pos,
           count(*) FILTER (WHERE y = 0)::float8 AS neg
    FROM scores
    GROUP BY side, p
), ranked AS (
    SELECT side, p, pos, neg,
           sum(neg) OVER (PARTITION BY side ORDER BY p) - neg AS neg_below,
           sum(pos) OVER (PARTITION BY side ORDER BY p DESC) - pos AS pos_above
    FROM by_probability
), components AS (
    SELECT s.id, s.y, s.side,
           CASE WHEN s.y = 1 THEN (k.neg_below + 0.5 * k.neg) / (c.labelled - c.positives)
                ELSE (k.pos_above + 0.5 * k.pos) / c.positives END AS v
    FROM scores s
    JOIN ranked k ON k.side = s.side AND k.p = s.p
    CROSS JOIN counted c
    WHERE c.positives > 0 AND c.labelled > c.positives
), paired_components AS (
    SELECT id, y,
           max(v) FILTER (WHERE side = 'primary') AS v_primary,
           max(v) FILTER (WHERE side = 'challenger') AS v_challenger
    FROM components
    GROUP BY id, y
), delong AS (
    SELECT avg(v_primary) FILTER (WHERE y = 1) AS primary_roc_auc,
           avg(v_challenger) FILTER (WHERE y = 1) AS challenger_roc_auc,
           var_samp(v_challenger - v_primary) FILTER (WHERE y = 1)
               / count(*) FILTER (WHERE y = 1)
           + var_samp(v_challenger - v_primary) FILTER (WHERE y = 0)
               / count(*) FILTER (WHERE y = 0) AS difference_variance
    FROM paired_components
)
SELECT c.paired,
       (SELECT count(*) FROM shadow WHERE error IS NOT NULL) AS shadow_errors,
       (SELECT coalesce(array_agg(DISTINCT model_version ORDER BY model_version), '{}') FROM shadow)
           AS challenger_versions,
       c.agreement, c.mean_abs_difference, c.labelled, c.positives,
       d.primary_roc_auc, d.challenger_roc_auc,
       d.challenger_roc_auc - d.primary_roc_auc AS roc_auc_difference,
       d.difference_variance,
       CASE WHEN d.difference_variance > 0
            THEN (d.challenger_roc_auc - d.primary_roc_auc) / sqrt(d.difference_variance) END AS z
FROM counted c
CROSS JOIN delong d;

-- name: compare_primaries
-- :many (model_name, version, paired).
-- Which model versions answered the clients on the challenger's pairs in the window, with how many.
SELECT r.model_name, res.model_version AS version, count(*) AS paired
FROM shadow_predictions s
JOIN prediction_requests r ON r.id = s.request_id
JOIN prediction_results res ON res.request_id = s.request_id
WHERE s.model_name = %(challenger)s AND s.error IS NULL
  AND (%(version)s::text IS NULL OR s.model_version = %(version)s::text)
  AND r.created_at >= %(since)s AND r.created_at < %(until)s
GROUP BY r.model_name, res.model_version
ORDER BY count(*) DESC, r.model_name, res.model_version;

-- name: model_events
-- :many (id, at, actor, action, subject, details).
-- Model changes from the audit trail, newest first: deployments, promotions, rollbacks, shadows
-- started and stopped, with who acted and the facts (versions, reason, evidence, verdict).
SELECT id, at, actor, action, subject, details
FROM audit_events
WHERE action LIKE 'model.%%'
  AND (%(model_name)s::text IS NULL OR subject = %(model_name)s::text)
ORDER BY id DESC
LIMIT %(limit)s::int;

-- name: last_change_to
-- :one (id, at, action, details).
-- The newest event that brought `model_name` to `version` as it stands now (a deployment,
-- promotion or rollback): what a rollback undoes.
SELECT id, at, action, details
FROM audit_events
WHERE action IN ('model.deployed', 'model.promoted', 'model.rolled_back')
  AND subject = %(model_name)s
  AND details ->> 'to_version' = %(version)s
ORDER BY id DESC
LIMIT 1;

-- name: current_default
-- :one (model_name, version).
-- The default model and the version answering for it (none when no model is the default).
SELECT model_name, version FROM model_deployments WHERE is_default;
