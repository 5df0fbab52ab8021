"""SMS delivery reports: the gateway says later whether a message reached the handset; the
workers poll the reports and record them as receipts, fed to the outcome log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from core.db import get_engine, upgrade
from core.settings import Settings
from notifier.channels.base import DeliveryReport, OutboundMessage, TransientDeliveryError
from notifier.channels.sms_http import SmsHttpChannel
from notifier.outbox import Outbox
from notifier.receipts import Receipt, ReceiptStore, delivery_receipts
from notifier.reports import record_reports
from simulations.gateways import SmsGateway

AT = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with SmsGateway() as gw:
        yield gw


@pytest.fixture
def channel(gateway: SmsGateway) -> Iterator[SmsHttpChannel]:
    ch = SmsHttpChannel(gateway.url, reports_url=gateway.reports_url, timeout=5)
    yield ch
    ch.close()


def _message(key: str) -> OutboundMessage:
    return OutboundMessage(1, key, "sms", "p1", "resident", "+8613800000001", "zh", "", "您好")


def test_the_channel_polls_each_report_once_delivered_or_not(
    gateway: SmsGateway, channel: SmsHttpChannel
) -> None:
    channel.send(_message("k1"))
    gateway.undeliverable_rate = 1.0  # the second handset is switched off
    channel.send(_message("k2"))
    reports = channel.reports()
    assert [(r.idempotency_key, r.status, r.provider_id) for r in reports] == [
        ("k1", "delivered", "gw-1"),
        ("k2", "failed", "gw-2"),
    ]
    assert reports[1].detail == "handset unreachable" and reports[0].at.tzinfo is not None
    assert channel.reports() == []  # the cursor moved on
    channel.send(_message("k3"))
    assert [r.idempotency_key for r in channel.reports()] == ["k3"]


def test_a_report_comes_only_after_the_gateways_delay(
    gateway: SmsGateway, channel: SmsHttpChannel
) -> None:
    gateway.report_delay = 60.0
    channel.send(_message("k1"))
    assert channel.reports() == []  # not yet: the handset has not answered
    later = gateway.reports(0, now=time.time() + 61)
    assert [(r["key"], r["status"]) for r in later["reports"]] == [("k1", "delivered")]
    assert later["next"] == 1


def test_refused_requests_have_no_report_and_bad_polls_are_transient(
    gateway: SmsGateway, channel: SmsHttpChannel
) -> None:
    gateway.failure_rate = 1.0
    with pytest.raises(TransientDeliveryError):
        channel.send(_message("k1"))
    assert channel.reports() == []
    gone = SmsHttpChannel(gateway.url, reports_url=gateway.url.replace("/sms", "/nowhere"))
    try:
        with pytest.raises(TransientDeliveryError, match=r"reports .* cannot be read"):
            gone.reports()
    finally:
        gone.close()
    silent = SmsHttpChannel(gateway.url)
    assert silent.reports() == []  # no reports URL: nothing to poll
    silent.close()


@pytest.fixture
def ledger(database_url: str) -> Iterator[Outbox]:
    engine = get_engine(database_url)
    upgrade(engine)
    items = [{"policy_id": "bj-a", "purpose": "invitation", "title": "a"},
             {"policy_id": "bj-b", "purpose": "invitation", "title": "b"}]  # fmt: skip
    row = {"idempotency_key": "k1", "subject_id": "p1", "subject_type": "resident",
           "channel": "sms", "address": "+8613800000001", "locale": "zh",
           "purpose": "digest", "payload": {"items": items}}  # fmt: skip
    with engine.begin() as conn:
        Outbox.write(conn, [row, {**row, "idempotency_key": "k2", "subject_id": "p2"}], now=AT,
                     max_attempts=3)  # fmt: skip
    yield Outbox(engine)
    engine.dispose()


def test_reports_become_receipts_once_delivered_or_undeliverable(ledger: Outbox) -> None:
    reports = [
        DeliveryReport("k1", "delivered", AT, "gw-1"),
        DeliveryReport("k2", "failed", AT, "gw-2", "handset unreachable"),
        DeliveryReport("someone-elses", "delivered", AT),
    ]
    got = record_reports(ledger.engine, reports, now=AT)
    assert (got.delivered, got.failed, got.unknown) == (1, 1, 1)
    got_again = record_reports(ledger.engine, reports, now=AT)  # polled twice
    assert got_again.delivered == 1
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(delivery_receipts.c.subject_id, delivery_receipts.c.policy_id,
                      delivery_receipts.c.event, delivery_receipts.c.channel)
        ).all()  # fmt: skip
    assert sorted(rows) == [
        ("p1", "bj-a", "delivered", "sms"), ("p1", "bj-b", "delivered", "sms"),
        ("p2", "bj-a", "undeliverable", "sms"), ("p2", "bj-b", "undeliverable", "sms"),
    ]  # fmt: skip
    reasons = {r.detail for r in ReceiptStore(ledger.engine).for_subject("p2")}
    assert reasons == {"handset unreachable"}
    rows_after = {r.idempotency_key: (r.status, r.last_error) for r in ledger.rows()}
    assert rows_after["k2"][1] == "delivery report: not delivered (handset unreachable)"
    assert ReceiptStore(ledger.engine).counts()["undeliverable"] == 2
    log = ReceiptStore(ledger.engine).outcome_log()
    assert log.filter(log["pushed"])["subject_id"].to_list() == ["p1", "p1"]


def test_an_undeliverable_sms_is_not_reached_in_the_outcome_log(ledger: Outbox) -> None:
    # The worker records "delivered" when the gateway takes the message; the report comes later.
    store = ReceiptStore(ledger.engine)
    store.record(*(Receipt(k, s, "resident", p, "delivered", AT, channel="sms")
                   for k, s in (("k1", "p1"), ("k2", "p2")) for p in ("bj-a", "bj-b")))  # fmt: skip
    log = store.outcome_log()
    assert log.filter(log["ignored"])["subject_id"].to_list() == ["p1", "p1", "p2", "p2"]
    record_reports(ledger.engine, [DeliveryReport("k2", "failed", AT, "gw-2", "off")], now=AT)
    log = store.outcome_log()
    p2 = log.filter(log["subject_id"] == "p2")
    assert p2["pushed"].to_list() == [False, False]  # not reached
    assert p2["ignored"].to_list() == [False, False]  # so not ignored either
    assert log.filter(log["subject_id"] == "p1")["pushed"].to_list() == [True, True]


def test_the_sweeper_records_the_reports_of_what_the_workers_sent(
    sqlite_url: str, gateway: SmsGateway
) -> None:
    from notifier.campaign import deliver_in_process
    from notifier.channels.registry import channels_from_settings, close_channels
    from notifier.contacts import ContactStore
    from notifier.dispatch import plan_changes
    from rules.loader import load_catalog
    from tests.notifier.test_dispatch import CATALOG, change

    settings = Settings.from_env(
        {"ZHIDA_DATABASE_URL": sqlite_url, "ZHIDA_QUIET_HOURS": "",
         "ZHIDA_SMS_GATEWAY_URL": gateway.url, "ZHIDA_SMS_REPORTS_URL": gateway.reports_url}
    )  # fmt: skip
    engine = get_engine(sqlite_url)
    upgrade(engine)
    ContactStore(engine).replace(
        {"subject_id": f"p{i}", "phone": f"+86138{i:08d}"} for i in range(10)
    )
    gateway.undeliverable_rate = 0.3
    summary = plan_changes(
        engine, [change(f"p{i}", "bj-elderly-card") for i in range(10)],
        load_catalog([CATALOG]).by_id, cause="c", as_of=AT.date(), now=AT, settings=settings,
        channels=frozenset({"sms"}),
    )  # fmt: skip
    channels = channels_from_settings(settings, engine, names=("sms",))
    try:
        deliver_in_process(settings, channels, ids=summary.due_ids)
    finally:
        close_channels(channels)
    reached = {r.idempotency_key for r in gateway.accepted() if r.reaches}
    assert 0 < len(reached) < 10
    counts = ReceiptStore(engine).counts()
    assert counts["delivered"] == len(reached)  # one policy per message
    assert counts["undeliverable"] == len(gateway.accepted()) - len(reached)


def test_status_counts_and_why_shows_an_undeliverable_sms(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pathlib import Path

    from api.cli import main
    from core.settings import get_settings
    from notifier.contacts import ContactStore
    from notifier.dispatch import plan_changes
    from rules.loader import load_catalog

    engine = get_engine()
    upgrade(engine)
    policies = load_catalog([Path(__file__).resolve().parents[2] / "rules" / "catalog"]).by_id
    ContactStore(engine).replace([{"subject_id": "p1", "phone": "+8613800000001"}])
    change = {"subject_id": "p1", "subject_type": "resident", "policy_id": "bj-elderly-card",
              "change": "newly_eligible", "old_status": None, "new_status": "eligible"}  # fmt: skip
    plan_changes(
        engine, [change], policies, cause="cli", as_of=AT.date(), now=AT,
        settings=get_settings(), channels=frozenset({"sms"}),
    )  # fmt: skip
    (row,) = Outbox(engine).rows()
    report = DeliveryReport(row.idempotency_key, "failed", AT, "gw-1", "number not in service")
    assert record_reports(engine, [report], now=AT).failed == 1
    assert main(["deliveries", "status"]) == 0
    assert "receipts: 1 undeliverable" in capsys.readouterr().out
    assert main(["deliveries", "why", "p1"]) == 0
    out = capsys.readouterr().out
    assert "bj-elderly-card: newly_eligible, invitation: planned → sms" in out
    assert "    receipts: undeliverable (number not in service)" in out
