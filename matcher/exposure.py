"""Exposure in the top-k pushes: is each group told first as often as it is eligible?

A push budget tells the offers ranking puts first.  Of the ranked offers (服务找人 and 直达快享;
免申即享 grants are always told, so they are outside the ranked set), the top ``top_share``
across the population are the top-k pushes.  For each group:

- ``share_eligible`` — its share of the ranked offers (what it is eligible or maybe for);
- ``share_top`` — its share of the top-k pushes;
- ``exposure`` — ``share_top / share_eligible``: 1 is parity, under four fifths is flagged.

The in-top-k rate of each group is fairlearn's ``MetricFrame`` over ``selection_rate``;
``exposure`` is that rate over the overall rate (the same ratio as the shares, since both
shares have the group's count over the whole's).  The global order is the one the model ranks
by — the uplift of telling, else the predicted take-up — and, rules-only (no score), each
subject's own order: eligible before maybe, the larger benefit first.

>>> import polars as pl
>>> ranked = pl.DataFrame({"subject_id": ["a", "b", "c", "d"], "policy_id": ["p"] * 4,
...     "g": ["x", "x", "y", "y"], "ranked": [True] * 4, "uplift": [0.4, 0.3, 0.2, 0.1]})
>>> top = top_k(ranked, top_share=0.5)
>>> exposure_by_group(top, ["g"]).select("group", "share_top", "exposure", "flagged").rows()
[('x', 1.0, 2.0, False), ('y', 0.0, 0.0, True)]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl
from fairlearn.metrics import MetricFrame, count, selection_rate  # type: ignore[import-untyped]

from matcher.fairness import FOUR_FIFTHS, dimensions, people_groups
from profiles.schema import Entity

__all__ = ["DEFAULT_TOP_SHARE", "exposure_by_group", "top_k", "topk_exposure"]

DEFAULT_TOP_SHARE = 0.2  # the same 20 % as the uplift@20 % the model is measured on
_SCHEMA = {
    "dimension": pl.String, "group": pl.String, "n": pl.UInt32, "top": pl.UInt32,
    "share_eligible": pl.Float64, "share_top": pl.Float64, "exposure": pl.Float64,
    "flagged": pl.Boolean,
}  # fmt: skip


def top_k(ranked: pl.DataFrame, *, top_share: float = DEFAULT_TOP_SHARE) -> pl.DataFrame:
    """The ranked offers (grants left out), each with ``top``: among the top ``top_share``.

    Ties are broken by subject and policy id, so the same input gives the same top-k.
    """
    if not 0 < top_share <= 1:
        raise ValueError(f"top_share must be in (0, 1], got {top_share}")
    offers = ranked.filter(pl.col("ranked")) if "ranked" in ranked.columns else ranked
    keys, descending = [], []
    for column, desc in (("uplift", True), ("score", True), ("rank", False)):
        if column in offers.columns and offers[column].null_count() < offers.height:
            keys.append(pl.col(column))
            descending.append(desc)
    if "status" in offers.columns:
        keys.append(pl.col("status") == "eligible")
        descending.append(True)
    if "benefit" in offers.columns:
        keys.append(pl.col("benefit").fill_null(0.0))
        descending.append(True)
    keys += [pl.col("subject_id"), pl.col("policy_id")]
    descending += [False, False]
    k = max(1, round(offers.height * top_share)) if offers.height else 0
    order = offers.sort(keys, descending=descending, nulls_last=True)
    return order.with_columns(pl.Series("top", np.arange(order.height) < k))


def exposure_by_group(offers: pl.DataFrame, groups: Sequence[str]) -> pl.DataFrame:
    """One row per (dimension, group): its shares of the offers and of the top-k, exposure."""
    parts = []
    for dimension in groups:
        known = offers.select(dimension, "top").drop_nulls(dimension)
        if known.height == 0:
            continue
        y = known["top"].cast(pl.Int8).to_numpy()
        mf = MetricFrame(
            metrics={"rate": selection_rate, "n": count},
            y_true=y,
            y_pred=y,
            sensitive_features=known[dimension].cast(pl.String).to_numpy(),
        )
        by = mf.by_group
        n = by["n"].to_numpy().astype(np.int64)
        rate = by["rate"].to_numpy().astype(np.float64)
        overall = float(mf.overall["rate"])
        top = np.rint(rate * n).astype(np.int64)
        exposure = rate / overall if overall > 0 else np.ones(len(n))
        parts.append(
            pl.DataFrame(
                {
                    "dimension": dimension,
                    "group": [str(g) for g in by.index],
                    "n": n,
                    "top": top,
                    "share_eligible": np.round(n / n.sum(), 4),
                    "share_top": np.round(top / max(int(top.sum()), 1), 4),
                    "exposure": np.round(exposure, 4),
                    "flagged": exposure < FOUR_FIFTHS,
                },
                schema=_SCHEMA,
            ).sort("group")
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=_SCHEMA)


def topk_exposure(
    ranked: pl.DataFrame,
    subjects: pl.LazyFrame,
    entity: Entity,
    *,
    as_of: date,
    top_share: float = DEFAULT_TOP_SHARE,
) -> pl.DataFrame:
    """Exposure by fairness dimension of ``entity``'s subjects in the top-k of ``ranked``.

    ``ranked`` is what :func:`matcher.ranking.rank_offers` returns (``zhida rank offers``
    writes it); the top-k is taken over this entity's ranked offers.
    """
    mine = ranked.filter(pl.col("subject_type").cast(pl.String) == entity.name)
    offers = top_k(mine, top_share=top_share).join(
        people_groups(subjects, entity, as_of), on="subject_id", how="left"
    )
    return exposure_by_group(offers, list(dimensions(entity.name)))
