"""A timeline run's figures as they may be released: each subject's part bounded, then noisy.

:func:`simulations.timeline.simulate_timeline` counts exactly, and one subject can weigh on
many of its figures (several eligibilities, a message a week for months).  Before a timeline's
tables leave Zhida (the simulation job, the analyst page, its CSVs) :func:`private_timeline`
runs each seed and releases the figures privately:

1. **Bounded contribution.**  Per seed, each subject keeps at most :data:`PER_SUBJECT`
   (3) rows of each source over the whole horizon, earliest first: eligibility changes,
   items told, and eligibility spells (whose notified, read, applied, granted and complaint
   days are the funnel).  Messages are counted from the kept items: one per subject, day and
   channel, so at most 3 per subject too.  A subject then adds at most 3 to each family's
   figures *in total*, whatever the day or month.
2. **Noise before anything else.**  Three families of figures get discrete Laplace noise
   (:func:`simulations.privacy.noisy`, OpenDP) on their sums over seeds, each family
   calibrated to its L1 sensitivity so it costs :attr:`FAMILY_EPSILON` of the budget:

   * ``daily`` — per day: messages by channel, grant notices and invitations (push arm), new
     eligibilities, new maybes and losses (the same world in both arms, released once):
     sensitivity 3 × 3 = 9;
   * ``funnel`` — per arm and month: notified, read, complaints (push arm), applied and
     granted (each arm): sensitivity 3 × 7 = 21;
   * ``spells`` — the number of eligibility spells started: sensitivity 3.

   Everything else is derived from the noisy figures (post-processing, free): the daily total
   of messages, each month's and the horizon's sums, the push's effect (push − no push), the
   peak day, the means over seeds (the noisy sum divided by the number of seeds).
3. **Honest intervals.**  A shown interval is the noise's 95 % interval around the noisy mean
   (for a sum of several noisy figures, its normal approximation).  The spread between seeds
   is not released (it would cost budget of its own), so the interval says how far the
   figure may be from what the simulation computed, not how far the future may stray.

What the bound assumes: that removing one subject changes only that subject's rows.  The
simulation draws its random events from one generator per seed over the whole population, so
one subject more or less can also shift the draws of others; the sensitivities above do not
cover that shift (a known limit, stated in the README).

The benefits paid (``budget``) are not released by a timeline: one subject's payments over
months are bounded only by the benefit cap times the payments, too much noise to be useful;
a reach simulation releases costs.  The starting and ending population of the sample are not
released either (the sample's size is the analyst's own parameter).

>>> timeline_epsilon()
1.5
>>> round(PrivacyParameters().epsilon * SHARE, 6) == FAMILY_EPSILON
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Final

import polars as pl

from core.errors import ValidationError
from profiles.schema import Schema
from rules.loader import Catalog
from simulations.privacy import DEFAULT, PrivacyParameters, noisy
from simulations.scaling import mean_weight, scaled_summary
from simulations.timeline import (
    ARMS,
    CHANNELS,
    SeedRun,
    add_months,
    daily_metrics,
    load_state,
    policies_in_horizon,
    run_seed,
    spell_outcomes,
)

__all__ = [
    "DAILY",
    "FAMILIES",
    "FAMILY_EPSILON",
    "FUNNEL_METRICS",
    "PER_SUBJECT",
    "Release",
    "clip_run",
    "family_scales",
    "private_timeline",
    "release",
    "release_lines",
    "sum_interval",
    "timeline_epsilon",
]

# Rows each subject keeps per seed in each source (changes, items told, spells).
PER_SUBJECT: Final = 3
# A family's share of budget, in figures' worth of the published per-figure ε.
SHARE: Final = 10
FAMILY_EPSILON: Final = round(DEFAULT.epsilon * SHARE, 6)
# The daily figures released per day, and which source each one counts.
_SHARED: Final = ("new_eligible", "new_maybe", "lost")
_PUSH_DAILY: Final = (*(f"messages_{c}" for c in CHANNELS), "grant_notices", "invitations")
DAILY: Final = (*_SHARED, "messages", *_PUSH_DAILY)
# The funnel per arm and month (notified, read, complaints only where there is a push).
FUNNEL_METRICS: Final = ("notified", "read", "applied", "granted", "complaints")
_TOLD_ONLY: Final = ("notified", "read", "complaints")
# Each family's L1 sensitivity in units of PER_SUBJECT: the sources a subject adds to.
FAMILIES: Final = {"daily": 3, "funnel": 7, "spells": 1}


def timeline_epsilon(params: PrivacyParameters = DEFAULT) -> float:
    """What releasing one timeline run costs: each family's ε.

    >>> timeline_epsilon(PrivacyParameters(epsilon=0.1))
    3.0
    """
    return round(len(FAMILIES) * params.epsilon * SHARE, 6)


def family_scales(params: PrivacyParameters = DEFAULT) -> dict[str, float]:
    """Each family's noise scale on a mean over seeds: its sensitivity over its ε.

    >>> family_scales()
    {'daily': 18.0, 'funnel': 42.0, 'spells': 6.0}
    """
    eps = params.epsilon * SHARE
    return {k: round(n * PER_SUBJECT / eps, 6) for k, n in FAMILIES.items()}


def sum_interval(scale: float, n: int) -> float:
    """Half-width of the 95 % interval of a sum of ``n`` figures each with Laplace noise of
    ``scale``: exact for one, the normal approximation (variance 2·scale² each) beyond.

    >>> round(sum_interval(10.0, 1), 1), round(sum_interval(10.0, 4), 1)
    (30.0, 55.4)
    """
    if n <= 1:
        return PrivacyParameters.interval95(scale)
    return 1.96 * scale * math.sqrt(2 * n)


def _first(frame: pl.DataFrame, order: Sequence[str], bound: int) -> pl.DataFrame:
    """Each subject's first ``bound`` rows of ``frame`` by ``order``."""
    if not frame.height:
        return frame
    ranked = frame.sort([*order, "subject_id"], nulls_last=True)
    return ranked.filter(pl.int_range(pl.len()).over("subject_id") < bound)


def clip_run(
    run: SeedRun, outcomes: pl.DataFrame, bound: int = PER_SUBJECT
) -> tuple[SeedRun, pl.DataFrame]:
    """``run`` and its spells' ``outcomes`` with each subject's part bounded: the first
    ``bound`` changes, items told and spells, and messages counted from the kept items (one
    per subject, day and channel)."""
    told = _first(run.told, ["day", "policy_id"], bound)
    messages = (
        told.select("day", "subject_id", "channel").unique().sort("day").select("day", "channel")
    )
    clipped = replace(
        run, changes=_first(run.changes, ["day", "policy_id"], bound), told=told,
        messages=messages,
    )  # fmt: skip
    return clipped, _first(outcomes, ["start", "policy_id"], bound)


@dataclass(frozen=True, eq=False)
class Release:
    """A timeline's released tables (every figure noisy or derived from noisy ones)."""

    start: date
    end: date
    seeds: tuple[int, ...]
    arms: tuple[str, ...]
    daily: pl.DataFrame  # arm, date, DAILY (means over seeds)
    monthly: pl.DataFrame  # arm, month, metric, mean, lo, hi
    summary: pl.DataFrame  # arm, metric, mean, lo, hi (``effect``: push − no_push)
    epsilon: float
    # The summary at Beijing scale (arm, metric, sample, beijing, lo, hi): the noisy means
    # times the residents' mean calibrated weight; None for an unweighted population.
    beijing: pl.DataFrame | None = None


def _noisy_mean(values: Sequence[float], seeds: int, scale: float) -> list[float]:
    """Sums over seeds noised at ``scale`` × seeds, as means (noise of ``scale``).

    Not clamped at zero: sums of them stay unbiased.  Only a shown figure is clamped
    (post-processing); clamping each day before summing would add about half the scale a day.
    """
    sums = [round(v) for v in values]
    return [v / seeds for v in noisy(sums, scale * seeds)]


def release(
    daily: pl.DataFrame,
    spells: int,
    *,
    start: date,
    end: date,
    seeds: Sequence[int],
    arms: Sequence[str],
    params: PrivacyParameters = DEFAULT,
) -> Release:
    """The released tables from the bounded per-seed ``daily`` figures (seed, arm, date,
    month, METRICS) and the bounded number of ``spells`` summed over seeds."""
    n = len(seeds)
    scales = family_scales(params)
    sums = daily.group_by("arm", "date", "month").agg(pl.col(c).sum() for c in DAILY)
    dates = sums.select("date", "month").unique().sort("date")

    def series(arm: str, column: str) -> list[float]:
        frame = dates.join(sums.filter(pl.col("arm") == arm), on=["date", "month"], how="left")
        return frame[column].fill_null(0.0).to_list()

    shared = {c: _noisy_mean(series(arms[0], c), n, scales["daily"]) for c in _SHARED}
    pushed = "push" in arms
    push_cols = {c: _noisy_mean(series("push", c), n, scales["daily"]) for c in _PUSH_DAILY}
    frames = []
    for arm in arms:
        told = {c: (v if arm == "push" else [0.0] * dates.height) for c, v in push_cols.items()}
        messages = [sum(v) for v in zip(*(told[f"messages_{c}"] for c in CHANNELS), strict=True)]
        frames.append(
            dates.select(pl.lit(arm).alias("arm"), "date", "month").with_columns(
                *(pl.Series(c, v, pl.Float64) for c, v in shared.items()),
                pl.Series("messages", messages, pl.Float64),
                *(pl.Series(c, v, pl.Float64) for c, v in told.items()),
            )
        )
    unclamped = pl.concat(frames).select("arm", "date", "month", *DAILY)
    shown = unclamped.with_columns(
        pl.col(c).clip(lower_bound=0.0) for c in DAILY if c != "messages"
    )
    released_daily = shown.with_columns(
        pl.sum_horizontal(f"messages_{c}" for c in CHANNELS).alias("messages")
    )

    monthly_sums = daily.group_by("arm", "month").agg(pl.col(m).sum() for m in FUNNEL_METRICS)
    months = dates["month"].unique().sort().to_list()
    funnel_rows = []
    cells = [
        (arm, month, m)
        for arm in arms
        for month in months
        for m in FUNNEL_METRICS
        if arm == "push" or m not in _TOLD_ONLY
    ]
    true = {
        (a, mo, m): float(row[m])
        for row in monthly_sums.iter_rows(named=True)
        for (a, mo) in [(row["arm"], row["month"])]
        for m in FUNNEL_METRICS
    }
    noisy = _noisy_mean([true.get(c, 0.0) for c in cells], n, scales["funnel"])
    half_month = sum_interval(scales["funnel"], 1)
    for (arm, month, metric), value in zip(cells, noisy, strict=True):
        funnel_rows.append((arm, month, metric, value, half_month, 1))
    day_counts = unclamped.group_by("arm", "month").agg(
        pl.len().alias("days"), *(pl.col(c).sum() for c in DAILY)
    )
    for row in day_counts.iter_rows(named=True):
        for c in DAILY:
            if row["arm"] != "push" and c in ("messages", *_PUSH_DAILY):
                funnel_rows.append((row["arm"], row["month"], c, 0.0, 0.0, 0))
                continue
            terms = row["days"] * (len(CHANNELS) if c == "messages" else 1)
            half = sum_interval(scales["daily"], terms)
            funnel_rows.append((row["arm"], row["month"], c, row[c], half, terms))
    long = pl.DataFrame(
        funnel_rows, orient="row",
        schema={"arm": pl.String, "month": pl.String, "metric": pl.String, "mean": pl.Float64,
                "half": pl.Float64, "terms": pl.Int64},
    )  # fmt: skip
    monthly = _with_interval(long.sort("arm", "month", "metric"), ["arm", "month"])

    spell_mean = _noisy_mean([float(spells)], n, scales["spells"])[0]
    spell_half = sum_interval(scales["spells"], 1)
    horizon = long.group_by("arm", "metric", maintain_order=True).agg(
        pl.col("mean").sum(), pl.col("terms").sum(),
    )  # fmt: skip
    horizon = horizon.with_columns(
        pl.struct("metric", "terms")
        .map_elements(
            lambda s: (
                sum_interval(
                    scales["funnel" if s["metric"] in FUNNEL_METRICS else "daily"], s["terms"]
                )
                if s["terms"]
                else 0.0
            ),
            return_dtype=pl.Float64,
        )
        .alias("half")
    )
    spell_rows = pl.DataFrame(
        {"arm": list(arms), "metric": ["spells"] * len(arms), "mean": [spell_mean] * len(arms),
         "terms": [1] * len(arms), "half": [spell_half] * len(arms)},
        schema_overrides={"terms": pl.Int64},
    )  # fmt: skip
    horizon = pl.concat([spell_rows, horizon.select(spell_rows.columns)])
    summary = _with_interval(horizon, ["arm"])  # horizon: sums of the unclamped figures
    if pushed:
        effect = (
            horizon.filter(pl.col("arm") == "push")
            .join(horizon.filter(pl.col("arm") == "no_push"), on="metric", suffix="_none")
            .filter(pl.col("metric").is_in(["applied", "granted", "complaints"]))
            .select(
                pl.lit("effect").alias("arm"), "metric",
                (pl.col("mean") - pl.col("mean_none")).alias("mean"),
                (pl.col("half") ** 2 + pl.col("half_none") ** 2).sqrt().alias("half"),
            )
        )  # fmt: skip
        summary = pl.concat([
            summary,
            effect.select("arm", "metric", "mean", (pl.col("mean") - pl.col("half")).alias("lo"),
                          (pl.col("mean") + pl.col("half")).alias("hi")),
        ])  # fmt: skip
    return Release(
        start=start, end=end, seeds=tuple(seeds), arms=tuple(arms), daily=released_daily,
        monthly=monthly, summary=summary, epsilon=timeline_epsilon(params),
    )  # fmt: skip


def _with_interval(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """``*by, metric, mean, lo, hi``: the noise interval around the mean; the shown mean
    and the lower end are cut at zero (a count is not negative)."""
    return frame.select(
        *by, "metric", pl.col("mean").clip(lower_bound=0.0),
        (pl.col("mean") - pl.col("half")).clip(lower_bound=0.0).alias("lo"),
        (pl.col("mean") + pl.col("half")).clip(lower_bound=0.0).alias("hi"),
    )  # fmt: skip


def private_timeline(
    population: Path, catalog: Catalog, schema: Schema, *, as_of: date, months: int,
    seeds: Sequence[int], push: bool = True, params: PrivacyParameters = DEFAULT,
    progress: Callable[[int], None] | None = None,
) -> Release:  # fmt: skip
    """Run the timeline once per seed, each subject's part bounded, and release it."""
    if not seeds:
        raise ValidationError("seeds must be at least 1")
    last = add_months(as_of, months)
    policies = policies_in_horizon(catalog, as_of, months)
    initial = load_state(population, schema)
    arms = ARMS if push else ("no_push",)
    days, spells, end = [], 0, last
    for seed in seeds:
        run = run_seed(initial, policies, schema, start=as_of, months=months, seed=seed,
                       tell=push, progress=progress)  # fmt: skip
        run, outcomes = clip_run(run, spell_outcomes(run, policies, schema))
        days.append(daily_metrics(run, outcomes, arms=arms))
        spells += outcomes.height
        end = run.end
    released = release(
        pl.concat(days), spells, start=as_of, end=end, seeds=seeds, arms=arms, params=params
    )
    beijing = scaled_summary(released.summary, mean_weight(population))
    return replace(released, beijing=beijing)


def release_lines(r: Release) -> list[str]:
    """A few lines of plain text: the funnel per arm, the push's effect, the peak push load.

    Every figure is a released one: noisy, with the noise's 95 % interval.
    """

    def figure(arm: str, metric: str) -> str:
        row = r.summary.filter((pl.col("arm") == arm) & (pl.col("metric") == metric))
        if not row.height:
            return "—"
        mean, lo, hi = row.select("mean", "lo", "hi").row(0)
        return f"{mean:,.0f} [{lo:,.0f}, {hi:,.0f}]"

    lines = [
        f"timeline {r.start} → {r.end}, {len(r.seeds)} seed(s); mean over seeds with "
        f"differential-privacy noise [its 95 % interval], ε={r.epsilon:g}"
    ]
    for arm in r.arms:
        told = arm != "no_push"
        steps = ["spells", *(m for m in FUNNEL_METRICS[:4] if told or m not in _TOLD_ONLY)]
        lines.append(f"  {arm:<8} " + " → ".join(f"{m} {figure(arm, m)}" for m in steps))
    if "push" in r.arms:
        lines.append(
            f"  the push causes {figure('effect', 'applied')} more applications, "
            f"{figure('effect', 'granted')} more grants, {figure('effect', 'complaints')} "
            "complaints"
        )
        if r.beijing is not None:
            row = r.beijing.filter((pl.col("arm") == "effect") & (pl.col("metric") == "granted"))
            if row.height:
                b, lo, hi = row.select("beijing", "lo", "hi").row(0)
                lines.append(
                    f"  Beijing scale (× the residents' mean weight): {b:,.0f} more grants "
                    f"[{lo:,.0f}, {hi:,.0f}] (noise and sampling, 95 %)"
                )
        push = r.daily.filter(pl.col("arm") == "push")
        if push.height:
            peak = push.sort("messages", descending=True, maintain_order=True).row(0, named=True)
            average = float(push["messages"].mean() or 0.0)  # type: ignore[arg-type]
            lines.append(
                f"  push load: {average:,.1f} messages a day on average, "
                f"peak {peak['messages']:,.0f} on {peak['date']}"
            )
    return lines
