"""The event path tells each unit's recipient once: a member's change of a household's offer
is the household's, told to its head; a newborn's offer is told to its mother (SQLite and
PostgreSQL)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.clock import FixedClock
from core.db import get_engine, upgrade
from matcher.live.ledger import subject_match_changes
from matcher.live.offers import OfferCache
from matcher.live.source import DatabaseSource
from matcher.live.state import LiveStores
from matcher.runs import RunStore
from notifier.ingest import ingest_event, ingest_profile
from notifier.tables import notices, outbox
from profiles.schema import load_schema
from rules.loader import Catalog
from rules.policy import Policy

AS_OF = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


def policy(pid: str, eligibility: str, **kw: Any) -> Policy:
    return Policy(
        id=pid, title=pid, department="d", audience="resident",
        mode=kw.pop("mode", "proactive_push"), eligibility=eligibility,
        valid_from=date(2020, 1, 1), **kw,
    )  # fmt: skip


POLICIES = (
    policy("dibao", "household_income_per_capita < 1450", unit="household"),
    policy("childcare", "age < 3", recipient="guardian"),
)
CATALOG = Catalog(POLICIES, {}, {})


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[LiveStores]:
    engine = get_engine(database_url)
    upgrade(engine)
    schema = load_schema()
    yield LiveStores(
        engine, RunStore(engine, tmp_path), OfferCache(), DatabaseSource(engine, schema)
    )
    engine.dispose()


def person(pid: str, born: str, relation: str, income: float, **kw: Any) -> dict[str, Any]:
    return {"person_id": pid, "birth_date": born, "household_id": "H1",
            "relation_to_head": relation, "household_income_per_capita": income, **kw}  # fmt: skip


def put(live: LiveStores, body: dict[str, Any], catalog: Catalog = CATALOG) -> Any:
    # A minute apart: each ingested profile is its own cause.
    clock = FixedClock(NOON + timedelta(minutes=next(_MINUTES)))
    result, _ = ingest_profile(
        live, lambda _d: catalog, AS_OF, "resident", body["person_id"], body, clock=clock
    )
    return result


_MINUTES = itertools.count()


def told(live: LiveStores) -> list[tuple[str, str, str]]:
    """(recipient, subject, policy) of every item planned into the outbox."""
    with live.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.subject_id, notices.c.subject_id, notices.c.policy_id)
            .join(notices, notices.c.outbox_id == outbox.c.id)
            .order_by(notices.c.id)
        ).all()
    return [tuple(r) for r in rows]


def test_a_household_offer_reaches_its_head_once_and_a_newborns_its_mother(
    live: LiveStores,
) -> None:
    put(live, person("dad", "1988-01-01", "head", 2000.0))
    first = put(live, person("mum", "1990-01-01", "spouse", 1000.0))  # her record: below the line
    assert [(c["policy_id"], c["change"]) for c in first.changes] == [("dibao", "newly_eligible")]
    # The head's record falls below the line too: the household's offer stands, nothing new.
    again = put(live, person("dad", "1988-01-01", "head", 1000.0))
    assert again.changes == []
    born = put(live, person("baby", "2025-12-01", "child", 1000.0, mother_id="mum",
                            father_id="dad"))  # fmt: skip
    assert ("childcare", "newly_eligible") in [(c["policy_id"], c["change"]) for c in born.changes]
    assert told(live) == [("dad", "H1", "dibao"), ("mum", "baby", "childcare")]
    with live.engine.connect() as conn:
        ledger = conn.execute(
            sa.select(
                subject_match_changes.c.subject_id,
                subject_match_changes.c.subject_type,
                subject_match_changes.c.policy_id,
            )
        ).all()
    assert ("H1", "household", "dibao") in ledger
    assert not any(s in ("mum", "dad") and p == "dibao" for s, _, p in ledger)


def test_a_member_leaving_the_line_ends_the_households_offer_told_to_its_head(
    live: LiveStores,
) -> None:
    # Granted without application (免申即享): its end is a revocation notice, to the head too.
    granted = Catalog((policy("dibao", POLICIES[0].eligibility, unit="household",
                              mode="auto_grant"),), {}, {})  # fmt: skip
    put(live, person("dad", "1988-01-01", "head", 1000.0), granted)
    put(live, person("mum", "1990-01-01", "spouse", 1000.0), granted)
    ended = put(live, person("mum", "1990-01-01", "spouse", 3000.0), granted)
    assert [(c["policy_id"], c["change"]) for c in ended.changes] == [
        ("dibao", "no_longer_eligible")
    ]
    with live.engine.connect() as conn:
        purposes = conn.execute(
            sa.select(outbox.c.subject_id, notices.c.subject_id, notices.c.purpose)
            .join(notices, notices.c.outbox_id == outbox.c.id)
            .order_by(notices.c.id)
        ).all()
    assert [tuple(r) for r in purposes] == [
        ("dad", "H1", "grant_notice"), ("dad", "H1", "revocation_notice"),
    ]  # fmt: skip


def test_an_event_for_a_member_tells_the_household_as_a_profile_does(live: LiveStores) -> None:
    put(live, person("dad", "1988-01-01", "head", 2000.0))
    put(live, person("mum", "1990-01-01", "spouse", 2000.0))
    event = {"subject_id": "mum", "subject_type": "resident", "item_code": "birth_registration",
             "occurred_at": "2026-03-01T09:00:00"}  # fmt: skip
    result = ingest_event(live, lambda _d: CATALOG, AS_OF, event, clock=FixedClock(NOON))
    assert result.changes == []  # no rule here reads a tag: nothing changes, nothing is told
    assert told(live) == []
