"""Bounded raking (simulations.population._raking), held against samplics where both apply."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from simulations.population._raking import design_effect, rake


def _margins(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two crossed categorical margins (3 and 2 categories) for ``n`` units."""
    a = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    b = rng.choice(2, size=n, p=[0.6, 0.4])
    return a, b


def _design(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.column_stack([a == 0, a == 1, a == 2, b == 0, b == 1]).astype(np.float64)


def test_weights_meet_the_totals_and_stay_within_the_bounds() -> None:
    rng = np.random.default_rng(1)
    a, b = _margins(rng, 2_000)
    totals = np.array([300.0, 400.0, 300.0, 450.0, 550.0])
    base = np.full(2_000, 0.5)
    fit = rake(_design(a, b), totals, base, low=0.25, high=5.0)
    assert fit.converged
    np.testing.assert_allclose(_design(a, b).T @ fit.weights, totals, rtol=1e-6)
    g = fit.weights / base
    assert g.min() >= 0.25 - 1e-9
    assert g.max() <= 5.0 + 1e-9
    assert fit.spread <= 20


def test_tight_bounds_that_cannot_reach_a_total_do_not_converge() -> None:
    x = np.array([[1.0], [1.0], [0.0], [0.0]])
    fit = rake(x, np.array([100.0]), np.ones(4), low=0.5, high=2.0)
    assert not fit.converged
    assert fit.weights[:2].sum() == pytest.approx(4.0, rel=1e-3)  # stuck at the upper bound


def test_a_target_no_unit_counts_toward_is_missed() -> None:
    x = np.column_stack([np.ones(4), np.zeros(4)])
    fit = rake(x, np.array([8.0, 3.0]), np.ones(4))
    assert not fit.converged
    assert fit.max_gap == pytest.approx(1.0)


def test_equal_weights_have_design_effect_one_and_unequal_more() -> None:
    assert design_effect(np.full(10, 3.0)) == pytest.approx(1.0)
    assert design_effect(np.array([1.0, 3.0])) == pytest.approx(1.25)


def _samplics_rake(
    a: np.ndarray, b: np.ndarray, totals: np.ndarray, base: np.ndarray
) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # samplics warns on import that it is archived
        from samplics.weighting import SampleWeight

        margins = {"a": a.astype(str), "b": b.astype(str)}
        control = {
            "a": {"0": totals[0], "1": totals[1], "2": totals[2]},
            "b": {"0": totals[3], "1": totals[4]},
        }
        # samplics 0.6 annotates margins and control as {category: number}; rake's body reads
        # margins as {margin: categories} and control as {margin: {category: total}}.
        weights = SampleWeight().rake(
            base,
            margins,  # type: ignore[arg-type]
            control=control,  # type: ignore[arg-type]
            tol=1e-10,
            ctrl_tol=1e-10,
        )
        return np.asarray(weights, dtype=np.float64)


def test_with_wide_bounds_it_is_samplics_raking_ratio() -> None:
    # The logit distance tends to raking ratio (IPF) as the bounds widen: the same weights.
    rng = np.random.default_rng(5)
    a, b = _margins(rng, 500)
    totals = np.array([300.0, 400.0, 300.0, 450.0, 550.0])
    base = np.full(500, 2.0)
    ours = rake(_design(a, b), totals, base, low=1e-6, high=1e6).weights
    np.testing.assert_allclose(ours, _samplics_rake(a, b, totals, base), rtol=1e-4)


def test_one_margin_is_post_stratification_whatever_the_bounds() -> None:
    rng = np.random.default_rng(9)
    a = rng.choice(3, size=300, p=[0.5, 0.3, 0.2])
    x = np.column_stack([a == 0, a == 1, a == 2]).astype(np.float64)
    totals = np.array([500.0, 300.0, 200.0])
    fit = rake(x, totals, np.ones(300))
    expected = (totals / x.sum(axis=0))[a]
    np.testing.assert_allclose(fit.weights, expected, rtol=1e-6)
