"""ShardStore.failures: what the waiting command says when shards of a run fail."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from core.db import get_engine, upgrade
from matcher.shards import ShardStore, plan_shards


def test_the_failed_shards_of_a_run_are_listed_by_number_with_their_errors(
    database_url: str,
) -> None:
    engine = get_engine(database_url)
    upgrade(engine)
    store = ShardStore(engine)

    def create() -> str:
        return store.create(
            population_dir=Path("."), population="p", as_of=date(2026, 6, 30),
            catalog_hash="c", policies=[], tags=False, shards=plan_shards({"resident": 3}, 1),
        )  # fmt: skip

    key, other = create(), create()
    assert store.failures(key) == []
    store.fail(key, 2, "no enterprises.parquet")
    store.fail(key, 0, "killed")
    store.fail(other, 1, "another run's failure")
    assert store.failures(key) == [(0, "killed"), (2, "no enterprises.parquet")]
