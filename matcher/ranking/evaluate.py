"""The metric table: the models against random, popularity and the oracle, on held-out subjects.

Measured on the offers ranking actually orders — 服务找人 and 直达快享 (``TrainingData`` holds
no 免申即享 grant: they are told first and never scored).

Ordering offers (NDCG@5, relevance = applied, on the held-out subjects' pushed offers):
``model`` (response model), ``random`` (seeded), ``popularity`` (each policy's take-up among
the training set's pushed offers, of every campaign the models learn from), ``oracle`` (the
simulator's true take-up if pushed).
``ndcg@5 uplift expected`` judges the order ranking uses — by the uplift model — with the true
uplift as relevance (its oracle: the true uplift).

Whom to push (Qini coefficient and uplift@20 % on all held-out rows, pushed and not — the
randomised holdout measures what the push gained): ``uplift`` (T-learner), ``response``,
``popularity``, ``random``, ``oracle`` (true uplift).

With the truth at hand the ``expected`` variants score each ordering by the true propensities
instead of the drawn outcomes (less noisy; the oracle's expected NDCG is 1 by construction),
and ``ndcg@5 redrawn`` is the observed NDCG@5's expectation: its mean over ``redraws`` fresh
draws of the held-out pushed offers' take-up from the true propensities.  Observed once, the
NDCG@5 counts only the ~110 held-out subjects of 20,000 residents with two pushed offers and
one taken up, and the outcome draw alone moves model minus popularity by ±0.015 (one standard
deviation, 100 draws at 20,000 residents) — more than the differences it is asked to show.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from matcher.ranking.metrics import ndcg_at_k, qini, uplift_at
from matcher.ranking.model import RankingModel, TrainingData

__all__ = ["METRIC_ROWS", "evaluate", "format_metrics"]

METRIC_ROWS = (
    ("ndcg@5", ("model", "random", "popularity", "oracle")),
    ("ndcg@5 redrawn", ("model", "random", "popularity", "oracle")),
    ("ndcg@5 expected", ("model", "random", "popularity", "oracle")),
    ("ndcg@5 uplift expected", ("uplift", "random", "popularity", "oracle")),
    ("qini", ("uplift", "response", "popularity", "random", "oracle")),
    ("uplift@20%", ("uplift", "response", "popularity", "random", "oracle")),
    ("uplift@20% expected", ("uplift", "response", "popularity", "random", "oracle")),
)


def _expected_uplift_at(frame: pl.DataFrame, score: str, share: float = 0.2) -> float:
    top = frame.sort([score, "policy_id", "subject_id"], descending=[True, False, False])
    return float(top.head(max(1, round(frame.height * share)))["true_uplift"].mean())  # type: ignore[arg-type]


def _redrawn_ndcg(pushed: pl.DataFrame, redraws: int, *, seed: int) -> dict[str, float]:
    """Each ordering's NDCG@5 on ``pushed``, averaged over ``redraws`` draws of its take-up
    from the true propensity (``oracle``): the observed metric without the luck of one draw."""
    rng = np.random.default_rng([seed, 13])
    p = pushed["oracle"].fill_null(0.0).to_numpy()
    names = [n for n in ("model", "random", "popularity", "oracle") if n in pushed.columns]
    sums = dict.fromkeys(names, 0.0)
    for _ in range(redraws):
        drawn = pushed.with_columns(pl.Series("_drawn", rng.random(len(p)) < p))
        for name in names:
            sums[name] += ndcg_at_k(drawn, name, "_drawn", k=5)
    return {name: total / redraws for name, total in sums.items()}


def evaluate(
    model: RankingModel,
    data: TrainingData,
    *,
    seed: int,
    truth: pl.DataFrame | None = None,
    redraws: int = 100,
) -> dict[str, dict[str, float]]:
    """Every metric of :data:`METRIC_ROWS` that the inputs allow (no truth: no oracle, nothing
    redrawn)."""
    rows = data.rows
    test = rows["held_out"].to_numpy()
    x = data.x[test]
    # learnt from the same offers as the models: every campaign's training subjects
    popularity = (
        data.fitting()[1]
        .filter(pl.col("pushed"))
        .group_by("policy_id")
        .agg(pl.col("applied").cast(pl.Float64).mean().alias("popularity"))
    )
    rng = np.random.default_rng([seed, 11])
    frame = (
        rows.filter(pl.col("held_out"))
        .with_columns(
            pl.Series("model", model.take_up(x)),
            pl.Series("random", rng.random(int(test.sum()))),
        )
        .join(popularity, on="policy_id", how="left")
        .with_columns(pl.col("popularity").fill_null(0.0))
    )
    if model.control is not None:
        frame = frame.with_columns(pl.Series("uplift", model.uplift(x)))
    if truth is not None:
        frame = frame.join(
            truth.select(
                "subject_id", "policy_id",
                pl.col("p_with").alias("oracle"), pl.col("uplift").alias("true_uplift"),
            ),
            on=["subject_id", "policy_id"], how="left",
        )  # fmt: skip
    out: dict[str, dict[str, float]] = {m: {} for m, _ in METRIC_ROWS}
    pushed = frame.filter(pl.col("pushed"))
    for name in ("model", "random", "popularity", "oracle"):
        if name in frame.columns:
            out["ndcg@5"][name] = ndcg_at_k(pushed, name, "applied", k=5)
            if truth is not None:
                out["ndcg@5 expected"][name] = ndcg_at_k(frame, name, "oracle", k=5)
    if truth is not None and redraws > 0:
        out["ndcg@5 redrawn"] = _redrawn_ndcg(pushed, redraws, seed=seed)
    ordering = {
        "uplift": "uplift",
        "response": "model",
        "popularity": "popularity",
        "random": "random",
        "oracle": "true_uplift",
    }
    if truth is not None:
        for name, column in ordering.items():
            if column in frame.columns and name != "response":
                out["ndcg@5 uplift expected"][name] = ndcg_at_k(frame, column, "true_uplift", k=5)
    for name, column in ordering.items():
        if column in frame.columns:
            out["qini"][name] = qini(frame, column)[0]
            out["uplift@20%"][name] = uplift_at(frame, column, share=0.2)
            if truth is not None:
                out["uplift@20% expected"][name] = _expected_uplift_at(frame, column)
    return {m: v for m, v in out.items() if v}


def format_metrics(metrics: dict[str, Any]) -> list[str]:
    """The metric table as aligned text lines, one header per group of comparable orderings.

    >>> for line in format_metrics({"qini": {"uplift": 0.0412, "random": -0.0003}}):
    ...     print(line)
    whom to push                 uplift     random
    qini                         0.0412    -0.0003
    """
    lines: list[str] = []
    header = None
    for metric, columns in METRIC_ROWS:
        values = metrics.get(metric)
        if not values:
            continue
        names = [c for c in columns if c in values]
        title = "order of offers" if metric.startswith("ndcg") else "whom to push"
        if (title, names) != header:
            header = (title, names)
            lines.append(f"{title:<24}" + "".join(f"{c:>11}" for c in names))
        lines.append(f"{metric:<24}" + "".join(f"{values[c]:>11.4f}" for c in names))
    return lines
