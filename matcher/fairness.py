"""Fairness (seed 003 §十九 防范算法歧视): who the matching and the pushes serve, by group.

For each group (district, age band, gender, hukou, disability; for firms size class, industry
and district) the report gives a rate, its difference from and ratio to the best-served group,
a flag where that ratio is under four fifths (the "80 % rule"), and a confidence interval.  The
rate is:

- ``coverage`` — of the truly eligible, the share matched as eligible — when the truth is known
  (a synthetic population generated without unknown values gives it);
- ``confirmed`` — otherwise: of the pairs matched as eligible or maybe, the share eligible for
  certain.  A group with more missing data is left with more ``maybe``: served less.

Rates by group, differences and ratios are fairlearn's ``MetricFrame`` over ``selection_rate``
(:func:`rates`, and :func:`disparities` for one line per dimension).  The intervals are not
fairlearn's: its ``MetricFrame(n_boot=...)`` resamples the whole frame through pandas once per
draw — 26 s for 100 draws over 60,000 pairs on the 2-core development machine, where the
binomial bootstrap here (a proportion's resampling is a binomial draw of its successes, done
for every group and draw at once) takes 5 ms for 1,000 draws.  Exposure in the top-k pushes
is :mod:`matcher.exposure`.

>>> import polars as pl
>>> pairs = pl.DataFrame({"group": ["a"] * 10 + ["b"] * 10,
...                       "hit": [True] * 9 + [False] + [True] * 5 + [False] * 5})
>>> r = rates(pairs, "group", "hit", seed=1)
>>> r.select("group", "rate", "ratio", "flagged").rows()
[('a', 0.9, 1.0, False), ('b', 0.5, 0.5556, True)]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl
from fairlearn.metrics import MetricFrame, count, selection_rate  # type: ignore[import-untyped]

from profiles.derive import with_derived
from profiles.schema import Entity

__all__ = [
    "FOUR_FIFTHS",
    "GROUPS",
    "coverage_funnel",
    "coverage_units",
    "dimensions",
    "disparities",
    "fairness_report",
    "people_groups",
    "rates",
]

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

# Disability is a fairness dimension but not a reach group (``simulations.reach`` groups by
# GROUPS): by severity as the certificate grades it, 1 most severe.
_DISABILITY = (
    pl.when(pl.col("disability_grade") == 0)
    .then(pl.lit("无 none"))
    .when(pl.col("disability_grade") <= 2)
    .then(pl.lit("一二级 grade 1-2"))
    .when(pl.col("disability_grade").is_not_null())
    .then(pl.lit("三四级 grade 3-4"))
)
_RATE_SCHEMA = {
    "n": pl.UInt32, "hits": pl.UInt32, "rate": pl.Float64, "ci_low": pl.Float64,
    "ci_high": pl.Float64, "difference": pl.Float64, "ratio": pl.Float64, "flagged": pl.Boolean,
}  # fmt: skip
_DISPARITY_SCHEMA = {
    "dimension": pl.String, "groups": pl.UInt32, "lowest": pl.String, "highest": pl.String,
    "difference": pl.Float64, "ratio": pl.Float64, "flagged": pl.Boolean,
}  # fmt: skip


def dimensions(entity: str) -> dict[str, pl.Expr]:
    """The fairness dimensions of ``entity``'s subjects: the reach groups, plus disability.

    >>> list(dimensions("resident"))
    ['district', 'age_band', 'gender', 'hukou', 'disability']
    """
    groups = dict(GROUPS[entity])
    if entity == "resident":
        groups["disability"] = _DISABILITY
    return groups


def _metric_frame(frame: pl.DataFrame, group: str, hit: str) -> MetricFrame:
    """fairlearn's MetricFrame of ``hit``'s rate and count by ``group`` (rows with a group)."""
    y = frame[hit].cast(pl.Int8).to_numpy()
    return MetricFrame(
        metrics={"rate": selection_rate, "n": count},
        y_true=y,
        y_pred=y,
        sensitive_features=frame[group].cast(pl.String).to_numpy(),
    )


def rates(
    frame: pl.DataFrame, group: str, hit: str, *, seed: int = 0, draws: int = 1000,
    level: float = 0.95,
) -> pl.DataFrame:  # fmt: skip
    """Per value of ``group``: n, hits, rate of ``hit``, bootstrap CI, ratio to the best, flag.

    The rate by group, its difference from and ratio to the best-served group come from
    fairlearn's ``MetricFrame`` (``selection_rate``); the interval is this module's binomial
    bootstrap (see the module docstring for why not fairlearn's).
    """
    known = frame.select(group, hit).drop_nulls(group)
    if known.height == 0:
        return pl.DataFrame(schema={group: pl.String, **_RATE_SCHEMA})
    by = _metric_frame(known, group, hit).by_group
    n = by["n"].to_numpy().astype(np.int64)
    p = by["rate"].to_numpy().astype(np.float64)
    k = np.rint(p * n).astype(np.int64)
    rng = np.random.default_rng(seed)
    resampled = rng.binomial(n[:, None], p[:, None], size=(len(n), draws)) / n[:, None]
    tail = (1 - level) / 2
    low, high = np.quantile(resampled, [tail, 1 - tail], axis=1)
    best = float(p.max())
    ratio = p / best if best > 0 else np.ones(len(p))
    return pl.DataFrame(
        {
            group: [str(g) for g in by.index],
            "n": n.astype(np.uint32),
            "hits": k.astype(np.uint32),
            "rate": np.round(p, 4),
            "ci_low": np.round(low, 4),
            "ci_high": np.round(high, 4),
            "difference": np.round(best - p, 4),
            "ratio": np.round(ratio, 4),
            "flagged": ratio < FOUR_FIFTHS,
        },
        schema={group: pl.String, **_RATE_SCHEMA},
    ).sort(group)


def disparities(frame: pl.DataFrame, dimensions: Sequence[str], hit: str) -> pl.DataFrame:
    """Per dimension, fairlearn's between-group difference and ratio of ``hit``'s rate.

    ``difference`` is the best group's rate minus the worst's, ``ratio`` the worst over the
    best (``MetricFrame.difference()`` and ``.ratio()``); a ratio under four fifths is flagged.

    >>> import polars as pl
    >>> units = pl.DataFrame({"g": ["a"] * 4 + ["b"] * 4,
    ...                       "hit": [True, True, True, True, True, True, False, False]})
    >>> disparities(units, ["g"], "hit").rows()
    [('g', 2, 'b', 'a', 0.5, 0.5, True)]
    """
    rows = []
    for dimension in dimensions:
        known = frame.select(dimension, hit).drop_nulls(dimension)
        if known.height == 0:
            continue
        mf = _metric_frame(known, dimension, hit)
        rate = mf.by_group["rate"]
        ratio = float(mf.ratio()["rate"])
        rows.append(
            (dimension, len(rate), str(rate.idxmin()), str(rate.idxmax()),
             round(float(mf.difference()["rate"]), 4), round(ratio, 4), ratio < FOUR_FIFTHS)
        )  # fmt: skip
    return pl.DataFrame(rows, schema=_DISPARITY_SCHEMA, orient="row")


def people_groups(subjects: pl.LazyFrame, entity: Entity, as_of: date) -> pl.DataFrame:
    """``subject_id`` and each fairness dimension's group (null where the field is unknown)."""
    assert entity.key is not None
    present = subjects.collect_schema()
    subjects = subjects.with_columns(
        pl.lit(None, dtype=f.polars_dtype).alias(f.name)
        for f in entity.stored_fields
        if f.name not in present
    )
    groups = dimensions(entity.name)
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
    people = people_groups(subjects, entity, as_of)
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
        for dimension in dimensions(entity.name)
    ]
    return pl.concat(parts) if parts else pl.DataFrame()


def coverage_units(
    pairs: pl.DataFrame,
    subjects: pl.LazyFrame,
    entity: Entity,
    *,
    as_of: date,
    truth: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, str]:
    """The units the coverage rate is over, each with ``hit`` and its groups; and the metric.

    ``truth`` holds the pairs of the same run on complete data; with it the units are the truly
    eligible pairs and the metric ``coverage``, without it the matched pairs and ``confirmed``
    (see the module docstring).
    """
    people = people_groups(subjects, entity, as_of)
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
    return units.join(people, on="subject_id", how="left"), metric


def fairness_report(
    pairs: pl.DataFrame,
    subjects: pl.LazyFrame,
    entity: Entity,
    *,
    as_of: date,
    truth: pl.DataFrame | None = None,
    seed: int = 0,
) -> pl.DataFrame:
    """One row per (dimension, group) for ``entity``'s subjects in ``pairs`` (see
    :func:`coverage_units` for what is counted)."""
    units, metric = coverage_units(pairs, subjects, entity, as_of=as_of, truth=truth)
    parts = [
        rates(units, name, "hit", seed=seed)
        .rename({name: "group"})
        .select(pl.lit(name).alias("dimension"), pl.lit(metric).alias("metric"), pl.all())
        for name in dimensions(entity.name)
    ]
    return pl.concat(parts)
