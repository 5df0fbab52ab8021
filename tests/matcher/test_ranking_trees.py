from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ValidationError
from matcher.ranking.model import fit_ensemble
from matcher.ranking.trees import TreeEnsemble, from_sklearn

if TYPE_CHECKING:  # sklearn is imported where a test needs it: collection stays fast
    from sklearn.ensemble import HistGradientBoostingClassifier


def _data(seed: int, n: int = 3000, features: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    x[:, 1] = rng.integers(0, 2, n)  # a one-hot-like column
    x[rng.random(x.shape) < 0.1] = np.nan  # unknown values
    signal = np.nan_to_num(x[:, 0]) + 0.8 * np.nan_to_num(x[:, 1]) - 0.5 * np.isnan(x[:, 2])
    y = (signal + rng.normal(size=n) > 0).astype(int)
    return x, y


@pytest.fixture(scope="module")
def fitted() -> tuple[HistGradientBoostingClassifier, np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _data(0)
    model = HistGradientBoostingClassifier(
        max_iter=60, max_leaf_nodes=15, random_state=0, early_stopping=False,
        monotonic_cst=[1, 0, 0, 0, 0, 0],
    ).fit(x, y)  # fmt: skip
    return model, x


def test_the_copy_predicts_exactly_what_sklearn_predicts(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray],
) -> None:
    model, x = fitted
    trees = from_sklearn(model)
    assert np.allclose(trees.raw(x), model.decision_function(x), rtol=0, atol=1e-12)
    assert np.allclose(trees.proba(x), model.predict_proba(x)[:, 1], rtol=0, atol=1e-12)


def test_contributions_add_up_to_the_raw_score(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray],
) -> None:
    model, x = fitted
    trees = from_sklearn(model)
    bias, contributions = trees.contributions(x)
    assert contributions.shape == x.shape
    assert np.allclose(bias + contributions.sum(axis=1), trees.raw(x), rtol=0, atol=1e-10)
    # the features the label never depended on get (almost) nothing on average
    strength = np.abs(contributions).mean(axis=0)
    assert min(strength[:2]) > 3 * max(strength[3:])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(-5, 5, allow_nan=False), st.just(float("nan"))),
        min_size=6,
        max_size=6,
    )
)
def test_additivity_holds_for_any_row(row: list[float]) -> None:
    trees = _trees()
    x = np.array([row])
    bias, contributions = trees.contributions(x)
    assert bias + contributions.sum() == pytest.approx(trees.raw(x)[0], abs=1e-10)


def test_a_tree_without_a_split_is_part_of_the_bias() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.zeros((50, 2))
    y = np.array([0, 1] * 25)
    trees = from_sklearn(HistGradientBoostingClassifier(max_iter=3, early_stopping=False).fit(x, y))
    bias, contributions = trees.contributions(x)
    assert not contributions.any()
    assert np.allclose(trees.raw(x), bias)


def test_arrays_round_trip() -> None:
    x, _ = _data(3, n=200)
    again = TreeEnsemble.from_arrays(_trees().to_arrays())
    assert np.array_equal(again.raw(x), _trees().raw(x))


def test_native_categorical_splits_are_refused() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.array([[0.0], [1.0], [2.0], [1.0]] * 20)
    y = np.array([0, 1, 0, 1] * 20)
    model = HistGradientBoostingClassifier(
        max_iter=2, categorical_features=[0], early_stopping=False
    ).fit(x, y)
    with pytest.raises(ValidationError, match="encode categoricals explicitly"):
        from_sklearn(model)


def test_a_matrix_of_the_wrong_width_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="expects 6 columns"):
        _trees().raw(np.zeros((2, 5)))


def test_monotonic_constraint_holds_in_the_copy() -> None:
    x, y = _data(4)
    trees = fit_ensemble(x, y, seed=1, monotonic=[1, 0, 0, 0, 0, 0])
    grid = np.tile(np.nanmedian(x, axis=0), (41, 1))
    grid[:, 0] = np.linspace(-4, 4, 41)
    assert np.all(np.diff(trees.raw(grid)) >= -1e-12)


@cache
def _trees() -> TreeEnsemble:
    """An ensemble fitted on first use, not when the module is collected."""
    return fit_ensemble(*_data(1, n=1500), seed=0, monotonic=[0] * 6)
