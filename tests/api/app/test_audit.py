from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.app.audit import GENESIS, AuditLog, audit_log
from api.app.checkpoints import Checkpoint, Checkpoints, checkpoint_line
from api.cli import main
from core.db import get_engine, upgrade
from core.errors import ConfigurationError
from tests.api.app.test_simulations import sim_world  # noqa: F401 (a fixture)
from tests.api.app.world import World

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


# ---------------------------------------------------------------- checkpoints outside the database


@pytest.fixture
def anchored(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Engine, AuditLog]:
    """A log whose every entry is checkpointed into ``tmp_path``, as the app and CLI write it;
    the CLI reads the same database and data directory."""
    monkeypatch.setenv("ZHIDA_DATABASE_URL", database_url)
    monkeypatch.setenv("ZHIDA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ZHIDA_AUDIT_KEY", raising=False)
    # Not beside the database (verify would warn: whoever changes it could forge checkpoints).
    monkeypatch.setenv("ZHIDA_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    engine = get_engine(database_url)
    upgrade(engine)
    log = AuditLog(engine, Checkpoints.configured(tmp_path))
    _fill(log)
    return engine, log


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["audit", "verify", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _recompute_chain(engine: Engine, *, actor: str) -> None:
    """The attack of finding 8: rewrite entries, then recompute every hash with the project's
    own function so that the chain alone holds together again."""
    from api.app.audit import _fields, entry_hash

    with engine.begin() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).mappings().all()
        prev = GENESIS
        for row in rows:
            forged = {**row, "actor": actor}
            digest = entry_hash(prev, _fields(forged))
            # Two passes through a placeholder keep the unique hash columns unique meanwhile.
            conn.execute(
                audit_log.update().where(audit_log.c.id == row["id"])
                .values(actor=actor, prev_hash=f"x{row['id']}", hash=f"y{row['id']}")
            )  # fmt: skip
            conn.execute(
                audit_log.update().where(audit_log.c.id == row["id"])
                .values(prev_hash=prev, hash=digest)
            )  # fmt: skip
            prev = digest


def test_an_intact_checkpointed_chain_verifies(
    anchored: tuple[Engine, AuditLog], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _verify(capsys)
    assert code == 0, out + err
    assert "audit log intact: 4 entries" in out
    assert "4 checkpoints hold, the newest at entry" in out
    assert err == ""


def test_deleting_the_newest_entry_fails_verify(
    anchored: tuple[Engine, AuditLog], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, log = anchored
    _allow_tampering(engine)
    newest = max(e.id for e in log.entries())
    with engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id == newest))
    assert log.verify()[2] == []  # the chain alone does not show it
    code, out, err = _verify(capsys)
    assert code == 1
    assert f"entry {newest}: is gone, yet its checkpoint of" in out
    assert "the newest entries were deleted or the log truncated" in out
    assert err.startswith("zhida: error: the audit log is broken at 1 place(s) of 3 entries")


def test_truncating_the_log_fails_verify(
    anchored: tuple[Engine, AuditLog], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, log = anchored
    _allow_tampering(engine)
    with engine.begin() as conn:
        conn.execute(audit_log.delete())
    assert log.verify() == (0, GENESIS, [])
    code, out, err = _verify(capsys)
    assert code == 1
    assert out.count("is gone, yet its checkpoint") == 4
    assert "broken at 4 place(s) of 0 entries" in err


def test_a_chain_rewritten_with_recomputed_hashes_fails_verify(
    anchored: tuple[Engine, AuditLog], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, log = anchored
    _allow_tampering(engine)
    _recompute_chain(engine, actor="wang")
    assert log.verify()[2] == []  # the chain alone holds together again
    code, out, err = _verify(capsys)
    assert code == 1
    assert out.count("the chain was rewritten and its hashes recomputed") == 4
    assert err.startswith("zhida: error: the audit log is broken at 4 place(s)")


def test_a_forged_checkpoint_line_fails_verify(
    anchored: tuple[Engine, AuditLog], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, log = anchored
    assert log.checkpoints is not None
    # Someone without the key rewrites the chain and appends a checkpoint of its own making.
    _allow_tampering(engine)
    _recompute_chain(engine, actor="wang")
    head = log.head()
    assert head is not None
    forged = checkpoint_line(b"a key that is not the real key..", Checkpoint(*head, "2030-01-01"))
    with log.checkpoints.path.open("a") as out:
        out.write(forged + "\n")
    code, out_text, _ = _verify(capsys)
    assert code == 1
    assert "line 5: not a checkpoint made with this key" in out_text


def test_zhida_audit_checkpoint_prints_a_line_that_verify_accepts_from_elsewhere(
    anchored: tuple[Engine, AuditLog], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    engine, log = anchored
    assert main(["audit", "checkpoint"]) == 0
    line = capsys.readouterr().out.strip()
    head = log.head()
    assert head is not None and line.split()[2:4] == [str(head[0]), head[1]]
    external = tmp_path / "external.log"  # e.g. what syslog on another machine kept
    external.write_text(line + "\n")
    assert _verify(capsys, "--against", str(external))[0] == 0
    # The local file is emptied by the attacker too; the external copy still catches it.
    _allow_tampering(engine)
    with engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id == head[0]))
    assert log.checkpoints is not None
    log.checkpoints.path.write_text("")
    code, out, _ = _verify(capsys, "--against", str(external))
    assert code == 1 and f"entry {head[0]}: is gone" in out


def test_the_key_file_is_made_private_and_one_others_may_read_is_refused(tmp_path: Path) -> None:
    points = Checkpoints(tmp_path / "cp", key_file=tmp_path / "audit.key")
    points.write(1, "a" * 64)
    assert (tmp_path / "audit.key").stat().st_mode & 0o777 == 0o600
    (tmp_path / "audit.key").chmod(0o644)
    with pytest.raises(ConfigurationError, match=r"may be read by others \(mode 0644\); `chmod"):
        Checkpoints(tmp_path / "cp", key_file=tmp_path / "audit.key").write(2, "b" * 64)


def test_a_short_audit_key_is_refused_with_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 32 random ones"):
        Checkpoints(tmp_path / "cp", key="short")


def test_verify_warns_when_nothing_is_checkpointed(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("ZHIDA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ZHIDA_DATA_DIR", str(tmp_path))
    engine = get_engine(sqlite_url)
    upgrade(engine)
    _fill(AuditLog(engine), 2)  # written without checkpoints (e.g. before they existed)
    code, out, err = _verify(capsys)
    assert code == 0 and "intact: 2 entries" in out
    assert "warning: no checkpoint in" in err and "zhida audit checkpoint" in err


# ---------------------------------------------------------------- imports and exports are entries


def test_policies_import_and_export_are_audited_with_who_ran_them(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import shutil

    from api.commands.users import operator
    from rules.loader import load_catalog
    from rules.store import PolicyStore
    from tests.api.app.world import CATALOG

    monkeypatch.setenv("ZHIDA_DATABASE_URL", sqlite_url)
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    shutil.copy(CATALOG / "bj-elderly-allowance.yaml", catalog)
    assert main(["policies", "import", str(catalog)]) == 0
    assert main(["policies", "export", str(tmp_path / "out")]) == 0
    engine = get_engine(sqlite_url)
    exported, imported = AuditLog(engine).entries(entity_type="catalog")
    assert (imported.actor, imported.action, imported.entity_id) == (
        operator(), "policy.import", "catalog",
    )  # fmt: skip
    assert imported.details["published"] == {"bj-elderly-allowance": 1}
    assert imported.details["catalog_sha256"] == load_catalog([catalog]).content_hash
    (version,) = PolicyStore(engine).versions("bj-elderly-allowance")
    assert version.author == operator() != "admin"
    assert (exported.action, exported.details["policies"]) == (
        "policy.export", ["bj-elderly-allowance"],
    )  # fmt: skip
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0  # both entries checkpointed as they were written
    assert "2 checkpoints hold" in capsys.readouterr().out


def test_starting_a_simulation_is_audited_with_the_rule_texts_hashes(
    sim_world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    import hashlib

    from tests.api.app.test_dryrun import FROM_75

    world = sim_world
    sims = "/api/v1/simulations"
    reach = world.client.post(
        sims, json={"kind": "reach", "documents": [FROM_75]}, headers=world.as_("analyst")
    )
    timeline = world.client.post(
        sims, json={"kind": "timeline", "months": 1, "seeds": 1}, headers=world.as_("analyst")
    )
    assert (reach.status_code, timeline.status_code) == (202, 202)
    started = [e for e in AuditLog(world.engine).entries() if e.action == "simulation.start"]
    by_kind = {e.details.get("kind", "reach"): e for e in started}
    assert by_kind["reach"].details["documents_sha256"] == [
        hashlib.sha256(FROM_75.encode("utf-8")).hexdigest()
    ]
    assert by_kind["timeline"].entity_id == str(timeline.json()["id"])
    assert len(by_kind["timeline"].details["catalog"]) == 64
    assert {e.actor for e in started} == {"analyst"}
    world.client.app.state["services"].simulations.join()


def test_verify_warns_when_the_key_lies_beside_the_sqlite_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'zhida.db'}"
    monkeypatch.setenv("ZHIDA_DATABASE_URL", url)
    monkeypatch.setenv("ZHIDA_DATA_DIR", str(tmp_path))  # the default: key and database together
    engine = get_engine(url)
    upgrade(engine)
    _fill(AuditLog(engine, Checkpoints.configured(tmp_path)), 1)
    code, _, err = _verify(capsys)
    assert code == 0 and "warning: the audit key" in err and "lies beside the database" in err
    monkeypatch.setenv("ZHIDA_AUDIT_KEY_FILE", str(tmp_path / "elsewhere" / "audit.key"))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "audit.key").write_bytes((tmp_path / "audit.key").read_bytes())
    (tmp_path / "elsewhere" / "audit.key").chmod(0o600)
    code, _, err = _verify(capsys)
    assert code == 0 and err == ""
