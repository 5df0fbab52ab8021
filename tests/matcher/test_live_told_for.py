"""My offers include those I am told of for another: my household's, my child's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from core.db import get_engine, upgrade
from matcher.live.ledger import store_changes
from matcher.live.offers import OfferCache, current_offers
from matcher.runs import RunStore
from matcher.units import PAIRS_SCHEMA

AS_OF = date(2026, 3, 2)


@pytest.fixture
def stores(database_url: str, tmp_path: Path) -> Iterator[tuple[Any, RunStore]]:
    engine = get_engine(database_url)
    upgrade(engine)
    pairs = pl.DataFrame(
        {
            "subject_id": ["H1", "kid", "mum"],
            "subject_type": ["household", "resident", "resident"],
            "policy_id": ["dibao", "childcare", "card"],
            "status": ["eligible", "eligible", "maybe"],
            "benefit": [Decimal("900"), Decimal("3600"), None],
            "unit": ["household", "person", "person"],
            "recipient_id": ["dad", "mum", "mum"],
        },
        schema=PAIRS_SCHEMA,
    )
    pairs.write_parquet(tmp_path / "pairs.parquet")
    runs = RunStore(engine, tmp_path)
    runs.record(
        tmp_path / "pairs.parquet", as_of=AS_OF, catalog_hash="c", population="p",
        started_at=datetime.now(UTC), seconds=0.0, policies=3,
    )  # fmt: skip
    yield engine, runs
    engine.dispose()


def offers(stores: tuple[Any, RunStore], person: str) -> list[tuple[Any, ...]]:
    engine, runs = stores
    _, found = current_offers(engine, runs, OfferCache(), person)
    return [(o.policy_id, o.status, o.for_subject) for o in found]


def test_a_mother_sees_her_own_offers_and_her_childs(stores: tuple[Any, RunStore]) -> None:
    assert offers(stores, "mum") == [("card", "maybe", None), ("childcare", "eligible", "kid")]
    assert offers(stores, "dad") == [("dibao", "eligible", "H1")]
    assert offers(stores, "kid") == [("childcare", "eligible", None)]  # the child's own


def test_the_household_offer_as_it_stands_after_what_was_ingested(
    stores: tuple[Any, RunStore],
) -> None:
    engine, runs = stores
    latest = runs.latest()
    assert latest is not None
    ended = {
        "subject_id": "H1", "subject_type": "household", "policy_id": "dibao",
        "change": "no_longer_eligible", "old_status": "eligible", "new_status": None,
        "old_benefit": Decimal("900"), "new_benefit": None,
    }  # fmt: skip
    with engine.begin() as conn:
        store_changes(conn, [ended], "profile mum", latest.run_id, AS_OF)
    assert offers(stores, "dad") == []
