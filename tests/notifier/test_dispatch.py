"""From run-diff rows to the ledger and on to the channels, in-process on SQLite (and the
ledger's transaction on PostgreSQL too)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.db import get_engine, upgrade
from core.settings import Settings
from notifier.campaign import deliver_in_process
from notifier.channels.base import OutboundMessage, PermanentDeliveryError
from notifier.channels.memory import MemoryChannel
from notifier.contacts import ContactStore
from notifier.delivery import deliver_one
from notifier.dispatch import plan_changes
from notifier.grants import GrantStore
from notifier.outbox import LedgerRow, Outbox
from notifier.runtime import DeliveryRuntime
from notifier.tables import application_drafts, notices, outbox
from rules.loader import load_catalog

CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
AS_OF = date(2026, 3, 2)


def change(subject: str, policy: str, kind: str = "newly_eligible", **kw: Any) -> dict[str, Any]:
    old, new = {
        "newly_eligible": (None, "eligible"), "no_longer_eligible": ("eligible", None),
        "newly_maybe": (None, "maybe"),
    }[kind]  # fmt: skip
    return {"subject_id": subject, "subject_type": "resident", "policy_id": policy,
            "change": kind, "old_status": old, "new_status": new, **kw}  # fmt: skip


@pytest.fixture
def setup(database_url: str) -> Iterator[tuple[Any, Settings, dict[str, Any]]]:
    engine = get_engine(database_url)
    upgrade(engine)
    settings = Settings.from_env({"ZHIDA_DATABASE_URL": database_url, "ZHIDA_DATA_DIR": "/tmp"})
    yield engine, settings, load_catalog([CATALOG]).by_id
    engine.dispose()


def plan(setup: Any, rows: list[dict[str, Any]], cause: str, now: datetime = NOON) -> Any:
    engine, settings, policies = setup
    return plan_changes(
        engine, rows, policies, cause=cause, as_of=AS_OF, now=now, settings=settings
    )


def test_a_plan_records_messages_notices_grants_and_drafts_in_one_go(setup: Any) -> None:
    engine = setup[0]
    ContactStore(engine).replace([{"subject_id": "p1", "phone": "+8613800000001"}])
    summary = plan(setup, [
        change("p1", "bj-elderly-allowance", new_benefit=100),  # auto_grant
        change("p1", "bj-elderly-card"),  # proactive_push
        change("p2", "cn-childcare-subsidy"),
        change("p3", "bj-elderly-allowance", "no_longer_eligible"),
    ], "run 2 vs 1")  # fmt: skip
    assert summary.messages == 3 and summary.by_channel == {"sms": 1, "inbox": 2}
    assert summary.decisions == {"planned": 4, "deferred": 0, "suppressed": 0}
    (grant,) = GrantStore(engine).of("p1")
    assert (grant.policy_id, grant.status, grant.benefit) == (
        "bj-elderly-allowance",
        "active",
        Decimal(100),
    )
    assert grant.objection_until > grant.start_date
    with engine.connect() as conn:
        told = conn.execute(sa.select(notices.c.subject_id, notices.c.outbox_id)).all()
        assert len(told) == 4 and all(outbox_id for _, outbox_id in told)
    again = plan(setup, [change("p1", "bj-elderly-card")], "run 2 vs 1")
    assert again.already_planned and again.plan_id == summary.plan_id


def test_a_fast_track_invitation_links_a_prefilled_draft(setup: Any) -> None:
    fast = next(p.id for p in setup[2].values() if p.mode == "fast_track")
    plan(setup, [change("p9", fast)], "run 3 vs 2")
    with setup[0].connect() as conn:
        drafts = conn.execute(sa.select(application_drafts.c.subject_id)).scalars().all()
    assert drafts == ["p9"]


def test_an_invitation_carries_what_the_officer_wrote_for_the_applicant(setup: Any) -> None:
    engine, settings, policies = setup
    fast = next(p for p in policies.values() if p.mode == "fast_track")
    written = dataclasses.replace(
        fast, materials=("身份证",), where="街道政务服务中心",
        application_conditions=("孩子由您实际抚养",),
    )  # fmt: skip
    plan_changes(
        engine, [change("p9", fast.id)], {**policies, fast.id: written}, cause="run 4 vs 3",
        as_of=AS_OF, now=NOON, settings=settings,
    )  # fmt: skip
    with engine.connect() as conn:
        (payload,) = conn.execute(sa.select(outbox.c.payload)).scalars().all()
    (item,) = json.loads(payload)["items"] if isinstance(payload, str) else payload["items"]
    assert item["application_conditions"] == ["孩子由您实际抚养"]
    assert (item["materials"], item["where"]) == (["身份证"], "街道政务服务中心")


def test_what_was_told_is_not_told_again_and_a_revocation_ends_the_grant(setup: Any) -> None:
    plan(setup, [change("p1", "bj-elderly-allowance", new_benefit=100)], "run 2 vs 1")
    again = plan(setup, [change("p1", "bj-elderly-allowance", new_benefit=100)], "run 3 vs 2")
    assert again.decisions["suppressed"] == 1 and again.messages == 0
    assert "dedupe: already told" in again.reasons
    lost = plan(setup, [change("p1", "bj-elderly-allowance", "no_longer_eligible")], "run 4 vs 3")
    assert lost.by_purpose == {"revocation_notice": 1}
    (grant,) = GrantStore(setup[0]).of("p1")
    assert grant.status == "ending" and grant.end_date is not None


def test_the_weekly_budget_spans_plans(setup: Any) -> None:
    pushes = ["bj-elderly-card", "cn-childcare-subsidy", "bj-premarital-health-check"]
    for i, policy in enumerate(pushes):
        summary = plan(setup, [change("p1", policy)], f"run {i + 2} vs {i + 1}")
    assert summary.decisions["suppressed"] == 1
    assert any(r.startswith("budget: weekly contact budget used") for r in summary.reasons)


def test_sms_at_night_is_deferred_to_eight_in_the_morning(setup: Any) -> None:
    ContactStore(setup[0]).replace([{"subject_id": "p1", "phone": "+8613800000001"}])
    night = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 in Beijing
    summary = plan(setup, [change("p1", "bj-elderly-card")], "night", now=night)
    assert summary.decisions["deferred"] == 1 and summary.due_ids == ()
    (row,) = Outbox(setup[0]).rows()
    assert row.not_before == datetime(2026, 3, 3, 0, 0)  # 08:00 Beijing, stored as UTC


class _BrokenTemplates:
    def __call__(self, row: Any) -> OutboundMessage:
        from notifier.runtime import plain_render

        if row.subject_id == "bad-template":
            raise PermanentDeliveryError("template invitation.sms.j2: 'where' is undefined")
        return plain_render(row)


def test_bad_rows_fail_with_a_clear_reason_and_nothing_else_stalls(
    setup: Any,
) -> None:
    engine = setup[0]
    ContactStore(engine).replace([
        {"subject_id": "no-channel", "subject_type": "enterprise",
         "webhook_url": "https://dept.example.cn/hook"},
        {"subject_id": "bad-url", "subject_type": "enterprise", "webhook_url": "not a url"},
    ])  # fmt: skip
    rows = [change(s, "bj-elderly-card") for s in ("bad-template", "no-channel", "bad-url")]
    rows += [change(f"ok{i}", "bj-elderly-card") for i in range(20)]
    for r in rows[1:3]:
        r["subject_type"] = "enterprise"
    summary = plan(setup, rows, "bad input")
    inbox = MemoryChannel("inbox")
    webhook = MemoryChannel("webhook", fail_addresses=frozenset({"not a url"}))
    only_bad = {"inbox": inbox, "webhook": webhook}
    rt = DeliveryRuntime(outbox=Outbox(engine), channels=only_bad, render=_BrokenTemplates())
    outcomes = [deliver_one(i, rt) for i in summary.due_ids]
    assert outcomes.count("delivered") == 21 and outcomes.count("failed") == 2
    failed = {r.subject_id: r.last_error for r in Outbox(engine).rows("failed")}
    assert "'where' is undefined" in (failed["bad-template"] or "")
    assert "refused" in (failed["bad-url"] or "")
    del only_bad["webhook"]  # the webhook channel is not configured in this worker
    Outbox(engine).replay(None, now=datetime.now(UTC), attempts=1)
    again = [deliver_one(r.id, rt) for r in Outbox(engine).rows("pending")]
    assert again == ["failed", "failed"]
    reasons = {r.subject_id: r.last_error for r in Outbox(engine).rows("failed")}
    assert "channel 'webhook' is not configured" in (reasons["bad-url"] or "")


def test_in_process_delivery_reaches_each_channel_once_despite_failures(setup: Any) -> None:
    engine, settings, _ = setup
    ContactStore(engine).replace(
        {"subject_id": f"p{i}", "phone": f"+86138{i:08d}" if i % 2 else None} for i in range(60)
    )
    summary = plan(setup, [change(f"p{i}", "bj-elderly-card") for i in range(60)], "run")
    channels = {"inbox": MemoryChannel("inbox"), "sms": MemoryChannel("sms", failure_rate=0.3)}
    counts = deliver_in_process(settings, channels, ids=summary.due_ids, passes=30)
    assert counts == {"inbox": {"delivered": 30}, "sms": {"delivered": 30}}
    for channel in channels.values():
        assert set(channel.counts().values()) == {1}
    assert channels["sms"].attempts > 30  # the failures were retried


def test_the_inbox_delivers_and_records_in_one_commit_or_not_at_all(setup: Any) -> None:
    import dataclasses

    from notifier.channels.inbox import InboxChannel, InboxStore

    engine = setup[0]
    summary = plan(setup, [change(s, "bj-elderly-card") for s in ("p1", "p2")], "inbox")
    rt = DeliveryRuntime(outbox=Outbox(engine), channels={"inbox": InboxChannel(engine)})
    first, second = summary.due_ids
    assert deliver_one(first, rt) == "delivered"
    assert len(InboxStore(engine).messages("p1")) == 1
    # A worker whose claim was taken over (its lease ran out) must not record or deliver.
    taken = Outbox(engine).claim(second, now=datetime.now(UTC), lease=30)
    assert taken is not None
    stale = dataclasses.replace(taken, attempts=taken.attempts - 1)
    rt.outbox = _Reclaimed(engine, stale)
    assert deliver_one(second, rt) == "not-claimed"
    assert InboxStore(engine).messages("p2") == []


class _Reclaimed(Outbox):
    """An outbox whose claim hands out a row another attempt has since taken over."""

    def __init__(self, engine: Engine, row: LedgerRow) -> None:
        super().__init__(engine)
        self._row = row

    def claim(self, row_id: int, *, now: datetime, lease: float) -> LedgerRow | None:
        return self._row
