from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.app.audit import GENESIS, AuditLog, audit_log
from api.cli import main
from core.db import get_engine, upgrade

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = get_engine(database_url)
    upgrade(engine)
    return engine


def _allow_tampering(engine: Engine) -> None:
    """What an attacker with DDL rights would do first: drop the append-only triggers."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("DROP TRIGGER audit_log_append_only ON audit_log"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_log_no_update"))
            conn.execute(sa.text("DROP TRIGGER audit_log_no_delete"))


def _fill(log: AuditLog, n: int = 4) -> None:
    for i in range(n):
        log.append(
            actor="li", role="officer", action="policy.draft", entity_type="policy",
            entity_id=f"bj-{i}", source="10.0.0.7", details={"version": i, "说明": "草稿"},
            at=AT,
        )  # fmt: skip


def test_entries_chain_from_the_genesis_and_an_untouched_log_verifies(engine: Engine) -> None:
    log = AuditLog(engine)
    _fill(log)
    entries = sorted(log.entries(), key=lambda e: e.id)
    assert entries[0].prev_hash == GENESIS
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert entries[2].details == {"version": 2, "说明": "草稿"}
    count, head, broken = log.verify()
    assert (count, head, broken) == (4, entries[-1].hash, [])


def test_the_database_refuses_to_change_or_delete_an_entry(engine: Engine) -> None:
    log = AuditLog(engine)
    _fill(log, 2)
    for statement in (audit_log.update().values(actor="wang"), audit_log.delete()):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    assert log.verify()[0] == 2


def test_an_edited_row_is_flagged(engine: Engine) -> None:
    log = AuditLog(engine)
    _fill(log)
    _allow_tampering(engine)
    second = sorted(e.id for e in log.entries())[1]
    with engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.id == second).values(actor="wang"))
    _, _, broken = log.verify()
    assert [(b.id, "changed" in b.reason) for b in broken] == [(second, True)]


def test_a_deleted_row_is_flagged_at_the_entry_after_it(engine: Engine) -> None:
    log = AuditLog(engine)
    _fill(log)
    _allow_tampering(engine)
    ids = sorted(e.id for e in log.entries())
    with engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id == ids[1]))
    _, _, broken = log.verify()
    assert [b.id for b in broken] == [ids[2]]
    assert "removed" in broken[0].reason


def test_a_rewritten_row_with_a_recomputed_own_hash_still_breaks_the_next_link(
    engine: Engine,
) -> None:
    from api.app.audit import _fields, entry_hash

    log = AuditLog(engine)
    _fill(log)
    _allow_tampering(engine)
    ids = sorted(e.id for e in log.entries())
    with engine.begin() as conn:
        row = conn.execute(sa.select(audit_log).where(audit_log.c.id == ids[1])).mappings().one()
        forged = {**row, "actor": "wang"}
        conn.execute(
            audit_log.update()
            .where(audit_log.c.id == ids[1])
            .values(actor="wang", hash=entry_hash(row["prev_hash"], _fields(forged)))
        )
    _, _, broken = log.verify()
    assert [b.id for b in broken] == [ids[2]]


def test_concurrent_writers_keep_one_unbroken_chain(engine: Engine) -> None:
    log = AuditLog(engine)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            _fill(log, 5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    count, _, broken = log.verify()
    assert (count, broken) == (20, [])


def test_zhida_audit_verify_exits_1_naming_the_tampered_entry(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZHIDA_DATABASE_URL", sqlite_url)
    engine = get_engine(sqlite_url)
    upgrade(engine)
    log = AuditLog(engine)
    _fill(log, 3)
    assert main(["audit", "verify"]) == 0
    assert "intact: 3 entries" in capsys.readouterr().out
    _allow_tampering(engine)
    with engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.id == 2).values(details='{"x": 1}'))
    assert main(["audit", "verify"]) == 1
    captured = capsys.readouterr()
    assert "entry 2: its content was changed" in captured.out
    assert captured.err.startswith("zhida: error: the audit log is broken at 1 place(s)")
