from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

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
