"""One message per unit to its recipient: a household's offer to its head once, a child's to
one guardian once per child, and budgets, dedupe and digests per recipient (SQLite and
PostgreSQL for the ledger; the pure planner for the steps)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from core.db import get_engine, upgrade
from core.settings import Settings
from notifier.contacts import ContactStore
from notifier.dispatch import plan_changes
from notifier.planner import candidates_from_changes, plan
from notifier.steps import Contact, History, PlanContext
from notifier.tables import notices, outbox
from rules.policy import Policy

NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
AS_OF = date(2026, 3, 2)


def policy(pid: str, **kw: Any) -> Policy:
    return Policy(
        id=pid, title=pid, department="d", audience="resident", mode="proactive_push",
        eligibility="age >= 0", valid_from=date(2020, 1, 1), **kw,
    )  # fmt: skip


POLICIES = {
    "dibao": policy("dibao", unit="household"),
    "childcare": policy("childcare", recipient="guardian"),
    "card": policy("card"),
}


def change(subject: str, policy_id: str, recipient: str | None, **kw: Any) -> dict[str, Any]:
    return {
        "subject_id": subject, "subject_type": kw.pop("subject_type", "resident"),
        "policy_id": policy_id, "change": "newly_eligible", "old_status": None,
        "new_status": "eligible", "recipient_id": recipient, **kw,
    }  # fmt: skip


# A household's 低保 (told to its contact, mum), two children's 育儿补贴 (told to mum, their
# guardian), and mum's own offer: one message to mum; dad and the children are told nothing.
CHANGES = [
    change("h1", "dibao", "mum", subject_type="household"),
    change("kid1", "childcare", "mum"),
    change("kid2", "childcare", "mum"),
    change("mum", "card", None),
]


@pytest.fixture
def engine(database_url: str) -> Iterator[Any]:
    engine = get_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def settings(url: str) -> Settings:
    return Settings.from_env({"ZHIDA_DATABASE_URL": url, "ZHIDA_DATA_DIR": "/tmp"})


def test_a_household_and_two_children_reach_their_one_recipient_in_one_message(
    engine: Any, database_url: str
) -> None:
    ContactStore(engine).replace(
        [{"subject_id": "mum", "phone": "+8613800000001"},
         {"subject_id": "dad", "phone": "+8613800000002"}]
    )  # fmt: skip
    summary = plan_changes(
        engine, CHANGES, POLICIES, cause="run 2 vs 1", as_of=AS_OF, now=NOON,
        settings=settings(database_url),
    )  # fmt: skip
    assert summary.messages == 1 and summary.by_channel == {"sms": 1}
    with engine.connect() as conn:
        (row,) = conn.execute(sa.select(outbox.c.subject_id, outbox.c.address, outbox.c.payload))
        told = conn.execute(sa.select(notices.c.subject_id, notices.c.outbox_id)).all()
    assert (row.subject_id, row.address) == ("mum", "+8613800000001")
    items = json.loads(row.payload)["items"]
    assert sorted((i["subject_id"], i["policy_id"]) for i in items) == [
        ("h1", "dibao"), ("kid1", "childcare"), ("kid2", "childcare"), ("mum", "card"),
    ]  # fmt: skip
    # Each unit's notice is its own (dedupe reads them), all pointing at mum's one message.
    assert sorted(s for s, _ in told) == ["h1", "kid1", "kid2", "mum"]
    assert len({outbox_id for _, outbox_id in told}) == 1


def test_a_unit_told_once_is_not_told_again_and_a_new_child_is(
    engine: Any, database_url: str
) -> None:
    plan_changes(
        engine, CHANGES[:2], POLICIES, cause="run 2 vs 1", as_of=AS_OF, now=NOON,
        settings=settings(database_url),
    )  # fmt: skip
    again = plan_changes(
        engine, CHANGES[1:3], POLICIES, cause="run 3 vs 2", as_of=AS_OF, now=NOON,
        settings=settings(database_url),
    )  # fmt: skip
    assert again.decisions == {"planned": 1, "deferred": 0, "suppressed": 1}
    with engine.connect() as conn:
        latest = conn.execute(
            sa.select(notices.c.subject_id, notices.c.decision, notices.c.reason).where(
                notices.c.plan_id == again.plan_id
            )
        ).all()
    decided = {s: (d, r) for s, d, r in latest}
    assert decided["kid1"][0] == "suppressed" and "already told" in decided["kid1"][1]
    assert decided["kid2"][0] == "planned"


def test_the_weekly_budget_is_the_recipients_not_each_childs() -> None:
    ctx = PlanContext(now=NOON, history=History(sent_this_week={"mum": 2}))
    result = plan(candidates_from_changes(CHANGES[1:3], POLICIES), ctx)
    assert [c.decision for c in result.decisions] == ["suppressed", "suppressed"]
    assert all("weekly contact budget used: 2 of 2" in c.reason for c in result.decisions)
    # The children themselves have sent nothing: told as themselves, both would go out.
    own = [{**c, "recipient_id": None} for c in CHANGES[1:3]]
    assert plan(candidates_from_changes(own, POLICIES), ctx).counts()["planned"] == 2


def test_the_digest_limit_and_opt_outs_are_the_recipients() -> None:
    kids = [change(f"kid{i}", "childcare", "mum") for i in range(4)]
    ctx = PlanContext(now=NOON, digest_max_items=3)
    result = plan(candidates_from_changes(kids, POLICIES), ctx)
    assert result.counts() == {"planned": 3, "deferred": 0, "suppressed": 1}
    (message,) = result.messages
    assert message.subject_id == "mum" and len(message.items) == 3
    opted = PlanContext(
        now=NOON, contacts={"mum": Contact("mum", opt_out_categories=frozenset({"*"}))}
    )
    assert plan(candidates_from_changes(kids, POLICIES), opted).messages == ()


def test_a_diff_without_recipients_tells_each_subject_as_before() -> None:
    rows = [{k: v for k, v in c.items() if k != "recipient_id"} for c in CHANGES[1:3]]
    result = plan(candidates_from_changes(rows, POLICIES), PlanContext(now=NOON))
    assert sorted(m.subject_id for m in result.messages) == ["kid1", "kid2"]


def test_a_households_offer_is_explained_on_its_heads_record(tmp_path: Any) -> None:
    import polars as pl

    from notifier.campaign import _evidence

    pl.DataFrame(
        {"person_id": ["dad", "mum"], "household_id": ["h1", "h1"],
         "relation_to_head": ["head", "spouse"], "monthly_income": [800.0, 1000.0],
         "household_income_per_capita": [900.0, 900.0]}
    ).write_parquet(tmp_path / "residents.parquet")  # fmt: skip
    pl.DataFrame({"household_id": ["h1"]}).write_parquet(tmp_path / "households.parquet")
    dibao = policy("dibao", unit="household")
    dibao = Policy(**{**dibao.__dict__, "eligibility": "household_income_per_capita < 1450"})
    changes = pl.DataFrame([change("h1", "dibao", "dad", subject_type="household")])
    explain = _evidence(tmp_path, {"dibao": dibao}, AS_OF, changes)
    assert explain is not None
    why = explain("h1", "dibao")
    assert why["status"] == "eligible"
    assert why["clauses"][0]["text"] == "household_income_per_capita < 1450"


def test_why_shows_what_a_recipient_was_told_for_others(engine: Any, database_url: str) -> None:
    from notifier.notices import NoticeLog

    plan_changes(
        engine, CHANGES, POLICIES, cause="run 2 vs 1", as_of=AS_OF, now=NOON,
        settings=settings(database_url),
    )  # fmt: skip
    told = NoticeLog(engine).history("mum")
    assert sorted((e.subject_id, e.policy_id) for e in told) == [
        ("h1", "dibao"), ("kid1", "childcare"), ("kid2", "childcare"), ("mum", "card"),
    ]  # fmt: skip
    assert [e.policy_id for e in NoticeLog(engine).history("kid1")] == ["childcare"]
    assert NoticeLog(engine).history("dad") == []
