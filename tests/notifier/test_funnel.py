"""FunnelStore: the offers due, planned and reached, read from the notices and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from core.db import get_engine, upgrade
from notifier.funnel import FunnelStore
from notifier.tables import delivery_plans, notices, outbox

AT = datetime(2026, 6, 30, 9, 0)


def _outbox(conn: Any, key: str, status: str) -> int:
    row = conn.execute(
        outbox.insert().values(
            idempotency_key=key, subject_id="s", subject_type="resident", channel="inbox",
            locale="zh", purpose="invitation", payload="{}", status=status, max_attempts=5,
            not_before=AT, next_attempt_at=AT, created_at=AT,
        )
    ).inserted_primary_key  # fmt: skip
    return int(row[0])


def _notice(conn: Any, plan: int, subject: str, policy: str, change: str, decision: str,
            outbox_id: int | None = None) -> None:  # fmt: skip
    conn.execute(
        notices.insert().values(
            plan_id=plan, subject_id=subject, subject_type="resident", policy_id=policy,
            policy_version="1", change=change, outcome="o", decision=decision, reason="r",
            outbox_id=outbox_id, decided_at=AT,
        )
    )  # fmt: skip


def _pairs(frame: Any) -> set[tuple[str, str]]:
    return {(s, p) for s, p in frame.rows()}


def test_offers_are_followed_from_planned_to_delivered(database_url: str) -> None:
    engine = get_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        inserted = conn.execute(
            delivery_plans.insert().values(
                cause="run 2 vs 1", run_id=2, planned_at=AT, items=0, messages=0, deferred=0,
                suppressed=0,
            )
        ).inserted_primary_key  # fmt: skip
        assert inserted is not None
        plan = int(inserted[0])
        sent, waiting = _outbox(conn, "k1", "delivered"), _outbox(conn, "k2", "pending")
        _notice(conn, plan, "p1", "a", "newly_eligible", "planned", sent)
        _notice(conn, plan, "p1", "a", "newly_eligible", "planned", sent)  # counted once
        _notice(conn, plan, "p2", "a", "maybe_to_eligible", "deferred", waiting)
        _notice(conn, plan, "p3", "b", "newly_maybe", "suppressed")
        _notice(conn, plan, "p4", "b", "no_longer_eligible", "planned", sent)  # not an offer
    stages = FunnelStore(engine).offer_stages()
    assert _pairs(stages.offered) == {("p1", "a"), ("p2", "a"), ("p3", "b")}
    assert _pairs(stages.planned) == {("p1", "a"), ("p2", "a")}
    assert _pairs(stages.reached) == {("p1", "a")}
    assert stages.offered.height == 3  # distinct pairs


def test_without_notices_every_stage_is_empty_with_its_columns(database_url: str) -> None:
    engine = get_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(notices)).scalar_one() == 0
    stages = FunnelStore(engine).offer_stages()
    for frame in (stages.offered, stages.planned, stages.reached):
        assert frame.columns == ["subject_id", "policy_id"] and frame.height == 0
