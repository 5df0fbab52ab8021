"""Vectorised sampling helpers over one ``numpy.random.Generator``.

>>> rng = np.random.default_rng(0)
>>> categorical(rng, {"a": 1.0, "b": 0.0}, 3).tolist()
['a', 'a', 'a']
>>> lognormal_median(rng, 100.0, 0.0, 2).tolist()
[100.0, 100.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["bernoulli", "categorical", "categorical_index", "lognormal_median", "weights"]


def weights(shares: Sequence[float]) -> npt.NDArray[np.float64]:
    w = np.asarray(shares, dtype=np.float64)
    return np.asarray(w / w.sum(), dtype=np.float64)


def categorical_index(
    rng: np.random.Generator, shares: Sequence[float], n: int
) -> npt.NDArray[np.intp]:
    """``n`` indices drawn with probabilities proportional to ``shares``."""
    return rng.choice(len(shares), size=n, p=weights(shares))


def categorical(rng: np.random.Generator, shares: Mapping[Any, float], n: int) -> npt.NDArray[Any]:
    """``n`` keys of ``shares`` drawn with probabilities proportional to its values."""
    keys = np.array(list(shares.keys()))
    return keys[categorical_index(rng, list(shares.values()), n)]


def bernoulli(rng: np.random.Generator, p: float | npt.NDArray[Any], n: int) -> Any:
    """``n`` booleans, each true with probability ``p`` (a scalar or one per draw)."""
    return rng.random(n) < p


def lognormal_median(
    rng: np.random.Generator, median: float, sigma: float, n: int
) -> npt.NDArray[np.float64]:
    """Log-normal draws with the given median and log standard deviation."""
    return np.asarray(median * np.exp(sigma * rng.standard_normal(n)), dtype=np.float64)
