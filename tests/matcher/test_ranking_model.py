"""Metric claims, measured on a seeded simulated world (20,000 residents, 2,000 firms), on the
offers ranking orders (服务找人, 直达快享; grants are never scored) with citable features only.

The figures are real measurements of this run; the margins are about half of what three seeds
showed (see the report in bench/bench_rank.py for the full table at 50,000 residents).
"""

from __future__ import annotations

import pytest

from matcher.ranking.evaluate import evaluate, format_metrics
from matcher.ranking.model import TrainingParams, fit_models, prepare
from simulations.behaviour import simulate_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def metrics() -> dict[str, dict[str, float]]:
    world = simulate_world(residents=20_000, enterprises=2_000, seed=1)
    data = prepare(world.log, world.pairs, world.profiles, world.policies, world.schema, seed=1)
    model = fit_models(data, seed=1, params=TrainingParams(max_iter=100))
    without_truth = evaluate(model, data, seed=1)
    assert "oracle" not in without_truth["ndcg@5"] and "ndcg@5 expected" not in without_truth
    return evaluate(model, data, seed=1, truth=world.truth)


def test_the_model_orders_offers_better_than_popularity_and_random(
    metrics: dict[str, dict[str, float]],
) -> None:
    """The observed NDCG@5 is judged by its expectation over redrawn outcomes: drawn once,
    it rests on ~110 held-out subjects (two pushed offers, one taken up), and the draw alone
    moves model minus popularity by ±0.015 — beyond the +0.01 claimed, so a single draw
    passed or failed by luck.  The mean of 100 redraws of the same held-out offers' take-up
    from the simulated world's true propensities measures the same claim without that luck
    (see ``ndcg@5 redrawn`` in :mod:`matcher.ranking.evaluate`)."""
    observed, expected = metrics["ndcg@5 redrawn"], metrics["ndcg@5 expected"]
    assert observed["model"] > observed["popularity"] + 0.01
    assert observed["model"] > observed["random"] + 0.02
    assert expected["model"] > expected["popularity"] + 0.005
    assert expected["popularity"] > expected["random"] + 0.03
    # The order ranking uses (by uplift), judged by the true uplift.  Since the population is
    # households and firms, most of the true uplift lies between policies, which a policy's
    # take-up (popularity) already captures: over 2,832 held-out subjects the uplift order
    # leads popularity by +0.0016 / +0.0130 / +0.0060 on seeds 1-3 (standard error 0.0025),
    # not reliably by the +0.005 this test used to claim.  What holds: it is never worse than
    # popularity beyond two standard errors, and far better than random.
    uplift = metrics["ndcg@5 uplift expected"]
    assert uplift["uplift"] > uplift["popularity"] - 0.005
    assert uplift["uplift"] > uplift["random"] + 0.03


def test_the_oracle_orders_at_least_as_well_as_the_model(
    metrics: dict[str, dict[str, float]],
) -> None:
    assert metrics["ndcg@5"]["oracle"] >= metrics["ndcg@5"]["model"]
    assert metrics["ndcg@5 expected"]["oracle"] == pytest.approx(1.0)
    assert metrics["qini"]["oracle"] >= metrics["qini"]["uplift"]
    assert metrics["uplift@20% expected"]["oracle"] >= metrics["uplift@20% expected"]["uplift"]


def test_uplift_model_finds_whom_a_push_helps_better_than_the_response_model(
    metrics: dict[str, dict[str, float]],
) -> None:
    gained = metrics["uplift@20%"]
    assert gained["uplift"] > gained["response"] + 0.05
    assert gained["uplift"] > gained["random"] + 0.05
    expected = metrics["uplift@20% expected"]
    assert expected["uplift"] > expected["response"] + 0.05
    assert metrics["qini"]["uplift"] > metrics["qini"]["response"]
    assert metrics["qini"]["uplift"] > metrics["qini"]["random"] + 0.005


def test_the_table_prints_every_row(metrics: dict[str, dict[str, float]]) -> None:
    text = "\n".join(format_metrics(metrics))
    for row in (
        "ndcg@5",
        "ndcg@5 redrawn",
        "qini",
        "uplift@20%",
        "popularity",
        "oracle",
        "response",
    ):
        assert row in text
