"""Rows (feature dicts) to the model matrix, without pandas: the fitted ColumnTransformer, replayed in numpy.

A pipeline on a one-row DataFrame spends most of its ~8 ms in pandas and ColumnTransformer
bookkeeping; the arithmetic is a subtraction, a division and a few one-hot positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from model_store.features import FeatureError
from model_store.transforms import Log1p


class UnsupportedTransformer(TypeError):
    """The fitted preprocessor has a shape RowEncoder cannot replay; use the pipeline itself."""


@dataclass(frozen=True)
class CategoryBlock:
    """One one-hot encoded feature: its column offset in the matrix and the index of each category."""

    name: str
    offset: int
    index: Mapping[str, int]


@dataclass(frozen=True)
class RowEncoder:
    """Replays a fitted ColumnTransformer: `num` (StandardScaler or passthrough, optionally after log1p of
    some columns), then `cat` (one-hot)."""

    numeric: tuple[str, ...]
    mean: np.ndarray | None
    scale: np.ndarray | None
    categories: tuple[CategoryBlock, ...]
    width: int
    log1p: np.ndarray | None = None  # bool mask over `numeric`: columns taken as log(1 + x) first

    @classmethod
    def from_transformer(cls, ct: ColumnTransformer) -> RowEncoder:
        """Read a fitted ColumnTransformer; raise UnsupportedTransformer for any other layout."""
        steps = [(n, t, list(c)) for n, t, c in ct.transformers_ if not (_is_str(t, "drop") or len(c) == 0)]
        if [n for n, _, _ in steps] != ["num", "cat"]:
            raise UnsupportedTransformer(f"expected transformers num, cat; got {[n for n, _, _ in steps]}")
        (_, num, numeric), (_, onehot, categorical) = steps
        log1p, num = _log1p_mask(num, numeric)
        mean, scale = _numeric_params(num, len(numeric))
        blocks = _category_blocks(onehot, categorical, offset=len(numeric))
        width = len(numeric) + sum(len(b.index) for b in blocks)
        if width != len(ct.get_feature_names_out()):
            raise UnsupportedTransformer(
                f"encoder width {width} != transformer output {len(ct.get_feature_names_out())}"
            )
        return cls(tuple(numeric), mean, scale, blocks, width, log1p)

    def encode(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The float64 matrix the transformer would output; FeatureError names a missing or bad field."""
        n = len(rows)
        X = np.zeros((n, self.width))
        try:
            X[:, : len(self.numeric)] = [[row[c] for c in self.numeric] for row in rows]
        except (KeyError, TypeError, ValueError):
            raise self._numeric_error(rows) from None
        if self.log1p is not None:
            X[:, : len(self.numeric)][:, self.log1p] = np.log1p(X[:, : len(self.numeric)][:, self.log1p])
        if self.mean is not None:
            X[:, : len(self.numeric)] -= self.mean
        if self.scale is not None:
            X[:, : len(self.numeric)] /= self.scale
        for block in self.categories:
            for i, row in enumerate(rows):
                X[i, block.offset + _category_index(block, row)] = 1.0
        return X

    def _numeric_error(self, rows: Sequence[Mapping[str, Any]]) -> FeatureError:
        for i, row in enumerate(rows):
            for c in self.numeric:
                if c not in row:
                    return FeatureError(c, f"missing feature (row {i})")
                value = row[c]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    return FeatureError(c, f"expected a number, got {value!r} (row {i})")
        return FeatureError("features", "rows are not feature mappings")


def _is_str(step: Any, value: str) -> bool:
    return isinstance(step, str) and step == value


def _category_index(block: CategoryBlock, row: Mapping[str, Any]) -> int:
    try:
        return block.index[row[block.name]]
    except KeyError:
        if block.name not in row:
            raise FeatureError(block.name, "missing feature") from None
        raise FeatureError(
            block.name, f"unknown category {row[block.name]!r}; expected one of {list(block.index)}"
        ) from None
    except TypeError:
        raise FeatureError(block.name, f"expected a category, got {row[block.name]!r}") from None


def _log1p_mask(num: Any, numeric: list[str]) -> tuple[np.ndarray | None, Any]:
    """A numeric step Pipeline(Log1p, StandardScaler): the log1p mask and the scaler; else (None, num)."""
    if type(num) is not Pipeline:
        return None, num
    if len(num.steps) != 2 or type(num.steps[0][1]) is not Log1p:
        raise UnsupportedTransformer(f"numeric pipeline {[type(t).__name__ for _, t in num.steps]}")
    mask = np.asarray([c in num.steps[0][1].columns for c in numeric])
    return mask, num.steps[1][1]


def _numeric_params(num: Any, n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    # A fitted ColumnTransformer replaces "passthrough" by an identity FunctionTransformer.
    if _is_str(num, "passthrough"):
        return None, None
    if type(num) is FunctionTransformer and num.func is None:
        return None, None
    if type(num) is not StandardScaler:
        raise UnsupportedTransformer(f"numeric step is {type(num).__name__}, not StandardScaler")
    mean = np.asarray(num.mean_, dtype=float) if num.with_mean else None
    scale = np.asarray(num.scale_, dtype=float) if num.with_std else None
    if (mean is not None and mean.shape != (n,)) or (scale is not None and scale.shape != (n,)):
        raise UnsupportedTransformer("scaler parameters do not match the numeric columns")
    return mean, scale


def _category_blocks(onehot: Any, columns: list[str], offset: int) -> tuple[CategoryBlock, ...]:
    if type(onehot) is not OneHotEncoder:
        raise UnsupportedTransformer(f"categorical step is {type(onehot).__name__}, not OneHotEncoder")
    if (
        onehot.handle_unknown != "error"
        or onehot.drop_idx_ is not None
        or getattr(onehot, "_infrequent_enabled", False)
    ):
        raise UnsupportedTransformer("one-hot encoder ignores unknown, drops or groups categories")
    blocks = []
    for name, cats in zip(columns, onehot.categories_, strict=True):
        blocks.append(CategoryBlock(name, offset, {str(c): j for j, c in enumerate(cats)}))
        offset += len(cats)
    return tuple(blocks)
