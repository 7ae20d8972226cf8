"""Training: split, cross-validate every candidate, tune the default, fit, evaluate, write the store."""

from __future__ import annotations

import io
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils.parallel import Parallel, delayed
from tqdm import tqdm

from model_store.data import SOURCE, TrainingData, load_attrition
from model_store.evaluation import THRESHOLD_RULE, f1_threshold, scores, summarise
from model_store.explain import embed_baseline
from model_store.features import FEATURES, TARGET, TARGET_DESCRIPTION, schema_as_json
from model_store.manifest import artifact_file, sha256_hex, version_for, write_atomic, write_manifest
from model_store.onnx_export import embed_onnx
from model_store.pipelines import (
    DEFAULT_MODEL,
    MODEL_NAMES,
    SEED,
    Candidate,
    build_pipeline,
    candidates,
)

TEST_SIZE = 0.2
SPLIT_SEED = 0
CV_FOLDS = 5
FIXED_THRESHOLD = 0.5


@dataclass(frozen=True)
class Split:
    """The stratified train/test split and the CV folds of the training part."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    seed: int


def split_data(data: TrainingData, split_seed: int = SPLIT_SEED) -> Split:
    """Stratified hold-out split (fixed seed) and stratified folds of the training part."""
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=TEST_SIZE, stratify=data.y, random_state=split_seed
    )
    X_train, X_test = X_train.reset_index(drop=True), X_test.reset_index(drop=True)
    cv = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED)
    return Split(X_train, X_test, y_train, y_test, list(cv.split(X_train, y_train)), split_seed)


def _fold_proba(candidate: Candidate, split: Split, fold: int) -> tuple[str, int, np.ndarray]:
    fit_idx, val_idx = split.folds[fold]
    model = build_pipeline(candidate.model, candidate.params)
    model.fit(split.X_train.iloc[fit_idx], split.y_train[fit_idx])
    return candidate.key, fold, model.predict_proba(split.X_train.iloc[val_idx])[:, 1]


def _fit_final(name: str, params: dict[str, Any], split: Split) -> tuple[str, Pipeline]:
    pipeline = build_pipeline(name, params).fit(split.X_train, split.y_train)
    embed_baseline(pipeline, split.X_train)  # what a linear explanation is relative to
    return name, pipeline


@dataclass
class CVResult:
    """Out-of-fold probabilities of one candidate, fold by fold."""

    candidate: Candidate
    fold_proba: dict[int, np.ndarray]

    def oof(self, split: Split) -> np.ndarray:
        out = np.empty(len(split.y_train))
        for fold, proba in self.fold_proba.items():
            out[split.folds[fold][1]] = proba
        return out

    def per_fold(self, split: Split, threshold: float) -> list[dict[str, float]]:
        return [
            scores(split.y_train[split.folds[f][1]], self.fold_proba[f], threshold)
            for f in sorted(self.fold_proba)
        ]


def _run(jobs: Iterable[Any], n_jobs: int, bar: tqdm) -> list[Any]:
    results = []
    for result in Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator_unordered")(jobs):
        results.append(result)
        bar.update()
    return results


def cross_validate(split: Split, n_jobs: int, bar: tqdm) -> dict[str, CVResult]:
    """Out-of-fold probabilities of every candidate on the training part, keyed by candidate key."""
    cands = candidates()
    results = {c.key: CVResult(c, {}) for c in cands}
    jobs = [delayed(_fold_proba)(c, split, f) for c in cands for f in range(CV_FOLDS)]
    for key, fold, proba in _run(jobs, n_jobs, bar):
        results[key].fold_proba[fold] = proba
    return results


def choose_e04(results: dict[str, CVResult], split: Split) -> CVResult:
    """The tuned forest's configuration: best mean cross-validated PR-AUC (first in grid order on ties)."""
    grid = [r for r in results.values() if r.candidate.model == DEFAULT_MODEL]
    return max(grid, key=lambda r: summarise(r.per_fold(split, 0.5))["pr_auc"]["mean"])


@dataclass
class Trained:
    """What training produced for one model, before it is written out."""

    name: str
    params: dict[str, Any]
    threshold: float
    threshold_rule: str
    cv: dict[str, dict[str, float]]
    pipeline: Pipeline | None = None
    test: dict[str, float] | None = None


def select_models(results: dict[str, CVResult], split: Split) -> dict[str, Trained]:
    """One configuration per model name, with its threshold and CV metrics at that threshold."""
    chosen = {r.candidate.model: r for r in results.values() if r.candidate.model != DEFAULT_MODEL}
    chosen[DEFAULT_MODEL] = choose_e04(results, split)
    out = {}
    for name in MODEL_NAMES:
        result = chosen[name]
        if name == DEFAULT_MODEL:
            threshold, rule = f1_threshold(split.y_train, result.oof(split)), THRESHOLD_RULE
        else:
            threshold, rule = FIXED_THRESHOLD, f"fixed at {FIXED_THRESHOLD}"
        cv = summarise(result.per_fold(split, threshold))
        out[name] = Trained(name, dict(result.candidate.params), threshold, rule, cv)
    return out


def train_models(
    data: TrainingData, *, n_jobs: int = 2, progress: bool = True, split_seed: int = SPLIT_SEED
) -> tuple[Split, dict[str, Trained], dict[str, Any]]:
    """Cross-validate, tune, fit the four models on the training part and score them on the test part."""
    split = split_data(data, split_seed)
    total = len(candidates()) * CV_FOLDS + len(MODEL_NAMES)
    with tqdm(total=total, desc="training", unit="fit", disable=not progress) as bar:
        results = cross_validate(split, n_jobs, bar)
        models = select_models(results, split)
        jobs = [delayed(_fit_final)(m.name, m.params, split) for m in models.values()]
        for name, pipeline in _run(jobs, n_jobs, bar):
            models[name].pipeline = pipeline
    for m in models.values():
        assert m.pipeline is not None
        m.test = scores(split.y_test, m.pipeline.predict_proba(split.X_test)[:, 1], m.threshold)
    tuning = {
        r.candidate.key: summarise(r.per_fold(split, 0.5))["pr_auc"]
        for r in results.values()
        if r.candidate.model == DEFAULT_MODEL
    }
    return split, models, tuning


def artifact_bytes(pipeline: Pipeline) -> bytes:
    """The joblib serialisation of a fitted pipeline (uncompressed: fast to load, reproducible).

    Forests carry their ONNX graph inside the same pickle (see onnx_export), so the sha256
    registered in the database covers it and the listener never converts (converting with skl2onnx
    at load cost more than 100 MB of resident memory per process).
    """
    embed_onnx(pipeline)
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return buffer.getvalue()


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: ({str(c): w for c, w in v.items()} if isinstance(v, dict) else v) for k, v in params.items()}


def build_manifest(
    data: TrainingData,
    split: Split,
    models: dict[str, Trained],
    tuning: dict[str, Any],
    entries: dict[str, dict[str, Any]],
    trained_at: str,
) -> dict[str, Any]:
    """The manifest: data, split, schema, and per model its artifact, threshold and metrics."""
    return {
        "manifest_version": 1,
        "trained_at": trained_at,
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "seed": SEED,
        "data": {
            "source": SOURCE,
            "rows": len(data.y),
            "positives": int(data.y.sum()),
            "sha256": data.sha256,
            "target": {"name": TARGET, "description": TARGET_DESCRIPTION},
        },
        "split": {
            "seed": split.seed,
            "test_size": TEST_SIZE,
            "train_rows": len(split.y_train),
            "train_positives": int(split.y_train.sum()),
            "test_rows": len(split.y_test),
            "test_positives": int(split.y_test.sum()),
            "cv_folds": CV_FOLDS,
        },
        "threshold_rule": THRESHOLD_RULE,
        "default_model": DEFAULT_MODEL,
        "e04_tuning_cv_pr_auc": tuning,
        "feature_schema": schema_as_json(FEATURES),
        "models": entries,
    }


def model_entry(m: Trained, sha256: str, data: TrainingData, trained_at: str) -> dict[str, Any]:
    """One model's manifest entry (also what model_versions stores)."""
    version = version_for(sha256)
    return {
        "name": m.name,
        "version": version,
        "file": artifact_file(m.name, version),
        "sha256": sha256,
        "sklearn_version": sklearn.__version__,
        "training_data_sha256": data.sha256,
        "trained_at": trained_at,
        "threshold": m.threshold,
        "threshold_rule": m.threshold_rule,
        "params": _jsonable(m.params),
        "metrics": {"test": m.test, "cv": m.cv},
        "feature_schema": schema_as_json(FEATURES),
    }


def train(store_dir: Path, *, n_jobs: int = 2, progress: bool = True) -> dict[str, Any]:
    """Train the four models, write a joblib file each and manifest.json to store_dir; return the manifest."""
    data = load_attrition()
    split, models, tuning = train_models(data, n_jobs=n_jobs, progress=progress)
    trained_at = datetime.now(UTC).isoformat(timespec="seconds")
    entries = {}
    for m in models.values():
        assert m.pipeline is not None
        blob = artifact_bytes(m.pipeline)
        entry = model_entry(m, sha256_hex(blob), data, trained_at)
        path = store_dir / entry["file"]
        if not path.is_file() or sha256_hex(path.read_bytes()) != entry["sha256"]:
            write_atomic(path, blob)
        entries[m.name] = entry
    manifest = build_manifest(data, split, models, tuning, entries, trained_at)
    write_manifest(store_dir, manifest)
    return manifest
