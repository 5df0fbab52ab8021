from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from matcher.ranking.metrics import ndcg_at_k, qini, uplift_at


def _offers(scores: list[float], relevance: list[int], subject: str = "a") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "subject_id": [subject] * len(scores),
            "policy_id": [f"p{i}" for i in range(len(scores))],
            "s": scores,
            "rel": relevance,
        }
    )


@pytest.mark.parametrize(
    ("scores", "relevance", "k", "expected"),
    [
        ([3, 2, 1], [1, 0, 0], 5, 1.0),
        ([3, 2, 1], [0, 1, 0], 5, 1 / math.log2(3)),
        ([3, 2, 1], [0, 0, 1], 2, 0.0),
        ([3, 2, 1], [0, 1, 1], 5, (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))),
        ([1, 1, 1], [0, 0, 1], 5, 0.5),  # ties break by policy id
    ],
)
def test_ndcg_at_k(scores: list[float], relevance: list[int], k: int, expected: float) -> None:
    assert ndcg_at_k(_offers(scores, relevance), "s", "rel", k=k) == pytest.approx(expected)


def test_ndcg_breaks_ties_by_policy_id_whatever_the_row_order() -> None:
    frame = _offers([1, 1, 1], [1, 0, 0])
    assert ndcg_at_k(frame, "s", "rel") == 1.0
    assert ndcg_at_k(frame.reverse(), "s", "rel") == 1.0


def test_ndcg_leaves_out_subjects_with_nothing_relevant_or_a_single_offer() -> None:
    frame = pl.concat(
        [
            _offers([2, 1], [0, 1], "a"),
            _offers([2, 1], [0, 0], "b"),
            _offers([1], [1], "c"),
        ]
    )
    assert ndcg_at_k(frame, "s", "rel") == pytest.approx(1 / math.log2(3))
    assert math.isnan(ndcg_at_k(_offers([1], [1]), "s", "rel"))


def _trial(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    gain = rng.random(n)  # the true uplift of each row
    pushed = rng.random(n) < 0.5
    base = 0.2
    applied = rng.random(n) < base + pushed * gain * 0.5
    return pl.DataFrame(
        {
            "subject_id": [f"s{i}" for i in range(n)],
            "policy_id": ["p"] * n,
            "pushed": pushed,
            "applied": applied,
            "oracle": gain,
            "random": rng.random(n),
            "backwards": -gain,
        }
    )


def test_qini_orders_oracle_above_random_above_backwards() -> None:
    trial = _trial(20_000, 1)
    oracle, curve = qini(trial, "oracle")
    random_, _ = qini(trial, "random")
    backwards, _ = qini(trial, "backwards")
    assert oracle > 0.02 > abs(random_) and backwards < -0.02
    assert curve[0] == 0.0 and curve[-1] == pytest.approx(0.25, abs=0.02)  # the mean uplift


def test_uplift_at_top_share_is_the_gain_in_those_rows() -> None:
    trial = _trial(20_000, 2)
    top = uplift_at(trial, "oracle", share=0.2)
    assert top == pytest.approx(0.5 * 0.9, abs=0.03)  # mean true gain of the top fifth
    assert uplift_at(trial, "random", share=0.2) == pytest.approx(0.25, abs=0.03)
    none_pushed = trial.with_columns(pl.lit(False).alias("pushed"))
    assert math.isnan(uplift_at(none_pushed, "oracle"))
