"""Reach simulations of a reform, as the API's jobs and the analyst console run them.

Both run :func:`simulations.reach.simulate_reach` of a baseline and a reform catalog on the
served population and let only k-anonymous aggregates out (:mod:`simulations.disclosure`):
:func:`reach_work` writes the three tables as CSV for ``GET /api/v1/simulations/{id}``, and
:func:`reach_summary` is what the console shows (the changes, the total, the groups, the top
overlaps).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from rules.loader import Catalog
from simulations.disclosure import k_anonymous, reach_rows, suppress
from simulations.jobs import Work

__all__ = ["reach_summary", "reach_work"]


def reach_work(population: Path, baseline: Catalog, reform: Catalog, as_of: date) -> Work:
    """The job of a reach simulation: its policies, groups and overlap tables, k-anonymous."""

    def work(directory: Path) -> dict[str, Any]:
        from profiles.schema import load_schema
        from simulations.reach import ALL, simulate_reach

        reach = simulate_reach(population, baseline, reform, load_schema(), as_of=as_of)
        for name, frame in (("policies", reach.policies), ("groups", reach.groups),
                            ("overlap", reach.overlap)):  # fmt: skip
            k_anonymous(frame).write_csv(directory / f"{name}.csv")
        shown = k_anonymous(reach.policies)
        total = shown.filter(pl.col("policy_id") == ALL)
        return {
            "as_of": as_of.isoformat(),
            "subjects": reach.subjects,
            "changes": [{"policy_id": c.policy_id, "change": c.change} for c in reach.changes],
            "total": {k: str(v) for k, v in total.row(0, named=True).items()}
            if total.height
            else {},
        }

    return work


def reach_summary(
    population: Path, baseline: Catalog, reform: Catalog, as_of: date
) -> dict[str, Any]:
    """What the analyst console shows of a reform's reach: its changes, the total and each
    group of all changed policies, and the first 20 overlaps, every figure disclosed."""
    from profiles.schema import load_schema
    from simulations.reach import ALL, simulate_reach

    started = time.perf_counter()
    reach = simulate_reach(population, baseline, reform, load_schema(), as_of=as_of)
    elapsed = time.perf_counter() - started
    total = reach.total
    groups = reach.groups.filter(pl.col("policy_id") == ALL) if reach.groups.height else None
    overlap = reach.overlap.head(20).rows(named=True) if reach.overlap.height else []
    return {
        "as_of": as_of.isoformat(),
        "subjects": reach.subjects,
        "seconds": round(elapsed, 2),
        "changes": [
            {
                "policy_id": c.policy_id,
                "change": c.change,
                "old": c.old_eligibility,
                "new": c.new_eligibility,
            }
            for c in reach.changes
        ],
        "total": reach_rows([total])[0] if total else None,
        "groups": reach_rows(groups.rows(named=True)) if groups is not None else [],
        "overlap": [
            {
                "policy_id": o["policy_id"],
                "other_policy": o["other_policy"],
                "shared": suppress(int(o["shared"])),
            }
            for o in overlap
        ],
    }
