"""Beijing-scale figures beside the sample's: weighted totals, sampling intervals, modelled inputs.

A calibrated population's rows carry weights (``zhida population calibrate``), so a count of
eligible subjects has a Beijing figure (the sum of their weights) beside the sample's.  The
exact reach (:attr:`simulations.reach.Reach.beijing`) sums the weights themselves; a released
reach scales its *noisy* sample figures by the entity's mean weight (its Beijing total over the
sample size, public once calibrated), so nothing exact leaves with it
(:func:`released_scale`).  Intervals are 95 % sampling intervals under the Poisson-sampling
approximation (Var Σwy ≈ Σ w(w-1)y²; Särndal, Swensson & Wretman 1992, §3.3), ignoring the
calibration (which narrows them) and the clustering of residents in households (which widens
them); a released figure's privacy noise is on top.

>>> policies = pl.DataFrame({"policy_id": ["a", "(all changed)"], "eligible_before": [10, 10],
...     "eligible_after": [40, 40], "newly_eligible": [30, 30], "no_longer_eligible": [0, 0],
...     "cost_year_before": [1200.0, 1200.0], "cost_year_after": [4800.0, 4800.0],
...     "cost_year_delta": [3600.0, 3600.0]})
>>> out = released_scale(policies, {"a": "resident"}, {"resident": 21.8})
>>> row = out.filter(measure="eligible_after", policy_id="a").row(0, named=True)
>>> row["sample"], round(row["beijing"]), round(row["low"]), round(row["high"])
(40.0, 872, 608, 1136)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Final

import polars as pl

from rules.parameter_use import parameters_of
from rules.parameters import Library, active
from rules.policy import Policy

__all__ = [
    "INTERVAL_NOTE",
    "LABEL",
    "SCALED",
    "mean_weight",
    "modelled_inputs",
    "released_scale",
    "scaled_figures",
    "scaled_summary",
]

ALL: Final = "(all changed)"
SCALED: Final = (
    "eligible_before", "eligible_after", "newly_eligible", "no_longer_eligible",
    "cost_year_before", "cost_year_after", "cost_year_delta",
)  # fmt: skip
Z95: Final = 1.959964
LABEL: Final = "Beijing scale: the sample weighted to Beijing's official totals (targets.yaml)"
INTERVAL_NOTE: Final = (
    "interval: 95 % sampling interval (Poisson-sampling approximation; calibration ignored; "
    "a household policy's households drawn whole, other residents as if one by one)"
)
_COST_OF: Final = {"cost_year_before": "eligible_before", "cost_year_after": "eligible_after"}


def _variance(measure: str, row: Mapping[str, float], m: float) -> float:
    extra = m * max(m - 1.0, 0.0)
    if measure == "cost_year_delta":
        return _variance("cost_year_before", row, m) + _variance("cost_year_after", row, m)
    if measure in _COST_OF:
        count = row[_COST_OF[measure]]
        # Each subject's benefit taken as the mean benefit: the noisy totals say no more.
        return row[measure] ** 2 * extra / count if count > 0 else 0.0
    return max(row[measure], 0.0) * extra


def released_scale(
    policies: pl.DataFrame, audiences: Mapping[str, str], mean_weights: Mapping[str, float]
) -> pl.DataFrame | None:
    """``policy_id, measure, sample, beijing, low, high`` from a (noisy) policies table.

    ``None`` when a changed policy's audience has no mean weight (an uncalibrated population).
    """
    rows: list[tuple[str, str, float, float, float]] = []
    totals: dict[str, list[float]] = {m: [0.0, 0.0, 0.0] for m in SCALED}
    for record in policies.filter(pl.col("policy_id") != ALL).iter_rows(named=True):
        pid = str(record["policy_id"])
        weight = mean_weights.get(audiences.get(pid, ""))
        if weight is None:
            return None
        values = {k: float(record[k] or 0) for k in SCALED}
        for measure in SCALED:
            variance = _variance(measure, values, weight)
            rows.append((pid, measure, values[measure], values[measure] * weight, variance))
            for i, v in enumerate((values[measure], values[measure] * weight, variance)):
                totals[measure][i] += v
    rows += [(ALL, m, s, b, v) for m, (s, b, v) in totals.items()]
    frame = pl.DataFrame(
        rows, schema=["policy_id", "measure", "sample", "beijing", "var"], orient="row"
    )
    half = Z95 * pl.col("var").sqrt()
    return frame.select(
        "policy_id",
        "measure",
        "sample",
        "beijing",
        (pl.col("beijing") - half).alias("low"),
        (pl.col("beijing") + half).alias("high"),
    )


def modelled_inputs(
    policies: Iterable[Policy], *, as_of: date, library: Library | None = None
) -> list[str]:
    """What the figures rest on that is modelled rather than cited: the synthetic population,
    each policy declared ``provenance: modelled`` (with its note), and each parameter the
    policies read whose value in force on ``as_of`` is modelled."""
    library = library or active()
    out = ["the synthetic population (simulations/population/SOURCES.md; weights: targets.yaml)"]
    names: set[str] = set()
    notes: dict[str, str] = {}  # a policy on both sides of a reform is named once
    for policy in policies:
        names |= parameters_of(policy)
        if policy.modelled:
            notes[policy.id] = f"policy {policy.id} (modelled): {policy.provenance_note}"
    out += notes.values()
    for name in sorted(names):
        parameter = library.get(name)
        version = parameter.in_force(as_of) if parameter else None
        if version is not None and version.source.is_modelled:
            out.append(f"parameter {name}: {version.source.modelled}")
    return out


def scaled_figures(
    eligible: int, cost_year: float, mean_weight: float | None, *, shown: bool = True
) -> dict[str, str | float] | None:
    """A dry-run's released eligible count and yearly cost (CNY) at Beijing scale, with their
    95 % sampling intervals; withheld (``"—"``) when the count itself is not ``shown``.

    >>> scaled_figures(40, 48_000.0, 21.8)["eligible"]
    '872'
    >>> scaled_figures(3, 3_600.0, 21.8, shown=False)["cost_per_year"]
    '—'
    >>> scaled_figures(40, 48_000.0, None) is None
    True
    """
    if mean_weight is None:
        return None
    if not shown:
        return {"eligible": "—", "eligible_interval": "—", "cost_per_year": "—",
                "cost_interval": "—", "mean_weight": round(mean_weight, 2)}  # fmt: skip
    values = {"eligible_after": float(eligible), "cost_year_after": float(cost_year)}
    out: dict[str, str | float] = {"mean_weight": round(mean_weight, 2)}
    for key, measure in (("eligible", "eligible_after"), ("cost_per_year", "cost_year_after")):
        value = values[measure] * mean_weight
        half = Z95 * _variance(measure, values, mean_weight) ** 0.5
        out[key] = f"{value:,.0f}"
        interval = "eligible_interval" if key == "eligible" else "cost_interval"
        out[interval] = f"{max(value - half, 0):,.0f} – {value + half:,.0f}"
    return out


def mean_weight(population: Path, entity: str = "resident") -> float | None:
    """The mean calibrated weight of ``entity`` in a population directory; ``None`` when its
    file is missing or a weight is unknown."""
    path = population / f"{entity}s.parquet"
    if not path.is_file():
        return None
    frame = pl.scan_parquet(path)
    if "weight" not in frame.collect_schema().names():
        return None
    unknown, mean = (
        frame.select(
            pl.col("weight").is_null().any().alias("unknown"),
            pl.col("weight").cast(pl.Float64).mean().alias("mean"),
        )
        .collect()
        .row(0)
    )
    return None if unknown or mean is None else float(mean)


def scaled_summary(summary: pl.DataFrame, weight: float | None) -> pl.DataFrame | None:
    """A released timeline summary (``arm, metric, mean, lo, hi``: noisy means over seeds and
    the noise's 95 % interval) at Beijing scale: the mean times ``weight``, the interval the
    noise's (scaled) and the sampling's combined.  ``None`` without a weight.

    >>> s = pl.DataFrame({"arm": ["push"], "metric": ["granted"], "mean": [100.0],
    ...                   "lo": [90.0], "hi": [110.0]})
    >>> row = scaled_summary(s, 20.0).row(0, named=True)
    >>> row["beijing"], round(row["lo"]), round(row["hi"])
    (2000.0, 1569, 2431)
    """
    if weight is None:
        return None
    extra = weight * max(weight - 1.0, 0.0)
    noise = (pl.col("hi") - pl.col("lo")) / 2 * weight
    sampling = Z95 * (pl.col("mean").abs() * extra).sqrt()
    half = (noise**2 + sampling**2).sqrt()
    beijing = pl.col("mean") * weight
    return summary.select(
        "arm",
        "metric",
        pl.col("mean").alias("sample"),
        beijing.alias("beijing"),
        (beijing - half).clip(lower_bound=0.0).alias("lo"),
        (beijing + half).alias("hi"),
    )
