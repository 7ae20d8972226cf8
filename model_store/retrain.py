"""`python -m model_store train --from-outcomes`: a candidate fitted on the production requests whose true
outcome was posted (optionally plus the packaged data), registered as a new version of its model name,
not deployed; optionally attached as a shadow of the default at once. From truth to a safer model, no code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import sklearn
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from model_store.data import TrainingData, fingerprint, load_attrition
from model_store.errors import ModelError
from model_store.evaluation import scores
from model_store.explain import embed_baseline
from model_store.features import FEATURES, schema_as_json
from model_store.manifest import artifact_file, sha256_hex, version_for, write_atomic
from model_store.pipelines import build_pipeline
from model_store.registration import register_version
from model_store.training import artifact_bytes, trained_on
from sql.named_queries import QUERIES, class_rows

CV_FOLDS = 5
FIXED_THRESHOLD = 0.5  # like the served logistic: a candidate's threshold is tuned only by a full evaluation
MIN_ROWS_PER_CLASS = CV_FOLDS  # stratified folds need one of each class per fold
SEED = 0
LIVE_SOURCE = "labelled production requests"


@dataclass(frozen=True)
class Labelled:
    features: dict[str, Any]
    label: int


LABELLED = class_rows("labelled_requests", Labelled)


@dataclass(frozen=True)
class Retrained:
    """The registered candidate and what it was fitted on."""

    entry: dict[str, Any]
    labelled_rows: int
    packaged_rows: int


def labelled_traffic(conn: psycopg.Connection[Any], since: datetime | None) -> TrainingData:
    """The labelled production requests as training data (schema column order)."""
    with conn.cursor(row_factory=LABELLED) as cur:
        rows = cur.execute(QUERIES["labelled_requests"], {"since": since}).fetchall()
    names = [f.name for f in FEATURES]
    X = pd.DataFrame([r.features for r in rows], columns=names)
    y = np.array([r.label for r in rows], dtype=np.int64)
    return TrainingData(X=X, y=y, sha256=fingerprint(X, y), source=LIVE_SOURCE)


def combine(live: TrainingData, packaged: TrainingData | None) -> TrainingData:
    if packaged is None:
        return live
    X = pd.concat([live.X, packaged.X.astype(live.X.dtypes.to_dict()) if len(live.y) else packaged.X])
    X = X.reset_index(drop=True)
    y = np.concatenate([live.y, packaged.y])
    return TrainingData(X=X, y=y, sha256=fingerprint(X, y), source=f"{live.source} + packaged data")


def check_enough(data: TrainingData, since: datetime | None) -> None:
    positives = int(data.y.sum())
    negatives = len(data.y) - positives
    if min(positives, negatives) < MIN_ROWS_PER_CLASS:
        window = f" since {since.isoformat()}" if since else ""
        raise ModelError(
            f"too few labelled requests to train on{window}: {len(data.y)} with {positives} leaver(s) and "
            f"{negatives} stayer(s); at least {MIN_ROWS_PER_CLASS} of each are needed (POST /outcomes)"
        )


def fit_candidate(model: str, data: TrainingData) -> tuple[Any, dict[str, float]]:
    """The fitted pipeline and its out-of-fold scores (stratified CV on the same rows)."""
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED)
    oof = cross_val_predict(build_pipeline(model), data.X, data.y, cv=folds, method="predict_proba")[:, 1]
    pipeline = build_pipeline(model).fit(data.X, data.y)
    embed_baseline(pipeline, data.X)
    return pipeline, scores(data.y, oof, FIXED_THRESHOLD)


def train_from_outcomes(
    conninfo: str,
    store_dir: Path,
    model: str = "logistic",
    since: datetime | None = None,
    with_packaged: bool = False,
) -> Retrained:
    """Fit `model` on the labelled traffic (plus the packaged data), write its artifact, register it."""
    with psycopg.connect(conninfo) as conn:
        live = labelled_traffic(conn, since)
    data = combine(live, load_attrition() if with_packaged else None)
    check_enough(data, since)
    pipeline, cv = fit_candidate(model, data)
    blob = artifact_bytes(pipeline)
    sha = sha256_hex(blob)
    version = version_for(sha)
    entry = {
        "name": model,
        "version": version,
        "file": artifact_file(model, version),
        "sha256": sha,
        "sklearn_version": sklearn.__version__,
        "threshold": FIXED_THRESHOLD,
        "metrics": {
            "cv_oof": cv,
            "trained_on": {
                "source": data.source,
                "since": since.isoformat() if since else None,
                "labelled_requests": len(live.y),
                "rows": len(data.y),
                "positives": int(data.y.sum()),
            },
        },
        "feature_schema": schema_as_json(FEATURES),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **trained_on(data),  # the fingerprint, counts and drift reference of exactly these rows
    }
    write_atomic(store_dir / entry["file"], blob)
    with psycopg.connect(conninfo) as conn, conn.transaction():
        register_version(conn, entry)
    return Retrained(entry, len(live.y), len(data.y) - len(live.y))
