"""The operator page's held plans: the guard's reasons, the endings a deliberate act let
through, and a release button that sends what was held (audited)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from api.app.audit import AuditLog
from notifier.guard import Verdict
from notifier.holds import PlanHolds
from notifier.outbox import Outbox
from notifier.tables import delivery_plans
from tests.api.app.test_console_subject import login
from tests.api.app.world import World

NOW = datetime.now(UTC)
WHY = "bj-elderly-allowance: this run ends 190 of 200 offers (95.0 %)"
RETIRED = "bj-old: 300 of 300 offers end, retired through the review (version 2)"


def held_plan(world: World) -> tuple[int, list[int]]:
    """A plan of two messages the guard held; returns its id and its rows."""
    with world.engine.begin() as conn:
        inserted = conn.execute(
            delivery_plans.insert().values(
                cause="run 9 vs 8", run_id=None, planned_at=NOW.replace(tzinfo=None), items=2,
                messages=2, deferred=0, suppressed=0,
            )
        ).inserted_primary_key  # fmt: skip
        assert inserted is not None
        plan = int(inserted[0])
        ids = Outbox.write(
            conn,
            [
                {
                    "idempotency_key": f"held-{n}", "subject_id": f"P{n}",
                    "subject_type": "resident", "channel": "inbox", "address": None,
                    "locale": "zh", "purpose": "revocation_notice", "payload": {"items": []},
                    "not_before": None, "plan_id": plan,
                }
                for n in (1, 2)
            ],
            now=NOW, max_attempts=3,
        )  # fmt: skip
        PlanHolds.record(conn, plan, Verdict(True, (WHY,), (RETIRED,)), now=NOW)
    return plan, sorted(ids.values())


def csrf(page: str) -> dict[str, str]:
    """The page's CSRF field, when the console sets one."""
    found = re.search(r'name="csrf_token" value="([^"]*)"', page)
    return {"csrf_token": found.group(1)} if found else {}


def test_the_page_shows_a_held_plan_with_its_reasons_and_what_an_act_let_through(
    world: World,
) -> None:
    plan, _ = held_plan(world)
    login(world, "operator")
    page = world.client.get("/console/operator?lang=en")
    section = page.text.split('id="held"', 1)[1].split("</section>", 1)[0]
    assert f"Plan #{plan} · run 9 vs 8 · held for an operator" in section
    assert "by the mass-change guard" in section
    assert f"<li>{WHY}</li>" in section and f"<li>{RETIRED}</li>" in section
    assert "messages held 2 · revocation notices they carry 0" in section
    assert f'action="/console/operator/release/{plan}"' in section


def test_an_operator_releases_a_held_plan_once_and_it_is_audited(world: World) -> None:
    plan, rows = held_plan(world)
    login(world, "operator")
    page = world.client.get("/console/operator")
    released = world.client.post(f"/console/operator/release/{plan}", data=csrf(page.text))
    assert released.status_code == 200 and f"已处理计划 #{plan}" in released.text
    assert {Outbox(world.engine).get(i).status for i in rows} == {"pending"}
    guarded = PlanHolds(world.engine).of(plan)
    assert guarded is not None and (guarded.status, guarded.released_by) == ("released", "operator")
    (entry,) = AuditLog(world.engine).entries(entity_type="delivery_plan")
    assert (entry.action, entry.entity_id, entry.actor) == (
        "delivery.release",
        str(plan),
        "operator",
    )
    again = world.client.post(f"/console/operator/release/{plan}", data=csrf(released.text))
    assert again.status_code == 400 and "was released by operator" in again.text
    assert len(AuditLog(world.engine).entries(entity_type="delivery_plan")) == 1


def test_only_operators_release_a_plan(world: World) -> None:
    plan, rows = held_plan(world)
    login(world, "analyst")
    refused = world.client.post(f"/console/operator/release/{plan}")
    assert refused.status_code == 403
    assert {Outbox(world.engine).get(i).status for i in rows} == {"held"}


def test_an_operator_discards_a_held_plan_and_nothing_of_it_is_sent(world: World) -> None:
    plan, rows = held_plan(world)
    login(world, "operator")
    page = world.client.get("/console/operator")
    assert f'action="/console/operator/discard/{plan}"' in page.text
    done = world.client.post(f"/console/operator/discard/{plan}", data=csrf(page.text))
    assert done.status_code == 200 and "已作废，未发送" in done.text
    assert {Outbox(world.engine).get(i).status for i in rows} == {"cancelled"}
    (entry,) = AuditLog(world.engine).entries(entity_type="delivery_plan")
    assert (entry.action, entry.entity_id) == ("delivery.discard", str(plan))
