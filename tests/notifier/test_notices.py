"""Reading the notices (notifier/notices.py): a subject's decisions with their messages, and
the suppression reasons, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy.engine import Engine

from core.db import get_engine, upgrade
from notifier.notices import NoticeEntry, NoticeLog
from notifier.outbox import Outbox
from notifier.tables import delivery_plans, notices

AT = datetime(2026, 3, 2, 9, 0)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = get_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(delivery_plans.insert().values(
            plan_id=1, cause="run 2 vs 1", planned_at=AT, items=3, messages=1, deferred=0,
            suppressed=2,
        ))  # fmt: skip
        sent = Outbox.write(conn, [{
            "idempotency_key": "m1", "subject_id": "p1", "subject_type": "resident",
            "channel": "sms", "address": "a", "locale": "zh", "purpose": "invitation",
            "payload": {"items": []},
        }], now=AT, max_attempts=3)["m1"]  # fmt: skip
        conn.execute(notices.insert(), [
            _notice("p1", "bj-a", "planned", "eligible, invited", outbox_id=sent, item_key="i1"),
            _notice("p1", "bj-b", "suppressed", "opted out of sms"),
            _notice("p2", "bj-a", "suppressed", "opted out of sms"),
        ])  # fmt: skip
    yield engine
    engine.dispose()


def _notice(
    subject: str, policy: str, decision: str, reason: str, **kw: object
) -> dict[str, object]:
    return {
        "plan_id": 1, "subject_id": subject, "subject_type": "resident", "policy_id": policy,
        "policy_version": "v1", "change": "newly_eligible", "purpose": "invitation",
        "outcome": decision, "decision": decision, "reason": reason, "decided_at": AT,
        "item_key": None, "outbox_id": None, **kw,
    }  # fmt: skip


def test_history_gives_each_decision_with_its_message(engine: Engine) -> None:
    planned, suppressed = NoticeLog(engine).history("p1")
    assert planned == NoticeEntry(
        AT, "bj-a", "newly_eligible", "invitation", "planned", "eligible, invited",
        "sms", "pending", "m1",
    )  # fmt: skip
    assert (suppressed.decision, suppressed.channel, suppressed.message_key) == (
        "suppressed", None, None,
    )  # fmt: skip


def test_history_of_one_policy_leaves_the_others_out(engine: Engine) -> None:
    assert [e.policy_id for e in NoticeLog(engine).history("p1", policy_id="bj-b")] == ["bj-b"]


def test_suppressed_reasons_are_counted_across_subjects(engine: Engine) -> None:
    assert NoticeLog(engine).suppressed_reasons() == [("opted out of sms", 2)]
