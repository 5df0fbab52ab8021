"""Forged requests (issue 14 finding 10): console forms carry a CSRF token, cookie-authenticated
API calls need the X-CSRF-Token header, a JSON body and no foreign Origin; token-authenticated
calls are not affected."""

from __future__ import annotations

import re

import pytest

from api.app.access import SESSION_COOKIE
from notifier.contacts import ContactStore
from tests.api.app.world import PASSWORD, World

VALIDATE = "/api/v1/policies/validate"
DOCUMENT = '{"document": "id: x"}'
EVIL = "https://evil.example"


def _login_without_help(world: World, username: str) -> None:
    """Log in as a browser would, and stop adding the token the console's scripts add."""
    world.client.event_hooks["request"].clear()
    response = world.client.post(
        "/console/login", data={"username": username, "password": PASSWORD},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text


def _token_of(page: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', page)
    assert found, "the page has no csrf-token meta"
    return found.group(1)


def test_every_post_form_of_the_console_carries_the_sessions_token(world: World) -> None:
    for username, path in [("resident", "/console"), ("operator", "/console/operator"),
                           ("officer", "/console"), ("analyst", "/console/analyst")]:  # fmt: skip
        _login_without_help(world, username)
        page = world.client.get(path).text
        token = _token_of(page)
        forms = re.findall(r'<form method="post"[^>]*>(.{0,200})', page)
        assert forms, f"{path} has no form"
        for after in forms:
            assert after.startswith(f'<input type="hidden" name="csrf_token" value="{token}">'), (
                path, after,
            )  # fmt: skip
        world.client.cookies.clear()


def test_a_console_form_without_its_token_is_refused_and_changes_nothing(world: World) -> None:
    _login_without_help(world, "resident")
    forged = world.client.post("/console/preferences", data={"off_channel": "sms"})
    assert forged.status_code == 403
    assert "reload the page and submit it again" in forged.text
    assert ContactStore(world.engine).load(["P1"]).get("P1") is None or (
        ContactStore(world.engine).load(["P1"])["P1"].opt_out_channels == frozenset()
    )
    token = _token_of(world.client.get("/console").text)
    saved = world.client.post("/console/preferences", data={"off_channel": "sms",
                                                            "csrf_token": token})  # fmt: skip
    assert saved.status_code == 200
    assert ContactStore(world.engine).load(["P1"])["P1"].opt_out_channels == frozenset({"sms"})


def test_another_sessions_token_does_not_pass(world: World) -> None:
    _login_without_help(world, "resident")
    mine = _token_of(world.client.get("/console").text)
    world.client.cookies.clear()
    _login_without_help(world, "resident")  # a new session: the old page's token is stale
    stale = world.client.post("/console/preferences", data={"csrf_token": mine})
    assert stale.status_code == 403


def test_logging_out_needs_the_token_too(world: World) -> None:
    _login_without_help(world, "resident")
    assert world.client.post("/console/logout", follow_redirects=False).status_code == 403
    token = _token_of(world.client.get("/console").text)
    out = world.client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303


def test_a_cookie_authenticated_api_call_needs_the_header_token(world: World) -> None:
    _login_without_help(world, "officer")
    bare = world.client.post(VALIDATE, json={"document": "id: x"})
    assert bare.status_code == 403
    assert bare.json()["error"]["type"] == "ForbiddenError"
    assert "X-CSRF-Token" in bare.json()["error"]["message"]
    token = _token_of(world.client.get("/console").text)
    ok = world.client.post(VALIDATE, json={"document": "id: x"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200, ok.text


def test_a_cookie_authenticated_text_plain_body_is_refused_with_415(world: World) -> None:
    _login_without_help(world, "officer")
    token = _token_of(world.client.get("/console").text)
    plain = world.client.post(
        VALIDATE, content=DOCUMENT,
        headers={"Content-Type": "text/plain", "X-CSRF-Token": token},
    )  # fmt: skip
    assert plain.status_code == 415
    assert "send it as 'Content-Type: application/json'" in plain.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/api/v1/login", "/console/login", VALIDATE])
def test_a_foreign_origin_is_refused_even_at_login(world: World, path: str) -> None:
    world.client.event_hooks["request"].clear()
    body = {"username": "officer", "password": PASSWORD}
    sent = (world.client.post(path, data=body, headers={"Origin": EVIL}) if path.startswith(
        "/console") else world.client.post(path, json=body, headers={"Origin": EVIL}))  # fmt: skip
    assert sent.status_code == 403
    assert "a request from https://evil.example to change something here is refused" in sent.text
    assert SESSION_COOKIE not in sent.headers.get("set-cookie", "")


def test_the_servers_own_origin_passes(world: World) -> None:
    world.client.event_hooks["request"].clear()
    own = f"http://{world.client.base_url.host}"
    login = world.client.post(
        "/api/v1/login", json={"username": "officer", "password": PASSWORD},
        headers={"Origin": own},
    )  # fmt: skip
    assert login.status_code == 200


def test_token_authenticated_calls_are_not_affected(world: World) -> None:
    world.client.event_hooks["request"].clear()
    headers = {**world.as_("officer"), "Origin": EVIL, "Content-Type": "application/json"}
    answer = world.client.post(VALIDATE, content=DOCUMENT, headers=headers)
    assert answer.status_code == 200, answer.text


def test_reading_needs_no_token(world: World) -> None:
    _login_without_help(world, "officer")
    assert world.client.get("/api/v1/me", headers={"Origin": EVIL}).status_code == 200


def test_an_empty_authorization_header_does_not_skip_the_check(world: World) -> None:
    _login_without_help(world, "officer")  # the cookie then authenticates, so the token counts
    sent = world.client.post(VALIDATE, json={"document": "id: x"}, headers={"Authorization": ""})
    assert sent.status_code == 403
