"""One ranking experiment on simulated behaviour: campaigns, training, held-out metrics.

What ``zhida demo`` and the benchmarks run: draw campaigns from the behaviour model over a
population's pairs, train the response and uplift models on them (citable features only; the
offers of the ranked modes, not grants), and measure the metric table on held-out subjects
(with the truth, for the oracle rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from matcher.ranking.evaluate import evaluate
from matcher.ranking.model import RankingModel, TrainingData, TrainingParams, fit_models, prepare
from profiles.schema import Schema
from rules.policy import Policy
from simulations.behaviour._propensity import simulate_outcomes, true_propensities

__all__ = ["Experiment", "run_experiment"]


@dataclass(frozen=True, eq=False)
class Experiment:
    """The trained model, its data, metrics, and the simulated log and truth behind them."""

    model: RankingModel
    data: TrainingData
    metrics: dict[str, dict[str, float]]
    log: pl.DataFrame
    truth: pl.DataFrame


def run_experiment(
    pairs: pl.DataFrame,
    profiles: Mapping[str, pl.DataFrame],
    policies: Sequence[Policy],
    schema: Schema,
    *,
    seed: int,
    share: float = 0.5,
    rounds: int = 2,
    test_share: float = 0.3,
    params: TrainingParams | None = None,
    as_of: date | None = None,
) -> Experiment:
    """Simulate ``rounds`` campaigns pushing ``share`` of the offers, train, and evaluate."""
    truth = true_propensities(pairs, profiles, policies, seed=seed)
    log = simulate_outcomes(truth, share=share, seed=seed, rounds=rounds)
    from matcher.ranking.citable import tag_sensitivities
    from profiles.tagging import load_tags

    tags = load_tags(schema=schema)
    data = prepare(
        log, pairs, profiles, policies, schema, seed=seed, test_share=test_share,
        tag_names={t.id: t.name_zh for t in tags}, tag_sensitivity=tag_sensitivities(tags, schema),
        as_of=as_of,
    )  # fmt: skip
    model = fit_models(data, seed=seed, params=params or TrainingParams())
    metrics = evaluate(model, data, seed=seed, truth=truth)
    return Experiment(model, data, metrics, log, truth)
