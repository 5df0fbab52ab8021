"""The resident's and firm's message centre: offers, why, objections, opt-outs, ratings."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from api.app.audit import AuditLog
from matcher.runs import RunStore
from notifier.contacts import ContactStore
from notifier.grants import GrantStore
from notifier.receipts import ReceiptStore
from profiles.personalisation import PersonalisationStore
from rules.store import PolicyStore
from tests.api.app.world import AT, CATALOG, PASSWORD, World, make_world

FIRM = "911100000000000001"


def login(world: World, username: str) -> None:
    response = world.client.post(
        "/console/login", data={"username": username, "password": PASSWORD},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text


@pytest.fixture
def world_with_population(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    population = tmp_path / "pop"
    population.mkdir()
    pl.DataFrame(
        {
            "person_id": ["P1", "P2"],
            "birth_date": [date(1940, 5, 1), date(1990, 1, 1)],
            "hukou_city": ["北京市", None],
        }
    ).write_parquet(population / "residents.parquet")
    yield from make_world(sqlite_url, tmp_path, population)


def test_why_says_each_clause_in_plain_words_with_the_residents_own_values(
    world_with_population: World,
) -> None:
    world = world_with_population
    login(world, "resident")
    page = world.client.get("/console/why/bj-elderly-allowance")
    assert page.status_code == 200, page.text
    assert "年龄 不低于 80" in page.text and "户籍城市 为 “北京市”" in page.text
    assert "✓ 满足" in page.text and "户籍城市 北京市" in page.text
    english = world.client.get("/console/why/bj-elderly-allowance?lang=en")
    assert "age at least 80" in english.text and "hukou city is “北京市”" in english.text


def test_why_of_a_policy_not_in_force_is_a_page_with_the_reason(
    world_with_population: World,
) -> None:
    world = world_with_population
    login(world, "resident")
    page = world.client.get("/console/why/no-such-policy")
    assert page.status_code == 404 and "no-such-policy" in page.text
    assert "Traceback" not in page.text


def test_a_resident_objects_to_their_grant_and_it_is_routed_and_audited(world: World) -> None:
    login(world, "resident")
    grant = world.grants["P1"]
    response = world.client.post(
        f"/console/grants/{grant}/objection", data={"kind": "objection", "text": "金额不对"}
    )
    assert response.status_code == 200 and "异议已提交" in response.text
    (objection,) = GrantStore(world.engine).objections("北京市民政局")
    assert (objection.grant_id, objection.kind, objection.text) == (grant, "objection", "金额不对")
    assert [e.action for e in AuditLog(world.engine).entries(entity_type="grant")] == [
        "grant.objection"
    ]


def test_a_resident_declines_a_grant_without_writing_a_reason(world: World) -> None:
    login(world, "resident")
    grant = world.grants["P1"]
    response = world.client.post(f"/console/grants/{grant}/objection", data={"kind": "decline"})
    assert response.status_code == 200 and "放弃" in response.text
    (objection,) = GrantStore(world.engine).objections()
    assert objection.kind == "decline"


def test_an_objection_without_text_is_refused_with_what_to_write(world: World) -> None:
    login(world, "resident")
    response = world.client.post(
        f"/console/grants/{world.grants['P1']}/objection", data={"kind": "objection", "text": " "}
    )
    assert response.status_code == 400
    # Beside the text box, in the page's language, with the form open.
    grant = world.grants["P1"]
    assert f'<p class="field-error" id="objection-error-{grant}" role="alert">请写明哪里有误' in (
        response.text
    )
    assert "<details open>" in response.text and 'class="error"' not in response.text
    assert GrantStore(world.engine).objections() == []
    english = world.client.post(
        f"/console/grants/{grant}/objection?lang=en", data={"kind": "objection", "text": ""}
    )
    assert "Say what is wrong" in english.text


def test_a_resident_cannot_object_to_another_residents_grant(world: World) -> None:
    login(world, "resident")
    response = world.client.post(
        f"/console/grants/{world.grants['P2']}/objection", data={"kind": "objection", "text": "x"}
    )
    assert response.status_code == 400 and "has no grant" in response.text
    assert GrantStore(world.engine).objections() == []


def test_opt_outs_per_channel_and_category_and_personalisation_are_saved(world: World) -> None:
    login(world, "resident")
    page = world.client.get("/console")
    assert 'name="off_channel" value="sms"' in page.text
    assert 'name="off_category" value="养老"' in page.text  # the catalog's categories
    assert 'name="personalised" value="on" checked' in page.text  # the deployment's default
    saved = world.client.post(
        "/console/preferences",
        data={"off_channel": ["sms", "email"], "off_category": ["养老"]},
    )
    assert saved.status_code == 200 and "接收方式已保存" in saved.text
    contact = ContactStore(world.engine).load(["P1"])["P1"]
    assert contact.opt_out_channels == frozenset({"sms", "email"})
    assert contact.opt_out_categories == frozenset({"养老"})
    assert PersonalisationStore(world.engine).opted_out() == {"P1"}
    assert 'name="personalised" value="on" checked' not in saved.text
    world.client.post("/console/preferences", data={"personalised": "on"})
    assert ContactStore(world.engine).load(["P1"])["P1"].opt_out_channels == frozenset()
    assert PersonalisationStore(world.engine).personalised("P1") is True


def test_an_unknown_channel_is_refused_and_nothing_changes(world: World) -> None:
    login(world, "resident")
    world.client.post("/console/preferences", data={"off_channel": "sms", "personalised": "on"})
    bad = world.client.post("/console/preferences", data={"off_channel": "pigeon"})
    assert bad.status_code == 400 and "pigeon&#39; is not one of" in bad.text
    assert ContactStore(world.engine).load(["P1"])["P1"].opt_out_channels == frozenset({"sms"})
    assert PersonalisationStore(world.engine).personalised("P1") is True


def test_a_resident_rates_the_service_and_sees_the_rating(world: World) -> None:
    login(world, "resident")
    rated = world.client.post(
        "/console/feedback", data={"policy_id": "bj-elderly-allowance", "rating": "good"}
    )
    assert rated.status_code == 200 and "感谢您的评价" in rated.text
    assert 'value="good" aria-pressed="true"' in rated.text
    (receipt,) = ReceiptStore(world.engine).for_subject("P1")
    assert (receipt.event, receipt.rating) == ("rated", "good")


def test_a_rating_that_is_not_good_or_bad_is_refused(world: World) -> None:
    login(world, "resident")
    bad = world.client.post(
        "/console/feedback", data={"policy_id": "bj-elderly-allowance", "rating": "meh"}
    )
    assert bad.status_code == 400 and "好/差" in bad.text
    assert ReceiptStore(world.engine).for_subject("P1") == []


def test_staff_cannot_post_a_subjects_forms(world: World) -> None:
    login(world, "analyst")
    response = world.client.post(
        "/console/feedback", data={"policy_id": "bj-elderly-allowance", "rating": "good"},
        follow_redirects=False,
    )  # fmt: skip
    assert (response.status_code, response.headers["location"]) == (303, "/console/login")


def test_an_enterprise_sees_its_own_firms_offer(world: World, tmp_path: Path) -> None:
    catalog = tmp_path / "firm-catalog"
    catalog.mkdir()
    shutil.copy(CATALOG / "bj-high-tech-award.yaml", catalog)
    PolicyStore(world.engine).import_catalog(catalog, author="importer", note="seed")
    pairs = tmp_path / "firm-pairs.parquet"
    pl.DataFrame(
        {
            "subject_id": [FIRM, "911100000000000002"],
            "subject_type": ["enterprise"] * 2,
            "policy_id": ["bj-high-tech-award"] * 2,
            "status": ["eligible", "maybe"],
            "benefit": [200000.0, None],
        }
    ).write_parquet(pairs)
    RunStore(world.engine, world.client.app.state["services"].data_dir).record(
        pairs, as_of=date(2026, 3, 2), catalog_hash="f" * 64, population="p" * 64,
        started_at=AT, seconds=1.0, policies=1,
    )  # fmt: skip
    login(world, "enterprise")
    page = world.client.get("/console")
    assert page.status_code == 200
    assert "贵企业的消息中心" in page.text
    assert "/console/why/bj-high-tech-award" in page.text and "一次性 200000 元" in page.text
    assert "911100000000000002" not in page.text


def test_a_grant_can_be_objected_to_within_its_window_and_declined_after_it(
    world: World,
) -> None:
    today = date.today()
    with world.engine.begin() as conn:
        GrantStore.open(
            conn, subject_id="P1", subject_type="resident", policy_id="bj-elderly-card",
            policy_version="1", benefit=None, benefit_period=None, start=today,
            objection_until=today + timedelta(days=30), department="北京市民政局",
            evidence={"clauses": []}, notice_key="n-open", now=AT,
        )  # fmt: skip
        GrantStore.open(
            conn, subject_id="P1", subject_type="resident", policy_id="bj-winter-heating-subsidy",
            policy_version="1", benefit=None, benefit_period=None, start=today - timedelta(days=60),
            objection_until=today - timedelta(days=1), department="北京市民政局",
            evidence={"clauses": []}, notice_key="n-closed", now=AT,
        )  # fmt: skip
    grants = {g.policy_id: g.id for g in GrantStore(world.engine).of("P1")}
    fresh, late = grants["bj-elderly-card"], grants["bj-winter-heating-subsidy"]
    login(world, "resident")
    page = world.client.get("/console").text
    open_card = page.split(f'data-grant="{fresh}"', 1)[1].split("</article>", 1)[0]
    assert 'value="objection"' in open_card and 'value="decline"' in open_card
    closed = page.split(f'data-grant="{late}"', 1)[1].split("</article>", 1)[0]
    assert 'value="objection"' not in closed and 'value="decline"' in closed
    assert "异议期已于此日结束" in closed


def test_a_resident_marks_a_message_read_and_the_reading_is_a_receipt(world: World) -> None:
    login(world, "resident")
    message = world.messages["P1"]
    page = world.client.get("/console").text
    assert f'action="/console/inbox/{message}/read"' in page
    read = world.client.post(f"/console/inbox/{message}/read")
    assert read.status_code == 200
    assert f'action="/console/inbox/{message}/read"' not in read.text
    receipts = ReceiptStore(world.engine).for_subject("P1")
    assert [(r.event, r.policy_id) for r in receipts] == [("read", "bj-elderly-allowance")]


def test_another_residents_message_cannot_be_marked_read(world: World) -> None:
    login(world, "resident")
    response = world.client.post(f"/console/inbox/{world.messages['P2']}/read")
    assert response.status_code == 400
    assert ReceiptStore(world.engine).for_subject("P2") == []


def test_the_message_centres_forms_work_on_postgresql(pg_world: World) -> None:
    world = pg_world
    login(world, "resident")
    world.client.post("/console/preferences", data={"off_channel": "sms"})
    assert PersonalisationStore(world.engine).opted_out(["P1", "P2"]) == {"P1"}
    assert ContactStore(world.engine).load(["P1"])["P1"].opt_out_channels == frozenset({"sms"})
    declined = world.client.post(
        f"/console/grants/{world.grants['P1']}/objection", data={"kind": "decline"}
    )
    assert declined.status_code == 200
    assert [o.kind for o in GrantStore(world.engine).objections()] == ["decline"]
