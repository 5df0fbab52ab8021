"""Policy simulation: a 200-policy reform on 1M residents, reach and cost by group.

The baseline is ``bench_match``'s 200 rules; the reform moves every threshold one step (and so
changes all 200 policies).  Printed beside a plain ``zhida match`` of the baseline on the same
population in the same run — the simulation matches both catalogs, so about twice a match is
what it should cost.  Each measurement runs in a fresh process; medians of the repeats.

Run: ``.venv/bin/python -m bench.bench_reach [--residents N] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.bench_match import AS_OF, OUT, _in_child, bench_policies, ensure_population, run_zhida


def _catalogs() -> tuple[Any, Any]:
    from rules.loader import Catalog

    base = bench_policies()
    reform = []
    for p in base:
        # "bench-<template>-<threshold>": move the threshold one step up.
        template, threshold = p.id.split("-")[1:]
        step = str(int(threshold) + 1)
        reform.append(replace(p, eligibility=p.eligibility.replace(threshold, step, 1)))
    del template
    return Catalog(tuple(base), {}, {}), Catalog(tuple(reform), {}, {})


def run_reach(population: str) -> dict[str, int]:
    from profiles.schema import load_schema
    from simulations.reach import simulate_reach

    baseline, reform = _catalogs()
    reach = simulate_reach(Path(population), baseline, reform, load_schema(), as_of=AS_OF)
    return {
        "changed_policies": len(reach.changes),
        "group_rows": reach.groups.height,
        "overlap_rows": reach.overlap.height,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv or [])
    OUT.mkdir(parents=True, exist_ok=True)
    population = str(ensure_population(args.residents))
    match = [_in_child(run_zhida, population, str(OUT / "pairs-reach-base.parquet"))
             for _ in range(args.repeats)]  # fmt: skip
    reach = [_in_child(run_reach, population) for _ in range(args.repeats)]
    m = statistics.median(r["seconds"] for r in match)
    s = statistics.median(r["seconds"] for r in reach)
    print(
        json.dumps(
            {
                "residents": args.residents,
                **reach[0]["result"],
                "reach_seconds_median": round(s, 2),
                "reach_peak_mb": round(max(r["peak_mb"] for r in reach)),
                "match_seconds_median": round(m, 2),
                "reach_vs_match": round(s / m, 2),
                "goal_seconds": 10,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
