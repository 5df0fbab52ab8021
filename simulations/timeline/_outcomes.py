"""What people do with each new eligibility, with a proactive push and without one.

Every eligibility spell that starts during the timeline gets the behaviour model's truth
(:func:`simulations.behaviour.true_propensities`: ``p_find``, ``p_open``, ``q``,
``p_complain``) and one set of random draws, shared by both arms (common random numbers), so
the difference between the arms is the push's own effect, not noise between two worlds:

* **without a push** the subject finds the policy alone with probability ``p_find``, after a
  geometric delay (mean 30 days, modelled);
* **with a push** they also read the planned message with probability ``p_open``, after a
  geometric delay (mean 1.5 days, modelled) from the day it was sent; a push the planner
  suppressed (weekly budget, opt-out) reaches nobody;
* once seen, they apply with probability ``q``: at once for auto_grant (confirming), after a
  mean 2 days for fast_track, 7 for proactive_push (modelled);
* an application is granted after 0 / 3 / 15 days (auto_grant / fast_track / proactive_push,
  modelled); a ``maybe`` is granted half the time (the unknown fact decides; modelled);
* a read push not taken up draws a complaint with probability ``p_complain``, on the read day;
* a grant pays the benefit on the grant day, then every 30 days for monthly benefits and
  every 365 for yearly ones, while the spell lasts and within the horizon.

Nothing after the spell ends (death, lost eligibility) or after the horizon counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from profiles.derive import with_derived
from profiles.schema import Schema
from rules.policy import Policy
from simulations.behaviour import BehaviourParams, true_propensities
from simulations.timeline._engine import SeedRun

__all__ = ["ARMS", "CHANNELS", "METRICS", "Delays", "daily_metrics", "spell_outcomes"]

ARMS = ("push", "no_push")
CHANNELS = ("inbox", "sms", "email", "webhook")
METRICS = (
    "new_eligible", "new_maybe", "lost", "messages", *(f"messages_{c}" for c in CHANNELS),
    "grant_notices", "invitations", "notified", "read", "applied", "granted", "complaints",
    "budget",
)  # fmt: skip
_PAYMENT_EVERY = {"month": 30, "year": 365}


@dataclass(frozen=True)
class Delays:
    """Mean delays in days (modelled; see the module docstring)."""

    find: float = 30.0
    read: float = 1.5
    apply: dict[str, float] = field(
        default_factory=lambda: {"auto_grant": 0.0, "fast_track": 2.0, "proactive_push": 7.0}
    )
    process: dict[str, int] = field(
        default_factory=lambda: {"auto_grant": 0, "fast_track": 3, "proactive_push": 15}
    )
    maybe_granted: float = 0.5


def _geometric(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Whole days with the given means (0 where the mean is 0): a geometric count of failures.

    >>> _geometric(np.random.default_rng(0), np.array([0.0, 0.0])).tolist()
    [0, 0]
    """
    p = 1.0 / (1.0 + np.asarray(mean, dtype=float))
    return np.asarray(rng.geometric(p) - 1, dtype=np.int64)


def _days(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Int32)


def spell_outcomes(
    run: SeedRun, policies: Sequence[Policy], schema: Schema, *,
    params: BehaviourParams | None = None, delays: Delays | None = None,
) -> pl.DataFrame:  # fmt: skip
    """One row per spell started during the timeline: the days things happened, per arm.

    Day columns are dates (null: did not happen within the horizon): ``told``, ``found``,
    ``read``, ``applied_push``, ``granted_push``, ``complained``, ``applied_no_push``,
    ``granted_no_push``.
    """
    params = params or BehaviourParams()
    delays = delays or Delays()
    spells = run.spells.filter(pl.col("start").is_not_null()).sort(
        "start", "subject_id", "policy_id"
    )
    by_id = {p.id: p for p in policies}
    keys = ["subject_id", "policy_id"]
    if not spells.height:
        return spells.with_columns(
            pl.lit(None, pl.Date).alias(c)
            for c in ("told", "found", "read", "applied_push", "granted_push", "complained",
                      "applied_no_push", "granted_no_push")
        ).with_columns(pl.lit(None, pl.String).alias("period"))  # fmt: skip
    profiles = {
        name: with_derived(frame.lazy(), schema.entity(name), as_of=run.end).collect()
        for name, frame in run.profiles.items()
        if frame.height
    }
    unique = spells.unique(keys, keep="first", maintain_order=True).with_columns(
        pl.col("benefit").cast(pl.Decimal(18, 2))
    )
    truth = true_propensities(unique, profiles, list(by_id.values()), seed=run.seed, params=params)
    frame = spells.join(truth.select(*keys, "p_find", "p_open", "q", "p_complain"), on=keys,
                        how="left")  # fmt: skip
    told = run.told.group_by(keys).agg(pl.col("day").sort().alias("__told"))
    frame = frame.join(told, on=keys, how="left")
    told_day = (
        frame.select(*keys, "start", "end", "__told")
        .with_row_index("__row")
        .explode("__told")
        .filter(
            (pl.col("__told") >= pl.col("start"))
            & (pl.col("end").is_null() | (pl.col("__told") < pl.col("end")))
        )
        .group_by("__row")
        .agg(pl.col("__told").min().alias("told"))
    )
    frame = (
        frame.with_row_index("__row")
        .join(told_day, on="__row", how="left")
        .drop("__row", "__told")
        .with_columns(
            pl.col("policy_id").replace_strict({k: p.mode for k, p in by_id.items()}).alias("mode"),
            pl.col("policy_id")
            .replace_strict({k: p.benefit_period for k, p in by_id.items()}, default=None,
                            return_dtype=pl.String)
            .alias("period"),
        )
    )  # fmt: skip
    n = frame.height
    rng = np.random.default_rng([run.seed, 23])
    u = rng.random((5, n))
    mode = frame["mode"].to_numpy()
    apply_mean = np.array([delays.apply.get(m, 7.0) for m in mode])
    process = np.array([delays.process.get(m, 15) for m in mode])
    find_delay = _geometric(rng, np.full(n, delays.find))
    read_delay = _geometric(rng, np.full(n, delays.read))
    apply_delay = _geometric(rng, apply_mean)
    horizon = (run.end - date(1970, 1, 1)).days
    start = frame["start"].cast(pl.Int32).to_numpy().astype(np.int64)
    end = frame["end"].cast(pl.Int32).fill_null(horizon + 1).to_numpy().astype(np.int64)
    limit = np.minimum(end - 1, horizon)
    never = np.iinfo(np.int64).max // 4
    told_at = frame["told"].cast(pl.Int64).fill_null(never).to_numpy()
    found = np.where(u[0] < frame["p_find"].to_numpy(), start + find_delay, never)
    read = np.where(
        (told_at < never) & (u[1] < frame["p_open"].to_numpy()), told_at + read_delay, never
    )
    takes = u[2] < frame["q"].to_numpy()
    granted_ok = (frame["status"].to_numpy() == "eligible") | (u[4] < delays.maybe_granted)

    def within(days: np.ndarray) -> np.ndarray:
        return np.where(days <= limit, days, never)

    out = {"found": within(found), "read": within(read), "told": within(told_at)}
    for arm, seen in (("push", np.minimum(found, read)), ("no_push", found)):
        applied = within(np.where(takes & (seen < never), seen + apply_delay, never))
        granted = within(np.where(granted_ok & (applied < never), applied + process, never))
        out[f"applied_{arm}"], out[f"granted_{arm}"] = applied, granted
    complained = (out["read"] < never) & ~takes & (u[3] < frame["p_complain"].to_numpy())
    out["complained"] = np.where(complained, out["read"], never)
    dates = {
        k: pl.Series(k, np.where(v < never, v, -1)).cast(pl.Int32).replace(-1, None).cast(pl.Date)
        for k, v in out.items()
    }
    return frame.drop("told").with_columns(list(dates.values()))


def _count(frame: pl.DataFrame, column: str, name: str) -> pl.DataFrame:
    return (
        frame.filter(pl.col(column).is_not_null())
        .group_by(pl.col(column).alias("date"))
        .agg(pl.len().cast(pl.Float64).alias(name))
    )


def _payments(outcomes: pl.DataFrame, arm: str, end: date) -> pl.DataFrame:
    granted = outcomes.filter(
        pl.col(f"granted_{arm}").is_not_null() & pl.col("benefit").is_not_null()
    )
    if not granted.height:
        return pl.DataFrame(schema={"date": pl.Date, "budget": pl.Float64})
    every = pl.col("period").replace_strict(_PAYMENT_EVERY, default=100_000, return_dtype=pl.Int64)
    horizon = pl.lit(end).cast(pl.Int32).cast(pl.Int64)
    last = pl.min_horizontal(
        pl.col("end").cast(pl.Int32).cast(pl.Int64).fill_null(horizon + 1) - 1, horizon
    )
    first = pl.col(f"granted_{arm}").cast(pl.Int32).cast(pl.Int64)
    return (
        granted.select(
            pl.int_ranges(first, last + 1, every).alias("day"),
            pl.col("benefit").cast(pl.Float64).alias("budget"),
        )
        .explode("day")
        .drop_nulls("day")
        .group_by(pl.col("day").cast(pl.Int32).cast(pl.Date).alias("date"))
        .agg(pl.col("budget").sum())
    )


def daily_metrics(run: SeedRun, outcomes: pl.DataFrame, *, arms: Sequence[str] = ARMS
                  ) -> pl.DataFrame:  # fmt: skip
    """One row per (arm, simulated day) with every column of :data:`METRICS`.

    New eligibilities and losses are the same in both arms (the world is the same); messages,
    notices, reads and complaints exist only where there is a push.
    """
    days = pl.date_range(run.start + timedelta(days=1), run.end, eager=True).alias("date")
    changes = run.changes
    change = pl.col("change").cast(pl.String)
    shared = [
        _count(changes.filter(change.is_in(["newly_eligible", "maybe_to_eligible"])), "day",
               "new_eligible"),
        _count(changes.filter(change == "newly_maybe"), "day", "new_maybe"),
        _count(changes.filter(change == "no_longer_eligible"), "day", "lost"),
    ] if changes.height else []  # fmt: skip
    rows = []
    for arm in arms:
        frame = pl.DataFrame({"date": days})
        parts = list(shared)
        parts.append(_count(outcomes, f"applied_{arm}", "applied"))
        parts.append(_count(outcomes, f"granted_{arm}", "granted"))
        parts.append(_payments(outcomes, arm, run.end))
        if arm == "push":
            parts.append(_count(run.messages, "day", "messages"))
            for channel in CHANNELS:
                parts.append(_count(run.messages.filter(pl.col("channel") == channel), "day",
                                    f"messages_{channel}"))  # fmt: skip
            parts.append(_count(run.told.filter(pl.col("purpose") == "grant_notice"), "day",
                                "grant_notices"))  # fmt: skip
            parts.append(_count(run.told.filter(pl.col("purpose") != "grant_notice"), "day",
                                "invitations"))  # fmt: skip
            parts += [_count(outcomes, "told", "notified"), _count(outcomes, "read", "read"),
                      _count(outcomes, "complained", "complaints")]  # fmt: skip
        for part in parts:
            frame = frame.join(part, on="date", how="left")
        frame = frame.with_columns(
            pl.lit(None, pl.Float64).alias(m) for m in METRICS if m not in frame.columns
        ).select(
            pl.lit(run.seed, pl.Int64).alias("seed"), pl.lit(arm).alias("arm"), "date",
            pl.col("date").dt.strftime("%Y-%m").alias("month"),
            *(pl.col(m).fill_null(0.0) for m in METRICS),
        )  # fmt: skip
        rows.append(frame)
    return pl.concat(rows)
