"""Profiles at 1M residents: validate, bulk load and bulk read, on SQLite and PostgreSQL.

Baselines in the same run: plain Parquet write and read of the same frame (the floor), and a
row-by-row INSERT of a 10k sample extrapolated to the full size (what bulk loading avoids).

Run: ``.venv/bin/python -m bench.bench_profiles [--residents N] [--postgres URL]``
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import date
from pathlib import Path

import polars as pl
import sqlalchemy as sa

OUT = Path("bench/out")


def _timed(fn: object) -> tuple[float, object]:
    assert callable(fn)
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> None:
    from core.db import get_engine, upgrade
    from profiles.schema import load_schema
    from profiles.store import ProfileStore
    from profiles.validation import conform
    from simulations.population import GenerationSpec, generate_population

    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv or [])
    directory = OUT / f"population-{args.residents}"
    if not (directory / "residents.parquet").exists():
        spec = GenerationSpec(args.residents, args.residents // 10, 7, date(2026, 6, 30))
        generate_population(spec, directory)
    schema = load_schema()
    raw = pl.read_parquet(directory / "residents.parquet")
    report: dict[str, object] = {"residents": raw.height}
    report["validate_seconds"], frame = _timed(lambda: conform(raw, schema.resident, source="r"))
    assert isinstance(frame, pl.DataFrame)
    parquet = OUT / "bench-profiles.parquet"
    report["baseline_parquet_write_seconds"], _ = _timed(lambda: frame.write_parquet(parquet))
    report["baseline_parquet_read_seconds"], _ = _timed(lambda: pl.read_parquet(parquet))
    parquet.unlink()

    sqlite_path = OUT / "bench-profiles.db"
    sqlite_path.unlink(missing_ok=True)
    schema_name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema_name}"'))
    pg_url = f"{args.postgres}?options=-csearch_path%3D{schema_name}"
    try:
        for name, url in (("sqlite", f"sqlite:///{sqlite_path}"), ("postgres", pg_url)):
            engine = get_engine(url)
            upgrade(engine)
            store = ProfileStore(engine, schema)
            report[f"{name}_load_seconds"], _ = _timed(lambda s=store: s.load("resident", frame))
            report[f"{name}_read_seconds"], back = _timed(lambda s=store: s.read("resident"))
            assert isinstance(back, pl.DataFrame) and back.height == frame.height
            sample = frame.head(10_000).select("person_id", "gender", "monthly_income")
            with engine.begin() as conn:
                conn.execute(
                    sa.text("CREATE TABLE rowwise (person_id TEXT, gender TEXT, inc FLOAT)")
                )
            started = time.perf_counter()
            with engine.begin() as conn:
                for row in sample.iter_rows():
                    conn.execute(
                        sa.text("INSERT INTO rowwise VALUES (:a, :b, :c)"),
                        {"a": row[0], "b": row[1], "c": row[2]},
                    )
            per_row = (time.perf_counter() - started) / sample.height
            report[f"{name}_baseline_row_by_row_seconds_extrapolated"] = round(
                per_row * frame.height, 1
            )
            engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        sqlite_path.unlink(missing_ok=True)
    print(
        json.dumps(
            {k: round(v, 2) if isinstance(v, float) else v for k, v in report.items()}, indent=2
        )
    )


if __name__ == "__main__":
    main()
