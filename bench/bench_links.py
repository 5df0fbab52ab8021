"""Aggregates over links and their checks at scale: ``profiles.links`` and ``profiles.link_checks``.

A linked population is built in memory with numpy (not the generator, whose own time is
``bench_population``'s): N residents in households of 1-5 (mean about 2.5, the order of
Beijing's 2.31 persons per household in the 7th census; the shape is not calibrated here), a
tenth as many firms, and one employment for about half the residents.  Timed, median of
``--rounds``:

- ``households``: ``household_aggregates`` collected (size, income, counts, head);
- ``residents``: ``with_household_fields`` collected (each resident's household fields);
- ``firms``: ``with_employer_fields`` collected (employees and graduate hires);
- ``checks``: ``check_links`` over the four frames (every rule of the contract).

Baseline in the same run: one pass over the same frames that reads each column the aggregates
read (``select`` + ``sum``) — the floor of any columnar answer — and a per-household Python
loop over a 1 % sample, scaled up, for the row-by-row way.

Run: ``.venv/bin/python -m bench.bench_links [--residents 1000000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import polars as pl

from profiles.link_checks import check_links
from profiles.links import household_aggregates, with_employer_fields, with_household_fields

AS_OF = date(2026, 6, 1)


def build(n: int, seed: int = 7) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 4, 5], p=[0.3, 0.3, 0.2, 0.15, 0.05], size=n)
    sizes = sizes[np.cumsum(sizes) <= n]
    sizes = np.append(sizes, n - sizes.sum()) if sizes.sum() < n else sizes
    households = len(sizes)
    household = np.repeat(np.arange(households), sizes)
    first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    position = np.arange(n) - np.repeat(first, sizes)
    relation = np.where(position == 0, "head", np.where(position == 1, "spouse", "child"))
    born_days = np.where(
        position >= 2, rng.integers(0, 18 * 365, n), rng.integers(25 * 365, 90 * 365, n)
    )
    birth = pl.Series([AS_OF - timedelta(days=int(d)) for d in born_days], dtype=pl.Date)
    income = np.where(position >= 2, np.nan, rng.gamma(2.0, 3000.0, n))
    residents = pl.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(n)],
            "household_id": [f"h{i}" for i in household],
            "relation_to_head": pl.Series(relation).cast(pl.Enum(["head", "spouse", "child"])),
            "birth_date": birth,
            "monthly_income": pl.Series(income).fill_nan(None),
            "mother_id": pl.Series([None] * n, dtype=pl.String),
            "father_id": pl.Series([None] * n, dtype=pl.String),
            "household_size": pl.Series([None] * n, dtype=pl.Int64),
            "household_income_per_capita": pl.Series([None] * n, dtype=pl.Float64),
            "children_under_3": pl.Series([None] * n, dtype=pl.Int64),
        }
    )
    firms = max(n // 10, 1)
    workers = rng.choice(n, size=n // 2, replace=False)
    employments = pl.DataFrame(
        {
            "person_id": [f"p{i}" for i in workers],
            "enterprise_id": [f"f{i}" for i in rng.integers(0, firms, len(workers))],
            "hired_on": pl.Series(
                [AS_OF - timedelta(days=int(d)) for d in rng.integers(0, 3650, len(workers))],
                dtype=pl.Date,
            ),
            "left_on": pl.Series([None] * len(workers), dtype=pl.Date),
        }
    )
    return {
        "resident": residents,
        "household": pl.DataFrame({"household_id": [f"h{i}" for i in range(households)],
                                   "contact_person_id": pl.Series([None] * households,
                                                                  dtype=pl.String)}),
        "enterprise": pl.DataFrame({"enterprise_id": [f"f{i}" for i in range(firms)],
                                    "employees": pl.Series([None] * firms, dtype=pl.Int64),
                                    "graduate_hires": pl.Series([None] * firms, dtype=pl.Int64)}),
        "employment": employments,
    }  # fmt: skip


def timed(run: Callable[[], object], rounds: int) -> float:
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def python_loop(residents: pl.DataFrame) -> float:
    """Seconds for household sizes and incomes per household in Python, on 1 % of households,
    scaled to all of them."""
    sample = residents.filter(pl.col("household_id").str.slice(1).cast(pl.Int64) % 100 == 0)
    started = time.perf_counter()
    totals: dict[str, list[float | None]] = {}
    for row in sample.iter_rows(named=True):
        entry = totals.setdefault(row["household_id"], [])
        entry.append(row["monthly_income"])
    for incomes in totals.values():
        known = [i for i in incomes if i is not None]
        _ = sum(known) / len(incomes) if len(known) == len(incomes) else None
    return (time.perf_counter() - started) * residents.height / max(sample.height, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    frames = build(args.residents)
    lazy = {name: frame.lazy() for name, frame in frames.items()}
    r, h = lazy["resident"], lazy["household"]
    aggregated = household_aggregates(r, h, as_of=AS_OF).collect().lazy()
    figures = {
        "households": timed(lambda: household_aggregates(r, h, as_of=AS_OF).collect(), args.rounds),
        "residents": timed(
            lambda: with_household_fields(r, aggregated, as_of=AS_OF).collect(), args.rounds
        ),
        "firms": timed(
            lambda: with_employer_fields(
                lazy["enterprise"], lazy["employment"], r, as_of=AS_OF
            ).collect(),
            args.rounds,
        ),
        "checks": timed(lambda: check_links(frames, {}), args.rounds),
        "baseline: one columnar pass": timed(
            lambda: r.select(
                pl.col("household_id").n_unique(),
                pl.col("monthly_income").sum(),
                pl.col("birth_date").max(),
            ).collect(),
            args.rounds,
        ),
        "baseline: Python per household (scaled from 1 %)": python_loop(frames["resident"]),
    }
    print(
        f"{args.residents:,} residents, {frames['household'].height:,} households, "
        f"{frames['enterprise'].height:,} firms, {frames['employment'].height:,} employments "
        f"(median of {args.rounds})"
    )
    for name, seconds in figures.items():
        print(f"  {name:<52} {seconds:8.3f} s")


if __name__ == "__main__":
    main()
