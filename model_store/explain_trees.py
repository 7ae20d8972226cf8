"""Exact TreeSHAP (path-dependent, as the `shap` library defines it) for scikit-learn forests, in numpy.

Why not `shap` itself: shap 0.54 needs numba and llvmlite (about 100 MB more in every install, and a
slow import in the listener), for one algorithm that fits in this module.

The method: a tree's value for a set S of known features is the sum over its leaves of the leaf
value times, for each feature d on the leaf's path, `o_d` (1 when the row satisfies every split on d
along the path, else 0) when d is in S, or `z_d` (the share of training cover that went down the
path's branches at those splits) when it is not. Each leaf is thus a product game over the k
distinct features of its path, whose Shapley values have a closed form:

    phi_i = v * (o_i - z_i) * integral_0^1 prod_{s != i} ((1 - u) z_s + u o_s) du

The integrand is a polynomial of degree k - 1, so Gauss-Legendre quadrature with ceil(k / 2) nodes
integrates it exactly. Leaves are grouped by k, and every group is a handful of array operations
over (rows, leaves, nodes, features): no Python loop per node or per row. Adding a player that
never matters (padding) changes no Shapley value, which is what makes the grouping exact.

Summing the values of a feature's one-hot columns gives its contribution; additivity
(base value + sum of contributions = the forest's probability) holds column by column and after grouping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Temporaries of one group stay below this many float64 values (≈ 64 MB): rows are taken in chunks.
CHUNK_VALUES = 8_000_000


@dataclass(frozen=True)
class LeafGroup:
    """Every leaf whose path splits on exactly k distinct features, across all trees, ready to evaluate.

    Arrays are laid out with leaves last (the long, contiguous axis numpy loops fastest over).
    """

    k: int
    feature: np.ndarray  # (k, leaves) int: column of each path feature
    lower: np.ndarray  # (k, leaves): the row goes the path's way on that feature when lower < x <= upper
    upper: np.ndarray
    kept: np.ndarray  # (k, leaves): 1 - z, z the share of cover the path's splits on that feature keep
    log_cold: np.ndarray  # (q, leaves): log prod_s (1 - u_q) z_s, every feature unknown
    log_ratio: np.ndarray  # (k, q, leaves): log of the hot over the cold factor
    inv_hot: np.ndarray  # (k, q, leaves): 1 / ((1 - u_q) z + u_q)
    weighted_value: np.ndarray  # (q, leaves): quadrature weight times leaf value
    inv_cold_u: np.ndarray  # (q,): 1 / (1 - u_q)

    @classmethod
    def build(
        cls, feature: np.ndarray, lower: np.ndarray, upper: np.ndarray, z: np.ndarray, value: np.ndarray
    ) -> LeafGroup:
        """From per-leaf rows (leaves, k) of path features, bounds and z, and the leaves' values."""
        k = feature.shape[1]
        nodes, weights = np.polynomial.legendre.leggauss((k + 1) // 2)
        u, w = (nodes + 1.0) / 2.0, weights / 2.0  # on (0, 1)
        cold = (1.0 - u)[None, :, None] * z.T[:, None, :]  # (k, q, L)
        hot = cold + u[None, :, None]
        return cls(
            k=k,
            feature=np.ascontiguousarray(feature.T),
            lower=np.ascontiguousarray(lower.T),
            upper=np.ascontiguousarray(upper.T),
            kept=np.ascontiguousarray(1.0 - z.T),
            log_cold=np.log(cold).sum(axis=0),
            log_ratio=np.log(hot / cold),
            inv_hot=1.0 / hot,
            weighted_value=w[:, None] * value[None, :],
            inv_cold_u=1.0 / (1.0 - u),
        )

    @property
    def size(self) -> int:
        return self.log_ratio.size

    def values(self, X: np.ndarray, width: int) -> np.ndarray:
        """Shapley values (rows, width) of this group's leaf games for the rows of X."""
        n, q = len(X), len(self.inv_cold_u)
        x = X[:, self.feature].transpose(1, 0, 2)  # (k, n, L)
        hot = (x > self.lower[:, None, :]) & (x <= self.upper[:, None, :])  # o: the row goes the path's way
        log_p = np.repeat(self.log_cold[:, None, :], n, axis=1)  # (q, n, L): log prod of applying factors
        for j in range(self.k):
            log_p += hot[j][None] * self.log_ratio[j][:, None, :]
        weighted = np.exp(log_p, out=log_p)
        weighted *= self.weighted_value[:, None, :]  # w_q v P_q
        # A feature the row does not satisfy: -v z_i sum_q w_q P_q / ((1 - u_q) z_i), alike for all such.
        cold_value = np.tensordot(-self.inv_cold_u, weighted, axes=1)  # (n, L)
        values = np.empty(hot.shape)
        for j in range(self.k):
            # One it satisfies: v (1 - z_i) sum_q w_q P_q / ((1 - u_q) z_i + u_q).
            hot_value = weighted[0] * self.inv_hot[j, 0]
            for i in range(1, q):
                hot_value += weighted[i] * self.inv_hot[j, i]
            hot_value *= self.kept[j]
            np.copyto(values[j], cold_value)
            np.copyto(values[j], hot_value, where=hot[j])
        index = self.feature[:, None, :] + (np.arange(n) * width)[None, :, None]
        return np.bincount(index.ravel(), weights=values.ravel(), minlength=n * width).reshape(n, width)


def forest_groups(forest: Any, width: int) -> tuple[float, list[LeafGroup]]:
    """The base value and the leaf groups of a fitted forest's P(class 1)."""
    positive = [int(c) for c in forest.classes_].index(1)
    n_trees = len(forest.estimators_)
    parts: dict[int, list[tuple[np.ndarray, ...]]] = {}
    base = 0.0
    for estimator in forest.estimators_:
        used, lower, upper, z, value = tree_leaves(estimator.tree_, width, positive)
        value = value / n_trees
        base += float((value * z.prod(axis=1)).sum())
        k = used.sum(axis=1)
        # Each leaf's path features first (in column order), then the unused columns.
        order = np.argsort(~used, axis=1, kind="stable")
        for size in np.unique(k[k > 0]):
            rows = np.flatnonzero(k == size)
            cols = order[rows, :size]
            take = (rows[:, None], cols)
            parts.setdefault(int(size), []).append((cols, lower[take], upper[take], z[take], value[rows]))
    groups = [
        LeafGroup.build(*(np.concatenate([p[i] for p in chunks]) for i in range(5)))
        for _, chunks in sorted(parts.items())
    ]
    return base, groups


def tree_leaves(tree: Any, width: int, positive: int) -> tuple[np.ndarray, ...]:
    """Per leaf of one tree: which columns its path splits on, their (lower, upper] bounds and z, and its
    P(class 1). Computed level by level over the node arrays (children always have larger ids)."""
    left, right = tree.children_left, tree.children_right
    n = tree.node_count
    internal = np.flatnonzero(left != -1)
    parent = np.full(n, -1)
    parent[left[internal]] = internal
    parent[right[internal]] = internal
    depth = np.zeros(n, dtype=np.intp)
    for node in range(1, n):
        depth[node] = depth[parent[node]] + 1
    used = np.zeros((n, width), dtype=bool)
    lower = np.full((n, width), -np.inf)
    upper = np.full((n, width), np.inf)
    z = np.ones((n, width))
    cover = tree.weighted_n_node_samples
    for level in range(1, int(depth.max()) + 1 if n > 1 else 1):
        nodes = np.flatnonzero(depth == level)
        parents = parent[nodes]
        f = tree.feature[parents]
        t = tree.threshold[parents]
        for table in (used, lower, upper, z):
            table[nodes] = table[parents]
        used[nodes, f] = True
        is_left = left[parents] == nodes
        upper[nodes, f] = np.where(is_left, np.minimum(upper[nodes, f], t), upper[nodes, f])
        lower[nodes, f] = np.where(is_left, lower[nodes, f], np.maximum(lower[nodes, f], t))
        z[nodes, f] *= cover[nodes] / cover[parents]
    leaves = np.flatnonzero(left == -1)
    value = tree.value[leaves, 0, :]
    return used[leaves], lower[leaves], upper[leaves], z[leaves], value[:, positive] / value.sum(axis=1)


class ForestShap:
    """Shapley values of a fitted RandomForestClassifier / ExtraTreesClassifier's P(class 1)."""

    def __init__(self, forest: Any, width: int) -> None:
        self.width = width
        self.base_value, self.groups = forest_groups(forest, width)

    def shap_values(self, X: np.ndarray) -> np.ndarray:
        """(rows, width) Shapley values of P(class 1); X is the encoded matrix the forest takes."""
        # The forest compares float32 features with float64 thresholds: round the same way.
        X = np.asarray(X, dtype=np.float32).astype(np.float64)
        if X.ndim != 2 or X.shape[1] != self.width:
            raise ValueError(f"expected rows x {self.width} features, got shape {X.shape}")
        phi = np.zeros(X.shape)
        for group in self.groups:
            step = max(1, CHUNK_VALUES // group.size)
            for start in range(0, len(X), step):
                phi[start : start + step] += group.values(X[start : start + step], self.width)
        return phi

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The forest's P(class 1) as the explained game computes it: base value + sum of the values."""
        return self.base_value + self.shap_values(X).sum(axis=1)
