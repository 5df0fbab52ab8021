"""Sharded runs outlive outages: the waiting command rides out its PostgreSQL connections being
terminated (as a restart does), and shards lost to a flushed Redis are re-sent within a minute.

Nothing here restarts a server (other tests share it): a restart is its connections being
terminated with ``pg_terminate_backend``, only those of this test's application name.
"""

from __future__ import annotations

import inspect
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from api.cli import main
from core.db import get_engine, upgrade
from tests.populations import Populations

AS_OF = "2026-06-30"
ROOT = Path(__file__).resolve().parents[2]
CATALOG = str(ROOT / "rules" / "catalog")


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(1200, 120, seed=11, as_of=date.fromisoformat(AS_OF))


def _named(url: str, name: str) -> str:
    """``url`` with a PostgreSQL application name: the connections a test may terminate."""
    kept = re.sub(r"[&?]application_name=[^&]*", "", url)  # the fixture's own name goes
    return f"{kept}{'&' if '?' in kept else '?'}application_name={name}"


def _terminate(admin: sa.Engine, name: str) -> int:
    with admin.begin() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            ).scalar_one()
        )


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "dramatiq", "api.workers", "--processes", "1", "--threads",
           "2", "--queues", "match_shards"]  # fmt: skip
    with log.open("wb") as stderr:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_waiting_command_survives_its_database_connections_being_terminated(
    population: Path, tmp_path: Path, redis_url: str, postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    name = f"zhida_wait_{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env.update(
        ZHIDA_REDIS_URL=redis_url, ZHIDA_DATABASE_URL=_named(postgres_url, name),
        ZHIDA_DATA_DIR=str(tmp_path / "zhida"), CI="",
    )  # fmt: skip
    for key in ("ZHIDA_REDIS_URL", "ZHIDA_DATABASE_URL", "ZHIDA_DATA_DIR"):
        monkeypatch.setenv(key, env[key])
    admin = get_engine(postgres_url)
    upgrade(admin)
    out = tmp_path / "sharded.parquet"
    argv = ["match", "--population", str(population), "--policies", CATALOG, "--as-of", AS_OF,
            "--out", str(out), "--distributed", "--shard-rows", "300",
            "--timeout", "240"]  # fmt: skip
    exit_codes: list[int] = []
    waiting = threading.Thread(target=lambda: exit_codes.append(main(argv)), daemon=True)
    waiting.start()
    deadline = time.monotonic() + 60
    while not sa.inspect(admin).has_table("shard_runs") or not _rows(admin, "shard_runs"):
        assert time.monotonic() < deadline and waiting.is_alive(), exit_codes
        time.sleep(0.1)
    time.sleep(1.0)  # it is in its waiting loop now: no worker is taking the shards yet
    terminated = 0
    until = time.monotonic() + 4.0
    while time.monotonic() < until:  # a restart: every connection it opens dies, for 4 s
        terminated += _terminate(admin, name)
        time.sleep(0.05)
    assert terminated > 0 and waiting.is_alive(), exit_codes
    worker_env = {**env, "ZHIDA_DATABASE_URL": postgres_url}
    worker = _worker(worker_env, tmp_path / "worker.log")
    try:
        waiting.join(timeout=240)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    assert exit_codes == [0]
    assert pl.read_parquet(out).height > 0
    with admin.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM shard_runs")).scalar_one()
    assert status == "complete"


def _rows(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture
def started_run(
    population: Path, tmp_path: Path, redis_url: str, postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[str, int]:  # fmt: skip
    """A sharded run whose shard messages are in Redis, and no worker: (run key, shards)."""
    from core.broker import configure_broker
    from matcher.shards import ShardStore, start_run
    from rules.loader import load_catalog

    monkeypatch.setenv("ZHIDA_DATABASE_URL", postgres_url)
    monkeypatch.setenv("ZHIDA_REDIS_URL", redis_url)
    monkeypatch.setenv("ZHIDA_DATA_DIR", str(tmp_path / "zhida"))
    engine = get_engine(postgres_url)
    upgrade(engine)
    configure_broker(redis_url)
    as_of = date.fromisoformat(AS_OF)
    catalog = load_catalog([Path(CATALOG)])
    run_key = start_run(
        engine, population_dir=population, policies=catalog.in_force(as_of),
        catalog_hash=catalog.content_hash, as_of=as_of, shard_rows=300,
    )  # fmt: skip
    return run_key, ShardStore(engine).run(run_key).shards


@pytest.mark.redis
@pytest.mark.postgres
def test_shards_lost_to_a_flushed_redis_are_re_sent_by_the_workers_sweeper(
    started_run: tuple[str, int], redis_url: str
) -> None:
    import redis

    from api.commands.worker import _sweep_shards
    from matcher.shards import queued_shards

    _, shards = started_run
    assert queued_shards() == shards
    redis.Redis.from_url(redis_url).flushdb()
    assert queued_shards() == 0
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweep_shards, args=(stop, 0.5, 1.0), daemon=True)
    sweeper.start()
    try:
        deadline = time.monotonic() + 20
        while queued_shards() != shards:
            assert time.monotonic() < deadline, f"{queued_shards()} of {shards} re-sent"
            time.sleep(0.1)
    finally:
        stop.set()
        sweeper.join(timeout=10)


@pytest.mark.redis
@pytest.mark.postgres
def test_shards_still_queued_are_not_sent_again(started_run: tuple[str, int]) -> None:
    from core.db import get_engine as engine_of
    from matcher.shards import queued_shards, sweep

    _, shards = started_run
    sent = sweep(engine_of(), queued=queued_shards, lost_after=timedelta(0))
    assert sent == 0 and queued_shards() == shards


def test_by_default_lost_shards_are_re_sent_within_a_minute() -> None:
    from api.commands.worker import _sweep_shards, worker_cmd
    from matcher.shards._sweeper import LOST_AFTER

    every = inspect.signature(_sweep_shards).parameters["every"].default
    option = next(p for p in worker_cmd.params if p.name == "shard_sweep_every")
    assert option.default == every
    assert every + LOST_AFTER.total_seconds() <= 60
