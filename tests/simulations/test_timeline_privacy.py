"""A timeline's released figures: each subject's part bounded, noise of the stated scale."""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from profiles.schema import load_schema
from rules.loader import load_catalog
from simulations.timeline import METRICS, load_state, run_seed, spell_outcomes
from simulations.timeline_release import (
    PER_SUBJECT,
    clip_run,
    family_scales,
    private_timeline,
    release,
    release_lines,
)
from tests.populations import Populations

AS_OF = date(2026, 6, 30)
CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
SCHEMA = load_schema()
TRUE = 1000.0  # every raw figure: far from zero, so the clamp at zero never bites
DAYS = 60


def _raw(seeds: int = 1) -> pl.DataFrame:
    """Per-seed daily figures, every metric TRUE on every day, both arms."""
    days = [AS_OF + timedelta(days=i + 1) for i in range(DAYS)]
    rows = [
        {"seed": s, "arm": arm, "date": d, "month": d.strftime("%Y-%m"),
         **dict.fromkeys(METRICS, TRUE)}
        for s in range(seeds) for arm in ("push", "no_push") for d in days
    ]  # fmt: skip
    return pl.DataFrame(rows)


def test_daily_figures_carry_noise_of_the_daily_familys_scale() -> None:
    # Discrete Laplace of scale b has variance about 2·b²: over 20 releases × 60 days × 4
    # channels the sample standard deviation is within 10 % of √2·b.
    scale = family_scales()["daily"]
    errors: list[float] = []
    for _ in range(20):
        daily = release(
            _raw(), int(TRUE), start=AS_OF, end=AS_OF, seeds=[0], arms=("push", "no_push")
        ).daily.filter(pl.col("arm") == "push")
        for c in ("messages_inbox", "messages_sms", "messages_email", "messages_webhook"):
            errors += [v - TRUE for v in daily[c]]
    assert abs(statistics.mean(errors)) < 1.5
    assert statistics.stdev(errors) == pytest.approx(2**0.5 * scale, rel=0.1)
    assert sum(e == 0 for e in errors) < len(errors) / 10  # released ≠ raw


def test_monthly_funnel_figures_carry_noise_of_the_funnel_familys_scale() -> None:
    scale = family_scales()["funnel"]
    errors: list[float] = []
    for _ in range(60):
        monthly = release(
            _raw(), int(TRUE), start=AS_OF, end=AS_OF, seeds=[0], arms=("push", "no_push")
        ).monthly
        cells = monthly.filter(pl.col("metric").is_in(["applied", "granted"]))
        days = _raw().group_by("arm", "month").len()
        truth = dict(zip(zip(days["arm"], days["month"], strict=True), days["len"], strict=True))
        errors += [
            m - TRUE * truth[(a, mo)] for a, mo, m in cells.select("arm", "month", "mean").rows()
        ]
    assert statistics.stdev(errors) == pytest.approx(2**0.5 * scale, rel=0.15)


def test_a_mean_over_seeds_has_the_noise_of_one_seed_not_less_budget() -> None:
    # The noise goes on the sum over seeds at seeds × scale: the mean's noise is the same
    # scale whatever the number of seeds (more seeds do not weaken the guarantee).
    scale = family_scales()["daily"]
    errors: list[float] = []
    for _ in range(20):
        daily = release(
            _raw(4), 4 * int(TRUE), start=AS_OF, end=AS_OF, seeds=range(4),
            arms=("push", "no_push"),
        ).daily.filter(pl.col("arm") == "push")  # fmt: skip
        errors += [v - TRUE for v in daily["messages_sms"]]
    assert statistics.stdev(errors) == pytest.approx(2**0.5 * scale, rel=0.15)


def test_derived_figures_add_up_from_the_noisy_ones() -> None:
    r = release(_raw(), int(TRUE), start=AS_OF, end=AS_OF, seeds=[0], arms=("push", "no_push"))
    push = r.daily.filter(pl.col("arm") == "push")
    channels = push.select(
        pl.sum_horizontal(f"messages_{c}" for c in ("inbox", "sms", "email", "webhook"))
    ).to_series()
    assert push["messages"].to_list() == pytest.approx(channels.to_list())
    no_push = r.daily.filter(pl.col("arm") == "no_push")
    assert no_push["new_eligible"].to_list() == push["new_eligible"].to_list()  # one world
    assert no_push["messages"].sum() == 0
    summary = {(a, m): (v, lo, hi) for a, m, v, lo, hi in r.summary.rows()}
    applied = summary[("push", "applied")][0] - summary[("no_push", "applied")][0]
    assert summary[("effect", "applied")][0] == pytest.approx(applied)
    assert "budget" not in r.summary["metric"].to_list()  # benefits paid are not released


def test_sums_over_days_are_of_the_unclamped_noisy_figures_so_zero_stays_near_zero() -> None:
    # Each day's shown figure is cut at zero; the month and horizon add the uncut ones. Cutting
    # first would add about half the scale a day (60 days x 9 = 540 messages out of nothing).
    zeros = _raw().with_columns(pl.col(m) * 0.0 for m in METRICS)
    shown = []
    for _ in range(20):
        r = release(zeros, 0, start=AS_OF, end=AS_OF, seeds=[0], arms=("push",))
        row = r.summary.filter((pl.col("arm") == "push") & (pl.col("metric") == "messages_sms"))
        shown.append(row["mean"][0])
        assert min(r.daily["messages_sms"]) >= 0  # a shown day is never negative
    assert statistics.mean(shown) < 200  # about 79 expected: E[max(0, N(0, 18·√120))]


def test_a_shown_interval_is_the_noises_and_holds_the_raw_figure_19_times_in_20() -> None:
    days = _raw().filter(pl.col("arm") == "push").group_by("month").len()
    truth = {m: TRUE * n for m, n in days.rows()}
    inside = total = 0
    for _ in range(60):
        r = release(_raw(), int(TRUE), start=AS_OF, end=AS_OF, seeds=[0], arms=("push",))
        cells = r.monthly.filter(pl.col("metric").is_in(["applied", "granted", "read"]))
        for month, lo, hi in cells.select("month", "lo", "hi").rows():
            inside += lo <= truth[month] <= hi
            total += 1
    assert 0.92 <= inside / total <= 0.98
    assert "differential-privacy noise" in release_lines(r)[0] and "ε=1.5" in release_lines(r)[0]


def _most(frame: pl.DataFrame) -> int:
    """The most rows one subject has in ``frame``."""
    return int(frame.group_by("subject_id").len()["len"].max() or 0)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(1500, 100, seed=9, as_of=AS_OF)


def test_clipping_keeps_each_subject_to_the_bound_in_every_source(population: Path) -> None:
    catalog = load_catalog([CATALOG], SCHEMA)
    run = run_seed(load_state(population, SCHEMA), catalog.policies, SCHEMA, start=AS_OF,
                   months=2, seed=3)  # fmt: skip
    clipped, outcomes = clip_run(run, spell_outcomes(run, catalog.policies, SCHEMA))
    for frame in (clipped.changes, clipped.told, outcomes):
        assert _most(frame) <= PER_SUBJECT
    assert clipped.messages.height <= clipped.told.height
    # Somebody had more than the bound before: the clip is not a no-op on this population.
    assert max(_most(run.changes), _most(run.told)) > PER_SUBJECT


def test_a_private_timeline_releases_noisy_tables_only(population: Path) -> None:
    catalog = load_catalog([CATALOG], SCHEMA)
    r = private_timeline(population, catalog, SCHEMA, as_of=AS_OF, months=1, seeds=[1, 2])
    assert set(r.daily["arm"]) == {"push", "no_push"} and r.epsilon == 1.5
    assert {"mean", "lo", "hi"} <= set(r.summary.columns)
    # A mean over two seeds of whole noisy sums: halves, never the raw means' other fractions.
    assert all((v * 2).is_integer() for v in r.daily["messages_sms"])
