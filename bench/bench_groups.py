"""Rules over groups: the 200-rule benchmark catalog with and without 20 group rules.

Both runs match the same linked population (residents in households, firms, employments, as
``zhida population generate`` writes it) through ``matcher.batch.match_population``, which
derives the links' aggregates in both; the second adds 20 rules over groups — 8 resident rules
reading their household (``household.x``, ``household.members_*``), 6 household rules and 6
enterprise rules over current employments.  Issue 15's goal: the catalog with group rules costs
at most 1.5× the catalog without them.  Each run is a fresh process (peak RSS is its maximum
resident set), the two alternate, and figures are medians of ``--repeats`` runs.

The default population is 100,000 residents (10,000 firms), not the issue's 1M: the machine is
shared by eight engineers; ``--residents 1000000`` measures the full size.

Run: ``.venv/bin/python -m bench.bench_groups [--residents N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Literal

from bench.bench_match import AS_OF, OUT, _in_child, bench_policies
from rules.policy import Policy

GOAL = 1.5  # issue 15: with group rules ≤ 1.5× without

# (audience, eligibility, benefit, parameters): 8 + 6 + 6 = 20 rules
Audience = Literal["resident", "household", "enterprise"]
GROUP_TEMPLATES: tuple[tuple[Audience, str, str | None, tuple[int, ...]], ...] = (
    ("resident", "household.income_per_capita < {p}", None, (1200, 1450, 2000)),
    (
        "resident",
        'household.members_count(age < 3 and hukou_city == "北京市") >= 1 and '
        "household.income_per_capita < {p}",
        None,
        (5000, 10000),
    ),
    ("resident", "household.any_member(age >= 80) and household.size >= {p}", None, (2, 3)),
    ("resident", "household.members_sum(monthly_income, age >= 16) < {p}", None, (3000,)),
    (
        "household",
        'income_per_capita < {p} and members_count(hukou_city == "北京市") >= 1',
        "({p} - income_per_capita) * size",
        (1200, 1450),
    ),
    (
        "household",
        'members_count(age < 3 and hukou_city == "北京市") >= {p}',
        'members_count(age < 3 and hukou_city == "北京市") * 3600',
        (1,),
    ),
    ("household", "all_members(age >= {p}) and living_alone", None, (60,)),
    (
        "household",
        "any_member(disability_grade in [1, 2]) and income_per_capita < {p}",
        None,
        (3000,),
    ),
    ("household", "members_max(age) >= 80 and declared_assets < {p}", None, (100000,)),
    (
        "enterprise",
        "employees_count(hired_on >= $today - 365 and age <= 24 and "
        "unemployment_insurance_months >= 3) >= {p}",
        "employees_count(hired_on >= $today - 365 and age <= 24 and "
        "unemployment_insurance_months >= 3) * 1500",
        (1, 3),
    ),
    ("enterprise", "employees_count() >= {p} and employees_count(age >= 50) >= 1", None, (10, 50)),
    ("enterprise", "any_employee(disability_grade >= {p})", None, (1,)),
    ("enterprise", "employees_sum(contract_months, hired_on >= $today - 365) >= {p}", None, (24,)),
)


def group_policies() -> list[Policy]:
    out = []
    for t, (audience, eligibility, benefit, params) in enumerate(GROUP_TEMPLATES):
        for p in params:
            text = eligibility.format(p=p)
            out.append(
                Policy(
                    id=f"group-{t}-{p}",
                    title="bench",
                    department="bench",
                    audience=audience,
                    mode="auto_grant",
                    eligibility=text,
                    benefit=benefit.format(p=p) if benefit else None,
                    benefit_period="month" if benefit else None,
                    valid_from=date(2020, 1, 1),
                )
            )
    return out


def ensure_linked_population(residents: int) -> Path:
    from simulations.population import GenerationSpec, generate_population

    directory = OUT / f"population-linked-{residents}"
    if not (directory / "households.parquet").exists():
        generate_population(GenerationSpec(residents, residents // 10, 7, AS_OF), directory)
    return directory


def run(population: str, with_groups: bool) -> dict[str, int]:
    """Match the catalog (plus the group rules) and count pairs by subject type."""
    import polars as pl

    from matcher.batch import match_population
    from matcher.population import scan_population
    from profiles.schema import load_schema

    schema = load_schema()
    frames = scan_population(Path(population), schema)
    policies = bench_policies() + (group_policies() if with_groups else [])
    cpu, wall = time.process_time(), time.perf_counter()
    counts: dict[str, int] = {}
    for batch in match_population(frames, policies, schema, as_of=AS_OF):
        for kind, n in batch.group_by("subject_type").agg(pl.len()).iter_rows():
            counts[str(kind)] = counts.get(str(kind), 0) + int(n)
    counts["match_ms"] = int((time.perf_counter() - wall) * 1000)
    counts["cpu_ms"] = int((time.process_time() - cpu) * 1000)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    population = ensure_linked_population(args.residents)
    assert len(group_policies()) == 20 and len(bench_policies()) == 200
    runs: dict[bool, list[dict[str, object]]] = {False: [], True: []}
    for _ in range(args.repeats):
        for with_groups in (False, True):
            runs[with_groups].append(_in_child(run, str(population), with_groups))
    print(f"{args.residents:,} residents in households, {args.residents // 10:,} firms; "
          f"median of {args.repeats} runs, each a fresh process")  # fmt: skip
    figures: dict[bool, tuple[float, float]] = {}
    for with_groups, measured in runs.items():
        label = "200 rules + 20 group rules" if with_groups else "200 rules (baseline)"
        results = [m["result"] for m in measured]
        assert all(isinstance(r, dict) for r in results)
        secs = statistics.median(float(m["seconds"]) for m in measured)  # type: ignore[arg-type]
        peak = max(float(m["peak_mb"]) for m in measured)  # type: ignore[arg-type]
        match = statistics.median(r["match_ms"] for r in results) / 1000  # type: ignore[index]
        cpu = statistics.median(r["cpu_ms"] for r in results) / 1000  # type: ignore[index]
        first = results[0]
        assert isinstance(first, dict)
        pairs = ", ".join(f"{k} {v:,}" for k, v in sorted(first.items()) if not k.endswith("_ms"))
        print(f"  {label:28s} matching {match:5.2f} s wall, {cpu:5.2f} s CPU; "
              f"process {secs:5.2f} s, peak {peak:5.0f} MB; pairs: {pairs}")  # fmt: skip
        figures[with_groups] = (match, cpu)
    wall_ratio = figures[True][0] / figures[False][0]
    cpu_ratio = figures[True][1] / figures[False][1]
    verdict = "meets" if wall_ratio <= GOAL else "misses"
    print(f"  matching with/without group rules: {wall_ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
          f"({verdict} the goal <= {GOAL}x)")  # fmt: skip


if __name__ == "__main__":
    main()
