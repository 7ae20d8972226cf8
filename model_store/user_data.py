"""`train --data FILE`: an HR team's own CSV or Parquet file, checked against the served feature schema
before any training starts. Every problem is named by row and column, not only the first one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model_store.crossval import INNER_FOLDS, OUTER_FOLDS
from model_store.data import TrainingData, fingerprint
from model_store.errors import ModelError
from model_store.features import FEATURES, TARGET, Feature, snake_case

# Each outer training fold is split again in INNER_FOLDS: both classes must reach every inner fold.
MIN_PER_CLASS = OUTER_FOLDS * INNER_FOLDS
POSITIVE = {"1", "yes", "true", "y", "left"}
NEGATIVE = {"0", "no", "false", "n", "stayed"}
SHOWN_PER_COLUMN = 5


class DataProblems(ModelError):
    """The file cannot be trained on; `problems` lists each one."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s), nothing was trained:\n{lines}")


@dataclass(frozen=True)
class _Column:
    name: str  # as in the file
    feature: Feature


def read_table(path: Path) -> pd.DataFrame:
    """A CSV (any other suffix) or Parquet (.parquet, .pq) file, every value read as it is written."""
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def load_user_data(path: Path, target: str = TARGET) -> TrainingData:
    """The file as training data in schema order with a 0/1 target; DataProblems names every problem.

    Column names may be the schema's (`monthly_income`) or the IBM data set's (`MonthlyIncome`).
    """
    raw = read_table(path)
    frame = raw.drop(columns=[c for c in raw.columns if str(c) in ("", "rownames", "Unnamed: 0")])
    by_name = {snake_case(str(c)): str(c) for c in frame.columns}
    problems: list[str] = []
    target_column = by_name.get(snake_case(target))
    if target_column is None:
        problems.append(f"target column {target!r} is missing; columns: {', '.join(map(str, frame.columns))}")
    missing = [f.name for f in FEATURES if f.name not in by_name]
    if missing:
        problems.append(f"missing feature column(s): {', '.join(missing)}")
    known = {f.name for f in FEATURES} | {snake_case(target)}
    unknown = [str(c) for c in frame.columns if snake_case(str(c)) not in known]
    if unknown:
        problems.append(
            f"unknown column(s): {', '.join(unknown)} (the models take exactly the served features; "
            "drop these columns)"
        )
    columns = [_Column(by_name[f.name], f) for f in FEATURES if f.name in by_name]
    X = pd.DataFrame({c.feature.name: _check_column(frame[c.name], c, problems) for c in columns})
    y = _check_target(frame[target_column], target_column, problems) if target_column else None
    if problems:
        raise DataProblems(path, problems)
    assert y is not None
    X = X[[f.name for f in FEATURES]].reset_index(drop=True)
    return TrainingData(X=X, y=y, sha256=fingerprint(X, y), source=f"file {path.name}")


def _rows(mask: pd.Series) -> str:
    """`rows 3, 7, 9 and 12 more` (data rows numbered from 1, the header not counted)."""
    rows = [str(i + 1) for i in np.flatnonzero(mask.to_numpy())]
    shown = ", ".join(rows[:SHOWN_PER_COLUMN])
    more = f" and {len(rows) - SHOWN_PER_COLUMN} more" if len(rows) > SHOWN_PER_COLUMN else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _examples(values: pd.Series) -> str:
    return ", ".join(repr(v) for v in list(dict.fromkeys(values.tolist()))[:3])


def _check_column(values: pd.Series, column: _Column, problems: list[str]) -> pd.Series:
    f, name = column.feature, column.name
    text = values.astype(str).str.strip()
    empty = values.isna() | (text == "") | text.str.lower().isin(["nan", "none", "null", "na"])
    if empty.any():
        problems.append(f"column {name!r}: missing value in {_rows(empty)}")
    if f.type == "category":
        unknown = ~empty & ~text.isin(f.categories)
        if unknown.any():
            problems.append(
                f"column {name!r}: unknown category {_examples(text[unknown])} in {_rows(unknown)}; "
                f"expected one of {', '.join(f.categories)}"
            )
        return text
    numbers = pd.to_numeric(text.where(~empty), errors="coerce")
    wrong = ~empty & numbers.isna()
    if wrong.any():
        problems.append(f"column {name!r}: not a number: {_examples(text[wrong])} in {_rows(wrong)}")
    if f.type == "integer":
        fractional = numbers.notna() & (numbers != numbers.round())
        if fractional.any():
            problems.append(
                f"column {name!r}: expected an integer, got {_examples(text[fractional])} "
                f"in {_rows(fractional)}"
            )
    out_of_range = numbers.notna() & ((numbers < f.minimum) | (numbers > f.maximum))
    if out_of_range.any():
        problems.append(
            f"column {name!r}: out of range [{f.minimum:g}, {f.maximum:g}]: "
            f"{_examples(text[out_of_range])} in {_rows(out_of_range)}"
        )
    if f.type == "integer":
        return numbers.fillna(0).round().astype(np.int64)
    return numbers.astype(float)


def _check_target(values: pd.Series, name: str, problems: list[str]) -> np.ndarray | None:
    text = values.astype(str).str.strip().str.lower()
    distinct = sorted(set(text))
    positive, negative = text.isin(POSITIVE), text.isin(NEGATIVE)
    other = ~positive & ~negative
    if other.any() or len(distinct) != 2:
        problems.append(
            f"target column {name!r} must be binary (Yes/No, 1/0, true/false); found "
            f"{len(distinct)} distinct value(s): {', '.join(repr(v) for v in distinct[:6])}"
            + (f"; not binary in {_rows(other)}" if other.any() else "")
        )
        return None
    counts = {"positive (left)": int(positive.sum()), "negative (stayed)": int(negative.sum())}
    few = [f"{n} {label}" for label, n in counts.items() if n < MIN_PER_CLASS]
    if few:
        problems.append(
            f"target column {name!r}: too few rows to cross-validate ({', '.join(few)}; each class needs "
            f"at least {MIN_PER_CLASS} for {OUTER_FOLDS} outer × {INNER_FOLDS} inner stratified folds)"
        )
        return None
    return positive.to_numpy(dtype=np.int64)
