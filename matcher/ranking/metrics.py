"""Ranking and uplift metrics on outcome logs: NDCG@k, the Qini curve and coefficient, uplift@k.

All are pure functions of frames and scores; ties are broken by ``policy_id`` (then
``subject_id``) so a metric never depends on row order.

>>> f = pl.DataFrame({"subject_id": ["a", "a", "a"], "policy_id": ["x", "y", "z"],
...                   "s": [0.9, 0.5, 0.1], "rel": [0, 1, 0]})
>>> round(ndcg_at_k(f, "s", "rel", k=5), 4)   # the one relevant offer ranked second
0.6309
>>> ndcg_at_k(f.with_columns(pl.col("s") * -1), "s", "rel", k=1)
0.0
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["ndcg_at_k", "qini", "uplift_at"]


def ndcg_at_k(
    frame: pl.DataFrame,
    score: str,
    relevance: str,
    *,
    k: int = 5,
    group: str = "subject_id",
    min_items: int = 2,
) -> float:
    """Mean NDCG@k over groups with at least ``min_items`` rows and one relevant row.

    Groups with nothing relevant have no ideal order and are left out; so are groups with a
    single row, which every ordering gets right.
    """
    # sorted by policy id first, so "ordinal" ranks break score ties by policy id
    ranked = (
        frame.sort(group, "policy_id")
        .with_columns(pl.col(relevance).cast(pl.Float64).alias("_rel"))
        .with_columns(pl.col(score).rank("ordinal", descending=True).over(group).alias("_rank"))
    )
    # the ideal DCG pairs the relevances sorted high to low with positions 1, 2, ...
    ideal_rel = pl.col("_rel").sort(descending=True)
    discount = 1.0 / (pl.int_range(1, pl.len() + 1) + 1).cast(pl.Float64).log(2)
    topk = pl.int_range(1, pl.len() + 1) <= k
    per_group = ranked.group_by(group).agg(
        pl.len().alias("n"),
        (pl.col("_rel") > 0).any().alias("any"),
        (pl.col("_rel") / (pl.col("_rank") + 1).cast(pl.Float64).log(2))
        .filter(pl.col("_rank") <= k)
        .sum()
        .alias("dcg"),
        (ideal_rel * discount).filter(topk).sum().alias("idcg"),
    )
    kept = per_group.filter((pl.col("n") >= min_items) & pl.col("any") & (pl.col("idcg") > 0))
    if kept.height == 0:
        return float("nan")
    return float((kept["dcg"] / kept["idcg"]).mean())  # type: ignore[arg-type]


def _ordered(frame: pl.DataFrame, score: str) -> pl.DataFrame:
    return frame.sort([score, "policy_id", "subject_id"], descending=[True, False, False])


def qini(
    frame: pl.DataFrame, score: str, *, treated: str = "pushed", outcome: str = "applied"
) -> tuple[float, np.ndarray]:
    """The Qini coefficient and curve of ordering ``frame`` by ``score`` (highest first).

    The curve at the top ``i`` rows is the take-up gained there — treated take-ups minus
    untreated take-ups scaled to the treated count — divided by the number of treated rows;
    the coefficient is its mean height above the straight line of a random ordering.

    >>> f = pl.DataFrame({"subject_id": list("abcd"), "policy_id": ["p"] * 4,
    ...     "pushed": [True, False, True, False], "applied": [True, False, False, False],
    ...     "s": [4.0, 3.0, 2.0, 1.0]})
    >>> round(qini(f, "s")[0], 4)
    0.15
    """
    ordered = _ordered(frame, score)
    t = ordered[treated].cast(pl.Boolean).to_numpy()
    y = ordered[outcome].cast(pl.Boolean).to_numpy()
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(t & y), np.cumsum(~t & y)
    with np.errstate(divide="ignore", invalid="ignore"):
        gained = np.where(n_c > 0, y_t - y_c * n_t / n_c, y_t)
    total_treated = max(int(n_t[-1]), 1) if len(n_t) else 1
    curve = np.concatenate([[0.0], gained / total_treated])
    x = np.linspace(0.0, 1.0, len(curve))
    return float(np.mean(curve - x * curve[-1])), curve


def uplift_at(
    frame: pl.DataFrame,
    score: str,
    *,
    share: float = 0.2,
    treated: str = "pushed",
    outcome: str = "applied",
) -> float:
    """Take-up gained per push among the top ``share`` of rows by ``score``.

    The take-up rate of the pushed minus that of the not pushed in the top rows — what pushing
    exactly those rows gains, as measured by the randomised holdout.

    >>> f = pl.DataFrame({"subject_id": list("abcd"), "policy_id": ["p"] * 4,
    ...     "pushed": [True, False, True, False], "applied": [True, False, False, True],
    ...     "s": [4.0, 3.0, 2.0, 1.0]})
    >>> uplift_at(f, "s", share=0.5)
    1.0
    """
    top = _ordered(frame, score).head(max(1, round(frame.height * share)))
    rates = top.group_by(treated).agg(pl.col(outcome).cast(pl.Float64).mean())
    by = dict(rates.iter_rows())
    if True not in by or False not in by:
        return float("nan")
    return float(by[True] - by[False])
