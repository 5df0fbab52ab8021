"""API latency: "my offers" under 50 concurrent clients, beside the same lookup without HTTP.

A recorded match run of N residents (3 offers each on average) is served by ``zhida serve``
(uvicorn, one process) in a child process; 50 concurrent clients, each a resident with their own
API token, ask for their offers for a fixed time.  Printed beside baselines measured in the
same run: ``/health`` under the same load (the HTTP floor: no auth, one database query), the
per-request scan the handler used before the offer index (one polars scan of the run's pairs,
filtered to one subject) and the index's own lookup, both called in process.  The load
generator shares the machine's cores with the server: the latencies are an upper bound on
what the server alone would show.

The dry-run of a draft (``POST /api/v1/policies/dry-run``) runs on the same server, started with
``bench_match``'s population of N residents (and N/10 firms) and the built-in catalog published:
first one uncached dry-run at a time (three drafts, the median), then 50 concurrent clients
posting five new drafts in turn, from a cold cache (``--cold-seconds``) and then with the five
cached (``--seconds``), with five ``/health`` probes running beside them each time.  Identical
concurrent requests share one computation, so the cold load computes each draft once
(``computations``: the answers computed rather than shared or cached).

Run: ``.venv/bin/python -m bench.bench_api [--residents N] [--clients 50] [--seconds 10]
[--cold-seconds 30]``
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


def _drafts(thresholds: list[int]) -> list[str]:
    """The elderly allowance from ``t`` years instead of 80: one draft per threshold."""
    text = Path("rules/catalog/bj-elderly-allowance.yaml").read_text(encoding="utf-8")
    return [text.replace("age >= 80 and", f"age >= {t} and") for t in thresholds]


def _setup(residents: int, clients: int) -> tuple[str, list[tuple[str, str]], list[str]]:
    from argon2 import PasswordHasher

    from api.app.auth import UserStore
    from core.db import get_engine, upgrade
    from matcher.runs import RunStore
    from rules.store import PolicyStore

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
    PolicyStore(engine).import_catalog(Path("rules/catalog"), author="bench", note="bench")
    users = UserStore(engine, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    analyst = users.create("bench-analyst", "bench-password", role="analyst")
    analysts = [users.issue(analyst) for _ in range(clients)]
    rng = random.Random(11)
    chosen = []
    for n in range(clients):
        subject = f"P{rng.randrange(residents):07d}"
        user = users.create(f"bench{n}", "bench-password", role="resident", subject_id=subject)
        chosen.append((subject, users.issue(user)))
    engine.dispose()
    return url, chosen, analysts


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


async def _dry_run_load(
    base: str, tokens: list[str], drafts: list[str], seconds: float, probes: int
) -> tuple[list[float], int, list[float]]:
    """Clients posting ``drafts`` in turn, and ``/health`` probes beside them, for ``seconds``.

    Returns the dry-run latencies, how many answers were computed (not shared or cached) and
    the probes' latencies.
    """
    latencies: list[float] = []
    health: list[float] = []
    computed = 0
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(tokens) + probes)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300) as client:

        async def poster(n: int, token: str) -> None:
            nonlocal computed
            headers = {"Authorization": f"Bearer {token}"}
            while time.monotonic() < deadline:
                document = drafts[n % len(drafts)]
                n += 1
                started = time.perf_counter()
                response = await client.post(
                    "/api/v1/policies/dry-run", json={"document": document}, headers=headers
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors.append(response.text[:200])
                else:
                    computed += not response.json()["cached"]

        async def probe() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await client.get("/health")
                health.append(time.perf_counter() - started)
                await asyncio.sleep(0.05)

        await asyncio.gather(
            *(poster(i, t) for i, t in enumerate(tokens)), *(probe() for _ in range(probes))
        )
    if errors:
        raise SystemExit(f"{len(errors)} dry-runs failed, e.g. {errors[0]}")
    return latencies, computed, health


def _uncached(base: str, token: str, drafts: list[str]) -> dict[str, Any]:
    """One dry-run at a time, each of a draft not seen before: client and server times."""
    client_ms, server_ms = [], []
    for document in drafts:
        started = time.perf_counter()
        response = httpx.post(
            f"{base}/api/v1/policies/dry-run", json={"document": document},
            headers={"Authorization": f"Bearer {token}"}, timeout=300,
        )  # fmt: skip
        client_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or response.json()["cached"]:
            raise SystemExit(f"an uncached dry-run failed or was cached: {response.text[:300]}")
        server_ms.append(response.json()["elapsed_ms"])
    return {
        "drafts": len(drafts),
        "median_ms": round(statistics.median(client_ms)),
        "server_median_ms": round(statistics.median(server_ms)),
    }


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
    parser.add_argument("--cold-seconds", type=float, default=30.0)
    args = parser.parse_args(
        argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else []
    )
    from bench.bench_match import ensure_population

    population = ensure_population(args.residents)
    url, clients, analysts = _setup(args.residents, args.clients)
    pairs = OUT / "runs" / "1.parquet"
    subjects = [s for s, _ in clients]
    in_process = _lookup_in_process(pairs, subjects, 200)
    from matcher.live.offers import OfferIndex

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
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port),
         "--population", str(population)],
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
        uncached = _uncached(base, analysts[0], _drafts([70, 71, 72]))
        drafts = _drafts([75, 76, 77, 78, 79])
        cold = asyncio.run(_dry_run_load(base, analysts, drafts, args.cold_seconds, probes=5))
        warm = asyncio.run(_dry_run_load(base, analysts, drafts, args.seconds, probes=5))
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
                "dry_run_http_cold_cache": {
                    **_figures(cold[0], args.cold_seconds),
                    "drafts": 5,
                    "computations": cold[1],
                },
                "dry_run_http_cached": {
                    **_figures(warm[0], args.seconds),
                    "drafts": 5,
                    "computations": warm[1],
                },
                "baseline_one_uncached_dry_run": uncached,
                "baseline_health_during_cold_dry_run_load": _figures(cold[2], args.cold_seconds),
                "baseline_health_during_cached_dry_run_load": _figures(warm[2], args.seconds),
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
