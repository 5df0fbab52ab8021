"""A worker died mid-send: the far side may or may not have the message.  A channel that can
be asked is asked; e-mail that cannot is parked (at most once); the rest is sent again."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import FixedClock
from core.db import get_engine, upgrade
from notifier.channels.memory import MemoryChannel
from notifier.channels.smtp import SmtpChannel
from notifier.delivery import deliver_one
from notifier.outbox import Outbox
from notifier.runtime import DeliveryRuntime, plain_render
from simulations.gateways import SmtpSink

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)  # the dead worker's lease has run out


@pytest.fixture
def ledger(sqlite_url: str) -> Iterator[Outbox]:
    engine = get_engine(sqlite_url)
    upgrade(engine)
    yield Outbox(engine)
    engine.dispose()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def cut_off(ledger: Outbox, channel: str, address: str) -> int:
    """A row whose first attempt was claimed by a worker that then died."""
    rid = planned(ledger, channel, address)
    assert ledger.claim(rid, now=T0, lease=30) is not None
    return rid


def planned(ledger: Outbox, channel: str, address: str) -> int:
    """A row planned and due, not yet attempted."""
    key = f"{channel}-k"
    row = {"idempotency_key": key, "subject_id": "p1", "subject_type": "resident",
           "channel": channel, "address": address, "locale": "zh", "purpose": "invitation",
           "payload": {"items": [{"title": "北京通", "purpose": "invitation"}]}}  # fmt: skip
    with ledger.engine.begin() as conn:
        return Outbox.write(conn, [row], now=T0, max_attempts=3)[key]


def runtime(ledger: Outbox, **channels: object) -> DeliveryRuntime:
    return DeliveryRuntime(
        outbox=ledger, channels=channels,  # type: ignore[arg-type]
        render=plain_render, clock=FixedClock(LATER),
    )  # fmt: skip


@pytest.fixture
def smtp(sink: SmtpSink) -> Iterator[Callable[..., SmtpChannel]]:
    made: list[SmtpChannel] = []

    def make(*, asking: bool) -> SmtpChannel:
        status_url = sink.status_url if asking else None
        made.append(SmtpChannel(sink.host, sink.port, status_url=status_url))
        return made[-1]

    yield make
    for channel in made:
        channel.close()


def test_email_in_doubt_without_a_status_query_is_parked_then_replayed_once(
    ledger: Outbox, sink: SmtpSink, smtp: Callable[..., SmtpChannel]
) -> None:
    rid = cut_off(ledger, "email", "p1@mail.example.cn")
    rt = runtime(ledger, email=smtp(asking=False))
    assert deliver_one(rid, rt) == "failed"
    parked = ledger.get(rid)
    assert parked.status == "failed" and (parked.last_error or "").startswith("in doubt:")
    assert "ZHIDA_SMTP_STATUS_URL" in (parked.last_error or "")
    assert f"zhida deliveries replay {rid}" in (parked.last_error or "")
    assert sink.received() == []  # not sent: at most once
    ledger.replay([rid], now=LATER, attempts=1)
    assert deliver_one(rid, rt) == "delivered"  # the operator's replay settles the doubt
    assert sink.accepted_counts() == {"<email-k@zhida.local>": 1}


def test_email_in_doubt_that_the_relay_took_is_recorded_not_sent_again(
    ledger: Outbox, sink: SmtpSink, smtp: Callable[..., SmtpChannel]
) -> None:
    rid = cut_off(ledger, "email", "p1@mail.example.cn")
    channel = smtp(asking=True)
    channel.send(plain_render(ledger.get(rid)))  # the dead worker's send got through
    assert deliver_one(rid, runtime(ledger, email=channel)) == "reconciled"
    assert sink.accepted_counts() == {"<email-k@zhida.local>": 1}
    assert ledger.get(rid).status == "delivered"


def test_email_in_doubt_that_the_relay_never_took_is_sent(
    ledger: Outbox, sink: SmtpSink, smtp: Callable[..., SmtpChannel]
) -> None:
    rid = cut_off(ledger, "email", "p1@mail.example.cn")
    assert deliver_one(rid, runtime(ledger, email=smtp(asking=True))) == "delivered"
    assert sink.accepted_counts() == {"<email-k@zhida.local>": 1}


def test_a_channel_that_resends_in_doubt_sends_again(ledger: Outbox) -> None:
    rid = cut_off(ledger, "sms", "+8613800000001")
    sms = MemoryChannel("sms")
    assert deliver_one(rid, runtime(ledger, sms=sms)) == "delivered"
    assert sms.counts() == {"sms-k": 1}


def test_an_sms_whose_answer_timed_out_is_looked_up_not_sent_again(ledger: Outbox) -> None:
    """The gateway took the message but answered after the channel gave up: the next attempt
    asks the gateway first and records it, instead of sending a second SMS."""
    from notifier.channels.sms_http import SmsHttpChannel
    from simulations.gateways import SmsGateway

    with SmsGateway(delay=0.5) as gateway:
        channel = SmsHttpChannel(gateway.url, timeout=0.1, status_url=gateway.status_url)
        try:
            rid = planned(ledger, "sms", "+8613800000000")
            assert deliver_one(rid, runtime(ledger, sms=channel)) == "retry"
            assert (ledger.get(rid).last_error or "").startswith("in doubt: ")
            deadline = datetime.now(UTC) + timedelta(seconds=5)
            while not gateway.accepted() and datetime.now(UTC) < deadline:
                time.sleep(0.05)  # the gateway finishes taking it after the channel gave up
            rt = DeliveryRuntime(
                outbox=ledger, channels={"sms": channel}, render=plain_render,
                clock=FixedClock(LATER + timedelta(hours=2)),
            )  # fmt: skip
            assert deliver_one(rid, rt) == "reconciled"
        finally:
            channel.close()
        assert gateway.accepted_counts() == {"sms-k": 1}
    assert ledger.get(rid).status == "delivered"


def test_an_attempt_whose_lease_was_taken_over_does_not_send(ledger: Outbox) -> None:
    """A worker stalled past its lease (rendering, the rate limit, a paused process): another
    worker has taken the row over, so the stalled one must not send."""
    from notifier.delivery import _attempt

    rid = planned(ledger, "sms", "+8613800000000")
    stalled = ledger.claim(rid, now=T0, lease=30)
    assert stalled is not None
    assert ledger.claim(rid, now=LATER, lease=30) is not None  # the takeover
    memory = MemoryChannel("sms")
    assert _attempt(runtime(ledger, sms=memory), stalled) == "not-claimed"
    assert memory.sent == []


def test_an_email_whose_answer_was_lost_after_its_content_went_out_is_looked_up_not_resent(
    ledger: Outbox, smtp: Callable[..., SmtpChannel], sink: SmtpSink
) -> None:
    """The server kept the message and the connection dropped before its 250: in doubt, not a
    plain failure — the retry asks the relay and records it (a resend was the double)."""
    sink.hang_up_rate = 1.0
    rid = planned(ledger, "email", "p1@mail.example.cn")
    rt = runtime(ledger, email=smtp(asking=True))
    assert deliver_one(rid, rt) == "retry"
    assert (ledger.get(rid).last_error or "").startswith("in doubt: ")
    sink.hang_up_rate = 0.0
    assert deliver_one(rid, _later(rt, hours=1)) == "reconciled"
    assert sink.accepted_counts() == {"<email-k@zhida.local>": 1}


def test_a_webhook_whose_answer_was_lost_is_looked_up_at_the_receiver_not_resent(
    ledger: Outbox,
) -> None:
    from notifier.channels.webhook import WebhookChannel
    from simulations.gateways import WebhookReceiver

    with WebhookReceiver("s3cret", hang_up_rate=1.0) as receiver:
        channel = WebhookChannel("s3cret", timeout=2)
        try:
            rid = planned(ledger, "webhook", receiver.url)
            rt = runtime(ledger, webhook=channel)
            assert deliver_one(rid, rt) == "retry"
            receiver.hang_up_rate = 0.0
            assert deliver_one(rid, _later(rt, hours=1)) == "reconciled"
        finally:
            channel.close()
        assert receiver.accepted_counts() == {"webhook-k": 1}


def test_an_attempt_in_doubt_is_retried_only_once_the_far_side_has_settled(
    ledger: Outbox, smtp: Callable[..., SmtpChannel], sink: SmtpSink
) -> None:
    """Asked at once, a far side still taking the first request would say "not taken"."""
    sink.hang_up_rate = 1.0
    channel = smtp(asking=True)
    rid = planned(ledger, "email", "p1@mail.example.cn")
    assert deliver_one(rid, runtime(ledger, email=channel)) == "retry"
    waited = ledger.get(rid).next_attempt_at - LATER.replace(tzinfo=None)
    assert waited >= timedelta(seconds=channel.send_budget)


def test_a_status_query_that_does_not_answer_leaves_the_row_in_doubt_unsent(
    ledger: Outbox,
) -> None:
    from notifier.channels.sms_http import SmsHttpChannel
    from simulations.gateways import SmsGateway

    with SmsGateway() as gateway:
        channel = SmsHttpChannel(gateway.url, timeout=1, status_url="http://127.0.0.1:1/status")
        try:
            rid = cut_off(ledger, "sms", "+8613800000000")
            assert deliver_one(rid, runtime(ledger, sms=channel)) == "retry"
        finally:
            channel.close()
        assert gateway.received() == []  # neither sent again nor given up
    row = ledger.get(rid)
    assert row.status == "pending" and (row.last_error or "").startswith("in doubt: ")


def _later(rt: DeliveryRuntime, *, hours: int) -> DeliveryRuntime:
    return DeliveryRuntime(
        outbox=rt.outbox, channels=rt.channels, render=rt.render,
        clock=FixedClock(LATER + timedelta(hours=hours)),
    )  # fmt: skip
