"""Bounded raking: weights whose totals equal known population totals.

Generalised raking (Deville & Särndal, "Calibration estimators in survey sampling", JASA 87,
1992) with the *logit* distance: final weight ``w = d * g(x'λ)``, where ``g`` runs from ``low``
to ``high`` and equals 1 at 0, and ``λ`` solves ``Σ d g(x'λ) x = T`` by Newton's method.  It is
the method of R's ``survey::calibrate(calfun="logit", bounds=...)`` and ``laeken::calibWeights``;
with unbounded ``g`` it reduces to raking ratio (iterative proportional fitting), which is what
``samplics``' ``SampleWeight.rake`` does on categorical margins.  The bounds keep the weights'
spread at ``high / low`` (20 for the defaults) whatever the sample looks like.

``x`` holds one column per target: for a person it is 0/1 (is this person aged 80+?); for a
household under integrated weighting it counts the members who qualify, so every member of a
household carries the household's one weight.

>>> import numpy as np
>>> x = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])  # total, and "is old"
>>> fit = rake(x, np.array([100.0, 30.0]), np.full(4, 25.0))
>>> fit.converged, [round(float(v), 2) for v in fit.weights]
(True, [15.0, 35.0, 35.0, 15.0])
>>> round(fit.design_effect, 3)
1.16
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["RakeResult", "design_effect", "rake"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RakeResult:
    weights: Floats
    converged: bool
    iterations: int
    max_gap: float  # largest |Σ w x / T - 1| over the targets at the end

    @property
    def design_effect(self) -> float:
        return design_effect(self.weights)

    @property
    def spread(self) -> float:
        """Largest weight over smallest (infinite if a weight is 0)."""
        low = float(self.weights.min()) if self.weights.size else 1.0
        return float(self.weights.max()) / low if low > 0 else float("inf")


def design_effect(weights: Floats) -> float:
    """Kish's design effect of unequal weights, ``n Σw² / (Σw)²`` (1 when all are equal).

    >>> design_effect(np.array([1.0, 1.0, 1.0]))
    1.0
    """
    total = float(weights.sum())
    return float(weights.size * float(np.square(weights).sum()) / total**2) if total else 1.0


def _g(u: Floats, low: float, high: float) -> tuple[Floats, Floats]:
    """The logit calibration function and its derivative (Deville & Särndal 1992, case 6).

    ``g = low (1 - r) + high r`` with ``r`` the logistic of ``a u + log((1 - low) / (high - 1))``:
    the textbook ratio rewritten so that large ``u`` saturates at a bound instead of overflowing.
    """
    a = (high - low) / ((1 - low) * (high - 1))
    z = np.clip(a * u + np.log((1 - low) / (high - 1)), -700.0, 700.0)
    r = 1.0 / (1.0 + np.exp(-z))
    return low + (high - low) * r, (high - low) * a * r * (1 - r)


def rake(
    x: Floats,
    totals: Floats,
    base: Floats,
    *,
    low: float = 0.25,
    high: float = 5.0,
    tolerance: float = 1e-6,
    max_iterations: int = 100,
) -> RakeResult:
    """Weights ``w = base * g`` with ``x.T @ w == totals`` and ``low <= g <= high``.

    A target that no unit counts toward (a column of zeros) cannot be met: it is left at its
    gap and the result does not converge.  Collinear columns (a total and the districts that
    add up to it) are fine as long as their totals agree.
    """
    if not 0 < low < 1 < high:
        raise ValueError(f"bounds must satisfy 0 < low < 1 < high (got {low}, {high})")
    n, k = x.shape
    if n == 0 or k == 0:
        return RakeResult(base.astype(np.float64), k == 0, 0, 0.0)
    scale = np.where(totals > 0, totals, 1.0)
    lam = np.zeros(k)
    weights = base.astype(np.float64)
    gap = np.inf
    for iteration in range(1, max_iterations + 1):
        g, dg = _g(x @ lam, low, high)
        weights = base * g
        residual = (x.T @ weights - totals) / scale
        gap = float(np.abs(residual).max())
        if gap <= tolerance:
            return RakeResult(weights, True, iteration, gap)
        jacobian = (x * (base * dg)[:, None]).T @ x / scale[:, None]
        step, *_ = np.linalg.lstsq(jacobian, residual, rcond=None)
        # Halve the step while it makes things worse (a target near a bound moves slowly).
        for _ in range(30):
            trial = lam - step
            g_trial, _unused = _g(x @ trial, low, high)
            trial_gap = float(np.abs((x.T @ (base * g_trial) - totals) / scale).max())
            if trial_gap < gap:
                break
            step = step / 2
        lam = trial
    g, _unused = _g(x @ lam, low, high)
    weights = base * g
    gap = float(np.abs((x.T @ weights - totals) / scale).max())
    return RakeResult(weights, gap <= tolerance, max_iterations, gap)
