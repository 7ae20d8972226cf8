"""Training: evaluate every candidate by repeated CV, gate them against the default, fit the served
models on all rows, check them once on a fixed hold-out, write the store."""

from __future__ import annotations

import io
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils.parallel import delayed
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from model_store import gate
from model_store.crossval import (
    INNER_FOLDS,
    OUTER_FOLDS,
    OUTER_REPEATS,
    CandidateCV,
    Fitted,
    cross_validate,
    fit_recipe,
    held_out_fraction,
    outer_folds,
    run_parallel,
)
from model_store.data import TrainingData, load_attrition
from model_store.drift_reference import drift_reference
from model_store.evaluation import INTERVAL_RULE, THRESHOLD_RULE, bootstrap_se, scores, summarise
from model_store.explain import embed_baseline
from model_store.features import FEATURES, TARGET, TARGET_DESCRIPTION, schema_as_json
from model_store.manifest import (
    MANIFEST,
    artifact_file,
    sha256_hex,
    version_for,
    write_atomic,
    write_manifest,
)
from model_store.onnx_export import embed_onnx
from model_store.pipelines import CANDIDATE_NAMES, DEFAULT_MODEL, MODEL_NAMES, RECIPES, SEED, params_key

HOLDOUT_SIZE = 0.2
# The libraries whose versions decide the artifacts' bytes and the figures (pinned in pyproject.toml).
TRAINING_LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas", "joblib")


@dataclass(frozen=True)
class Split:
    """The fixed stratified hold-out (seed SEED, never chosen by its result): a non-regression check."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    seed: int


def split_data(data: TrainingData) -> Split:
    """The stratified 80/20 hold-out split with the project seed."""
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=HOLDOUT_SIZE, stratify=data.y, random_state=SEED
    )
    return Split(X_train.reset_index(drop=True), X_test.reset_index(drop=True), y_train, y_test, SEED)


@dataclass
class Trained:
    """What training produced for one candidate, before it is written out."""

    name: str
    cv: CandidateCV
    summary: dict[str, dict[str, float]]
    holdout: dict[str, float]
    holdout_se: dict[str, float]
    final: Fitted | None = None  # fitted on all rows: served models only


@dataclass
class Evaluation:
    """The whole run: the protocol's folds, every candidate, and the gate's verdicts against the default."""

    rows: int
    test_fraction: float
    n_folds: int
    repeats: int
    split: Split
    candidates: dict[str, Trained]
    verdicts: dict[str, dict[str, Any]]


def _fit_job(key: str, name: str, X: pd.DataFrame, y: np.ndarray) -> tuple[str, str, Fitted]:
    return key, name, fit_recipe(RECIPES[name], X, y)


def train_models(
    data: TrainingData,
    *,
    n_jobs: int = 2,
    progress: bool = True,
    repeats: int = OUTER_REPEATS,
    names: tuple[str, ...] = CANDIDATE_NAMES,
) -> Evaluation:
    """Cross-validate every candidate, fit the served ones on all rows and every one on the hold-out's
    training part, and gate each against the default."""
    folds = outer_folds(data.y, repeats)
    split = split_data(data)
    recipes = [RECIPES[n] for n in names]
    served = [n for n in names if n in MODEL_NAMES]
    total = len(recipes) * len(folds) + len(served) + len(names)
    # One BLAS/OpenMP thread per fit: the folds already run in parallel, and gradient boosting's OpenMP
    # threads on a busy 2-core machine took ten times as long.
    bar = tqdm(total=total, desc="evaluating", unit="fold", disable=not progress, file=sys.stderr)
    with bar, threadpool_limits(limits=1):
        cv = cross_validate(recipes, data.X, data.y, folds, n_jobs=n_jobs, tick=bar.update)
        jobs = [delayed(_fit_job)("final", n, data.X, data.y) for n in served]
        jobs += [delayed(_fit_job)("holdout", n, split.X_train, split.y_train) for n in names]
        fits = {(k, n): f for k, n, f in run_parallel(jobs, n_jobs, bar.update)}
    fraction = held_out_fraction(folds)
    out = {}
    for n in names:
        held = fits["holdout", n]
        proba = held.pipeline.predict_proba(split.X_test)[:, 1]
        out[n] = Trained(
            n,
            cv[n],
            summarise(cv[n].per_fold, fraction),
            scores(split.y_test, proba, held.threshold),
            bootstrap_se(split.y_test, proba, held.threshold, SEED),
            fits.get(("final", n)),
        )
    verdicts = {}
    if DEFAULT_MODEL in out:
        incumbent = out[DEFAULT_MODEL].cv.per_fold
        verdicts = {
            n: gate.verdict(t.cv.per_fold, incumbent, fraction) for n, t in out.items() if n != DEFAULT_MODEL
        }
    return Evaluation(len(data.y), fraction, len(folds), repeats, split, out, verdicts)


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


def library_versions() -> dict[str, str]:
    """The installed versions of the libraries training depends on."""
    return {lib: metadata.version(lib) for lib in TRAINING_LIBRARIES}


def trained_on(data: TrainingData) -> dict[str, Any]:
    """What a version records of the rows it was fitted on (manifest entry and model_versions): their
    fingerprint, source and counts, and the drift reference the API compares recent requests with."""
    return {
        "training_data_sha256": data.sha256,
        "training_source": data.source,
        "training_rows": len(data.y),
        "training_positives": int(data.y.sum()),
        "reference": drift_reference(data).as_json(),
    }


def model_entry(
    t: Trained, sha256: str, facts: dict[str, Any], trained_at: str, verdict: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One served model's manifest entry (also what model_versions stores). The served models are fitted
    on all rows of the training data, so `facts` (its `trained_on`) are theirs."""
    assert t.final is not None
    version = version_for(sha256)
    gate_summary = _gate_summary(t.name, verdict)
    return {
        "name": t.name,
        "version": version,
        "file": artifact_file(t.name, version),
        "sha256": sha256,
        "sklearn_version": sklearn.__version__,
        "trained_at": trained_at,
        "threshold": t.final.threshold,
        "threshold_rule": THRESHOLD_RULE if RECIPES[t.name].f1_threshold else "fixed at 0.5",
        "params": _jsonable(t.final.params),
        "metrics": {"cv": t.summary, "test": t.holdout, "test_se": t.holdout_se, "gate": gate_summary},
        "feature_schema": schema_as_json(FEATURES),
        **facts,
    }


def _gate_summary(name: str, verdict: dict[str, Any] | None) -> dict[str, Any]:
    """What a registered version says of the gate (the dashboard reads it): its verdict against the
    default it was evaluated with."""
    if verdict is None:
        return {"incumbent": DEFAULT_MODEL, "is_incumbent": name == DEFAULT_MODEL}
    return {
        "incumbent": DEFAULT_MODEL,
        "is_incumbent": False,
        "better": verdict["better"],
        "roc_auc_difference": verdict["roc_auc"]["difference"],
        "p": verdict["roc_auc"]["p"],
        "reasons": verdict["reasons"],
    }


def candidate_entry(t: Trained) -> dict[str, Any]:
    """One candidate's evaluation: recipe, CV summary, every fold's figures, the hold-out check."""
    recipe = RECIPES[t.name]
    thresholds = t.cv.thresholds
    return {
        "recipe": recipe.description,
        "served": recipe.served,
        "tuned_by": recipe.tune_by if len(recipe.grid) > 1 else None,
        "chosen_on_all_rows": params_key(t.final.params) if t.final else None,
        "chosen_per_fold": t.cv.chosen,
        "threshold_per_fold": {
            "min": min(thresholds),
            "mean": float(np.mean(thresholds)),
            "max": max(thresholds),
        },
        "cv": t.summary,
        "per_fold": t.cv.per_fold,
        "holdout": {"scores": t.holdout, "se": t.holdout_se},
    }


def build_manifest(
    data: TrainingData, ev: Evaluation, entries: dict[str, dict[str, Any]], trained_at: str
) -> dict[str, Any]:
    """The manifest: data, protocol, every candidate's evaluation, the gate, and the served models."""
    s = ev.split
    return {
        "manifest_version": 2,
        "trained_at": trained_at,
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "library_versions": library_versions(),
        "seed": SEED,
        "data": {
            "source": data.source,
            "rows": len(data.y),
            "positives": int(data.y.sum()),
            "sha256": data.sha256,
            "target": {"name": TARGET, "description": TARGET_DESCRIPTION},
        },
        "protocol": {
            "outer_folds": OUTER_FOLDS,
            "repeats": ev.repeats,
            "folds": ev.n_folds,
            "inner_folds": INNER_FOLDS,
            "test_fraction": ev.test_fraction,
            "interval_rule": INTERVAL_RULE,
        },
        "holdout": {
            "seed": s.seed,
            "test_size": HOLDOUT_SIZE,
            "train_rows": len(s.y_train),
            "train_positives": int(s.y_train.sum()),
            "test_rows": len(s.y_test),
            "test_positives": int(s.y_test.sum()),
        },
        "threshold_rule": THRESHOLD_RULE,
        "default_model": DEFAULT_MODEL,
        "feature_schema": schema_as_json(FEATURES),
        "candidates": {n: candidate_entry(t) for n, t in ev.candidates.items()},
        "gate": {"incumbent": DEFAULT_MODEL, "rule": gate.RULE, "verdicts": ev.verdicts},
        "models": entries,
    }


def write_store(
    store_dir: Path, data: TrainingData, ev: Evaluation, manifest_name: str = MANIFEST
) -> dict[str, Any]:
    """Write each served model's joblib file (named by content) and the manifest; return the manifest."""
    trained_at = datetime.now(UTC).isoformat(timespec="seconds")
    facts = trained_on(data)
    entries = {}
    for name in MODEL_NAMES:
        t = ev.candidates.get(name)
        if t is None or t.final is None:
            continue
        embed_baseline(t.final.pipeline, data.X)  # what a linear explanation is relative to
        blob = artifact_bytes(t.final.pipeline)
        entry = model_entry(t, sha256_hex(blob), facts, trained_at, ev.verdicts.get(name))
        path = store_dir / entry["file"]
        if not path.is_file() or sha256_hex(path.read_bytes()) != entry["sha256"]:
            write_atomic(path, blob)
        entries[name] = entry
    manifest = build_manifest(data, ev, entries, trained_at)
    write_manifest(store_dir, manifest, manifest_name)
    return manifest


def train(
    store_dir: Path,
    *,
    data: TrainingData | None = None,
    n_jobs: int = 2,
    progress: bool = True,
    repeats: int = OUTER_REPEATS,
    manifest_name: str = MANIFEST,
) -> dict[str, Any]:
    """Evaluate and train on `data` (default: the packaged IBM data) into store_dir; return the manifest."""
    data = data or load_attrition()
    ev = train_models(data, n_jobs=n_jobs, progress=progress, repeats=repeats)
    return write_store(store_dir, data, ev, manifest_name)
