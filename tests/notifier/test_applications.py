"""Pre-filled applications (直达快享) and answers to objections, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from core.db import get_engine, upgrade
from core.errors import NotFoundError, ValidationError
from notifier.applications import AlreadyConfirmedError, ApplicationStore, prefill
from notifier.grants import GrantStore
from notifier.tables import application_drafts, outbox

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = get_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _grant(engine: Engine, subject: str) -> int:
    with engine.begin() as conn:
        GrantStore.open(
            conn, subject_id=subject, subject_type="resident", policy_id="bj-elderly-allowance",
            policy_version="1", benefit=Decimal(100), benefit_period="month",
            start=date(2026, 3, 1), objection_until=date(2026, 3, 31), department="北京市民政局",
            evidence={}, notice_key=f"n-{subject}", now=AT,
        )  # fmt: skip
    return GrantStore(engine).of(subject)[0].id


def test_an_answer_reaches_the_objecting_subject_and_marks_the_objection_answered(
    engine: Engine,
) -> None:
    store = GrantStore(engine)
    mine, theirs = _grant(engine, "P1"), _grant(engine, "P2")
    objection = store.object(mine, "金额不对", kind="objection", now=AT)
    store.object(theirs, "不需要", kind="decline", now=AT)
    answered = store.answer(objection.id, "已核实，按 90 岁档调整为每月 500 元。", by="li", now=AT)
    assert (answered.status, answered.answered_by) == ("answered", "li")
    (seen,) = store.objections_of("P1")
    assert seen.answer == "已核实，按 90 岁档调整为每月 500 元。" and seen.answered_at is not None
    assert [o.answer for o in store.objections_of("P2")] == [None]


def test_an_empty_answer_or_an_unknown_objection_is_refused_and_nothing_changes(
    engine: Engine,
) -> None:
    store = GrantStore(engine)
    objection = store.object(_grant(engine, "P1"), "金额不对", kind="objection", now=AT)
    with pytest.raises(ValidationError, match="needs a text"):
        store.answer(objection.id, "  ", by="li", now=AT)
    with pytest.raises(NotFoundError, match="no objection 999"):
        store.answer(999, "好", by="li", now=AT)
    assert store.objection(objection.id).status == "routed"


def test_a_draft_is_confirmed_once(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            application_drafts.insert().values(
                token="tok", subject_id="P1", policy_id="cn-childcare-subsidy",
                policy_version="1", fields='{"children_under_3": 1}',
                created_at=AT.replace(tzinfo=None),
            )
        )  # fmt: skip
    store = ApplicationStore(engine)
    (draft,) = store.of("P1")
    assert (draft.fields, draft.confirmed_at) == ({"children_under_3": 1}, None)
    assert store.confirm("tok", now=AT).confirmed_at is not None
    with pytest.raises(AlreadyConfirmedError, match="already confirmed on 2026-03-02"):
        store.confirm("tok", now=AT)
    with pytest.raises(NotFoundError, match="from the invitation's link"):
        store.get("nope")


@pytest.mark.parametrize(
    ("record", "drafted", "filled", "missing"),
    [
        ({"age": 34}, {}, {"age": 34}, ("children_under_3",)),
        ({"age": 34}, {"children_under_3": 2}, {"age": 34, "children_under_3": 2}, ()),
        ({"age": None, "children_under_3": 0}, {}, {"children_under_3": 0}, ("age",)),
    ],
)
def test_prefill_takes_the_record_then_the_draft_and_leaves_the_unknown_to_confirm(
    record: dict[str, object],
    drafted: dict[str, object],
    filled: dict[str, object],
    missing: tuple[str, ...],
) -> None:
    assert prefill(["age", "children_under_3", "age"], record, drafted) == (filled, missing)


def test_a_childs_application_is_the_guardians_who_was_sent_the_invitation(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            outbox.insert().values(
                idempotency_key="k1", subject_id="M1", subject_type="resident", channel="inbox",
                locale="zh", purpose="fast_track_invitation", status="pending", max_attempts=5,
                payload=json.dumps({"items": [{"subject_id": "C1", "draft_token": "tok-c1"}]}),
                created_at=AT.replace(tzinfo=None), next_attempt_at=AT.replace(tzinfo=None),
                not_before=AT.replace(tzinfo=None),
            )
        )  # fmt: skip
    store = ApplicationStore(engine)
    assert store.told_to("tok-c1", "M1")
    assert not store.told_to("tok-c1", "F1") and not store.told_to("tok-other", "M1")
