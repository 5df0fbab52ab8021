"""A fitted gradient-boosted ensemble as plain arrays: predictions and additive contributions.

:func:`from_sklearn` copies the trees of a fitted ``HistGradientBoostingClassifier`` (each
predictor node keeps ``feature_idx``, ``num_threshold``, ``missing_go_to_left``, ``left``,
``right``, ``is_leaf``, ``value`` and ``count``).  The copy predicts exactly what sklearn does
(a test holds them equal) and needs no pickle to store: it is a handful of numpy arrays.

Contributions are Saabas-style path attributions: every node gets the training-weighted mean of
the leaves below it; walking a row from the root to its leaf, each split adds the change of that
mean to the feature it tested.  Per row, the bias (baseline plus every root mean) plus the
contributions is the raw score (log-odds) exactly.

>>> t = TreeEnsemble(baseline=0.5, feature=np.array([0, -1, -1]), threshold=np.array([1.0, 0, 0]),
...     missing_left=np.array([True, False, False]), left=np.array([1, 0, 0]),
...     right=np.array([2, 0, 0]), leaf=np.array([False, True, True]),
...     value=np.array([0.0, -1.0, 1.0]), mean=np.array([0.0, -1.0, 1.0]), roots=np.array([0]),
...     n_features=1)
>>> t.raw(np.array([[0.0], [2.0], [np.nan]])).tolist()
[-0.5, 1.5, -0.5]
>>> bias, contrib = t.contributions(np.array([[2.0]]))
>>> float(bias + contrib.sum())
1.5
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import ValidationError

__all__ = ["TreeEnsemble", "from_sklearn"]


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """All trees' nodes in flat arrays; tree ``t`` starts at node ``roots[t]``."""

    baseline: float
    feature: np.ndarray  # int64, -1 at leaves
    threshold: np.ndarray  # float64: x <= threshold goes left
    missing_left: np.ndarray  # bool: where NaN goes
    left: np.ndarray  # int64, absolute node index
    right: np.ndarray
    leaf: np.ndarray  # bool
    value: np.ndarray  # float64, leaf values (shrinkage applied)
    mean: np.ndarray  # float64, training-weighted mean of the leaves below each node
    roots: np.ndarray  # int64
    n_features: int

    @property
    def bias(self) -> float:
        """The raw score of a row about which nothing is known: baseline + every root's mean."""
        return float(self.baseline + self.mean[self.roots].sum())

    def _check(self, x: np.ndarray) -> None:
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValidationError(
                f"the feature matrix has shape {x.shape}; the model expects "
                f"{self.n_features} columns — build features with the model's own spec"
            )

    def _paths(self, x: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Walk every row down every tree: yields (rows, node, child) for each split taken."""
        n = x.shape[0]
        for root in self.roots:
            if self.leaf[root]:  # a tree without a split: its value is part of the bias
                continue
            rows = np.arange(n)
            node = np.full(n, root)
            while rows.size:
                feature = self.feature[node]
                values = x[rows, np.maximum(feature, 0)]
                below = values <= self.threshold[node]
                go_left = np.where(np.isnan(values), self.missing_left[node], below)
                child = np.where(go_left, self.left[node], self.right[node])
                yield rows, node, child
                inner = ~self.leaf[child]
                rows, node = rows[inner], child[inner]

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds), one per row of ``x``."""
        self._check(x)
        stumps = self.roots[self.leaf[self.roots]]
        out = np.full(x.shape[0], self.baseline + self.value[stumps].sum())
        for rows, _node, child in self._paths(x):
            leaf = self.leaf[child]
            out[rows[leaf]] += self.value[child[leaf]]
        return out

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive class, ``1 / (1 + exp(-raw))``."""
        proba: np.ndarray = 1.0 / (1.0 + np.exp(-self.raw(x)))
        return proba

    def contributions(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(bias, c)`` with ``bias + c.sum(axis=1) == raw(x)``; ``c`` has a column per feature."""
        self._check(x)
        contrib = np.zeros((x.shape[0], self.n_features))
        for rows, node, child in self._paths(x):
            # one split per row per step, so (row, feature) pairs are distinct: += is safe
            contrib[rows, self.feature[node]] += self.mean[child] - self.mean[node]
        # a leaf's mean is its value, so each path adds up to leaf value - root mean
        return self.bias, contrib

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "baseline": np.array([self.baseline]),
            "feature": self.feature,
            "threshold": self.threshold,
            "missing_left": self.missing_left,
            "left": self.left,
            "right": self.right,
            "leaf": self.leaf,
            "value": self.value,
            "mean": self.mean,
            "roots": self.roots,
            "n_features": np.array([self.n_features]),
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> TreeEnsemble:
        return cls(
            baseline=float(arrays["baseline"][0]),
            feature=np.asarray(arrays["feature"], dtype=np.int64),
            threshold=np.asarray(arrays["threshold"], dtype=np.float64),
            missing_left=np.asarray(arrays["missing_left"], dtype=bool),
            left=np.asarray(arrays["left"], dtype=np.int64),
            right=np.asarray(arrays["right"], dtype=np.int64),
            leaf=np.asarray(arrays["leaf"], dtype=bool),
            value=np.asarray(arrays["value"], dtype=np.float64),
            mean=np.asarray(arrays["mean"], dtype=np.float64),
            roots=np.asarray(arrays["roots"], dtype=np.int64),
            n_features=int(arrays["n_features"][0]),
        )


def _subtree_means(nodes: np.ndarray) -> np.ndarray:
    """Training-weighted mean leaf value under each node (children come after parents)."""
    mean = np.where(nodes["is_leaf"].astype(bool), nodes["value"], 0.0)
    count = nodes["count"].astype(np.float64)
    for i in range(len(nodes) - 1, -1, -1):
        if not nodes["is_leaf"][i]:
            left, right = nodes["left"][i], nodes["right"][i]
            total = count[left] + count[right]
            mean[i] = (
                (count[left] * mean[left] + count[right] * mean[right]) / total
                if total
                else (mean[left] + mean[right]) / 2
            )
    return mean


def from_sklearn(model: Any) -> TreeEnsemble:
    """Copy a fitted binary ``HistGradientBoostingClassifier`` into a :class:`TreeEnsemble`."""
    if getattr(model, "is_categorical_", None) is not None and np.any(model.is_categorical_):
        raise ValidationError(
            "the model uses native categorical splits; encode categoricals explicitly"
        )
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("f", "t", "m", "l", "r", "leaf", "v", "mu")
    }
    roots = []
    offset = 0
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        for i in range(len(nodes) - 1):
            # children are numbered after their parent in sklearn's predictor arrays
            assert nodes["is_leaf"][i] or (nodes["left"][i] > i and nodes["right"][i] > i)
        leaf = nodes["is_leaf"].astype(bool)
        roots.append(offset)
        parts["f"].append(np.where(leaf, -1, nodes["feature_idx"]).astype(np.int64))
        parts["t"].append(nodes["num_threshold"].astype(np.float64))
        parts["m"].append(nodes["missing_go_to_left"].astype(bool))
        parts["l"].append(np.where(leaf, 0, nodes["left"].astype(np.int64) + offset))
        parts["r"].append(np.where(leaf, 0, nodes["right"].astype(np.int64) + offset))
        parts["leaf"].append(leaf)
        parts["v"].append(nodes["value"].astype(np.float64))
        parts["mu"].append(_subtree_means(nodes))
        offset += len(nodes)
    baseline = float(np.asarray(model._baseline_prediction).ravel()[0])
    return TreeEnsemble(
        baseline=baseline,
        feature=np.concatenate(parts["f"]),
        threshold=np.concatenate(parts["t"]),
        missing_left=np.concatenate(parts["m"]),
        left=np.concatenate(parts["l"]),
        right=np.concatenate(parts["r"]),
        leaf=np.concatenate(parts["leaf"]),
        value=np.concatenate(parts["v"]),
        mean=np.concatenate(parts["mu"]),
        roots=np.array(roots, dtype=np.int64),
        n_features=int(model.n_features_in_),
    )
