"""The operator's counts of the ledger (notifier/outbox/_operator_side.py) on SQLite and PostgreSQL:
rows by state, delivered per channel, what quiet hours hold back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from core.db import get_engine, upgrade
from notifier.outbox import HeldBack, LedgerStates, Outbox

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


@pytest.fixture
def ledger(database_url: str) -> Iterator[Outbox]:
    engine = get_engine(database_url)
    upgrade(engine)
    yield Outbox(engine)
    engine.dispose()


def write(ledger: Outbox, key: str, channel: str = "sms", **kw: object) -> int:
    row: dict[str, object] = {
        "idempotency_key": key, "subject_id": "p1", "subject_type": "resident",
        "channel": channel, "address": "a", "locale": "zh", "purpose": "invitation",
        "payload": {"items": []}, **kw,
    }  # fmt: skip
    with ledger.engine.begin() as conn:
        return Outbox.write(conn, [row], now=T0, max_attempts=1)[key]


def deliver(ledger: Outbox, row_id: int, at: datetime) -> None:
    taken = ledger.claim(row_id, now=at, lease=30)
    assert taken is not None
    assert ledger.delivered(taken, provider_id="gw", now=at)


def test_the_states_count_due_deferred_sending_and_parked_rows(ledger: Outbox) -> None:
    write(ledger, "due")
    write(ledger, "night", not_before=T0 + timedelta(hours=8))
    sending = ledger.claim(write(ledger, "sending"), now=T0, lease=30)
    parked = ledger.claim(write(ledger, "parked"), now=T0, lease=30)
    assert sending is not None and parked is not None
    ledger.attempt_failed(parked, "550 no such user", permanent=True, now=T0, base=30)
    assert ledger.states(now=T0 + timedelta(minutes=1)) == LedgerStates(
        due=1, deferred=1, sending=1, failed=1, oldest_due=T0.replace(tzinfo=None)
    )


def test_delivered_since_counts_each_channels_deliveries_in_the_window(ledger: Outbox) -> None:
    deliver(ledger, write(ledger, "old"), T0)
    deliver(ledger, write(ledger, "new"), T0 + timedelta(minutes=10))
    deliver(ledger, write(ledger, "mail", channel="email"), T0 + timedelta(minutes=10))
    assert ledger.delivered_since(T0 + timedelta(minutes=5)) == {"email": 1, "sms": 1}


def test_held_back_names_the_earliest_and_latest_time_per_channel(ledger: Outbox) -> None:
    morning, later = T0 + timedelta(hours=8), T0 + timedelta(hours=9)
    write(ledger, "a", not_before=morning)
    write(ledger, "b", not_before=later)
    write(ledger, "now")
    held = ledger.held_back(now=T0)
    naive = [t.replace(tzinfo=None) for t in (morning, later)]
    assert held == [HeldBack("sms", 2, *naive)]


def test_subjects_are_everyone_the_ledger_has_a_message_for(ledger: Outbox) -> None:
    write(ledger, "a", subject_id="p1")
    write(ledger, "b", subject_id="p1")
    write(ledger, "c", subject_id="e9", subject_type="enterprise")
    assert ledger.subjects() == {"p1", "e9"}


def test_ids_of_cause_are_the_rows_of_that_plan_in_order(ledger: Outbox) -> None:
    from notifier.tables import delivery_plans

    with ledger.engine.begin() as conn:
        for plan_id, cause in ((1, "run 2 vs 1"), (2, "run 3 vs 2")):
            conn.execute(delivery_plans.insert().values(
                plan_id=plan_id, cause=cause, planned_at=T0.replace(tzinfo=None), items=1,
                messages=1, deferred=0, suppressed=0,
            ))  # fmt: skip
    first, second = write(ledger, "a", plan_id=1), write(ledger, "b", plan_id=1)
    write(ledger, "c", plan_id=2)
    write(ledger, "d")
    assert ledger.ids_of_cause("run 2 vs 1") == [first, second]
    assert ledger.ids_of_cause("run 9 vs 8") == []
