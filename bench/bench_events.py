"""Event-driven matching: latency per event (tags → affected policies → diff), 200 policies.

The catalog is ``bench_match``'s 200 resident rules plus the built-in catalog.  Baseline in the
same run: re-matching the subject with the batch path (a one-row polars query over every policy)
for each event — what one event would cost without the index and the per-record evaluator.

Run: ``.venv/bin/python -m bench.bench_events [--subjects N]``
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from bench.bench_match import bench_policies
from bench.bench_population import OUT, generate

AS_OF = date(2026, 6, 30)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    from matcher.batch import match_frame
    from matcher.events import EventMatcher
    from profiles.schema import load_schema
    from profiles.tagging import load_tags
    from rules.loader import load_catalog

    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=20_000)
    args = parser.parse_args(argv or [])
    directory = OUT / f"events-population-{args.subjects}"
    if not (directory / "residents.parquet").exists():
        generate(args.subjects, 0, str(directory))
    schema, tags = load_schema(), load_tags()
    catalog = load_catalog([Path(__file__).resolve().parents[1] / "rules" / "catalog"])
    policies = [*bench_policies(), *catalog.policies]
    residents = pl.read_parquet(directory / "residents.parquet")
    events = pl.read_parquet(directory / "events.parquet").sort("occurred_at")
    cut = AS_OF - timedelta(days=30)
    before = events.filter(pl.col("occurred_at").dt.date() <= cut)
    replay = events.filter(
        (pl.col("occurred_at").dt.date() > cut) & (pl.col("occurred_at").dt.date() <= AS_OF)
    ).to_dicts()
    matcher = EventMatcher(policies, tags, schema, entity="resident", as_of=AS_OF)
    history = before.partition_by("subject_id", as_dict=True)
    empty = pl.DataFrame(schema=events.schema)
    for record in residents.iter_rows(named=True):
        pid = record["person_id"]
        matcher.load(pid, record, history.get((pid,), empty).to_dicts(), {})
    latencies = []
    for event in replay:
        started = time.perf_counter()
        matcher.on_event(event)
        latencies.append((time.perf_counter() - started) * 1000)
    baseline = []
    in_force = [p for p in policies if p.in_force(AS_OF)]
    for event in replay[:100]:
        record = residents.filter(pl.col("person_id") == event["subject_id"])
        started = time.perf_counter()
        match_frame({"resident": record.lazy()}, in_force, schema, as_of=AS_OF)
        baseline.append((time.perf_counter() - started) * 1000)
    edges = [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, float("inf")]
    histogram = {}
    low = 0.0
    for high in edges:
        label = f"<{high}ms" if high != float("inf") else f">={low}ms"
        histogram[label] = sum(1 for v in latencies if low <= v < high)
        low = high
    print(
        json.dumps(
            {
                "subjects": args.subjects,
                "policies": len(in_force),
                "events_replayed": len(latencies),
                "event_ms_p50": round(_percentile(latencies, 0.5), 3),
                "event_ms_p99": round(_percentile(latencies, 0.99), 3),
                "event_ms_max": round(max(latencies), 3),
                "baseline_batch_path_ms_p50": round(_percentile(baseline, 0.5), 1),
                "histogram": histogram,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
