"""A match run and the outbox of its diff are recorded in one transaction: both or neither."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from core.db import get_engine, upgrade
from core.settings import Settings
from matcher.runs import RunStore
from notifier.campaign import record_and_plan
from notifier.outbox import Outbox
from notifier.tables import delivery_plans, notices, outbox
from rules.loader import load_catalog

CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
AS_OF = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
PAIRS = {"subject_id": pl.String, "subject_type": pl.String, "policy_id": pl.String,
         "status": pl.String, "benefit": pl.Float64}  # fmt: skip


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    upgrade(get_engine(database_url))
    return Settings.from_env(
        {"ZHIDA_DATA_DIR": str(tmp_path), "ZHIDA_DATABASE_URL": database_url,
         "ZHIDA_QUIET_HOURS": "", "ZHIDA_PERSONALISATION": "off"}
    )  # fmt: skip


def pairs(tmp_path: Path, name: str, subjects: range) -> Path:
    path = tmp_path / f"{name}.parquet"
    rows = [(f"p{i}", "resident", "bj-elderly-card", "eligible", None) for i in subjects]
    pl.DataFrame(rows, schema=PAIRS, orient="row").write_parquet(path)
    return path


def record(settings: Settings, path: Path) -> Any:
    return record_and_plan(
        settings, path, load_catalog([CATALOG]).by_id, as_of=AS_OF, catalog_hash="c",
        population_id="pop", started_at=NOON, seconds=1.0, now=NOON,
        channels=frozenset({"inbox"}),
    )  # fmt: skip


def count(settings: Settings, table: sa.Table) -> int:
    with get_engine(settings.database_url).connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_run_is_recorded_with_the_outbox_of_its_diff(settings: Settings, tmp_path: Path) -> None:
    first, nothing = record(settings, pairs(tmp_path, "jan", range(3)))
    assert nothing is None and count(settings, outbox) == 0  # the first run: no diff
    run, plan = record(settings, pairs(tmp_path, "feb", range(5)))
    assert run.previous_run_id == first.run_id
    assert plan.cause == f"run {run.run_id} vs {first.run_id}" and plan.messages == 2
    assert {r.subject_id for r in Outbox(get_engine(settings.database_url)).rows()} == {"p3", "p4"}
    with get_engine(settings.database_url).connect() as conn:
        assert conn.execute(sa.select(delivery_plans.c.run_id)).scalar_one() == run.run_id


def test_a_failure_between_the_run_and_its_outbox_leaves_neither(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(settings, pairs(tmp_path, "jan", range(3)))
    written = Outbox.write

    def write_then_fail(*args: Any, **kwargs: Any) -> Any:
        written(*args, **kwargs)  # the outbox rows are in the transaction...
        raise OSError("the database server went away")  # ...and then it fails

    monkeypatch.setattr(Outbox, "write", staticmethod(write_then_fail))
    with pytest.raises(OSError, match="went away"):
        record(settings, pairs(tmp_path, "feb", range(5)))
    store = RunStore(get_engine(settings.database_url), settings.data_dir)
    assert [r.run_id for r in store.list()] == [1]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["1.parquet"]
    for table in (outbox, delivery_plans, notices):
        assert count(settings, table) == 0
    monkeypatch.undo()
    _, plan = record(settings, pairs(tmp_path, "feb", range(5)))  # and again, whole
    assert plan.messages == 2 and count(settings, outbox) == 2
