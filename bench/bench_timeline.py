"""The population over time: a 12-month timeline on 100k residents (goal ≤ 2 minutes).

One seed, both arms (with and without push), every simulated day: life events, tagging and
matching of the changed subjects (a whole-population sweep on each month's first day),
planning, then the behaviour model.  Printed beside a plain ``zhida match`` of the same
population and catalog (tags from events, as the command computes them) in the same run; each
measurement in a fresh process.

Run: ``.venv/bin/python -m bench.bench_timeline [--residents N] [--months 12] [--seeds 1]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.bench_match import AS_OF, OUT, _in_child, ensure_population

CATALOG = Path(__file__).resolve().parents[1] / "rules" / "catalog"


def run_match(population: str) -> int:
    from matcher.batch import match_population
    from matcher.population import EventTagger, scan_population
    from profiles.schema import load_schema
    from rules.loader import load_catalog

    schema = load_schema()
    policies = load_catalog([CATALOG], schema).in_force(AS_OF)
    tagger = EventTagger.for_population(Path(population), schema, as_of=AS_OF)
    frames = scan_population(Path(population), schema)
    batches = match_population(frames, policies, schema, as_of=AS_OF, tagger=tagger)
    return sum(b.height for b in batches)


def run_timeline(population: str, months: int, seeds: int) -> dict[str, object]:
    import polars as pl

    from profiles.schema import load_schema
    from rules.loader import load_catalog
    from simulations.timeline import simulate_timeline

    schema = load_schema()
    catalog = load_catalog([CATALOG], schema)
    timeline = simulate_timeline(
        Path(population), catalog, schema, as_of=AS_OF, months=months, seeds=range(1, seeds + 1)
    )
    push = timeline.daily.filter(pl.col("arm") == "push")
    effect = timeline.summary.filter((pl.col("arm") == "effect") & (pl.col("metric") == "applied"))
    totals = timeline.totals.group_by("arm").agg(pl.col("applied", "granted").mean())
    return {
        "days": push.height // seeds,
        "new_eligible": int(push["new_eligible"].sum()) // seeds,
        "messages": int(push["messages"].sum()) // seeds,
        "peak_messages_per_day": int(push.select(pl.col("messages").max()).item() or 0),
        "applied": {r[0]: round(r[1], 1) for r in totals.select("arm", "applied").rows()},
        "push_effect_applied": round(float(effect["mean"].item()), 1),
        "residents": list(timeline.population["residents"]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args(argv or [])
    OUT.mkdir(parents=True, exist_ok=True)
    population = str(ensure_population(args.residents))
    match = _in_child(run_match, population)
    timeline = _in_child(run_timeline, population, args.months, args.seeds)
    print(
        json.dumps(
            {
                "residents": args.residents,
                "enterprises": args.residents // 10,
                "months": args.months,
                "seeds": args.seeds,
                "as_of": AS_OF.isoformat(),
                **timeline["result"],
                "timeline_seconds": round(timeline["seconds"], 1),
                "timeline_peak_mb": round(timeline["peak_mb"]),
                "match_seconds": round(match["seconds"], 2),
                "match_pairs": match["result"],
                "timeline_vs_match": round(timeline["seconds"] / match["seconds"], 1),
                "goal_seconds": 120,
            },
            indent=2,
            default=str,
        )
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
