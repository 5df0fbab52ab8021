from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from core.db import get_engine, upgrade
from core.errors import NotFoundError
from notifier.channels.base import Channel, OutboundMessage, TransientDeliveryError
from notifier.channels.inbox import InboxChannel, InboxStore
from notifier.receipts import ReceiptStore

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = get_engine(database_url)
    upgrade(engine)
    return engine


def _message(
    key: str, subject: str = "p1", policies: tuple[str, ...] = ("bj-a",)
) -> OutboundMessage:
    return OutboundMessage(
        1, key, "inbox", subject, "resident", None, "zh", f"标题 {key}", "正文",
        policy_ids=policies,
    )  # fmt: skip


def _clock(start: datetime = AT) -> object:
    ticks = iter(range(10_000))
    return lambda: start + timedelta(seconds=next(ticks))


def test_a_sent_message_appears_in_the_subjects_inbox_with_a_delivered_receipt(
    engine: Engine,
) -> None:
    channel = InboxChannel(engine, clock=lambda: AT)
    assert isinstance(channel, Channel)
    result = channel.send(_message("k1", policies=("bj-a", "bj-b")))
    (message,) = InboxStore(engine).messages("p1")
    assert result.provider_id == f"inbox-{message.id}"
    assert (message.title, message.body, message.unread) == ("标题 k1", "正文", True)
    assert message.policy_ids == ("bj-a", "bj-b")
    assert message.created_at == AT
    receipts = ReceiptStore(engine).for_subject("p1")
    assert {(r.policy_id, r.event) for r in receipts} == {
        ("bj-a", "delivered"),
        ("bj-b", "delivered"),
    }


def test_a_retried_send_stores_nothing_twice_and_answers_the_same_id(engine: Engine) -> None:
    channel = InboxChannel(engine)
    first = channel.send(_message("k1"))
    again = channel.send(_message("k1"))
    assert first == again
    assert len(InboxStore(engine).messages("p1")) == 1
    assert len(ReceiptStore(engine).for_subject("p1")) == 1
    assert channel.lookup("k1") is True and channel.lookup("k2") is False


def test_concurrent_sends_of_one_key_store_it_once(engine: Engine) -> None:
    channel = InboxChannel(engine)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            channel.send(_message("same"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(InboxStore(engine).messages("p1")) == 1


def test_the_inbox_lists_newest_first_pages_and_counts_unread(engine: Engine) -> None:
    channel = InboxChannel(engine, clock=_clock())  # type: ignore[arg-type]
    for i in range(5):
        channel.send(_message(f"k{i}"))
    channel.send(_message("other", subject="p2"))
    store = InboxStore(engine)
    page = store.messages("p1", limit=3)
    assert [m.idempotency_key for m in page] == ["k4", "k3", "k2"]
    rest = store.messages("p1", before_id=page[-1].id)
    assert [m.idempotency_key for m in rest] == ["k1", "k0"]
    assert store.unread_count("p1") == 5


def test_marking_read_records_a_read_receipt_once(engine: Engine) -> None:
    InboxChannel(engine).send(_message("k1"))
    store = InboxStore(engine)
    (message,) = store.messages("p1")
    read = store.mark_read("p1", message.id, at=AT)
    assert read.read_at == AT and not read.unread
    again = store.mark_read("p1", message.id, at=AT + timedelta(hours=1))
    assert again.read_at == AT  # the first reading counts
    assert store.unread_count("p1") == 0
    assert store.messages("p1", unread_only=True) == []
    events = [r.event for r in ReceiptStore(engine).for_subject("p1")]
    assert events == ["delivered", "read"]
    assert ReceiptStore(engine).outcome_log()["opened"].to_list() == [True]


def test_nobody_reads_someone_elses_message(engine: Engine) -> None:
    InboxChannel(engine).send(_message("k1"))
    (message,) = InboxStore(engine).messages("p1")
    with pytest.raises(NotFoundError, match="does not exist"):
        InboxStore(engine).mark_read("p2", message.id)
    assert InboxStore(engine).unread_count("p1") == 1


def test_an_unreachable_database_is_a_transient_failure() -> None:
    engine = get_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(TransientDeliveryError, match="database is unavailable"):
        InboxChannel(engine).send(_message("k1"))


def test_a_message_written_in_a_transaction_that_rolls_back_is_not_delivered(
    engine: Engine,
) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        InboxChannel.write(conn, _message("k1"), now=AT)
        raise RuntimeError("the worker's outcome update failed")
    assert InboxStore(engine).messages("p1") == []
    assert ReceiptStore(engine).for_subject("p1") == []
    with engine.begin() as conn:
        InboxChannel.write(conn, _message("k1"), now=AT)
    assert len(InboxStore(engine).messages("p1")) == 1


def test_many_messages_are_marked_read_at_once_keeping_first_readings(engine: Engine) -> None:
    channel = InboxChannel(engine)
    for i in range(3):
        channel.send(_message(f"k{i}"))
    store = InboxStore(engine)
    ids = [m.id for m in store.messages("p1")]
    store.mark_read("p1", ids[0], at=AT)
    assert store.mark_many_read(ids, at=AT + timedelta(days=1)) == 2
    assert store.mark_many_read(ids, at=AT + timedelta(days=2)) == 0
    assert store.get("p1", ids[0]).read_at == AT
    assert store.unread_count("p1") == 0
    assert sum(r.event == "read" for r in ReceiptStore(engine).for_subject("p1")) == 3
