from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from api.cli import main
from core.db import get_engine, upgrade
from matcher.batch import MATCH_SCHEMA
from matcher.shards import PlanRequest, ShardStore, plan_shards
from tests.populations import Populations

AS_OF = "2026-06-30"
CATALOG = str(Path(__file__).resolve().parents[2] / "rules" / "catalog")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(4000, 400, seed=5, as_of=date.fromisoformat(AS_OF))


def _sorted(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path).sort("subject_id", "policy_id")


def _match(population: Path, out: Path, *extra: str) -> int:
    argv = ["match", "--population", str(population), "--policies", CATALOG]
    return main([*argv, "--as-of", AS_OF, "--out", str(out), *extra])


def test_shards_cover_every_row_once() -> None:
    shards = plan_shards({"resident": 1001, "enterprise": 10}, 250)
    residents = [s for s in shards if s.entity == "resident"]
    assert [s.row_count for s in residents] == [250, 250, 250, 250, 1]
    assert [s.shard_no for s in shards] == list(range(len(shards)))
    assert sum(s.row_count for s in shards) == 1011


def test_a_shard_landed_twice_keeps_one_copy_of_its_pairs(database_url: str) -> None:
    engine = get_engine(database_url)
    upgrade(engine)
    store = ShardStore(engine)
    key = store.create(
        population_dir=Path("."), population="p", as_of=date(2026, 6, 30), catalog_hash="c",
        policies=[], tags=False, shards=plan_shards({"resident": 2}, 1),
    )  # fmt: skip
    pairs = pl.DataFrame(
        {"subject_id": ["a"], "subject_type": ["resident"], "policy_id": ["x"],
         "status": ["eligible"], "benefit": ["12.50"]},
    ).cast(MATCH_SCHEMA)  # fmt: skip
    assert store.land(key, 0, pairs, worker="w1") is True
    assert store.land(key, 0, pairs, worker="w2") is False
    assert store.claim_finish(key) is False  # shard 1 is still pending
    assert store.land(key, 1, pairs.with_columns(subject_id=pl.lit("b")), worker="w1")
    assert store.claim_finish(key) is True
    assert store.claim_finish(key) is False  # only one finisher
    landed = store.pairs(key)
    assert landed["subject_id"].to_list() == ["a", "b"]
    assert str(landed["benefit"][0]) == "12.50"
    assert store.progress(key) == {"pending": 0, "done": 2, "failed": 0}


def test_in_process_sharded_run_equals_the_single_run(population: Path, tmp_path: Path) -> None:
    assert _match(population, tmp_path / "one.parquet") == 0
    assert _match(population, tmp_path / "sharded.parquet", "--distributed", "--shard-rows",
                  "700") == 0  # fmt: skip
    assert _sorted(tmp_path / "sharded.parquet").equals(_sorted(tmp_path / "one.parquet"))
    from core.settings import get_settings
    from matcher.runs import RunStore

    store = RunStore(get_engine(), get_settings().data_dir)
    single, sharded = store.list()[-2:]
    assert store.rule_hashes(sharded.run_id) == store.rule_hashes(single.run_id) != {}
    assert store.parameters(sharded.run_id) == store.parameters(single.run_id) != {}


def test_a_missing_population_fails_the_shard_with_a_reason(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = tmp_path / "pop"
    moved.mkdir()
    for name in ("residents.parquet", "enterprises.parquet"):
        (moved / name).write_bytes((population / name).read_bytes())
    from core.broker import configure_broker, run_in_process
    from matcher.shards import ShardStore as Store
    from matcher.shards import match_shard, start_run  # noqa: F401 -- declares the actor
    from profiles.schema import load_schema
    from rules.loader import load_catalog

    broker = configure_broker(None)
    engine = get_engine()
    upgrade(engine)
    catalog = load_catalog([Path(CATALOG)], load_schema())
    key = start_run(
        engine, population_dir=moved, policies=catalog.in_force(date(2026, 6, 30)),
        catalog_hash=catalog.content_hash, as_of=date(2026, 6, 30), shard_rows=3000,
    )  # fmt: skip
    (moved / "enterprises.parquet").unlink()
    run_in_process(broker, ["match_shards"])
    progress = Store(engine).progress(key)
    assert progress["failed"] == 1
    with engine.connect() as conn:
        error = conn.execute(
            sa.text("SELECT error FROM shard_tasks WHERE status = 'failed'")
        ).scalar_one()
    assert "enterprise" in error


def test_a_distributed_run_with_plan_records_the_run_and_its_pushes_together(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from notifier.tables import delivery_plans, outbox

    monkeypatch.setenv("ZHIDA_PERSONALISATION", "off")
    argv = ["match", "--population", str(population), "--policies", CATALOG, "--distributed",
            "--shard-rows", "1500", "--plan"]  # fmt: skip
    # A month apart: a year's endings with no earlier runs to compare are held by the guard.
    assert main([*argv, "--as-of", "2026-05-30", "--out", str(tmp_path / "a.parquet")]) == 0
    assert "the first run: nothing to push" in capsys.readouterr().out
    assert main([*argv, "--as-of", AS_OF, "--out", str(tmp_path / "b.parquet")]) == 0
    out = capsys.readouterr().out
    assert "recorded run 2" in out and "(run 2 vs 1)" in out and "guard: passed" in out
    assert "inbox" in out and "delivered" in out  # delivered in process (no Redis)
    with get_engine().connect() as conn:
        plans = conn.execute(sa.select(delivery_plans.c.run_id, delivery_plans.c.messages)).all()
        rows = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
    assert [run_id for run_id, _ in plans] == [2]
    assert rows == plans[0][1] > 0
    assert main(["deliveries", "plan"]) == 0  # the same diff is not planned twice
    assert "run 2 vs 1 was planned before" in capsys.readouterr().out


def test_a_distributed_plan_that_keeps_failing_is_a_one_line_error_and_leaves_nothing(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from core.errors import DatabaseError
    from notifier.outbox import Outbox

    monkeypatch.setenv("ZHIDA_PERSONALISATION", "off")
    argv = ["match", "--population", str(population), "--policies", CATALOG, "--distributed",
            "--shard-rows", "3000", "--plan"]  # fmt: skip
    assert main([*argv, "--as-of", "2025-06-30", "--out", str(tmp_path / "a.parquet")]) == 0

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("the outbox table is read-only; ask the DBA")

    monkeypatch.setattr(Outbox, "write", staticmethod(fail))
    capsys.readouterr()
    assert main([*argv, "--as-of", AS_OF, "--out", str(tmp_path / "b.parquet")]) == 2
    err = capsys.readouterr().err
    assert err == "zhida: error: the outbox table is read-only; ask the DBA\n"
    with get_engine().connect() as conn:
        runs = conn.execute(sa.text("SELECT count(*) FROM match_runs")).scalar_one()
        status = conn.execute(sa.text("SELECT status FROM shard_runs WHERE run_id IS NULL"))
        assert runs == 1 and status.scalar_one() == "failed"  # the user was told: not retried
    assert not (tmp_path / "b.parquet").exists()


def _planned_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Any:
    monkeypatch.setenv("ZHIDA_DATABASE_URL", database_url)
    monkeypatch.setenv("ZHIDA_PERSONALISATION", "off")
    monkeypatch.setenv("ZHIDA_QUIET_HOURS", "")
    import notifier.campaign  # noqa: F401 -- registers the planner, as a worker does

    engine = get_engine(database_url)
    upgrade(engine)
    return engine


def _landed(engine: Any, population: Path, as_of: date) -> str:
    """A sharded run that plans, every shard landed and nobody finishing it yet."""
    from matcher.shards import run_shard
    from profiles.schema import load_schema
    from rules.loader import load_catalog

    catalog = load_catalog([Path(CATALOG)], load_schema())
    counts = {kind: pl.scan_parquet(population / f"{kind}s.parquet").select(pl.len()).collect()
              .item() for kind in ("resident", "enterprise")}  # fmt: skip
    store = ShardStore(engine)
    key = store.create(
        population_dir=population, population="pop", as_of=as_of,
        catalog_hash=catalog.content_hash, policies=catalog.in_force(as_of), tags=True,
        shards=plan_shards(counts, 3000),
        plan=PlanRequest(frozenset({"inbox"}), catalog.policies),
    )  # fmt: skip
    run = store.run(key)
    for no in range(run.shards):
        shard, _ = store.shard(key, no)
        assert store.land(key, no, run_shard(run, shard), worker="test")
    return key


def _first_and_second(engine: Any, population: Path) -> str:
    from matcher.shards import finish_run

    store = ShardStore(engine)
    first = _landed(engine, population, date(2025, 6, 30))
    assert store.claim_finish(first) and finish_run(store, first) == 1  # nothing to plan yet
    return _landed(engine, population, date(2026, 6, 30))


def _counts(engine: Any) -> dict[str, int]:
    names = ("match_runs", "delivery_plans", "outbox", "notices", "shard_pairs")
    with engine.connect() as conn:
        return {
            n: int(conn.execute(sa.text(f"SELECT count(*) FROM {n}")).scalar_one()) for n in names
        }


def test_a_failure_while_planning_a_sharded_run_leaves_neither_and_a_retry_finishes_it(
    population: Path, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matcher.shards import finish_run
    from notifier.outbox import Outbox

    engine = _planned_env(monkeypatch, database_url)
    key = _first_and_second(engine, population)
    store = ShardStore(engine)
    before = _counts(engine)
    written = Outbox.write

    def write_then_fail(*args: Any, **kwargs: Any) -> Any:
        written(*args, **kwargs)  # the outbox rows are in the transaction...
        raise OSError("the database server went away")  # ...and then it fails

    with monkeypatch.context() as patch:
        patch.setattr(Outbox, "write", staticmethod(write_then_fail))
        assert store.claim_finish(key)
        with pytest.raises(OSError, match="went away"):
            finish_run(store, key)
    assert _counts(engine) == before  # no run, no plan, no rows; the landed pairs stay
    assert before["shard_pairs"] > 0 and before["match_runs"] == 1
    run = store.run(key)
    assert (run.status, run.run_id) == ("running", None)  # the claim was given up
    runs_dir = tmp_path / "zhida" / "runs"
    assert sorted(p.name for p in runs_dir.iterdir()) == ["1.parquet"]  # no kept or scratch file
    assert store.claim_finish(key)  # a retry claims it again and finishes it, whole
    run_id = finish_run(store, key)  # (PostgreSQL does not reuse the rolled-back run's id)
    after = _counts(engine)
    assert after["match_runs"] == 2 and after["delivery_plans"] == 1 and after["shard_pairs"] == 0
    assert after["outbox"] > 0 and after["notices"] >= after["outbox"]
    with engine.connect() as conn:
        plan_run = conn.execute(sa.text("SELECT run_id FROM delivery_plans")).scalar_one()
    assert plan_run == run_id == store.run(key).run_id and store.run(key).status == "complete"


def test_a_second_finisher_rolls_back_whole(
    population: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matcher import shards
    from matcher.shards._finish import _record

    engine = _planned_env(monkeypatch, database_url)
    key = _first_and_second(engine, population)
    store = ShardStore(engine)
    stale = store.run(key)  # what a racing finisher read before the other one committed
    assert store.claim_finish(key)
    assert shards.finish_run(store, key) == 2
    done = _counts(engine)
    with pytest.raises(shards.FinishedElsewhereError):
        _record(store, stale)  # its run, plan and rows roll back with its complete mark
    assert _counts(engine) == done

    class Racing(ShardStore):  # a finisher that read the run just before the other committed
        def run(self, run_key: str) -> Any:
            self.run = super().run  # type: ignore[method-assign]
            return stale

    assert shards.finish_run(Racing(engine), key) == 2  # it answers with the winner's run
    assert _counts(engine) == done


def test_the_sweeper_finishes_a_run_whose_finisher_died(
    population: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.broker import configure_broker, run_in_process
    from matcher.shards import SHARD_QUEUE, sweep

    broker = configure_broker(None)
    engine = _planned_env(monkeypatch, database_url)
    key = _first_and_second(engine, population)
    store = ShardStore(engine)
    assert store.claim_finish(key)  # ...and the finisher is killed before it commits
    assert sweep(engine) == 0  # not stalled for long yet
    assert sweep(engine, stalled_after=timedelta(0)) == 1
    run_in_process(broker, [SHARD_QUEUE])
    run = store.run(key)
    assert (run.status, run.run_id) == ("complete", 2)
    assert _counts(engine)["delivery_plans"] == 1
    assert sweep(engine, stalled_after=timedelta(0)) == 0  # finished: nothing to re-send


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "dramatiq", "api.workers", "--processes", "1", "--threads",
           "1", "--queues", "match_shards"]  # fmt: skip
    with log.open("wb") as stderr:  # the child keeps its own descriptor
        return subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip


@pytest.fixture
def two_workers(
    redis_url: str, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str]]:
    import redis

    env = dict(os.environ)
    env.update(
        ZHIDA_REDIS_URL=redis_url, ZHIDA_DATABASE_URL=postgres_url,
        ZHIDA_DATA_DIR=str(tmp_path / "zhida"), CI="",
    )  # fmt: skip
    for key in ("ZHIDA_REDIS_URL", "ZHIDA_DATABASE_URL", "ZHIDA_DATA_DIR"):
        monkeypatch.setenv(key, env[key])
    upgrade(get_engine(postgres_url))
    workers = [_worker(env, tmp_path / f"worker{i}.log") for i in (1, 2)]
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 60
    while client.zcard("dramatiq:__heartbeats__") < 2:  # both consumers are fetching
        logs = " / ".join((tmp_path / f"worker{i}.log").read_text()[-500:] for i in (1, 2))
        assert all(w.poll() is None for w in workers), f"a worker died while starting: {logs}"
        assert time.monotonic() < deadline, "the workers did not start within 60 s"
        time.sleep(0.2)
    try:
        yield redis_url, postgres_url
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait()
        client.close()


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
def test_two_worker_processes_share_a_run_and_land_the_single_runs_pairs(
    population: Path, tmp_path: Path, two_workers: tuple[str, str]
) -> None:
    _, postgres_url = two_workers
    assert _match(population, tmp_path / "one.parquet", "--no-record") == 0
    argv = ["--distributed", "--shard-rows", "400", "--timeout", "240"]
    assert _match(population, tmp_path / "sharded.parquet", *argv) == 0
    assert _sorted(tmp_path / "sharded.parquet").equals(_sorted(tmp_path / "one.parquet"))
    with get_engine(postgres_url).connect() as conn:
        workers = conn.execute(sa.text("SELECT DISTINCT worker FROM shard_tasks")).scalars()
        landed = conn.execute(sa.text("SELECT count(*) FROM shard_pairs")).scalar_one()
        status = conn.execute(sa.text("SELECT status FROM shard_runs")).scalar_one()
    assert len(set(workers)) == 2  # both processes took shards
    assert status == "complete"
    assert landed == 0  # moved to the run's pairs file


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
def test_worker_processes_record_and_plan_a_distributed_run_once(
    population: Path, tmp_path: Path, two_workers: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _, postgres_url = two_workers
    argv = ["--distributed", "--shard-rows", "400", "--timeout", "240", "--plan"]
    # (the --as-of given last wins: the first run is a year earlier)
    assert _match(population, tmp_path / "a.parquet", *argv, "--as-of", "2025-06-30") == 0
    assert _match(population, tmp_path / "b.parquet", *argv) == 0
    out = capsys.readouterr().out
    assert "the first run: nothing to push" in out
    assert "recorded run 2" in out and "(run 2 vs 1)" in out
    assert "handed to the workers" in out
    with get_engine(postgres_url).connect() as conn:
        plans = conn.execute(sa.text("SELECT run_id, messages FROM delivery_plans")).all()
        rows = conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one()
        statuses = conn.execute(sa.text("SELECT status, run_id FROM shard_runs")).all()
    assert [run_id for run_id, _ in plans] == [2]
    assert rows == plans[0][1] > 0
    assert sorted(statuses) == [("complete", 1), ("complete", 2)]
    for i in (1, 2):  # the workers finished without failing (not the command, after them)
        log = (tmp_path / f"worker{i}.log").read_text()
        assert "Traceback" not in log and "planner" not in log, log[-2000:]
