"""Officers answer objections to their department's grants; the resident reads the answer.
On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app.audit import AuditLog
from notifier.grants import GrantStore
from tests.api.app.test_console_subject import login
from tests.api.app.world import AT, World, make_world


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    for world in make_world(database_url, tmp_path):
        GrantStore(world.engine).object(
            world.grants["P1"], "我的户籍登记有误", kind="objection", now=AT
        )
        yield world


def _objection_id(world: World) -> int:
    (objection,) = GrantStore(world.engine).objections()
    return objection.id


def test_the_departments_officer_sees_the_objection_masked_and_the_read_is_audited(
    world: World,
) -> None:
    login(world, "officer")
    page = world.client.get("/console/objections")
    assert page.status_code == 200, page.text
    assert "我的户籍登记有误" in page.text and "高龄老年人津贴" in page.text
    assert "100 元/月" in page.text  # the grant's amount with its period
    assert "申请人 P*" in page.text and "P1" not in page.text.split("<main>")[1]
    reads = AuditLog(world.engine).entries(entity_type="subject")
    assert [(e.actor, e.action, e.entity_id) for e in reads] == [("officer", "profile.read", "P1")]


def test_an_officer_of_another_department_sees_none_and_cannot_answer(world: World) -> None:
    login(world, "officer2")
    page = world.client.get("/console/objections")
    assert (
        page.status_code == 200 and "我的户籍登记有误" not in page.text and "暂无异议" in page.text
    )
    refused = world.client.post(
        f"/api/v1/objections/{_objection_id(world)}/answer", json={"text": "已核实"},
        headers=world.as_("officer2"),
    )  # fmt: skip
    assert refused.status_code == 404 and "own department" in refused.json()["error"]["message"]
    assert GrantStore(world.engine).objections()[0].answer is None


def test_a_resident_cannot_open_the_objections_page(world: World) -> None:
    login(world, "resident")
    assert world.client.get("/console/objections").status_code == 403


def test_an_answer_reaches_the_resident_under_their_grant(world: World) -> None:
    objection = _objection_id(world)
    login(world, "officer")
    sent = world.client.post(
        f"/console/objections/{objection}/answer", data={"text": "已核实户籍，津贴照常发放。"}
    )
    assert sent.status_code == 200 and "答复已发送" in sent.text and "已答复" in sent.text
    entries = AuditLog(world.engine).entries(entity_type="objection")
    assert [(e.actor, e.action) for e in entries] == [("officer", "objection.answer")]
    login(world, "resident")
    page = world.client.get("/console")
    thread = page.text.split(f'data-objection="{objection}"')[1].split("</div>")[0]
    assert "我的户籍登记有误" in thread and "主管部门答复" in thread
    assert "已核实户籍，津贴照常发放。" in thread
    login(world, "resident2")
    assert "已核实户籍" not in world.client.get("/console").text


def test_an_empty_answer_is_said_beside_its_box_in_the_pages_language(world: World) -> None:
    objection = _objection_id(world)
    login(world, "officer")
    page = world.client.post(f"/console/objections/{objection}/answer", data={"text": "  "})
    assert page.status_code == 422
    assert f'id="answer-error-{objection}" role="alert">请填写答复' in page.text
    english = world.client.post(f"/console/objections/{objection}/answer?lang=en", data={})
    assert "Write an answer" in english.text
    assert GrantStore(world.engine).objections()[0].status == "routed"


def test_the_api_answers_for_a_departments_own_system(world: World) -> None:
    objection = _objection_id(world)
    answered = world.client.post(
        f"/api/v1/objections/{objection}/answer", json={"text": "已核实"},
        headers=world.as_("officer"),
    )  # fmt: skip
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert (body["status"], body["answer"], body["answered_by"]) == (
        "answered",
        "已核实",
        "officer",
    )
    empty = world.client.post(
        f"/api/v1/objections/{objection}/answer", json={"text": ""}, headers=world.as_("admin")
    )
    assert empty.status_code == 422 and "needs a text" in empty.json()["error"]["message"]
