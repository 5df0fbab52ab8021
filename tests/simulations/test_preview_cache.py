"""The dry-run's caches: the published catalog is parsed again only after a publish or retire."""

from __future__ import annotations

from datetime import date

import pytest

from core.db import get_engine, upgrade
from rules.store import PolicyStore
from simulations.preview_cache import PublishedCache

DOC = """\
id: test-allowance
title: 测试津贴
department: 测试局
audience: resident
mode: auto_grant
eligibility: age >= {age}
valid_from: 2020-01-01
"""
ON = date(2026, 6, 30)


@pytest.fixture
def store(database_url: str) -> PolicyStore:
    engine = get_engine(database_url)
    upgrade(engine)
    return PolicyStore(engine)


def _publish(store: PolicyStore, age: int) -> int:
    version = store.draft(DOC.format(age=age), author="li", note=f"from {age}")
    store.submit("test-allowance", version)
    store.publish("test-allowance", version, reviewer="wang")
    return version


def test_a_draft_leaves_the_published_fingerprint_unchanged(store: PolicyStore) -> None:
    _publish(store, 80)
    before = store.published_fingerprint()
    store.draft(DOC.format(age=75), author="li", note="a draft")
    assert store.published_fingerprint() == before


def test_publishing_and_retiring_change_the_published_fingerprint(store: PolicyStore) -> None:
    empty = store.published_fingerprint()
    first = _publish(store, 80)
    published = store.published_fingerprint()
    store.retire("test-allowance", first)
    assert len({empty, published, store.published_fingerprint()}) == 3


def test_the_cache_answers_the_same_catalog_until_a_publish(store: PolicyStore) -> None:
    cache = PublishedCache()
    _publish(store, 80)
    fingerprint, published = cache.get(store, ON)
    assert cache.get(store, ON) == (fingerprint, published)
    assert cache.get(store, ON)[1] is published  # not parsed again
    assert published.versions == {"test-allowance": 1}
    _publish(store, 75)
    again, newer = cache.get(store, ON)
    assert again != fingerprint and newer.versions == {"test-allowance": 2}
    assert "75" in newer.catalog.texts["test-allowance"]
