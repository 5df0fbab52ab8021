"""Policy simulation: a 200-policy reform on 1M residents, reach and cost by group.

The baseline is ``bench_match``'s 200 rules; the reform moves every threshold one step (and so
changes all 200 policies: 400 rules evaluated).  Printed beside two plain matches of the
baseline on the same population in the same run: without tags (``bench_match``'s figure) and
with the tags computed from the events, as ``zhida match`` does and the simulation must (20 of
the rules read a tag).  Each measurement runs in a fresh process (time and peak RSS);
medians of the repeats.

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


def run_match_with_tags(population: str, out: str) -> int:
    from matcher.batch import match_population, write_pairs
    from matcher.population import EventTagger, scan_population
    from profiles.schema import load_schema

    schema = load_schema()
    frames = scan_population(Path(population), schema)
    frames.pop("enterprise", None)
    tagger = EventTagger.for_population(Path(population), schema, as_of=AS_OF)
    pairs = match_population(frames, bench_policies(), schema, as_of=AS_OF, tagger=tagger)
    return write_pairs(pairs, Path(out))


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
    out = str(OUT / "pairs-reach-base.parquet")
    match = [_in_child(run_zhida, population, out) for _ in range(args.repeats)]
    tagged = [_in_child(run_match_with_tags, population, out) for _ in range(args.repeats)]
    reach = [_in_child(run_reach, population) for _ in range(args.repeats)]

    def median(runs: list[dict[str, Any]]) -> float:
        return round(float(statistics.median(r["seconds"] for r in runs)), 2)

    def peak(runs: list[dict[str, Any]]) -> int:
        return round(float(statistics.median(r["peak_mb"] for r in runs)))

    print(
        json.dumps(
            {
                "residents": args.residents,
                **reach[0]["result"],
                "reach_seconds_median": median(reach),
                "reach_peak_mb_median": peak(reach),
                "match_seconds_median": median(match),
                "match_peak_mb_median": peak(match),
                "match_with_tags_seconds_median": median(tagged),
                "match_with_tags_peak_mb_median": peak(tagged),
                "reach_vs_match": round(median(reach) / median(match), 2),
                "reach_vs_match_with_tags": round(median(reach) / median(tagged), 2),
                "goal_seconds": 10,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
