-- Live performance of each model version against the observed outcomes: GET /monitoring/performance and
-- the model_live_* gauges of /metrics (service/repository/performance.py). The window is by prediction
-- submission time, [since, until), optionally for one model name; only answered predictions count, and
-- only those with a current outcome are labelled.

-- name: performance_by_version
-- :many (model_name, version, bucket, predictions, labelled, positives, positive_rate, roc_auc, pr_auc,
--   brier, precision, recall, f1, threshold, offline_metrics).
-- Per model name, version and time bucket (bucket_seconds NULL: one bucket, starting at since, for the
-- whole window): answered and labelled predictions, positives, ROC-AUC, average precision (PR-AUC),
-- Brier score, and precision / recall / F1 of the decisions the version made at its threshold.
-- ROC-AUC is the Mann-Whitney statistic (a positive and a negative with the same probability count one
-- half), average precision is sum over distinct probabilities, highest first, of (recall gained) x
-- (precision there): both as scikit-learn computes them, and NULL unless both outcomes occur.
WITH answered AS (
    SELECT r.model_name,
           res.model_version AS version,
           CASE WHEN %(bucket_seconds)s::int IS NULL THEN %(since)s::timestamptz
                ELSE date_bin(make_interval(secs => %(bucket_seconds)s::int), r.created_at, TIMESTAMPTZ 'epoch')
           END AS bucket,
           res.probability AS p,
           res.prediction AS decided,
           o.label AS y
    FROM prediction_requests r
    JOIN prediction_results res ON res.request_id = r.id
    LEFT JOIN prediction_outcomes o ON o.request_id = r.id AND o.superseded_at IS NULL
    WHERE r.created_at >= %(since)s AND r.created_at < %(until)s
      AND (%(model_name)s::text IS NULL OR r.model_name = %(model_name)s::text)
), by_probability AS (
    -- float8 counts: the sums below stay exact (integers and halves) and in float8 arithmetic.
    SELECT model_name, version, bucket, p,
           count(*) FILTER (WHERE y = 1)::float8 AS pos,
           count(*) FILTER (WHERE y = 0)::float8 AS neg
    FROM answered
    WHERE y IS NOT NULL
    GROUP BY model_name, version, bucket, p
), ranked AS (
    SELECT model_name, version, bucket, pos, neg,
           sum(neg) OVER ascending - neg AS neg_below,
           sum(pos) OVER descending AS pos_from_here,
           sum(neg) OVER descending AS neg_from_here
    FROM by_probability
    WINDOW ascending AS (PARTITION BY model_name, version, bucket ORDER BY p),
           descending AS (PARTITION BY model_name, version, bucket ORDER BY p DESC)
), curves AS (
    SELECT model_name, version, bucket,
           sum(pos * (neg_below + neg * 0.5)) AS ordered_pairs,
           sum(pos * pos_from_here / (pos_from_here + neg_from_here)) AS precision_sum
    FROM ranked
    GROUP BY model_name, version, bucket
), counted AS (
    SELECT model_name, version, bucket,
           count(*) AS predictions,
           count(y) AS labelled,
           count(*) FILTER (WHERE y = 1) AS positives,
           avg((p - y) * (p - y)) AS brier,
           count(*) FILTER (WHERE y = 1 AND decided = 1) AS tp,
           count(*) FILTER (WHERE y = 0 AND decided = 1) AS fp,
           count(*) FILTER (WHERE y = 1 AND decided = 0) AS fn
    FROM answered
    GROUP BY model_name, version, bucket
)
SELECT n.model_name, n.version, n.bucket, n.predictions, n.labelled, n.positives,
       n.positives::float8 / nullif(n.labelled, 0) AS positive_rate,
       CASE WHEN n.positives > 0 AND n.labelled > n.positives
            THEN c.ordered_pairs / (n.positives::float8 * (n.labelled - n.positives)) END AS roc_auc,
       CASE WHEN n.positives > 0 AND n.labelled > n.positives
            THEN c.precision_sum / n.positives END AS pr_auc,
       n.brier,
       n.tp::float8 / nullif(n.tp + n.fp, 0) AS precision,
       n.tp::float8 / nullif(n.tp + n.fn, 0) AS recall,
       2 * n.tp::float8 / nullif(2 * n.tp + n.fp + n.fn, 0) AS f1,
       v.threshold,
       coalesce(v.metrics, '{}') AS offline_metrics
FROM counted n
LEFT JOIN curves c ON c.model_name = n.model_name AND c.version = n.version AND c.bucket = n.bucket
LEFT JOIN model_versions v ON v.model_name = n.model_name AND v.version = n.version
ORDER BY n.model_name, n.version, n.bucket

-- name: performance_calibration
-- :many (model_name, version, bin_start, bin_end, count, mean_predicted, observed_rate).
-- Labelled predictions per model name and version in `bins` equal probability bins over [0, 1] (a
-- probability of exactly 1 counts in the last bin): how many, their mean predicted probability and the
-- share that really left. Every bin of every version with a labelled prediction is returned, empty
-- ones with count 0 and NULL means.
WITH labelled AS (
    SELECT r.model_name, res.model_version AS version,
           least(width_bucket(res.probability, 0.0, 1.0, %(bins)s), %(bins)s) AS bin,
           res.probability AS p, o.label AS y
    FROM prediction_requests r
    JOIN prediction_results res ON res.request_id = r.id
    JOIN prediction_outcomes o ON o.request_id = r.id AND o.superseded_at IS NULL
    WHERE r.created_at >= %(since)s AND r.created_at < %(until)s
      AND (%(model_name)s::text IS NULL OR r.model_name = %(model_name)s::text)
), binned AS (
    SELECT model_name, version, bin, count(*) AS count, avg(p) AS mean_predicted, avg(y::float8) AS observed_rate
    FROM labelled
    GROUP BY model_name, version, bin
)
SELECT g.model_name, g.version,
       (b.bin - 1)::float8 / %(bins)s AS bin_start,
       b.bin::float8 / %(bins)s AS bin_end,
       coalesce(c.count, 0) AS count,
       c.mean_predicted,
       c.observed_rate
FROM (SELECT DISTINCT model_name, version FROM binned) AS g
CROSS JOIN generate_series(1, %(bins)s) AS b (bin)
LEFT JOIN binned c ON c.model_name = g.model_name AND c.version = g.version AND c.bin = b.bin
ORDER BY g.model_name, g.version, b.bin
