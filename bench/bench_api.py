"""API latency: "my offers" under 50 concurrent clients, beside the same lookup without HTTP.

A recorded match run of N residents (3 offers each on average) is served by ``zhida serve``
(uvicorn, one process) in a child process; 50 concurrent clients, each a resident with their own
API token, ask for their offers for a fixed time.  Printed beside baselines measured in the
same run: ``/health`` under the same load (the HTTP floor: no auth, one database query), the
per-request scan the handler used before the offer index (one polars scan of the run's pairs,
filtered to one subject) and the index's own lookup, both called in process.  The load
generator shares the machine's cores with the server: the latencies are an upper bound on
what the server alone would show.

Run: ``.venv/bin/python -m bench.bench_api [--residents N] [--clients 50] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl

OUT = Path("bench/out/api")
POLICIES = [f"bench-policy-{i:03d}" for i in range(40)]


def _pairs(residents: int, path: Path) -> None:
    rng = np.random.default_rng(7)
    per = rng.poisson(3, residents)
    subject = np.repeat(np.arange(residents), per)
    policy = rng.integers(0, len(POLICIES), subject.size)
    frame = pl.DataFrame(
        {
            "subject_id": pl.Series([f"P{i:07d}" for i in range(residents)])[subject],
            "subject_type": "resident",
            "policy_id": pl.Series(POLICIES)[policy],
            "status": rng.choice(["eligible", "maybe"], subject.size),
            "benefit": rng.integers(0, 1000, subject.size).astype(float),
        }
    ).unique(["subject_id", "policy_id"], keep="first")
    frame.write_parquet(path)


def _setup(residents: int, clients: int) -> tuple[str, list[tuple[str, str]]]:
    from argon2 import PasswordHasher

    from api.app.auth import UserStore
    from core.db import get_engine, upgrade
    from matcher.runs import RunStore

    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / f"api-{residents}.db"
    db.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    engine = get_engine(url)
    upgrade(engine)
    pairs = OUT / f"pairs-{residents}.parquet"
    if not pairs.is_file():
        _pairs(residents, pairs)
    RunStore(engine, OUT).record(
        pairs, as_of=date(2026, 6, 30), catalog_hash="b" * 64, population="b" * 64,
        started_at=datetime.now(UTC), seconds=0.0, policies=len(POLICIES),
    )  # fmt: skip
    users = UserStore(engine, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    rng = random.Random(11)
    chosen = []
    for n in range(clients):
        subject = f"P{rng.randrange(residents):07d}"
        user = users.create(f"bench{n}", "bench-password", role="resident", subject_id=subject)
        chosen.append((subject, users.issue(user)))
    engine.dispose()
    return url, chosen


def _lookup_in_process(pairs: Path, subjects: list[str], repeats: int) -> list[float]:
    took = []
    for i in range(repeats):
        subject = subjects[i % len(subjects)]
        started = time.perf_counter()
        (
            pl.scan_parquet(pairs)
            .filter(pl.col("subject_id") == subject)
            .select("policy_id", pl.col("status").cast(pl.String), "benefit")
            .sort("status", "policy_id")
            .collect()
        )
        took.append(time.perf_counter() - started)
    return took


async def _load(base: str, paths: list[tuple[str, dict[str, str]]], seconds: float) -> list[float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(paths))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def one(path: str, headers: dict[str, str]) -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200

        await asyncio.gather(*(one(p, h) for p, h in paths))
    if errors:
        raise SystemExit(f"{errors} requests failed; see the server's output")
    return latencies


def _figures(latencies: list[float], seconds: float) -> dict[str, Any]:
    ms = sorted(x * 1000 for x in latencies)
    return {
        "requests": len(ms),
        "per_second": round(len(ms) / seconds, 1),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(
        argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else []
    )
    url, clients = _setup(args.residents, args.clients)
    pairs = OUT / "runs" / "1.parquet"
    subjects = [s for s, _ in clients]
    in_process = _lookup_in_process(pairs, subjects, 200)
    from api.app.offers import OfferIndex

    started = time.perf_counter()
    index = OfferIndex.read(1, pairs)
    index_build = time.perf_counter() - started
    index_lookups = []
    for i in range(2000):
        started = time.perf_counter()
        index.rows(subjects[i % len(subjects)])
        index_lookups.append(time.perf_counter() - started)
    del index
    port = _free_port()
    env = {**os.environ, "ZHIDA_DATABASE_URL": url, "ZHIDA_DATA_DIR": str(OUT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        assert server.stdout is not None
        server.stdout.readline()
        for _ in range(300):
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        offers = [
            (f"/api/v1/subjects/{s}/offers", {"Authorization": f"Bearer {t}"}) for s, t in clients
        ]
        health: list[tuple[str, dict[str, str]]] = [("/health", {}) for _ in clients]
        asyncio.run(_load(base, offers[:5], 1.0))  # warm up
        offers_lat = asyncio.run(_load(base, offers, args.seconds))
        health_lat = asyncio.run(_load(base, health, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        json.dumps(
            {
                "residents": args.residents,
                "pairs": pl.scan_parquet(pairs).select(pl.len()).collect().item(),
                "clients": args.clients,
                "my_offers_http": _figures(offers_lat, args.seconds),
                "baseline_health_http": _figures(health_lat, args.seconds),
                "baseline_scan_per_request_in_process": {
                    "p50_ms": round(statistics.median(in_process) * 1000, 2),
                    "p99_ms": round(sorted(in_process)[int(len(in_process) * 0.99)] * 1000, 2),
                },
                "offer_index_in_process": {
                    "build_s": round(index_build, 2),
                    "p50_ms": round(statistics.median(index_lookups) * 1000, 3),
                    "p99_ms": round(
                        sorted(index_lookups)[int(len(index_lookups) * 0.99)] * 1000, 3
                    ),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
