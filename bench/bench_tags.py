"""Tags: batch over a whole population's event log, and the incremental update per event.

Baselines in the same run: a plain Python loop over each subject's events (the per-subject
evaluation the batch query replaces), timed on a sample of subjects and extrapolated; for the
incremental update, the batch query itself on the whole population (what one event would cost
without an incremental path).

Run: ``.venv/bin/python -m bench.bench_tags [--residents N]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from bench.bench_population import OUT, generate

AS_OF = date(2026, 6, 30)


def naive_tags(subject: dict[str, Any], history: list[dict[str, Any]], tags: list[Any]) -> set[str]:
    """A straightforward per-subject evaluation of event conditions (no profile fields)."""
    out = set()
    for tag in tags:
        c = tag.when
        if c.kind != "events" or c.window is None:
            continue
        start = AS_OF - timedelta(days=365 * c.window.years + 30 * c.window.months + c.window.days)
        n = sum(
            1
            for e in history
            if e["item_code"] in c.items and start < e["occurred_at"].date() <= AS_OF
        )
        if n >= c.at_least:
            out.add(tag.id)
    return out


def main(argv: list[str] | None = None) -> None:
    from profiles.schema import load_schema
    from profiles.tagging import compute_tags, load_tags, tags_for_subject

    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=1_000_000)
    args = parser.parse_args(argv or [])
    directory = OUT / f"population-{args.residents}"
    if not (directory / "residents.parquet").exists():
        generate(args.residents, args.residents // 10, str(directory))
    schema, tags = load_schema(), load_tags()
    people = pl.scan_parquet(directory / "residents.parquet")
    events = pl.scan_parquet(directory / "events.parquet")
    n_events = events.select(pl.len()).collect().item()
    batch = []
    for _ in range(3):
        started = time.perf_counter()
        compute_tags(people, events, tags, entity=schema.resident, as_of=AS_OF).collect()
        batch.append(time.perf_counter() - started)
    sample_ids = people.select("person_id").head(2000).collect()["person_id"].to_list()
    sample_events = events.filter(pl.col("subject_id").is_in(sample_ids)).collect()
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in sample_events.iter_rows(named=True):
        grouped[row["subject_id"]].append(row)
    started = time.perf_counter()
    for pid in sample_ids:
        naive_tags({}, grouped[pid], tags)
    naive = (time.perf_counter() - started) / len(sample_ids) * args.residents
    records = people.head(300).collect().to_dicts()
    latencies = []
    for record in records:
        history = grouped.get(record["person_id"], [])
        new = {
            "subject_id": record["person_id"],
            "subject_type": "resident",
            "item_code": "birth_registration",
            "occurred_at": datetime(2026, 6, 1, 10),
        }
        started = time.perf_counter()
        tags_for_subject(record, [*history, new], tags, entity=schema.resident, as_of=AS_OF)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    print(
        json.dumps(
            {
                "residents": args.residents,
                "events": n_events,
                "tags": len(tags),
                "batch_seconds_median": round(statistics.median(batch), 2),
                "baseline_python_loop_seconds_extrapolated": round(naive, 1),
                "batch_speedup": round(naive / statistics.median(batch), 1),
                "incremental_ms_p50": round(latencies[len(latencies) // 2] * 1000, 2),
                "incremental_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
                "baseline_batch_per_event_ms": round(statistics.median(batch) * 1000),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
