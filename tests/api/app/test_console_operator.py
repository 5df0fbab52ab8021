"""The operator's delivery dashboard: throughput, backlog, deferred, suppressed, failed, replay."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from api.app.audit import AuditLog
from core.settings import get_settings
from notifier.outbox import Outbox, naive_utc
from notifier.tables import delivery_plans, notices, outbox
from tests.api.app.test_console_subject import login
from tests.api.app.world import World

NOW = datetime.now(UTC)


def seed_ledger(world: World) -> dict[str, int]:
    """Rows in every state the dashboard shows, as of the moment it is called (the dashboard's
    windows are counted back from the page's now: a time taken when the module was collected,
    minutes earlier on a busy machine, would fall out of them); returns name -> outbox id."""
    now = datetime.now(UTC)
    later = now + timedelta(hours=9)
    rows = {
        "delivered": ("sms", None),
        "failed": ("sms", None),
        "deferred": ("email", later),
        "due": ("inbox", None),
    }
    with world.engine.begin() as conn:
        inserted = conn.execute(
            delivery_plans.insert().values(
                cause="test plan", run_id=None, planned_at=now.replace(tzinfo=None), items=4,
                messages=4, deferred=1, suppressed=3,
            )
        ).inserted_primary_key  # fmt: skip
        assert inserted is not None
        plan = int(inserted[0])
        ids = Outbox.write(
            conn,
            [
                {
                    "idempotency_key": f"key-{name}", "subject_id": "P1",
                    "subject_type": "resident", "channel": channel, "address": "13800001234",
                    "locale": "zh", "purpose": "invitation", "payload": {"items": []},
                    "not_before": not_before, "plan_id": plan,
                }
                for name, (channel, not_before) in rows.items()
            ],
            now=now, max_attempts=3,
        )  # fmt: skip
        by_name = {name: ids[f"key-{name}"] for name in rows}
        conn.execute(
            outbox.update().where(outbox.c.id == by_name["delivered"])
            .values(status="delivered", delivered_at=naive_utc(now) - timedelta(minutes=2))
        )  # fmt: skip
        conn.execute(
            outbox.update().where(outbox.c.id == by_name["failed"])
            .values(status="failed", attempts=3, last_error="gateway said 503 three times")
        )  # fmt: skip
        conn.execute(
            notices.insert(),
            [
                {
                    "plan_id": plan, "subject_id": f"P{n}", "subject_type": "resident",
                    "policy_id": "bj-elderly-allowance", "policy_version": "1",
                    "change": "newly_eligible", "purpose": "invitation", "outcome": "eligible",
                    "decision": "suppressed", "reason": reason, "item_key": None,
                    "outbox_id": None, "decided_at": now.replace(tzinfo=None),
                }
                for n, reason in enumerate([
                    "weekly contact budget used: 3 of 3 messages in the last 7 days",
                    "weekly contact budget used: 4 of 4 messages in the last 7 days",
                    "opted out of invitations in category 养老",
                ])
            ],
        )  # fmt: skip
    return by_name


@pytest.mark.parametrize("username", ["resident", "enterprise", "analyst", "officer"])
def test_only_operators_and_admins_open_the_dashboard(world: World, username: str) -> None:
    ids = seed_ledger(world)
    login(world, username)
    assert world.client.get("/console/operator").status_code == 403
    replayed = world.client.post(f"/console/operator/replay/{ids['failed']}")
    assert replayed.status_code == 403
    assert Outbox(world.engine).get(ids["failed"]).status == "failed"


def test_the_dashboard_shows_throughput_backlog_deferred_suppressed_and_failed(
    world: World,
) -> None:
    ids = seed_ledger(world)
    login(world, "operator")
    page = world.client.get("/console/operator")
    assert page.status_code == 200
    text = page.text
    throughput = text.split('id="throughput"', 1)[1].split("</section>", 1)[0]
    assert "5 min" in throughput and "<td>0.2</td>" in throughput  # 1 SMS in 5 minutes
    backlog = text.split('id="backlog"', 1)[1].split("</section>", 1)[0]
    assert "短信" in backlog and "电子邮件" in backlog and "站内消息" in backlog
    deferred = text.split('id="deferred"', 1)[1].split("</section>", 1)[0]
    until = (NOW + timedelta(hours=9)).astimezone().strftime("%Y-%m-%d")
    assert "电子邮件" in deferred and until[:4] in deferred
    suppressed = text.split('id="suppressed"', 1)[1].split("</section>", 1)[0]
    assert "weekly contact budget used</td><td>2</td>" in suppressed
    assert "opted out of invitations in category 养老</td><td>1</td>" in suppressed
    failed = text.split('id="failed"', 1)[1].split("</section>", 1)[0]
    assert f"#{ids['failed']} · 短信 · 政策邀请" in failed
    assert "gateway said 503 three times" in failed
    assert "1380***1234" in failed and "13800001234" not in text  # the address is masked
    assert "P1" not in text  # an operator sees rows, not people


def test_an_operator_replays_a_failed_row_and_it_is_audited(world: World) -> None:
    ids = seed_ledger(world)
    login(world, "operator")
    replayed = world.client.post(f"/console/operator/replay/{ids['failed']}")
    assert replayed.status_code == 200 and f"已重新投递 #{ids['failed']}" in replayed.text
    row = Outbox(world.engine).get(ids["failed"])
    assert (row.status, row.max_attempts) == ("pending", 3 + get_settings().delivery_attempts)
    (entry,) = AuditLog(world.engine).entries(entity_type="outbox")
    assert (entry.action, entry.entity_id, entry.actor) == (
        "delivery.replay", str(ids["failed"]), "operator",
    )  # fmt: skip


def test_replaying_a_row_that_is_not_parked_says_so(world: World) -> None:
    ids = seed_ledger(world)
    login(world, "operator")
    again = world.client.post(f"/console/operator/replay/{ids['delivered']}")
    assert again.status_code == 400 and "not parked as failed" in again.text
    assert Outbox(world.engine).get(ids["delivered"]).status == "delivered"
    assert AuditLog(world.engine).entries(entity_type="outbox") == []


def test_an_empty_ledger_is_said_in_words(world: World) -> None:
    login(world, "operator")
    page = world.client.get("/console/operator?lang=en")
    assert "The delivery ledger is empty." in page.text and "No failed rows." in page.text
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 0


def test_the_dashboard_counts_receipts_by_event_as_deliveries_status_does(world: World) -> None:
    from notifier.receipts import Receipt, ReceiptStore

    seed_ledger(world)
    at = NOW.replace(tzinfo=None)
    store = ReceiptStore(world.engine)
    store.record(
        Receipt("key-delivered", "P7", "resident", "bj-a", "delivered", at, channel="sms"),
        Receipt("key-sms2", "P8", "resident", "bj-a", "delivered", at, channel="sms"),
        Receipt("key-sms2", "P8", "resident", "bj-b", "delivered", at, channel="sms"),
        Receipt("key-sms2", "P8", "resident", "bj-b", "undeliverable", at, channel="sms",
                detail="handset switched off"),
        Receipt("key-delivered", "P7", "resident", "bj-a", "rated", at, rating="差"),
    )  # fmt: skip
    counts = {e: n for e, n in store.counts().items() if n}
    assert counts == {"delivered": 3, "undeliverable": 1, "rated_bad": 1}
    login(world, "operator")
    page = world.client.get("/console/operator")
    section = page.text.split('id="receipts"', 1)[1].split("</section>", 1)[0]
    shown = dict(re.findall(r'data-event="(\w+)"><td>[^<]*</td><td>([\d,]+)</td>', section))
    assert {e: int(n) for e, n in shown.items()} == counts  # the same count, zeros left out
    assert '<tr data-event="undeliverable"><td>无法送达</td><td>1</td>' in section
    assert "评价：差" in section and "短信网关事后报告" in section
    assert "P7" not in page.text and "P8" not in page.text  # counts, not people
    assert "handset switched off" not in page.text


def test_no_receipts_is_said_in_words(world: World) -> None:
    login(world, "operator")
    page = world.client.get("/console/operator?lang=en")
    section = page.text.split('id="receipts"', 1)[1].split("</section>", 1)[0]
    assert "No receipts yet." in section and "<table>" not in section
