"""Batches: many ledger rows per queue message, the inbox's delivered in one transaction —
with the guarantees of one row at a time (attempt counted first, exactly once, nothing lost)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from core.clock import FixedClock
from core.db import get_engine, upgrade
from notifier.actors import batch_size
from notifier.channels.base import OutboundMessage, PermanentDeliveryError
from notifier.channels.inbox import InboxChannel, inbox_messages
from notifier.channels.memory import MemoryChannel
from notifier.delivery import _deliver_together, deliver_many
from notifier.outbox import LedgerRow, Outbox
from notifier.receipts import delivery_receipts
from notifier.runtime import DeliveryRuntime, plain_render
from notifier.tables import outbox

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


@pytest.fixture
def ledger(database_url: str) -> Iterator[Outbox]:
    engine = get_engine(database_url)
    upgrade(engine)
    yield Outbox(engine)
    engine.dispose()


def write(ledger: Outbox, n: int, channel: str = "inbox", **kw: Any) -> list[int]:
    rows = [
        {"idempotency_key": f"{channel}-{i}", "subject_id": f"p{i}", "subject_type": "resident",
         "channel": channel, "address": "+8613800000000", "locale": "zh",
         "purpose": "invitation",
         "payload": {"items": [{"title": "北京通", "purpose": "invitation",
                                "policy_id": "bj-elderly-card", "reason": ["age >= 65 ✓"]}]},
         **kw}
        for i in range(n)
    ]  # fmt: skip
    with ledger.engine.begin() as conn:
        ids = Outbox.write(conn, rows, now=T0, max_attempts=3)
    return [ids[r["idempotency_key"]] for r in rows]


def runtime(ledger: Outbox, **channels: Any) -> DeliveryRuntime:
    channels.setdefault("inbox", InboxChannel(ledger.engine))
    return DeliveryRuntime(outbox=ledger, channels=channels, render=_render, clock=FixedClock(T0))


def _render(row: Any) -> OutboundMessage:
    if row.subject_id == "p3" and row.payload.get("broken"):
        raise PermanentDeliveryError("template invitation.inbox.j2: 'where' is undefined")
    return dataclasses.replace(plain_render(row), policy_ids=("bj-elderly-card",))


def count(ledger: Outbox, table: sa.Table) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_claim_many_takes_due_pending_rows_of_its_channels_counting_each_attempt(
    ledger: Outbox,
) -> None:
    inbox = write(ledger, 3)
    later = write(ledger, 1, "inbox", idempotency_key="late", not_before=T0 + timedelta(hours=1))
    sms = write(ledger, 2, "sms")
    taken = ledger.claim_many(inbox + later + sms, now=T0, lease=30, channels={"inbox"})
    assert [r.id for r in taken] == inbox
    assert all(r.status == "sending" and r.attempts == 1 for r in taken)
    assert ledger.claim_many(inbox, now=T0, lease=30, channels={"inbox"}) == []  # a duplicate
    assert {ledger.get(i).status for i in later + sms} == {"pending"}


def test_a_batch_of_inbox_rows_is_delivered_once_with_its_receipts(ledger: Outbox) -> None:
    ids = write(ledger, 40)
    rt = runtime(ledger)
    assert deliver_many(ids, rt) == {"delivered": 40}
    assert deliver_many(ids, rt) == {"not-claimed": 40}  # the same message again
    assert count(ledger, inbox_messages) == 40 and count(ledger, delivery_receipts) == 40
    rows = ledger.rows("delivered")
    assert len(rows) == 40 and all(
        r.provider_id and r.provider_id.startswith("inbox-") for r in rows
    )


def test_other_channels_in_a_batch_go_one_by_one_and_every_row_is_delivered(
    ledger: Outbox,
) -> None:
    ids = write(ledger, 5) + write(ledger, 5, "sms")
    sms = MemoryChannel("sms")
    assert deliver_many(ids, runtime(ledger, sms=sms)) == {"delivered": 10}
    assert set(sms.counts().values()) == {1} and len(sms.counts()) == 5


def test_a_row_that_cannot_render_is_parked_and_the_rest_of_its_batch_delivered(
    ledger: Outbox,
) -> None:
    ids = write(ledger, 6, payload={"broken": True, "items": [{"title": "x", "purpose": "x"}]})
    assert deliver_many(ids, runtime(ledger)) == {"delivered": 5, "failed": 1}
    (failed,) = ledger.rows("failed")
    assert failed.subject_id == "p3" and "'where' is undefined" in (failed.last_error or "")


def test_a_batch_whose_claim_was_taken_over_delivers_only_the_rows_still_its_own(
    ledger: Outbox,
) -> None:
    ids = write(ledger, 4)
    rt = runtime(ledger)
    rows = ledger.claim_many(ids, now=T0, lease=30, channels={"inbox"})
    # Row 0's lease ran out and another attempt took it over (its attempt counted again).
    with ledger.engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.id == rows[0].id).values(attempts=2))
    outcomes = _deliver_together(rt, rows)
    assert outcomes == {"delivered": 3, "not-claimed": 1}
    with ledger.engine.connect() as conn:
        keys = set(conn.execute(sa.select(inbox_messages.c.idempotency_key)).scalars())
    assert keys == {"inbox-1", "inbox-2", "inbox-3"}  # the taken-over row: its new owner's


def test_a_database_failure_mid_batch_leaves_no_message_and_each_row_backs_off(
    ledger: Outbox,
) -> None:
    ids = write(ledger, 3)

    class Failing(InboxChannel):
        @staticmethod
        def write_many(conn: Any, messages: Any, **kw: Any) -> Any:
            InboxChannel.write_many(conn, messages, **kw)
            raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"))

    rt = runtime(ledger, inbox=Failing(ledger.engine))
    assert deliver_many(ids, rt) == {"retry": 3}
    assert count(ledger, inbox_messages) == 0  # rolled back with the outcomes
    assert [r.attempts for r in ledger.rows("pending")] == [1, 1, 1]


def test_overlapping_batches_on_many_threads_deliver_every_row_exactly_once(
    ledger: Outbox,
) -> None:
    ids = write(ledger, 300)
    rt = runtime(ledger)
    results: list[Any] = []
    errors: list[BaseException] = []

    def work(chunk: list[int]) -> None:
        try:
            results.append(deliver_many(chunk, rt))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    # Every id is in two batches (as when the sweeper re-enqueues a row still queued).
    chunks = [ids[i : i + 50] for i in range(0, 300, 50)] + [
        ids[i : i + 60] for i in range(0, 300, 60)
    ]
    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r["delivered"] for r in results) == 300
    assert count(ledger, inbox_messages) == 300
    assert {r.status for r in ledger.rows(limit=1000)} == {"delivered"}


def test_an_in_doubt_inbox_row_is_looked_up_not_written_again(ledger: Outbox) -> None:
    (rid,) = write(ledger, 1)
    rt = runtime(ledger)
    # A worker wrote the message, then died before ... (cannot happen in one transaction,
    # but a claim whose lease ran out is taken one by one and reconciled by lookup).
    row = ledger.claim(rid, now=T0, lease=1)
    assert isinstance(row, LedgerRow)
    InboxChannel(ledger.engine).send(plain_render(row))
    assert deliver_many([rid, rid], rt) == {"not-claimed": 1}  # the lease still holds
    rt.clock = FixedClock(T0 + timedelta(seconds=5))
    assert deliver_many([rid], rt) == {"reconciled": 1}
    assert count(ledger, inbox_messages) == 1


@pytest.mark.parametrize(
    ("rows", "size"), [(0, 1), (1, 1), (63, 1), (64, 1), (1_000, 15), (6_400, 100), (1e6, 100)]
)
def test_batches_keep_at_least_64_messages_for_the_threads_and_at_most_100_ids(
    rows: int, size: int
) -> None:
    assert batch_size(int(rows)) == size
