"""Monte-Carlo over seeds: the timeline run per seed, summed by month, with confidence intervals.

Each seed draws its own future (births, jobs, firms…) and its own behaviour; both arms of a
seed share that world and those draws, so ``push − no_push`` per seed is the take-up the push
itself causes.  Intervals are 95 % Student-t intervals of the mean over seeds (none with one
seed); for counts and amounts the lower end is cut at zero.

>>> ci = mean_ci(pl.DataFrame({"g": ["a", "a", "a"], "x": [1.0, 2.0, 3.0]}), ["g"], ["x"])
>>> [round(v, 4) for v in ci.select("mean", "lo", "hi").row(0)]  # t(0.975, 2) · 1 / √3
[2.0, -0.4841, 4.4841]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from core.errors import ValidationError
from profiles.schema import Schema
from rules.loader import Catalog
from rules.policy import Policy
from simulations.timeline._dynamics import RATES, Rates
from simulations.timeline._engine import add_months, load_state, run_seed
from simulations.timeline._outcomes import ARMS, METRICS, daily_metrics, spell_outcomes

__all__ = ["FUNNEL", "Timeline", "mean_ci", "simulate_timeline", "summary_lines"]

FUNNEL = ("spells", "notified", "read", "applied", "granted")
_EFFECT = ("applied", "granted", "budget", "complaints")


@dataclass(frozen=True, eq=False)
class Timeline:
    """Every figure of a timeline run (frames) and what it ran on."""

    start: date
    end: date
    seeds: tuple[int, ...]
    arms: tuple[str, ...]
    daily: pl.DataFrame  # seed, arm, date, month, METRICS
    monthly: pl.DataFrame  # seed, arm, month, METRICS (sums of daily)
    monthly_ci: pl.DataFrame  # arm, month, metric, mean, lo, hi
    totals: pl.DataFrame  # seed, arm, spells, METRICS (sums over the horizon)
    summary: pl.DataFrame  # arm, metric, mean, lo, hi (``effect`` arm: push − no_push)
    population: dict[str, tuple[int, int]]  # start and end counts, per seed mean


def mean_ci(frame: pl.DataFrame, by: Sequence[str], metrics: Sequence[str]) -> pl.DataFrame:
    """Long frame ``*by, metric, mean, lo, hi`` over the rows of each group (95 % t-interval)."""
    from scipy import stats

    long = frame.unpivot(index=list(by), on=list(metrics), variable_name="metric")
    out = long.group_by(*by, "metric", maintain_order=True).agg(
        pl.col("value").mean().alias("mean"),
        pl.col("value").std().alias("sd"),
        pl.len().alias("n"),
    )
    t = pl.col("n").map_elements(
        lambda n: float(stats.t.ppf(0.975, n - 1)) if n > 1 else None, return_dtype=pl.Float64
    )
    half = t * pl.col("sd") / pl.col("n").cast(pl.Float64).sqrt()
    return out.select(
        *by, "metric", "mean", (pl.col("mean") - half).alias("lo"),
        (pl.col("mean") + half).alias("hi"),
    )  # fmt: skip


def simulate_timeline(
    population: Path, catalog: Catalog, schema: Schema, *, as_of: date, months: int,
    seeds: Sequence[int], push: bool = True, rates: Rates = RATES,
    progress: Callable[[int], None] | None = None,
) -> Timeline:  # fmt: skip
    """Run the timeline once per seed from ``population`` on ``as_of``, for ``months`` months.

    ``push=False`` runs the no-push arm only (nothing is planned or sent).
    """
    if not 1 <= months <= 120:
        raise ValidationError(f"--months must be from 1 to 120, got {months}")
    if not seeds:
        raise ValidationError("--seeds must be at least 1")
    policies = policies_in_horizon(catalog, as_of, months)
    initial = load_state(population, schema)
    arms = ARMS if push else ("no_push",)
    daily, totals, counts = [], [], []
    for seed in seeds:
        run = run_seed(initial, policies, schema, start=as_of, months=months, seed=seed,
                       rates=rates, tell=push, progress=progress)  # fmt: skip
        outcomes = spell_outcomes(run, policies, schema)
        days = daily_metrics(run, outcomes, arms=arms)
        daily.append(days)
        totals.append(
            days.group_by("seed", "arm", maintain_order=True)
            .agg(pl.col(m).sum() for m in METRICS)
            .with_columns(pl.lit(float(outcomes.height)).alias("spells"))
        )
        counts.append((run.residents, run.enterprises))
    all_days = pl.concat(daily)
    monthly = all_days.group_by("seed", "arm", "month", maintain_order=True).agg(
        pl.col(m).sum() for m in METRICS
    )
    total = pl.concat(totals).select("seed", "arm", "spells", *METRICS)
    # Counts and amounts are never negative: an interval's lower end is cut at zero (the
    # effect, a difference, keeps its sign).
    summary = mean_ci(total, ["arm"], ["spells", *METRICS]).with_columns(
        pl.col("lo").clip(lower_bound=0.0)
    )
    if push:
        wide = total.filter(pl.col("arm") == "push").join(
            total.filter(pl.col("arm") == "no_push"), on="seed", suffix="_none"
        )
        effect = wide.select(
            pl.lit("effect").alias("arm"), *(pl.col(m) - pl.col(f"{m}_none") for m in _EFFECT)
        )
        summary = pl.concat([summary, mean_ci(effect, ["arm"], list(_EFFECT))])
    n = len(counts)
    population_counts = {
        "residents": (sum(c[0][0] for c in counts) // n, sum(c[0][1] for c in counts) // n),
        "enterprises": (sum(c[1][0] for c in counts) // n, sum(c[1][1] for c in counts) // n),
    }
    return Timeline(
        start=as_of, end=run.end, seeds=tuple(seeds), arms=arms, daily=all_days,
        monthly=monthly,
        monthly_ci=mean_ci(monthly, ["arm", "month"], list(METRICS)).with_columns(
            pl.col("lo").clip(lower_bound=0.0)
        ),
        totals=total, summary=summary, population=population_counts,
    )  # fmt: skip


def summary_lines(timeline: Timeline) -> list[str]:
    """A few lines of plain text: the funnel per arm, the push's effect, the peak push load."""

    def figure(arm: str, metric: str) -> str:
        row = timeline.summary.filter((pl.col("arm") == arm) & (pl.col("metric") == metric))
        if not row.height:
            return "—"
        mean, lo, hi = row.row(0)[2:]
        return f"{mean:,.0f}" if lo is None else f"{mean:,.0f} [{lo:,.0f}, {hi:,.0f}]"

    lines = [
        f"timeline {timeline.start} → {timeline.end}, {len(timeline.seeds)} seed(s); "
        "mean [95 % interval] over seeds"
    ]
    for arm in timeline.arms:
        told = arm != "no_push"  # nobody is notified in the world without push
        steps = [m for m in FUNNEL if told or m not in ("notified", "read")]
        funnel = " → ".join(f"{m} {figure(arm, m)}" for m in steps)
        lines.append(f"  {arm:<8} {funnel}; budget {figure(arm, 'budget')} CNY")
    if "push" in timeline.arms:
        lines.append(
            f"  the push causes {figure('effect', 'applied')} more applications, "
            f"{figure('effect', 'granted')} more grants, {figure('effect', 'complaints')} "
            "complaints"
        )
        push = timeline.daily.filter(pl.col("arm") == "push")
        peak = push.sort("messages", descending=True).row(0, named=True)
        average = float(push.select(pl.col("messages").mean()).item() or 0.0)
        lines.append(
            f"  push load: {average:,.1f} messages a day on average, "
            f"peak {peak['messages']:,.0f} on {peak['date']} (seed {peak['seed']})"
        )
    return lines


def policies_in_horizon(catalog: Catalog, as_of: date, months: int) -> tuple[Policy, ...]:
    """The policies in force on any day of ``months`` months from ``as_of``: one issued in
    month 3 takes effect then.  None at all is a :class:`ValidationError` saying what to check.
    """
    last = add_months(as_of, months)
    policies = tuple(
        p for p in catalog.policies
        if (p.valid_from is None or p.valid_from <= last)
        and (p.valid_until is None or p.valid_until >= as_of)
    )  # fmt: skip
    if not policies:
        raise ValidationError(
            f"no policy of the catalog is in force between {as_of} and {last}; check the "
            "catalog's valid_from/valid_until and the as-of date (--as-of)"
        )
    return policies
