from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.db import get_engine, upgrade
from core.errors import NotFoundError
from rules.lifecycle import LifecycleError
from rules.store import PolicyStore

CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
DOC = """\
id: test-allowance
title: 测试津贴
department: 测试局
audience: resident
mode: auto_grant
eligibility: age >= {age}
valid_from: {start}
"""


@pytest.fixture
def store(database_url: str) -> PolicyStore:
    engine = get_engine(database_url)
    upgrade(engine)
    return PolicyStore(engine)


def test_import_then_export_gives_back_the_same_files(store: PolicyStore, tmp_path: Path) -> None:
    created = store.import_catalog(CATALOG, author="admin", note="initial import")
    assert len(created) == len(list(CATALOG.glob("*.yaml")))
    written = store.export_catalog(tmp_path)
    assert len(written) == len(created)
    for path in CATALOG.glob("*.yaml"):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_importing_an_unchanged_catalog_adds_no_version(store: PolicyStore) -> None:
    store.import_catalog(CATALOG, author="admin", note="one")
    assert store.import_catalog(CATALOG, author="admin", note="two") == {}


def test_a_change_goes_through_review_by_someone_else(store: PolicyStore) -> None:
    v1 = store.draft(DOC.format(age=80, start="2020-01-01"), author="li", note="first")
    with pytest.raises(LifecycleError, match="cannot publish a version that is draft"):
        store.publish("test-allowance", v1, reviewer="wang")
    store.submit("test-allowance", v1)
    with pytest.raises(LifecycleError, match="four eyes"):
        store.publish("test-allowance", v1, reviewer="li")
    store.publish("test-allowance", v1, reviewer="wang")
    (version,) = store.versions("test-allowance")
    assert (version.status, version.author, version.reviewer) == ("published", "li", "wang")
    assert len(version.content_hash) == 64


def test_as_of_selects_the_version_in_force(store: PolicyStore) -> None:
    for age, start in ((80, "2020-01-01"), (75, "2026-01-01")):
        v = store.draft(DOC.format(age=age, start=start), author="li", note=f"age {age}")
        store.submit("test-allowance", v)
        store.publish("test-allowance", v, reviewer="wang")
    assert store.catalog(date(2025, 6, 1)).by_id["test-allowance"].eligibility == "age >= 80"
    assert store.catalog(date(2026, 6, 1)).by_id["test-allowance"].eligibility == "age >= 75"
    assert store.catalog(date(2019, 6, 1)).policies == ()
    assert [v.status for v in store.versions("test-allowance")] == ["superseded", "published"]
    # Retiring the published version ends the policy: a superseded version does not come back.
    store.retire("test-allowance", 2)
    assert "test-allowance" not in store.catalog(date(2026, 6, 1)).by_id
    assert "test-allowance" not in store.catalog(date(2025, 6, 1)).by_id


def test_unknown_policy_or_version(store: PolicyStore) -> None:
    with pytest.raises(NotFoundError):
        store.versions("nope")
    with pytest.raises(NotFoundError):
        store.submit("nope", 1)


def test_an_import_that_changes_a_policy_supersedes_its_published_version(
    store: PolicyStore, tmp_path: Path
) -> None:
    (tmp_path / "a.yaml").write_text(DOC.format(age=80, start="2020-01-01"), encoding="utf-8")
    store.import_catalog(tmp_path, author="admin", note="one")
    (tmp_path / "a.yaml").write_text(DOC.format(age=75, start="2020-01-01"), encoding="utf-8")
    store.import_catalog(tmp_path, author="admin", note="two")
    assert [v.status for v in store.versions("test-allowance")] == ["superseded", "published"]


def test_a_return_keeps_its_reason_and_who_gave_it(store: PolicyStore) -> None:
    v = store.draft(DOC.format(age=80, start="2020-01-01"), author="li", note="")
    store.submit("test-allowance", v)
    with pytest.raises(ValueError, match="退回修改需要写明原因"):
        store.reject("test-allowance", v, reviewer="wang", reason=" ")
    assert store.versions("test-allowance")[0].status == "in_review"
    store.reject("test-allowance", v, reviewer="wang", reason="请写明依据")
    (returned,) = store.versions("test-allowance")
    assert (returned.status, returned.return_reason, returned.returned_by) == (
        "draft", "请写明依据", "wang",
    )  # fmt: skip


def test_migration_0018_keeps_only_the_newest_published_version_published(
    database_url: str,
) -> None:
    engine = get_engine(database_url)
    upgrade(engine, "0017")
    row = {"audience": "resident", "mode": "auto_grant", "valid_from": date(2020, 1, 1),
           "document": "id: x", "document_hash": "h", "content_hash": "c", "author": "li",
           "change_note": "", "created_at": date(2020, 1, 1)}  # fmt: skip
    statuses = {("a", 1): "published", ("a", 2): "published", ("a", 3): "draft",
                ("b", 1): "published", ("c", 1): "retired", ("c", 2): "published"}  # fmt: skip
    versions = sa.table("policy_versions", *(sa.column(k) for k in
                        ["policy_id", "version", "status", *row]))  # fmt: skip
    with engine.begin() as conn:
        for (pid, n), status in statuses.items():
            conn.execute(versions.insert().values(policy_id=pid, version=n, status=status, **row))
    upgrade(engine)
    store = PolicyStore(engine)
    assert [v.status for v in store.versions("a")] == ["superseded", "published", "draft"]
    assert [v.status for v in store.versions("b")] == ["published"]
    assert [v.status for v in store.versions("c")] == ["retired", "published"]
