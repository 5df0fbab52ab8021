"""The pre-filled application (直达快享): what it fills, who sees it, masked and audited, and
confirming it with the conditions checked at application; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from api.app.audit import AuditLog
from notifier.applications import ApplicationStore
from notifier.tables import application_drafts
from rules.store import PolicyStore
from tests.api.app.test_console_subject import login
from tests.api.app.world import AT, World, make_world

POLICY = "bj-test-fast-meals"
DOCUMENT = f"""\
id: {POLICY}
title: 老年助餐补贴
department: 北京市民政局
audience: resident
mode: fast_track
eligibility: 'age >= 80 and hukou_city == "北京市"'
benefit: '200'
benefit_period: month
valid_from: 2020-01-01
summary: 年满80周岁的本市户籍老人在社区养老助餐点用餐可获补贴。
materials: [身份证, 北京通-养老助残卡]
where: 户籍所在地街道（乡镇）民政科
application_conditions:
  - 本人未入住养老机构
  - 本人同意补贴发放至养老助残卡
"""
TOKEN = "tok-meals-p1"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    population = tmp_path / "pop"
    population.mkdir()
    pl.DataFrame(
        {
            "person_id": ["P1", "P2"],
            "birth_date": [date(1940, 5, 1), date(1990, 1, 1)],
            "hukou_city": ["北京市", None],
            "monthly_income": [3200.0, 9000.0],
        }
    ).write_parquet(population / "residents.parquet")
    for world in make_world(database_url, tmp_path, population):
        catalog = tmp_path / "fast"
        catalog.mkdir()
        (catalog / f"{POLICY}.yaml").write_text(DOCUMENT, encoding="utf-8")
        PolicyStore(world.engine).import_catalog(catalog, author="importer", note="seed")
        with world.engine.begin() as conn:
            conn.execute(
                application_drafts.insert().values(
                    token=TOKEN, subject_id="P1", policy_id=POLICY, policy_version="1",
                    fields=json.dumps({"hukou_city": "北京市"}), created_at=AT.replace(tzinfo=None),
                )
            )  # fmt: skip
        yield world


def _reads(world: World) -> list[tuple[str, str, str]]:
    return [
        (e.actor, e.action, e.entity_id)
        for e in AuditLog(world.engine).entries(entity_type="subject")
    ]


def test_the_applicant_sees_what_is_filled_what_to_confirm_and_the_amount_with_its_period(
    world: World,
) -> None:
    login(world, "resident")
    page = world.client.get(f"/console/apply/{TOKEN}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "老年助餐补贴" in text and "200 元/月" in text
    assert "<dt>年龄</dt><dd>85</dd>" in text or "<dt>年龄</dt><dd>86</dd>" in text
    assert "<dt>户籍城市</dt><dd>北京市</dd>" in text
    assert "<dt>身份证号</dt><dd>P*</dd>" in text or "P*</dd>" in text  # identifier hidden
    assert "本人未入住养老机构" in text and 'name="confirm" value="1"' in text
    assert "身份证、北京通-养老助残卡" in text and "户籍所在地街道（乡镇）民政科" in text
    assert _reads(world) == []  # one's own data is no staff read
    english = world.client.get(f"/console/apply/{TOKEN}?lang=en").text
    assert "CNY 200 / month" in english and "<dt>age</dt>" in english


def test_the_invitations_link_opens_the_application(world: World) -> None:
    login(world, "resident")
    response = world.client.get(f"/apply/{TOKEN}", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, f"/console/apply/{TOKEN}")


def test_another_resident_gets_the_404_of_an_application_that_does_not_exist(
    world: World,
) -> None:
    login(world, "resident2")
    page = world.client.get(f"/console/apply/{TOKEN}")
    assert page.status_code == 404 and "本人未入住养老机构" not in page.text
    missing = world.client.get("/console/apply/no-such-token")
    assert missing.status_code == 404 and "找不到这份预填申请" in missing.text
    assert page.text == missing.text  # someone else's reads as one that does not exist


def test_the_departments_officer_sees_it_masked_and_the_read_is_audited(world: World) -> None:
    login(world, "officer")
    page = world.client.get(f"/console/apply/{TOKEN}")
    assert page.status_code == 200, page.text
    assert "<dt>年龄</dt><dd>***</dd>" in page.text  # protected: hidden whole
    assert "<dt>户籍城市</dt><dd>北京市</dd>" in page.text  # ordinary: as it is
    assert "此次查看已记入审计日志" in page.text and 'name="confirm"' not in page.text
    assert _reads(world) == [("officer", "profile.read", "P1")]


def test_an_officer_of_another_department_and_an_analyst_cannot_read_it(world: World) -> None:
    login(world, "officer2")
    assert world.client.get(f"/console/apply/{TOKEN}").status_code == 404
    login(world, "analyst")
    assert world.client.get(f"/console/apply/{TOKEN}").status_code == 403
    assert _reads(world) == []


def test_an_unticked_condition_is_said_beside_it_and_nothing_is_confirmed(world: World) -> None:
    login(world, "resident")
    page = world.client.post(f"/console/apply/{TOKEN}", data={"confirm": ["0"]})
    assert page.status_code == 422
    assert 'id="condition-error-1"' in page.text and 'id="condition-error-0"' not in page.text
    assert "请确认这一条" in page.text
    assert 'value="0" checked' in page.text  # what was ticked stays ticked
    assert ApplicationStore(world.engine).get(TOKEN).confirmed_at is None
    english = world.client.post(f"/console/apply/{TOKEN}?lang=en", data={})
    assert "Confirm this condition" in english.text


def test_confirming_every_condition_sends_the_application_once(world: World) -> None:
    login(world, "resident")
    done = world.client.post(f"/console/apply/{TOKEN}", data={"confirm": ["0", "1"]})
    assert (
        done.status_code == 200 and "申请已提交" in done.text and "您已于此日确认提交" in done.text
    )
    assert ApplicationStore(world.engine).get(TOKEN).confirmed_at is not None
    entries = AuditLog(world.engine).entries(entity_type="application")
    assert [(e.action, e.entity_id) for e in entries] == [("application.confirm", TOKEN)]
    again = world.client.post(f"/console/apply/{TOKEN}", data={"confirm": ["0", "1"]})
    assert again.status_code == 409 and "已确认提交" in again.text


def test_the_message_centre_links_the_offer_to_its_application(world: World) -> None:
    login(world, "resident")
    page = world.client.get("/console")
    assert f'href="/console/apply/{TOKEN}"' in page.text


def test_the_why_page_shows_the_conditions_checked_at_application(world: World) -> None:
    login(world, "resident")
    page = world.client.get(f"/console/why/{POLICY}")
    assert page.status_code == 200, page.text
    assert "申请时需要您确认的条件" in page.text
    assert "<li>本人未入住养老机构</li>" in page.text
    assert "户籍所在地街道（乡镇）民政科" in page.text
