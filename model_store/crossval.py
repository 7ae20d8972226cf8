"""The evaluation protocol: repeated stratified k-fold on all rows, the same folds for every candidate,
every tuning step (grid, threshold) nested inside each outer training fold.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.parallel import Parallel, delayed

from model_store.evaluation import METRICS, f1_threshold, scores, tuning_score
from model_store.pipelines import SEED, Recipe, build_pipeline, params_key

OUTER_FOLDS = 5
OUTER_REPEATS = 10
INNER_FOLDS = 3
FIXED_THRESHOLD = 0.5

Folds = list[tuple[np.ndarray, np.ndarray]]


def outer_folds(y: np.ndarray, repeats: int = OUTER_REPEATS) -> Folds:
    """The outer folds every candidate is scored on: 5-fold stratified, repeated, one fixed seed."""
    cv = RepeatedStratifiedKFold(n_splits=OUTER_FOLDS, n_repeats=repeats, random_state=SEED)
    return list(cv.split(np.zeros(len(y)), y))


@dataclass
class Fitted:
    """A recipe fitted on some rows: the pipeline, the configuration its inner CV chose, its threshold."""

    pipeline: Pipeline
    params: dict[str, Any]
    threshold: float
    inner: dict[str, float] = field(default_factory=dict)  # configuration key → inner-CV tuning score


def fit_recipe(recipe: Recipe, X: pd.DataFrame, y: np.ndarray) -> Fitted:
    """Tune (grid and threshold, by inner CV on these rows only), then fit on all of them."""
    if recipe.out_of_bag:
        return _fit_out_of_bag(recipe, X, y)
    needs_inner = len(recipe.grid) > 1 or recipe.f1_threshold
    best, threshold, inner = recipe.grid[0], FIXED_THRESHOLD, {}
    if needs_inner:
        folds = list(StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=SEED).split(X, y))
        oofs = {}
        for params in recipe.grid:
            oof = np.empty(len(y))
            for fit_idx, val_idx in folds:
                model = build_pipeline(recipe.name, params).fit(X.iloc[fit_idx], y[fit_idx])
                oof[val_idx] = model.predict_proba(X.iloc[val_idx])[:, 1]
            key = params_key(params)
            oofs[key] = oof
            inner[key] = float(np.mean([tuning_score(recipe.tune_by, y[v], oof[v]) for _, v in folds]))
        best_key = max(inner, key=inner.__getitem__)  # first in grid order on ties
        best = next(p for p in recipe.grid if params_key(p) == best_key)
        if recipe.f1_threshold:
            threshold = f1_threshold(y, oofs[best_key])
    pipeline = build_pipeline(recipe.name, best).fit(X, y)
    return Fitted(pipeline, dict(best), threshold, inner)


def _fit_out_of_bag(recipe: Recipe, X: pd.DataFrame, y: np.ndarray) -> Fitted:
    """Forests: tune and pick the threshold on out-of-bag probabilities, which only trees that never saw
    a row give for it: an inner validation on these rows at no extra fit."""
    best: tuple[float, Pipeline, dict[str, Any], np.ndarray, np.ndarray] | None = None
    inner = {}
    for params in recipe.grid:
        pipeline = build_pipeline(recipe.name, params)
        pipeline.set_params(model__oob_score=True).fit(X, y)
        forest = pipeline.named_steps["model"]
        votes = forest.oob_decision_function_
        # A row that every tree drew into its bootstrap has no out-of-bag vote (rare; it happens).
        seen = votes.sum(axis=1) > 0
        oob = votes[:, list(forest.classes_).index(1)]
        score = tuning_score(recipe.tune_by, y[seen], oob[seen])
        inner[params_key(params)] = score
        if best is None or score > best[0]:
            best = (score, pipeline, params, oob, seen)
        for attribute in ("oob_decision_function_", "oob_score_"):  # not needed to predict
            delattr(forest, attribute)
        forest.set_params(oob_score=False)
    assert best is not None
    _, pipeline, params, oob, seen = best
    threshold = f1_threshold(y[seen], oob[seen]) if recipe.f1_threshold else FIXED_THRESHOLD
    return Fitted(pipeline, dict(params), threshold, inner)


@dataclass
class FoldResult:
    """One candidate on one outer fold."""

    name: str
    fold: int
    scores: dict[str, float]
    params: dict[str, Any]
    threshold: float


def _one_fold(recipe: Recipe, X: pd.DataFrame, y: np.ndarray, folds: Folds, fold: int) -> FoldResult:
    train_idx, test_idx = folds[fold]
    fitted = fit_recipe(recipe, X.iloc[train_idx], y[train_idx])
    proba = fitted.pipeline.predict_proba(X.iloc[test_idx])[:, 1]
    return FoldResult(
        recipe.name, fold, scores(y[test_idx], proba, fitted.threshold), fitted.params, fitted.threshold
    )


def run_parallel(jobs: Iterable[Any], n_jobs: int, tick: Callable[[], None]) -> list[Any]:
    """Run joblib jobs on threads, calling tick() as each finishes (the progress bar)."""
    results = []
    # Set here, in the calling thread, for every worker: warning filters are process-wide, and a forest
    # warns when a row has no out-of-bag vote (_fit_out_of_bag leaves such rows out).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Some inputs do not have OOB scores", category=UserWarning)
        for result in Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator_unordered")(jobs):
            results.append(result)
            tick()
    return results


@dataclass
class CandidateCV:
    """A candidate's scores on every outer fold, in fold order, and what its inner tuning chose."""

    name: str
    per_fold: dict[str, list[float]]
    chosen: dict[str, int]  # configuration key → how many outer folds chose it
    thresholds: list[float]


def cross_validate(
    recipes: Sequence[Recipe],
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Folds,
    *,
    n_jobs: int,
    tick: Callable[[], None],
) -> dict[str, CandidateCV]:
    """Every recipe on every outer fold (the same folds for all)."""
    jobs = [delayed(_one_fold)(r, X, y, folds, f) for r in recipes for f in range(len(folds))]
    by_name: dict[str, list[FoldResult]] = {r.name: [] for r in recipes}
    for result in run_parallel(jobs, n_jobs, tick):
        by_name[result.name].append(result)
    out = {}
    for name, results in by_name.items():
        results.sort(key=lambda r: r.fold)
        chosen: dict[str, int] = {}
        for r in results:
            chosen[params_key(r.params)] = chosen.get(params_key(r.params), 0) + 1
        out[name] = CandidateCV(
            name,
            {m: [r.scores[m] for r in results] for m in METRICS},
            dict(sorted(chosen.items(), key=lambda kv: -kv[1])),
            [r.threshold for r in results],
        )
    return out


def held_out_fraction(folds: Folds) -> float:
    """n_test / n of the outer folds (1/OUTER_FOLDS up to rounding): the correction needs it."""
    train, test = folds[0]
    return len(test) / (len(train) + len(test))
