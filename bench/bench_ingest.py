"""Ingestion as a department's system meets it: events one by one, and in batches, over HTTP.

The real app is served by ``zhida serve`` (uvicorn, one process) on 127.0.0.1 over PostgreSQL
(``--database``, a schema of its own, dropped afterwards), started with a population of N
residents (``bench_population``'s generator, N/10 firms) whose match run is recorded first, as
a deployment has one, and the built-in catalog published.  Measured, in each of ``--rounds``
rounds (medians printed):

- ``single``: ``--events`` sequential ``POST /api/v1/events`` from one client, each a birth
  registration of a random resident (p50, p95, p99, max);
- ``batch``: 4 concurrent clients, each posting ``--batches`` batches of ``--batch-size`` such
  events to ``POST /api/v1/events/batch`` (the residents overlap between clients): events
  stored per second of wall time;
- ``health``: ``GET /health`` from one client in the same round, the HTTP floor.

Baseline in the same run: the same measurements against the code of ``--baseline`` (a git
revision: by default the commit before the batch endpoint and the population file index),
checked out into a temporary worktree (removed afterwards) and served the same way over its own
schema.  It has no batch endpoint: its throughput is 4 concurrent clients posting single events.
The load generator shares the machine's cores with the server and PostgreSQL.

Run: ``.venv/bin/python -m bench.bench_ingest [--residents 50000] [--events 100]
[--batch-size 500] [--batches 3] [--rounds 3] [--ndjson] [--single-only]
[--baseline REV | --no-baseline]`` (``--single-only``: the sequential events and ``/health``
alone, in both codes: a quick before/after of one change with ``--baseline REV``)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import sqlalchemy as sa

from bench.bench_population import OUT, generate

BASELINE = "a48a7a0^"  # the code before batches and the population file index
CLIENTS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _schema(database: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema of ``database``, dropped afterwards."""
    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{database}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def _prepare(code: Path, url: str, population: Path, data_dir: Path) -> str:
    """Migrations, the catalog published, the population's match run recorded; an admin token.

    The migrations and the match run are the served code's own (``code``): a baseline older
    than a migration must not find the schema at a revision it does not know."""
    from argon2 import PasswordHasher

    from api.app.auth import UserStore
    from core.db import get_engine
    from rules.store import PolicyStore

    env = {**os.environ, "ZHIDA_DATABASE_URL": url, "ZHIDA_DATA_DIR": str(data_dir),
           "PYTHONPATH": str(code)}  # fmt: skip
    subprocess.run([sys.executable, "-m", "api.cli", "db", "upgrade"], check=True, cwd=code,
                   env=env, stdout=subprocess.DEVNULL)  # fmt: skip
    engine = get_engine(url)
    PolicyStore(engine).import_catalog(code / "rules/catalog", author="bench", note="bench")
    subprocess.run(
        [sys.executable, "-m", "api.cli", "match", "--population", str(population.resolve()),
         "--policies", "rules/catalog", "--out", str(data_dir / "pairs.parquet")],
        check=True, stdout=subprocess.DEVNULL, cwd=code, env=env,
    )  # fmt: skip
    users = UserStore(engine, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    token = users.issue(users.create("bench-admin", "bench-password", role="admin"))
    engine.dispose()
    return token


@contextmanager
def _served(code: Path, url: str, population: Path, data_dir: Path) -> Iterator[str]:
    """``zhida serve`` of the code in ``code`` on a free port; its base URL."""
    port = _free_port()
    env = {**os.environ, "ZHIDA_DATABASE_URL": url, "ZHIDA_DATA_DIR": str(data_dir),
           "PYTHONPATH": str(code)}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port),
         "--population", str(population.resolve())],
        cwd=code, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


class Births:
    """Birth registrations of random residents, each at its own time (none a duplicate)."""

    def __init__(self, residents: list[str], seed: int) -> None:
        self.residents = residents
        self.rng = random.Random(seed)
        self.at = datetime(2026, 1, 1, 8) + timedelta(days=seed)

    def next(self) -> dict[str, Any]:
        self.at += timedelta(seconds=1)
        return {"subject_id": self.rng.choice(self.residents), "subject_type": "resident",
                "item_code": "birth_registration", "occurred_at": self.at.isoformat()}  # fmt: skip


def _timed(call: Callable[[], httpx.Response], n: int, ok: tuple[int, ...]) -> list[float]:
    took = []
    for _ in range(n):
        started = time.perf_counter()
        response = call()
        took.append((time.perf_counter() - started) * 1000)
        if response.status_code not in ok:
            raise SystemExit(f"{response.status_code}: {response.text[:300]}")
    return sorted(took)


def _latency(ms: list[float]) -> dict[str, float]:
    def at(q: float) -> float:
        return round(ms[min(len(ms) - 1, int(q * len(ms)))], 1)

    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": round(ms[-1], 1)}  # fmt: skip


def _round(
    base: str, token: str, residents: list[str], seed: int, args: argparse.Namespace,
    batch: bool,
) -> dict[str, Any]:  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    births = Births(residents, seed)
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        client.get("/health")
        for _ in range(5):  # warm up: the population index, the catalog, the pool
            client.post("/api/v1/events", json=births.next())
        single = _timed(
            lambda: client.post("/api/v1/events", json=births.next()), args.events, (201,)
        )
        health = _timed(lambda: client.get("/health"), args.events, (200,))
    if args.single_only:
        return {"single": _latency(single), "health": _latency(health)}
    streams = [Births(residents, seed * 100 + c + 1) for c in range(CLIENTS)]

    def client_run(stream: Births) -> int:
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            if batch:
                for _ in range(args.batches):
                    events = [stream.next() for _ in range(args.batch_size)]
                    if args.ndjson:
                        body = "\n".join(json.dumps(e) for e in events).encode()
                        response = client.post(
                            "/api/v1/events/batch", content=body,
                            headers={"Content-Type": "application/x-ndjson"},
                        )  # fmt: skip
                    else:
                        response = client.post("/api/v1/events/batch", json=events)
                    if response.status_code != 200:
                        raise SystemExit(f"{response.status_code}: {response.text[:300]}")
                return int(args.batches * args.batch_size)
            for _ in range(args.concurrent_singles):
                response = client.post("/api/v1/events", json=stream.next())
                if response.status_code != 201:
                    raise SystemExit(f"{response.status_code}: {response.text[:300]}")
            return int(args.concurrent_singles)

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        sent = sum(pool.map(client_run, streams))
    seconds = time.perf_counter() - started
    return {
        "single": _latency(single),
        "health": _latency(health),
        "throughput": {"events": sent, "seconds": round(seconds, 2),
                       "events_per_s": round(sent / seconds, 1)},
    }  # fmt: skip


def _medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        part: {k: statistics.median(r[part][k] for r in rounds) for k in rounds[0][part]}
        for part in rounds[0]
    }


def _measure(
    code: Path, database: str, population: Path, residents: list[str], args: argparse.Namespace,
    batch: bool,
) -> dict[str, Any]:  # fmt: skip
    with _schema(database) as url, tempfile.TemporaryDirectory() as data:
        token = _prepare(code, url, population, Path(data))
        with _served(code, url, population, Path(data)) as base:
            rounds = [
                _round(base, token, residents, seed, args, batch)
                for seed in range(1, args.rounds + 1)
            ]
    return {"medians": _medians(rounds), "rounds": rounds}


@contextmanager
def _worktree(revision: str) -> Iterator[Path]:
    where = Path(tempfile.mkdtemp(prefix="zhida-baseline-"))
    shutil.rmtree(where)
    subprocess.run(["git", "worktree", "add", "--detach", str(where), revision], check=True,
                   capture_output=True)  # fmt: skip
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], check=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--batches", type=int, default=3, help="batches per client per round")
    parser.add_argument(
        "--concurrent-singles", type=int, default=50,
        help="single events per client per round (the baseline's throughput)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--ndjson", action="store_true",
        help="send the batches as NDJSON (one event per line) instead of a JSON array",
    )  # fmt: skip
    parser.add_argument(
        "--single-only", action="store_true",
        help="measure the sequential single events and /health only (no batches, no concurrent "
        "clients): a quick before/after of one change, e.g. --baseline HEAD --single-only",
    )  # fmt: skip
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(
        argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else []
    )
    population = OUT / f"ingest-population-{args.residents}"
    if not (population / "residents.parquet").exists():
        generate(args.residents, args.residents // 10, str(population))
    residents = pl.read_parquet(population / "residents.parquet", columns=["person_id"])
    ids = residents["person_id"].to_list()
    here = Path.cwd()
    figures: dict[str, Any] = {"residents": args.residents, "database": "postgresql"}
    figures["now"] = _measure(here, args.database, population, ids, args, batch=True)
    print(json.dumps({"now": figures["now"]["medians"]}, indent=2), flush=True)
    if not args.no_baseline:
        with _worktree(args.baseline) as old:
            figures["baseline"] = _measure(old, args.database, population, ids, args, batch=False)
            figures["baseline"]["revision"] = args.baseline
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
