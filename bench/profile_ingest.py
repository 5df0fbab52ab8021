"""Where the time of one ``POST /api/v1/events`` goes, inside the server process.

The app is built as ``zhida serve`` builds it (``api.app.create_app`` over PostgreSQL, a schema of
its own dropped afterwards, a population of N residents with its match run recorded), and served
in this process by Litestar's test client, so the profile sees the handler, the audit entry, the
population file index and the database.  For each of ``--events`` birth registrations it records
the wall time, the time spent in the garbage collector during the request (``gc.callbacks``) and
stack samples of every thread taken each millisecond (a small in-process sampler, as py-spy
would take from outside: the handler runs on a worker thread cProfile does not see); it prints
the latency percentiles, the collector's share, the objects the collector tracks, and where
the samples of the slowest 5 % of the requests fell beside those of the median ones.

Run: ``.venv/bin/python -m bench.profile_ingest [--residents 50000] [--events 300]``
"""

from __future__ import annotations

import argparse
import collections
import gc
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl

from bench.bench_ingest import Births, _prepare, _schema
from bench.bench_population import OUT, generate


class GcClock:
    """Seconds spent in the collector, by generation, since the last :meth:`take`."""

    def __init__(self) -> None:
        self.started = 0.0
        self.spent = [0.0, 0.0, 0.0]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.spent[info["generation"]] += time.perf_counter() - self.started

    def take(self) -> list[float]:
        spent, self.spent = self.spent, [0.0, 0.0, 0.0]
        return spent


class Sampler:
    """Samples every other thread's innermost project frame (or library, if none) each ``every``
    seconds; :meth:`take` returns the counts since the last call."""

    def __init__(self, every: float = 0.001) -> None:
        self.every = every
        self.counts: collections.Counter[str] = collections.Counter()
        self.stop = threading.Event()
        self.me = 0

    def _where(self, frame: Any) -> str | None:
        stack = []
        while frame is not None:
            stack.append(frame)
            frame = frame.f_back
        names = [f"{f.f_code.co_filename.split('/')[-1]}:{f.f_code.co_name}" for f in stack]
        idle = ("threading.py:wait", "selectors.py:select", "thread.py:_worker")
        if any(n.startswith(idle) for n in names[:2]):
            return None  # a worker thread waiting for work, the event loop waiting for I/O
        own = [
            f"{f.f_code.co_filename.split('/work/main/')[-1]}:{f.f_code.co_name}"
            for f in stack
            if "/work/main/" in f.f_code.co_filename and ".venv" not in f.f_code.co_filename
        ]
        return f"{names[0]} <- {' <- '.join(own[:3])}"

    def run(self) -> None:
        self.me = threading.get_ident()
        while not self.stop.wait(self.every):
            for ident, frame in sys._current_frames().items():
                if ident in (self.me, threading.main_thread().ident):
                    continue
                where = self._where(frame)
                if where:
                    self.counts[where] += 1

    def take(self) -> collections.Counter[str]:
        counts, self.counts = self.counts, collections.Counter()
        return counts


def _top(samples: list[collections.Counter[str]], n: int = 15) -> str:
    total: collections.Counter[str] = collections.Counter()
    for c in samples:
        total.update(c)
    every = sum(total.values()) or 1
    return "\n".join(f"{k / every:6.1%}  {where}" for where, k in total.most_common(n))


def main(argv: list[str] | None = None) -> None:
    from litestar.testing import TestClient

    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-profile", action="store_true", help="time only (no sampling)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    population = OUT / f"ingest-population-{args.residents}"
    if not (population / "residents.parquet").exists():
        generate(args.residents, args.residents // 10, str(population))
    ids = pl.read_parquet(population / "residents.parquet", columns=["person_id"])
    residents = ids["person_id"].to_list()
    clock = GcClock()
    gc.callbacks.append(clock)
    with _schema(args.database) as url, tempfile.TemporaryDirectory() as data:
        import os

        os.environ.update(ZHIDA_DATABASE_URL=url, ZHIDA_DATA_DIR=data)
        token = _prepare(Path.cwd(), url, population, Path(data))
        import logging

        logging.disable(logging.INFO)
        from api.app.app import create_app
        from core.db import get_engine
        from profiles.schema import load_schema
        from profiles.store import add_missing_columns

        add_missing_columns(get_engine(url), load_schema())  # as `zhida serve` does

        app = create_app(get_engine(url), data_dir=Path(data), population=population.resolve())
        gc.collect()
        gc.freeze()  # as `zhida serve` does after start-up
        births = Births(residents, 1)
        rows = []
        with TestClient(app) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            for _ in range(5):
                client.post("/api/v1/events", json=births.next())
            clock.take()
            print(f"objects the collector tracks after warming up: {len(gc.get_objects()):,}")
            sampler = Sampler()
            if not args.no_profile:
                threading.Thread(target=sampler.run, daemon=True).start()
            for _ in range(args.events):
                sampler.take()
                started = time.perf_counter()
                response = client.post("/api/v1/events", json=births.next())
                took = (time.perf_counter() - started) * 1000
                assert response.status_code == 201, response.text
                rows.append((took, [s * 1000 for s in clock.take()], sampler.take()))
            sampler.stop.set()
        get_engine(url).dispose()
    ms = sorted(r[0] for r in rows)

    def at(q: float) -> float:
        return round(ms[min(len(ms) - 1, int(q * len(ms)))], 1)

    print(f"{len(ms)} events: p50 {statistics.median(ms):.1f} ms, p95 {at(0.95)}, p99 {at(0.99)}, "
          f"max {ms[-1]:.1f}")  # fmt: skip
    gc_ms = [sum(r[1]) for r in rows]
    slow = sorted(rows, key=lambda r: r[0])[-max(1, len(rows) // 20) :]
    print(f"collector: {sum(gc_ms):.0f} ms in all, in {sum(1 for g in gc_ms if g)} requests; "
          f"gen 2: {sum(r[1][2] for r in rows):.0f} ms; in the slowest 5 %: "
          + ", ".join(f"{r[0]:.0f} ms (gc {sum(r[1]):.0f})" for r in slow))  # fmt: skip
    if not args.no_profile:
        middle = sorted(rows, key=lambda r: r[0])[len(rows) // 2 - 5 : len(rows) // 2 + 5]
        print("\nslowest 5 %:\n" + _top([r[2] for r in slow]))
        print("\nmedian 10:\n" + _top([r[2] for r in middle]))


if __name__ == "__main__":
    main()
