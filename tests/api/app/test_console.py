from __future__ import annotations

from notifier.contacts import ContactStore
from tests.api.app.world import PASSWORD, World


def _login(world: World, username: str) -> None:
    response = world.client.post(
        "/console/login", data={"username": username, "password": PASSWORD},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console"


def test_the_console_sends_a_stranger_to_the_login_page(world: World) -> None:
    response = world.client.get("/console", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/console/login")
    page = world.client.get("/console/login")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    assert "登录" in page.text


def test_a_wrong_password_shows_the_login_page_again_with_the_reason(world: World) -> None:
    response = world.client.post(
        "/console/login", data={"username": "resident", "password": "wrong-one"}
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text


def test_a_resident_sees_their_own_offers_grants_and_messages_only(world: World) -> None:
    _login(world, "resident")
    page = world.client.get("/console")
    assert page.status_code == 200
    assert "高龄老年人津贴" in page.text and "符合条件" in page.text
    assert "/console/why/bj-elderly-allowance" in page.text
    assert "致 P1" in page.text
    assert "致 P2" not in page.text and "/subjects/P2/" not in page.text


def test_a_resident_switches_sms_off_from_the_console(world: World) -> None:
    _login(world, "resident")
    saved = world.client.post("/console/preferences", data={"off_channel": "sms"})
    assert saved.status_code == 200 and "已保存" in saved.text
    assert 'name="off_channel" value="sms" checked' in saved.text
    assert ContactStore(world.engine).load(["P1"])["P1"].opt_out_channels == frozenset({"sms"})
    world.client.post("/console/preferences", data={})
    assert ContactStore(world.engine).load(["P1"])["P1"].opt_out_channels == frozenset()


def test_an_officer_sees_the_catalog_and_the_live_draft_validator(world: World) -> None:
    _login(world, "officer")
    page = world.client.get("/console")
    assert "bj-elderly-allowance" in page.text and "北京市民政局" in page.text
    assert 'id="draft"' in page.text and "/api/v1/policies/validate" in page.text


def test_an_analyst_sees_the_catalog_without_the_editor(world: World) -> None:
    _login(world, "analyst")
    page = world.client.get("/console")
    assert "bj-elderly-allowance" in page.text
    assert 'id="draft"' not in page.text


def test_english_on_request_is_remembered(world: World) -> None:
    page = world.client.get("/console/login?lang=en")
    assert '<html lang="en">' in page.text and "Log in" in page.text
    again = world.client.get("/console/login")
    assert '<html lang="en">' in again.text


def test_logging_out_of_the_console_ends_the_session(world: World) -> None:
    _login(world, "resident")
    out = world.client.post("/console/logout", follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/console/login")
    assert world.client.get("/console", follow_redirects=False).status_code == 303


def test_the_stylesheet_is_served(world: World) -> None:
    css = world.client.get("/static/console.css")
    assert css.status_code == 200 and "max-width" in css.text
