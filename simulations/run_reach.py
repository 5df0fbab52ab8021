"""Reach of the published catalog in a recorded match run: per policy and per group.

The reach route and the officer's list show eligible and maybe per policy; the export gives
them by district, age band, gender, hukou and household type (firms: size class, industry,
district).  Both are counted here from the run's pairs file and shown through
:mod:`simulations.disclosure` by their callers.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

__all__ = ["reach_by_group", "reach_per_policy"]


def _counts() -> tuple[pl.Expr, pl.Expr]:
    status = pl.col("status").cast(pl.String)
    return (status == "eligible").sum().alias("eligible"), (status == "maybe").sum().alias("maybe")


def reach_per_policy(pairs_file: Path) -> pl.DataFrame:
    """``policy_id, eligible, maybe`` of a run's pairs, by policy (not yet disclosed)."""
    return (
        pl.scan_parquet(pairs_file)
        .group_by("policy_id")
        .agg(*_counts())
        .sort("policy_id")
        .collect()
    )


def reach_by_group(pairs_file: Path, population: Path, as_of: date) -> pl.DataFrame:
    """``dimension, group, policy_id, eligible, maybe`` of a run's pairs joined to the
    population's groups on the run's as-of date (not yet disclosed)."""
    from matcher.population import scan_population
    from profiles.derive import with_derived
    from profiles.schema import load_schema
    from simulations.reach import group_columns

    schema = load_schema()
    pairs = pl.scan_parquet(pairs_file).select(
        "subject_id", "policy_id", pl.col("status").cast(pl.String)
    )
    parts = []
    for name, frame in scan_population(population, schema).items():
        entity = schema.entity(name)
        if entity.key is None:  # employments link subjects; they are none themselves
            continue
        groups = group_columns(name)
        people = with_derived(frame, entity, as_of=as_of).select(
            pl.col(entity.key).alias("subject_id"),
            *(e.cast(pl.String).alias(k) for k, e in groups.items()),
        )
        joined = pairs.join(people, on="subject_id", how="inner")
        for dimension in groups:
            parts.append(
                joined.group_by("policy_id", pl.col(dimension).alias("group"))
                .agg(*_counts())
                .drop_nulls("group")
                .select(
                    pl.lit(dimension).alias("dimension"), "group", "policy_id", "eligible", "maybe"
                )
            )
    if not parts:
        return pl.DataFrame(schema={"dimension": pl.String, "group": pl.String,
                                    "policy_id": pl.String, "eligible": pl.UInt32,
                                    "maybe": pl.UInt32})  # fmt: skip
    return pl.concat(pl.collect_all(parts)).sort("dimension", "group", "policy_id")
