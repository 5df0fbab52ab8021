"""Fairness as coverage (seed 003 §十九 防范算法歧视): who the matching serves, by group.

For each group (district, age band, gender, hukou; for firms size class and industry) the
report gives a rate with a bootstrap confidence interval, the ratio to the best-served group,
and a flag where that ratio is under four fifths (the "80 % rule").  The rate is:

- ``coverage`` — of the truly eligible, the share matched as eligible — when the truth is known
  (a synthetic population generated without unknown values gives it);
- ``confirmed`` — otherwise: of the pairs matched as eligible or maybe, the share eligible for
  certain.  A group with more missing data is left with more ``maybe``: served less.

Confidence intervals come from a bootstrap over the group's pairs; for a proportion that is a
binomial resampling of its successes, computed in one vectorised draw.

>>> import polars as pl
>>> pairs = pl.DataFrame({"group": ["a"] * 10 + ["b"] * 10,
...                       "hit": [True] * 9 + [False] + [True] * 5 + [False] * 5})
>>> r = rates(pairs, "group", "hit", seed=1)
>>> r.select("group", "rate", "ratio", "flagged").rows()
[('a', 0.9, 1.0, False), ('b', 0.5, 0.5556, True)]
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from profiles.derive import with_derived
from profiles.schema import Entity

__all__ = ["FOUR_FIFTHS", "GROUPS", "coverage_funnel", "fairness_report", "rates"]

FOUR_FIFTHS = 0.8
GROUPS: dict[str, dict[str, pl.Expr]] = {
    "resident": {
        "district": pl.col("residence_district").cast(pl.String),
        "age_band": pl.when(pl.col("age") < 18)
        .then(pl.lit("0-17"))
        .when(pl.col("age") < 35)
        .then(pl.lit("18-34"))
        .when(pl.col("age") < 60)
        .then(pl.lit("35-59"))
        .when(pl.col("age") < 80)
        .then(pl.lit("60-79"))
        .when(pl.col("age").is_not_null())
        .then(pl.lit("80+")),
        "gender": pl.col("gender").cast(pl.String),
        "hukou": pl.when(pl.col("hukou_city") == "北京市")
        .then(pl.lit("北京"))
        .when(pl.col("hukou_city").is_not_null())
        .then(pl.lit("非京籍")),
    },
    "enterprise": {
        "size_class": pl.col("size_class").cast(pl.String),
        "industry": pl.col("industry_code").str.slice(0, 1),
        "district": pl.col("registered_district").cast(pl.String),
    },
}


def rates(
    frame: pl.DataFrame, group: str, hit: str, *, seed: int = 0, draws: int = 1000,
    level: float = 0.95,
) -> pl.DataFrame:  # fmt: skip
    """Per value of ``group``: n, rate of ``hit``, bootstrap CI, ratio to the best, flag."""
    counts = (
        frame.group_by(group)
        .agg(pl.len().alias("n"), pl.col(hit).sum().alias("hits"))
        .drop_nulls(group)
        .sort(group)
    )
    n = counts["n"].to_numpy()
    k = counts["hits"].to_numpy()
    rng = np.random.default_rng(seed)
    p = np.divide(k, n, out=np.zeros(len(n)), where=n > 0)
    resampled = (
        rng.binomial(n[:, None], p[:, None], size=(len(n), draws)) / np.maximum(n, 1)[:, None]
    )
    tail = (1 - level) / 2
    low, high = np.quantile(resampled, [tail, 1 - tail], axis=1) if len(n) else ([], [])
    best = float(p.max()) if len(p) else 0.0
    ratio = p / best if best > 0 else np.ones(len(p))
    return counts.with_columns(
        pl.Series("rate", np.round(p, 4)),
        pl.Series("ci_low", np.round(low, 4)),
        pl.Series("ci_high", np.round(high, 4)),
        pl.Series("ratio", np.round(ratio, 4)),
        pl.Series("flagged", ratio < FOUR_FIFTHS),
    )


def _people(subjects: pl.LazyFrame, entity: Entity, as_of: date) -> pl.DataFrame:
    assert entity.key is not None
    present = subjects.collect_schema()
    subjects = subjects.with_columns(
        pl.lit(None, dtype=f.polars_dtype).alias(f.name)
        for f in entity.stored_fields
        if f.name not in present
    )
    groups = GROUPS[entity.name]
    return (
        with_derived(subjects, entity, as_of=as_of)
        .select(pl.col(entity.key).alias("subject_id"), *(e.alias(k) for k, e in groups.items()))
        .collect()
    )


def coverage_funnel(
    eligible: pl.DataFrame,
    stages: dict[str, pl.DataFrame],
    subjects: pl.LazyFrame,
    entity: Entity,
    *,
    as_of: date,
    seed: int = 0,
) -> pl.DataFrame:
    """Of the eligible pairs, the share that reached each stage, by group.

    ``eligible`` holds the (subject_id, policy_id) pairs that should be served; each frame of
    ``stages`` (in order, e.g. matched → ranked into the push budget → reached) holds the
    pairs that got that far.  One row per (stage, dimension, group) with the rate, its
    bootstrap interval, the ratio to the best-served group and the four-fifths flag: a group
    that drops out at one stage shows there.

    >>> import polars as pl
    >>> from datetime import date
    >>> from profiles.schema import load_schema
    >>> people = pl.LazyFrame({"person_id": ["a", "b"], "gender": ["male", "female"]},
    ...                       schema_overrides={"gender": pl.Enum(["male", "female"])})
    >>> eligible = pl.DataFrame({"subject_id": ["a", "b"], "policy_id": ["p", "p"]})
    >>> reached = pl.DataFrame({"subject_id": ["a"], "policy_id": ["p"]})
    >>> funnel = coverage_funnel(eligible, {"reached": reached}, people,
    ...                          load_schema().resident, as_of=date(2026, 6, 30))
    >>> funnel.filter(pl.col("dimension") == "gender").select("group", "rate", "flagged").rows()
    [('female', 0.0, True), ('male', 1.0, False)]
    """
    people = _people(subjects, entity, as_of)
    units = eligible.select("subject_id", "policy_id").unique()
    for name, frame in stages.items():
        hits = frame.select("subject_id", "policy_id", pl.lit(True).alias(name)).unique()
        units = units.join(hits, on=["subject_id", "policy_id"], how="left").with_columns(
            pl.col(name).fill_null(False)
        )
    units = units.join(people, on="subject_id", how="inner")
    parts = [
        rates(units, dimension, stage, seed=seed)
        .rename({dimension: "group"})
        .select(pl.lit(stage).alias("stage"), pl.lit(dimension).alias("dimension"), pl.all())
        for stage in stages
        for dimension in GROUPS[entity.name]
    ]
    return pl.concat(parts) if parts else pl.DataFrame()


def fairness_report(
    pairs: pl.DataFrame,
    subjects: pl.LazyFrame,
    entity: Entity,
    *,
    as_of: date,
    truth: pl.DataFrame | None = None,
    seed: int = 0,
) -> pl.DataFrame:
    """One row per (dimension, group) for ``entity``'s subjects in ``pairs``.

    ``truth`` holds the pairs of the same run on complete data; with it the rate is coverage,
    without it the confirmed share (see the module docstring).
    """
    groups = GROUPS[entity.name]
    people = _people(subjects, entity, as_of)
    mine = pairs.filter(pl.col("subject_type").cast(pl.String) == entity.name)
    if truth is not None:
        eligible = truth.filter(pl.col("status").cast(pl.String) == "eligible").select(
            "subject_id", "policy_id"
        )
        matched = mine.filter(pl.col("status").cast(pl.String) == "eligible").select(
            "subject_id", "policy_id", pl.lit(True).alias("hit")
        )
        units = eligible.join(matched, on=["subject_id", "policy_id"], how="left").with_columns(
            pl.col("hit").fill_null(False)
        )
        metric = "coverage"
    else:
        units = mine.select(
            "subject_id", (pl.col("status").cast(pl.String) == "eligible").alias("hit")
        )
        metric = "confirmed"
    units = units.join(people, on="subject_id", how="left")
    parts = [
        rates(units, name, "hit", seed=seed)
        .rename({name: "group"})
        .select(pl.lit(name).alias("dimension"), pl.lit(metric).alias("metric"), pl.all())
        for name in groups
    ]
    return pl.concat(parts)
