"""Province scale: ``zhida match`` over 20M residents in bounded memory.

The 20M population is the 1M benchmark population tiled 20 times with fresh person ids (its
residents' service events tiled with them; the 100k enterprises once), written by polars'
streaming engine so that building it needs no 20M rows in memory either.  The real command
line — imports, catalog, tags from the events, batches, the pairs file — runs as a child
process on the 1M population (the baseline) and on the 20M one; each child's peak resident
set comes from the kernel's own accounting (``getrusage`` of the waited child).

Run: ``.venv/bin/python -m bench.bench_scale [--tiles 20]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from bench.bench_match import AS_OF, OUT, ensure_population

CATALOG = Path(__file__).resolve().parents[1] / "rules" / "catalog"

# Runs one command and prints its peak RSS in KB: the child's own figure, not a sample.
_MEASURE = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(code)"
)


def tiled(base: Path, tiles: int) -> Path:
    """``base`` tiled ``tiles`` times (ids ``P<tile:02d>…``), built once and kept."""
    out = OUT / f"population-{tiles}x"
    if (out / "residents.parquet").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)

    def renamed(column: str, tile: int) -> pl.Expr:
        return pl.concat_str(pl.lit(f"P{tile:02d}"), pl.col(column).str.slice(1)).alias(column)

    residents = pl.scan_parquet(base / "residents.parquet")
    pl.concat([residents.with_columns(renamed("person_id", t)) for t in range(tiles)]).sink_parquet(
        out / "residents.parquet"
    )
    events = pl.scan_parquet(base / "events.parquet")
    person = pl.col("subject_type").cast(pl.String) == "resident"
    pl.concat(
        [
            *(events.filter(person).with_columns(renamed("subject_id", t)) for t in range(tiles)),
            events.filter(~person),
        ]
    ).sink_parquet(out / "events.parquet")
    (out / "enterprises.parquet").write_bytes((base / "enterprises.parquet").read_bytes())
    return out


def measure(population: Path, out: Path) -> dict[str, float]:
    zhida = str(Path(sys.executable).with_name("zhida"))
    cmd = [zhida, "match", "--population", str(population), "--policies", str(CATALOG)]
    cmd += ["--as-of", AS_OF.isoformat(), "--out", str(out), "--no-record"]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"zhida match failed: {done.stderr}")
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    pairs = pl.scan_parquet(out).select(pl.len()).collect().item()
    return {"seconds": round(seconds, 1), "peak_mb": round(peak_kb / 1024), "pairs": pairs}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiles", type=int, default=20)
    args = parser.parse_args(argv or [])
    base = ensure_population(1_000_000)
    started = time.perf_counter()
    big = tiled(base, args.tiles)
    built = time.perf_counter() - started
    residents = pl.scan_parquet(big / "residents.parquet").select(pl.len()).collect().item()
    one = measure(base, OUT / "scale-pairs-1m.parquet")
    many = measure(big, OUT / "scale-pairs-big.parquet")
    report = {
        "residents": residents,
        "events": pl.scan_parquet(big / "events.parquet").select(pl.len()).collect().item(),
        "build_seconds": round(built, 1),
        "baseline_1m": one,
        "big": many,
        "peak_ratio_big_vs_1m": round(many["peak_mb"] / one["peak_mb"], 2),
        "seconds_per_million": round(many["seconds"] / (residents / 1e6), 2),
        "goal_peak_mb": 8192,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
