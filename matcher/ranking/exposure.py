"""The fairness figures stored with a model: each group's exposure in its top-k, held out.

At training, the model orders the held-out subjects' ranked offers (服务找人 and 直达快享; the
training data holds no grant) by what it orders pushes by — the uplift of telling, else the
predicted take-up — and :func:`matcher.exposure.topk_exposure` measures each group's share of
the top ``top_share`` against its share of those offers.  The figures go into the model's
metadata, where the published card (:mod:`.card`) reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl

from matcher.exposure import DEFAULT_TOP_SHARE, topk_exposure
from matcher.fairness import GROUPS
from matcher.ranking.model import RankingModel, TrainingData
from profiles.schema import Schema

__all__ = ["held_out_exposure"]


def held_out_exposure(
    model: RankingModel,
    data: TrainingData,
    profiles: Mapping[str, pl.DataFrame],
    schema: Schema,
    *,
    as_of: date,
    top_share: float = DEFAULT_TOP_SHARE,
) -> dict[str, Any]:
    """Exposure by group in the model's top ``top_share`` of the held-out offers.

    Returns ``{"top_share", "offers", "dimensions": [one row per (subjects, dimension): the
    least exposed group, its exposure, whether any group is under four fifths], "groups":
    [every group's row]}`` — plain JSON for the model's metadata.
    """
    held = data.rows["held_out"].to_numpy()
    x = data.x[held]
    score = model.uplift(x) if model.control is not None else model.take_up(x)
    ranked = (
        data.rows.filter(pl.col("held_out"))
        .select("subject_id", pl.col("subject_type").cast(pl.String), "policy_id")
        .with_columns(pl.Series("uplift", score, dtype=pl.Float64), pl.lit(True).alias("ranked"))
    )
    parts = [
        topk_exposure(
            ranked, profiles[name].lazy(), schema.entity(name), as_of=as_of, top_share=top_share
        ).with_columns(pl.lit(name).alias("subjects"))
        for name in sorted(profiles)
        if name in GROUPS
    ]
    groups = pl.concat(parts) if parts else pl.DataFrame()
    dimensions = []
    if groups.height:
        for (subjects, dimension), part in groups.group_by(
            "subjects", "dimension", maintain_order=True
        ):
            worst = part.sort("exposure").row(0, named=True)
            dimensions.append(
                {"subjects": subjects, "dimension": dimension, "lowest": worst["group"],
                 "exposure": worst["exposure"], "flagged": bool(part["flagged"].any())}
            )  # fmt: skip
    return {
        "top_share": top_share,
        "offers": ranked.height,
        "dimensions": dimensions,
        "groups": groups.to_dicts(),
    }
