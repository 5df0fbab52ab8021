"""Reach simulations of a reform, as the API's jobs and the analyst console run them.

Both run :func:`simulations.reach.simulate_reach` of a baseline and a reform catalog on the
served population and let only private aggregates out: a rule reading an identifier is refused
first (:func:`simulations.privacy.refuse_identifying`), benefits are clipped to their bounds,
every figure is noisy (:func:`simulations.reach_release.private_reach`) before the small ones
are withheld (:mod:`simulations.disclosure`):
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
from simulations.privacy import DEFAULT, PrivacyParameters
from simulations.scaling import modelled_inputs

__all__ = ["beijing_rows", "private_simulation", "reach_summary", "reach_work"]


def private_simulation(
    population: Path,
    baseline: Catalog,
    reform: Catalog,
    as_of: date,
    params: PrivacyParameters = DEFAULT,
) -> Any:
    """:func:`simulations.reach.simulate_reach` as an aggregate-only answer: identifying rules
    refused, benefits clipped, every figure noisy (a :class:`simulations.reach.Reach`)."""
    from profiles.schema import load_schema
    from simulations.privacy import bounded, refuse_identifying
    from simulations.reach import simulate_reach
    from simulations.reach_release import private_reach
    from simulations.run_release import population_groups

    schema = load_schema()
    refuse_identifying(
        {p.id: p for p in (*baseline.policies, *reform.policies)}.values(), schema,
        answer="a reach simulation",
    )  # fmt: skip
    old, bounds_before = bounded(baseline, schema, params)
    new, bounds_after = bounded(reform, schema, params)
    reach = simulate_reach(population, old, new, schema, as_of=as_of)
    domain = population_groups(population, as_of)
    return private_reach(reach, old, new, bounds_before, bounds_after, domain, params)


def reach_work(
    population: Path,
    baseline: Catalog,
    reform: Catalog,
    as_of: date,
    params: PrivacyParameters = DEFAULT,
) -> Work:
    """The job of a reach simulation: its policies, groups and overlap tables, noisy and
    k-anonymous."""

    def work(directory: Path) -> dict[str, Any]:
        from simulations.reach import ALL

        reach = private_simulation(population, baseline, reform, as_of, params)
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


def beijing_rows(beijing: pl.DataFrame | None) -> list[dict[str, Any]]:
    """The released Beijing-scale rows of all changed policies as the console shows them: a
    figure whose sample count is under the disclosure threshold is withheld with it.

    >>> rows = beijing_rows(pl.DataFrame({"policy_id": ["(all changed)"] * 2,
    ...     "measure": ["eligible_after", "newly_eligible"], "sample": [40.0, 3.0],
    ...     "beijing": [872.0, 65.4], "low": [608.0, 0.0], "high": [1136.0, 140.0]}))
    >>> [(r["measure"], r["sample"], r["beijing"], r["interval"]) for r in rows]
    [('eligible_after', 40, '872', '608 – 1,136'), ('newly_eligible', '<10', '—', '—')]
    """
    from simulations.reach import ALL

    if beijing is None:
        return []
    out = []
    for row in beijing.filter(pl.col("policy_id") == ALL).iter_rows(named=True):
        cost = row["measure"].startswith("cost_")
        sample = round(row["sample"])
        hidden = not cost and suppress(sample) != sample
        out.append(
            {
                "measure": row["measure"],
                "sample": f"{sample:,}" if cost else suppress(sample),
                "beijing": "—" if hidden else f"{row['beijing']:,.0f}",
                "interval": "—" if hidden else f"{max(row['low'], 0):,.0f} – {row['high']:,.0f}",
            }
        )
    return out


def _provenance(policy_id: str, reform: Catalog, baseline: Catalog) -> str | None:
    """``cited`` or ``modelled`` as the policy declares it (the reform's, else the baseline's)."""
    policy = reform.by_id.get(policy_id) or baseline.by_id.get(policy_id)
    return policy.provenance if policy is not None else None


def reach_summary(
    population: Path,
    baseline: Catalog,
    reform: Catalog,
    as_of: date,
    params: PrivacyParameters = DEFAULT,
) -> dict[str, Any]:
    """What the analyst console shows of a reform's reach: its changes, the total and each
    group of all changed policies, and the first 20 overlaps, every figure noisy and
    disclosed."""
    from simulations.reach import ALL

    started = time.perf_counter()
    reach = private_simulation(population, baseline, reform, as_of, params)
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
                # cited or modelled, as the reformed (else the baseline) policy declares it
                "provenance": _provenance(c.policy_id, reform, baseline),
            }
            for c in reach.changes
        ],
        "total": reach_rows([total])[0] if total else None,
        "beijing": beijing_rows(reach.beijing),
        "beijing_modelled": modelled_inputs(
            [p for p in reform.policies if p.id in {c.policy_id for c in reach.changes}],
            as_of=as_of,
        ),
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
