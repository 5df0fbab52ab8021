"""The batches' sums turned into the report: per policy, in total, by group.

Every measure is a column of the summed rows, so any grouping of them is a plain sum; costs
are summed as integer fen and published as exact decimals of CNY.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

import polars as pl

from matcher.diff import PolicyChange
from rules.loader import Catalog
from simulations.reach._batch import ELIGIBLE, MAYBE

__all__ = [
    "ALL",
    "HOUSEHOLDS",
    "MEASURES",
    "SCALED",
    "beijing_scale",
    "measures",
    "per_group",
    "per_policy",
    "periods",
]

ALL = "(all changed)"
_PER_YEAR = {"month": 12, "year": 1, "once": 1}
_COST = pl.Decimal(20, 2)
_COUNTS = ("eligible_before", "eligible_after", "maybe_before", "maybe_after",
           "newly_eligible", "no_longer_eligible")  # fmt: skip
_COSTS = ("cost_period_before", "cost_period_after", "cost_year_before", "cost_year_after")
MEASURES = (*_COUNTS, *_COSTS, "eligible_unreachable")


def periods(baseline: Catalog, reform: Catalog) -> pl.DataFrame:
    """Payments per year of each policy, before (baseline) and after (reform)."""

    def per_year(catalog: Catalog) -> dict[str, int]:
        return {p.id: _PER_YEAR.get(p.benefit_period or "", 0) for p in catalog.policies}

    old, new = per_year(baseline), per_year(reform)
    ids = sorted(set(old) | set(new))
    return pl.DataFrame(
        {"policy_id": ids, "year_before": [old.get(i, 0) for i in ids],
         "year_after": [new.get(i, 0) for i in ids]},
        schema={"policy_id": pl.String, "year_before": pl.Int64, "year_after": pl.Int64},
    )  # fmt: skip


def measures(sums: Sequence[pl.DataFrame], years: pl.DataFrame) -> pl.DataFrame:
    """Every measure as a column of the summed rows, so any grouping of them is a plain sum."""
    parts = [s for s in sums if s.height]
    if not parts:
        return pl.DataFrame(schema={"policy_id": pl.String, **{m: pl.Int64 for m in MEASURES}})
    rows = pl.concat(parts, how="diagonal_relaxed").join(years, on="policy_id", how="left")
    n = pl.col("n").cast(pl.Int64)
    was, now = pl.col("before") == ELIGIBLE, pl.col("after") == ELIGIBLE

    def count(condition: pl.Expr) -> pl.Expr:
        return pl.when(condition).then(n).otherwise(0)

    fen_before, fen_after = pl.col("fen_before").fill_null(0), pl.col("fen_after").fill_null(0)
    if "h" not in rows.columns:
        rows = rows.with_columns(pl.lit(0, pl.UInt32).alias("h"))
    homes = pl.col("h").cast(pl.Int64).fill_null(0)
    return rows.select(
        pl.exclude("n", "h", "before", "after", "reachable", "^fen_.*$", "^year_.*$", "^w.*$"),
        count(was).alias("eligible_before"),
        count(now).alias("eligible_after"),
        count(pl.col("before") == MAYBE).alias("maybe_before"),
        count(pl.col("after") == MAYBE).alias("maybe_after"),
        count(now & ~was).alias("newly_eligible"),
        count(was & ~now).alias("no_longer_eligible"),
        fen_before.alias("cost_period_before"),
        fen_after.alias("cost_period_after"),
        (fen_before * pl.col("year_before").fill_null(0)).alias("cost_year_before"),
        (fen_after * pl.col("year_after").fill_null(0)).alias("cost_year_after"),
        count(now & ~pl.col("reachable")).alias("eligible_unreachable"),
        # a household policy's households, once each (its people are the counts above)
        *(
            pl.when(condition).then(homes).otherwise(0).alias(f"households_{name}")
            for name, condition in _changes(was, now)
        ),
        *_weighted(rows, was, now),
    )


def _changes(was: pl.Expr, now: pl.Expr) -> tuple[tuple[str, pl.Expr], ...]:
    return (
        ("eligible_before", was), ("eligible_after", now),
        ("newly_eligible", now & ~was), ("no_longer_eligible", was & ~now),
    )  # fmt: skip


def _weighted(rows: pl.DataFrame, was: pl.Expr, now: pl.Expr) -> list[pl.Expr]:
    """Beijing-scale measures (Σ weight) and their sampling variances, when rows are weighted."""
    if "w" not in rows.columns:
        return []
    w, v = pl.col("w"), pl.col("w_var")
    yb, ya = pl.col("year_before").fill_null(0), pl.col("year_after").fill_null(0)
    out = [pl.col("w_nulls").alias("weight_unknown")]
    wh = pl.col("wh").fill_null(0.0) if "wh" in rows.columns else pl.lit(0.0)
    vh = pl.col("wh_var").fill_null(0.0) if "wh_var" in rows.columns else pl.lit(0.0)
    for name, condition in _changes(was, now):
        out.append(pl.when(condition).then(w).otherwise(0.0).alias(f"{_W}{name}"))
        out.append(pl.when(condition).then(v).otherwise(0.0).alias(f"{_V}{name}"))
        household = f"households_{name}"
        out.append(pl.when(condition).then(wh).otherwise(0.0).alias(f"{_W}{household}"))
        out.append(pl.when(condition).then(vh).otherwise(0.0).alias(f"{_V}{household}"))
    before, after = pl.col("w_fen_before") * yb, pl.col("w_fen_after") * ya
    out += [
        (before / 100).alias(f"{_W}cost_year_before"),
        (after / 100).alias(f"{_W}cost_year_after"),
        ((after - before) / 100).alias(f"{_W}cost_year_delta"),
        (pl.col("w_var_before") * yb * yb / 10_000).alias(f"{_V}cost_year_before"),
        (pl.col("w_var_after") * ya * ya / 10_000).alias(f"{_V}cost_year_after"),
        (
            (
                pl.col("w_var_after") * ya * ya
                + pl.col("w_var_before") * yb * yb
                - 2 * pl.col("w_var_cross") * ya * yb
            )
            / 10_000
        ).alias(f"{_V}cost_year_delta"),
    ]
    return out


_W, _V = "beijing_", "beijing_var_"
# Households: of the policies whose unit is the household (the eligible counts are then the
# people living in those households); only those policies have rows of them.
HOUSEHOLDS: Final = (
    "households_eligible_before", "households_eligible_after", "households_newly_eligible",
    "households_no_longer_eligible",
)  # fmt: skip
SCALED: Final = (
    "eligible_before", "eligible_after", "newly_eligible", "no_longer_eligible", *HOUSEHOLDS,
    "cost_year_before", "cost_year_after", "cost_year_delta",
)  # fmt: skip
Z95: Final = 1.959964


def beijing_scale(table: pl.DataFrame, policies: pl.DataFrame) -> pl.DataFrame | None:
    """Per changed policy and in total: each measure in the sample and weighted to Beijing.

    Columns ``policy_id, measure, sample, beijing, low, high``: ``sample`` is the sample's
    count (or yearly cost in CNY) from ``policies``; ``beijing`` the sum of the subjects'
    calibrated weights (or weighted cost); ``low``-``high`` its 95 % sampling interval under
    the Poisson-sampling approximation (calibration and household clustering ignored).
    ``None`` when the population carries no weights (or some subject's is unknown).
    """
    columns = [f"{_W}{m}" for m in SCALED] + [f"{_V}{m}" for m in SCALED]
    if not table.height or f"{_W}eligible_after" not in table.columns:
        return None
    if int(table["weight_unknown"].sum() or 0) > 0:
        return None
    per = table.group_by("policy_id").agg(pl.col(columns).sum(), pl.col(HOUSEHOLDS).sum())
    total = per.select(pl.lit(ALL).alias("policy_id"), pl.exclude("policy_id").sum())
    wide = pl.concat([total, per.sort("policy_id")])
    homes = wide.select("policy_id", *(pl.col(m).cast(pl.Float64) for m in HOUSEHOLDS))
    sample = policies.select(
        "policy_id",
        *(pl.col(m).cast(pl.Float64) for m in SCALED if m not in HOUSEHOLDS),
    ).join(homes, on="policy_id", how="left")
    # household rows only for policies counted in households
    counted = set(homes.filter(pl.sum_horizontal(pl.col(HOUSEHOLDS)) > 0)["policy_id"].to_list())
    long = []
    for m in SCALED:
        half = Z95 * pl.col(f"{_V}{m}").clip(lower_bound=0).sqrt()
        rows = wide.filter(pl.col("policy_id").is_in(list(counted))) if m in HOUSEHOLDS else wide
        long.append(
            rows.join(sample.select("policy_id", pl.col(m).alias("sample")), on="policy_id").select(
                "policy_id",
                pl.lit(m).alias("measure"),
                "sample",
                pl.col(f"{_W}{m}").alias("beijing"),
                (pl.col(f"{_W}{m}") - half).alias("low"),
                (pl.col(f"{_W}{m}") + half).alias("high"),
            )
        )
    # Policies in order, the total first; measures in the order of SCALED.
    return pl.concat(long).sort("policy_id", maintain_order=True)


def _published(frame: pl.DataFrame) -> pl.DataFrame:
    """Counts as UInt32 and costs as exact decimals of CNY (the sums are in fen)."""
    cent = pl.lit(Decimal("0.01"))
    return frame.with_columns(
        pl.col(_COUNTS).cast(pl.UInt32),
        pl.col("eligible_unreachable").cast(pl.UInt32),
        *((pl.col(c).cast(pl.Decimal(38, 2)) * cent).cast(_COST).alias(c) for c in _COSTS),
    )


def per_policy(table: pl.DataFrame, changes: Sequence[PolicyChange]) -> pl.DataFrame:
    kinds = pl.DataFrame(
        {"policy_id": [c.policy_id for c in changes], "change": [c.change for c in changes]},
        schema={"policy_id": pl.String, "change": pl.String},
    )
    per = kinds.join(
        table.group_by("policy_id").agg(pl.col(MEASURES).sum()), on="policy_id", how="left"
    ).with_columns(pl.col(MEASURES).fill_null(0))
    # The total adds up the changed policies' pairs: a subject gaining two counts twice.
    total = per.select(
        pl.lit(ALL).alias("policy_id"), pl.lit("total").alias("change"), pl.col(MEASURES).sum()
    )
    out = _published(pl.concat([per, total], how="vertical_relaxed"))
    return out.with_columns(
        (pl.col("cost_year_after") - pl.col("cost_year_before"))
        .cast(_COST)
        .alias("cost_year_delta")
    )


def per_group(table: pl.DataFrame, dimensions: Sequence[str]) -> pl.DataFrame:
    parts = []
    for dimension in dict.fromkeys(dimensions):
        if dimension not in table.columns:
            continue
        per_policy = (
            table.group_by("policy_id", pl.col(dimension).alias("group"))
            .agg(pl.col(MEASURES).sum())
            .drop_nulls("group")
        )
        # Every measure is a sum, so the all-policies rows add up the per-policy ones.
        overall = per_policy.group_by("group").agg(pl.col(MEASURES).sum())
        for frame in (per_policy, overall.with_columns(pl.lit(ALL).alias("policy_id"))):
            parts.append(
                frame.select(pl.lit(dimension).alias("dimension"), "policy_id", "group", *MEASURES)
            )
    if not parts:
        return pl.DataFrame()
    return _published(pl.concat(parts, how="vertical_relaxed")).sort(
        "policy_id", "dimension", "group"
    )
