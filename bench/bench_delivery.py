"""Delivery throughput: messages per second through the outbox ledger and the workers.

The issue's goal: in-app inbox deliveries per second with the ledger on PostgreSQL and two
worker processes (``zhida worker --processes 2``) on Redis, >= 2,000/s.  Baselines in the same
run, on the same Redis and database:

- a bare Dramatiq no-op actor with the same processes and threads (the broker's ceiling);
- the same inbox sends straight to the channel from 16 threads, without ledger or queue.

Rates are measured between the first and the last delivery (worker start-up is excluded);
each figure is the median of ``--repeat`` runs, the ledger and no-op runs taking turns.

Run: ``.venv/bin/python -m bench.bench_delivery [--messages N] [--processes 2] [--threads 8]
[--repeat 3]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("ZHIDA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("ZHIDA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
NOOP_QUEUE = "bench_noop"


def _schema() -> tuple[str, str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    admin.dispose()
    return name, f"{PG}?options=-csearch_path%3D{name}"


def _drop(name: str) -> None:
    admin = sa.create_engine(PG.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


def _plan(url: str, n: int, cause: str) -> list[int]:
    from core.db import get_engine, upgrade
    from core.settings import Settings
    from notifier.dispatch import plan_changes
    from rules.loader import load_catalog

    engine = get_engine(url)
    upgrade(engine)
    policies = load_catalog([ROOT / "rules" / "catalog"]).by_id
    changes = (
        {"subject_id": f"{cause}{i:07d}", "subject_type": "resident",
         "policy_id": "bj-elderly-card", "change": "newly_eligible", "old_status": None,
         "new_status": "eligible"}
        for i in range(n)
    )  # fmt: skip
    settings = Settings.from_env({"ZHIDA_DATABASE_URL": url, "ZHIDA_QUIET_HOURS": ""})
    summary = plan_changes(
        engine, changes, policies, cause=cause, as_of=date(2026, 3, 2), now=datetime.now(UTC),
        settings=settings, channels=frozenset({"inbox"}),
    )  # fmt: skip
    return list(summary.due_ids)


def _through_workers(url: str, n: int, processes: int, threads: int) -> float:
    import redis

    from core.broker import configure_broker
    from core.db import get_engine
    from notifier.actors import enqueue
    from notifier.outbox import Outbox
    from notifier.tables import outbox

    redis.Redis.from_url(REDIS).flushdb()
    ids = _plan(url, n, "W")
    configure_broker(REDIS)
    engine = get_engine(url)
    enqueue(ids, outbox=Outbox(engine))
    env = {**os.environ, "ZHIDA_DATABASE_URL": url, "ZHIDA_REDIS_URL": REDIS}
    worker = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--processes", str(processes),
         "--threads", str(threads), "--queue", "deliveries"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            time.sleep(1.0)
            with engine.connect() as conn:
                done = conn.execute(
                    sa.select(sa.func.count()).where(outbox.c.status == "delivered")
                ).scalar_one()
            if done >= n:
                break
        with engine.connect() as conn:
            first, last, count = conn.execute(
                sa.select(
                    sa.func.min(outbox.c.delivered_at),
                    sa.func.max(outbox.c.delivered_at),
                    sa.func.count(outbox.c.delivered_at),
                )
            ).one()
    finally:
        _stop(worker)
    engine.dispose()
    seconds = float((last - first).total_seconds())
    return float(count) / max(1e-6, seconds)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)


def _noop(n: int, processes: int, threads: int) -> float:
    import redis

    from bench import noop_actor

    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    from core.broker import configure_broker

    configure_broker(REDIS)
    for i in range(n):
        noop_actor.noop.send(i)
    env = {**os.environ, "ZHIDA_REDIS_URL": REDIS}
    worker = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "bench.noop_actor", "--processes", str(processes),
         "--threads", str(threads), "--queues", NOOP_QUEUE],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    key = f"dramatiq:{NOOP_QUEUE}"
    try:
        while client.llen(key) >= n:
            time.sleep(0.005)
        started = time.perf_counter()
        while client.llen(key) > 0:
            time.sleep(0.005)
        # the last prefetched batch: until every worker's ack set is empty
        while any(client.scard(k) for k in client.scan_iter(f"dramatiq:__acks__.*.{NOOP_QUEUE}")):
            time.sleep(0.005)
        seconds = time.perf_counter() - started
    finally:
        _stop(worker)
    return n / seconds


def _straight_to_channel(url: str, n: int, threads: int) -> float:
    from core.db import get_engine
    from notifier.channels.base import OutboundMessage
    from notifier.channels.inbox import InboxChannel

    engine = get_engine(url)
    channel = InboxChannel(engine)
    messages = [
        OutboundMessage(i, f"direct-{i}", "inbox", f"D{i:07d}", "resident", None, "zh",
                        "北京通（养老助残卡）", "您可申请北京通养老助残卡。")
        for i in range(n)
    ]  # fmt: skip
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(channel.send, messages))
    return n / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(
        argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else []
    )
    ledger, noop, direct = [], [], []
    for _ in range(max(1, args.repeat)):
        schema, url = _schema()  # a fresh ledger each time: same table sizes in every run
        try:
            ledger.append(_through_workers(url, args.messages, args.processes, args.threads))
            noop.append(_noop(args.messages, args.processes, args.threads))
            direct.append(_straight_to_channel(url, args.messages, args.processes * args.threads))
        finally:
            _drop(schema)
    print(
        json.dumps(
            {
                "messages": args.messages,
                "processes": args.processes,
                "threads": args.threads,
                "runs": len(ledger),
                "inbox_through_ledger_and_workers_per_s": round(statistics.median(ledger)),
                "baseline_bare_dramatiq_noop_per_s": round(statistics.median(noop)),
                "baseline_inbox_send_without_ledger_per_s": round(statistics.median(direct)),
                "goal_per_s": 2000,
                "samples": {
                    "ledger": [round(x) for x in ledger],
                    "noop": [round(x) for x in noop],
                    "direct": [round(x) for x in direct],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
