"""Synthetic population: 1M residents + 100k enterprises + their events, time and peak memory.

Baseline in the same run: writing the same number of rows of plain random columns (numbers and
short strings, no model) to Parquet — the floor any generator pays for producing and writing
that much data.  Each measured step runs in a fresh process (peak RSS is that process's own).

Run: ``.venv/bin/python -m bench.bench_population [--residents N]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

OUT = Path("bench/out")


def _measured(target: Callable[..., Any], *args: Any) -> dict[str, Any]:
    started = time.perf_counter()
    result = target(*args)
    return {
        "seconds": time.perf_counter() - started,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "result": result,
    }


def in_child(target: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """``target(*args)`` in a fresh process: its result, seconds and peak RSS in MB."""
    with mp.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(_measured, (target, *args))  # type: ignore[no-any-return]


def generate(residents: int, enterprises: int, out: str) -> int:
    from simulations.population import GenerationSpec, generate_population

    spec = GenerationSpec(residents, enterprises, seed=7, as_of=date(2026, 6, 30))
    paths = generate_population(spec, Path(out))
    return sum(p.stat().st_size for p in paths.values())


def baseline(rows: int, out: str) -> int:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(7)
    frame = pl.DataFrame(
        {f"n{i}": rng.integers(0, 1_000_000, rows) for i in range(10)}
        | {f"s{i}": pl.Series(rng.integers(0, 100_000, rows)).cast(pl.String) for i in range(6)}
    )
    Path(out).mkdir(parents=True, exist_ok=True)
    frame.write_parquet(f"{out}/baseline.parquet")
    return frame.height


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv or [])
    target = OUT / "population-bench"
    runs = [
        in_child(generate, args.residents, args.residents // 10, str(target))
        for _ in range(args.repeats)
    ]
    # The baseline writes as many rows as residents + enterprises + events.
    import polars as pl

    events = pl.scan_parquet(target / "events.parquet").select(pl.len()).collect().item()
    rows = args.residents + args.residents // 10 + events
    base = [in_child(baseline, rows, str(OUT / "baseline")) for _ in range(args.repeats)]
    shutil.rmtree(OUT / "baseline", ignore_errors=True)
    g = statistics.median(r["seconds"] for r in runs)
    b = statistics.median(r["seconds"] for r in base)
    print(
        json.dumps(
            {
                "residents": args.residents,
                "enterprises": args.residents // 10,
                "events": events,
                "generate_seconds_median": round(g, 2),
                "generate_peak_mb": round(max(r["peak_mb"] for r in runs)),
                "baseline_random_columns_seconds_median": round(b, 2),
                "baseline_peak_mb": round(max(r["peak_mb"] for r in base)),
                "ratio_to_baseline": round(g / b, 2),
                "goal": "<= 60 s and <= 4096 MB",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
