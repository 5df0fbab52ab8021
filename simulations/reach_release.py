"""A reach simulation's tables as they may be released: every count and cost noisy.

:func:`simulations.reach.simulate_reach` counts exactly; before its tables leave Zhida (the
analyst's simulation job and console page), :func:`private_reach` gives every per-policy figure
independent noise — a count the noise of one subject, a cost the noise of the policy's own
maximum benefit per subject (:func:`simulations.privacy.bounded` clipped the benefits to it) —
and then *derives* the rest from the noisy figures: the ``(all changed)`` rows are the sums of
the policies' noisy rows, a yearly cost is the noisy cost per period times the payments a year,
the cost change is after minus before.  So subtracting a policy's row from the total leaves the
other policies' noise, not a hidden cell.  Groups are every group of the population for every
changed policy (a listed group says nothing), and the overlap table names another policy only
when the noisy number of subjects both reach clears its noise (as the dry-run does).
Beijing-scale figures are the noisy ones times each audience's mean weight
(:func:`simulations.scaling.released_scale`), never the exact weighted sums.

What a simulation costs is :func:`simulation_epsilon`: each noisy column of each changed
policy, once per table (the policies table, and the groups table once per grouping a subject
sits in), plus the overlap share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

import polars as pl

from rules.loader import Catalog
from simulations.disclosure import noised
from simulations.privacy import DEFAULT, OVERLAP_SHARE, PrivacyParameters
from simulations.reach import ALL, Reach
from simulations.scaling import released_scale

__all__ = ["COUNTS", "PERIOD_COSTS", "private_reach", "simulation_epsilon"]

COUNTS: Final = (
    "eligible_before", "eligible_after", "maybe_before", "maybe_after", "newly_eligible",
    "no_longer_eligible", "eligible_unreachable",
)  # fmt: skip
PERIOD_COSTS: Final = ("cost_period_before", "cost_period_after")
_PER_YEAR: Final = {"month": 12, "year": 1, "once": 1}
_COST = pl.Decimal(20, 2)


def simulation_epsilon(changed: int, dimensions: int, params: PrivacyParameters = DEFAULT) -> float:
    """What a reach simulation of ``changed`` policies costs, its groups by ``dimensions``.

    >>> simulation_epsilon(1, 5)
    2.9
    """
    per_policy = (len(COUNTS) + len(PERIOD_COSTS)) * (1 + dimensions)
    return round((per_policy * changed + OVERLAP_SHARE) * params.epsilon, 6)


@dataclass(frozen=True)
class _Sides:
    bound_before: Mapping[str, Decimal]
    bound_after: Mapping[str, Decimal]
    year_before: Mapping[str, int]
    year_after: Mapping[str, int]


def _sides(
    baseline: Catalog,
    reform: Catalog,
    bounds_before: Mapping[str, Decimal],
    bounds_after: Mapping[str, Decimal],
) -> _Sides:
    def years(catalog: Catalog) -> dict[str, int]:
        return {p.id: _PER_YEAR.get(p.benefit_period or "", 0) for p in catalog.policies}

    return _Sides(bounds_before, bounds_after, years(baseline), years(reform))


def _noisy_rows(frame: pl.DataFrame, sides: _Sides, params: PrivacyParameters) -> pl.DataFrame:
    """Per-policy rows with every count and period cost noisy, yearly costs derived."""
    if not frame.height:
        return frame
    out = frame.with_columns(
        pl.Series(c, noised([int(v) for v in frame[c]], params.count_scale), pl.Int64)
        for c in COUNTS
    )
    parts = []
    for (key,), rows in out.group_by("policy_id", maintain_order=True):
        pid = str(key)
        columns = []
        for side, bounds, years in (
            ("before", sides.bound_before, sides.year_before),
            ("after", sides.bound_after, sides.year_after),
        ):
            fen = [int(Decimal(str(v or 0)) * 100) for v in rows[f"cost_period_{side}"]]
            scale = params.sum_scale(bounds.get(pid, Decimal(0)) * 100)
            noisy = [Decimal(f) / 100 for f in noised(fen, scale)]
            columns.append(pl.Series(f"cost_period_{side}", noisy, _COST))
            columns.append(
                pl.Series(f"cost_year_{side}", [n * years.get(pid, 0) for n in noisy], _COST)
            )
        parts.append(rows.with_columns(columns))
    return pl.concat(parts, how="vertical_relaxed")


def _with_totals(rows: pl.DataFrame, keys: list[str], all_id: str) -> pl.DataFrame:
    """``rows`` and, per ``keys``, the ``(all changed)`` row: the sum of the noisy rows."""
    measures = [*COUNTS, *PERIOD_COSTS, "cost_year_before", "cost_year_after"]
    total = rows.group_by(keys, maintain_order=True).agg(pl.col(measures).sum())
    total = total.with_columns(pl.lit(all_id).alias("policy_id"))
    if "change" in rows.columns:
        total = total.with_columns(pl.lit("total").alias("change"))
    out = pl.concat([rows, total.select(rows.columns)], how="vertical_relaxed")
    return out.with_columns(
        pl.col(COUNTS).cast(pl.UInt32),
        *(pl.col(c).cast(_COST) for c in (*PERIOD_COSTS, "cost_year_before", "cost_year_after")),
    )


def private_reach(
    reach: Reach,
    baseline: Catalog,
    reform: Catalog,
    bounds_before: Mapping[str, Decimal],
    bounds_after: Mapping[str, Decimal],
    domain: pl.DataFrame,
    params: PrivacyParameters = DEFAULT,
) -> Reach:
    """``reach`` with its tables released: see the module docstring.  ``domain`` is
    ``dimension, group``: every group of the population."""
    sides = _sides(baseline, reform, bounds_before, bounds_after)
    changed = [c.policy_id for c in reach.changes]

    per = reach.policies.filter(pl.col("policy_id") != ALL).drop("cost_year_delta")
    policies = _with_totals(_noisy_rows(per, sides, params), [], ALL).with_columns(
        (pl.col("cost_year_after") - pl.col("cost_year_before"))
        .cast(_COST)
        .alias("cost_year_delta")
    )

    groups = reach.groups
    if groups.height and changed:
        cells = domain.join(pl.DataFrame({"policy_id": changed}), how="cross")
        mine = groups.filter(pl.col("policy_id") != ALL)
        full = cells.join(mine, on=["dimension", "group", "policy_id"], how="left").with_columns(
            pl.col(c).fill_null(0) for c in (*COUNTS, *PERIOD_COSTS)
        )
        noisy = _noisy_rows(full.select(groups.columns), sides, params)
        groups = _with_totals(noisy, ["dimension", "group"], ALL).sort(
            "policy_id", "dimension", "group"
        )

    overlap = _private_overlap(reach.overlap, policies, changed, reform, params)
    # Beijing-scale figures from the noisy ones (the exact weighted sums are not released).
    audiences = {p.id: p.audience for p in (*baseline.policies, *reform.policies)}
    beijing = released_scale(policies, audiences, reach.mean_weights)
    return replace(reach, policies=policies, groups=groups, overlap=overlap, beijing=beijing)


def _private_overlap(
    overlap: pl.DataFrame,
    policies: pl.DataFrame,
    changed: list[str],
    reform: Catalog,
    params: PrivacyParameters,
) -> pl.DataFrame:
    """Each changed policy against every other policy of its audience in the reform: noisy
    shared counts, named only above the noise threshold; ``eligible`` is the noisy one of
    the policies table and ``share`` is derived from the two."""
    audience = {p.id: p.audience for p in reform.policies}
    pairs = [
        (pid, other)
        for pid in changed
        for other in sorted(audience)
        if other != pid and audience.get(other) == audience.get(pid)
    ]
    schema = {
        "policy_id": pl.String, "other_policy": pl.String, "shared": pl.Int64,
        "eligible": pl.Int64, "share": pl.Float64,
    }  # fmt: skip
    if not pairs:
        return pl.DataFrame(schema=schema)
    true = {
        (str(a), str(b)): int(n)
        for a, b, n in overlap.select("policy_id", "other_policy", "shared").iter_rows()
    }
    scale = len(pairs) / (OVERLAP_SHARE * params.epsilon)
    shared = noised([true.get(p, 0) for p in pairs], scale)
    threshold = scale * math.log(20 * len(pairs))
    eligible = dict(policies.select("policy_id", pl.col("eligible_after").cast(pl.Int64)).rows())
    rows = [
        (a, b, n, int(eligible.get(a, 0)), n / eligible[a] if eligible.get(a) else 0.0)
        for (a, b), n in zip(pairs, shared, strict=True)
        if n > threshold
    ]
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return frame.sort(["shared", "policy_id", "other_policy"], descending=[True, False, False])
