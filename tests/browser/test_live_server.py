"""The browser fixtures themselves: a live server, chromium, one logged-in page per role."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.conftest import ROLE_PAGES, LiveWorld


def test_the_live_server_answers_over_http(live: LiveWorld) -> None:
    health = httpx.get(live.url("/health"), timeout=10)
    me = httpx.get(live.url("/api/v1/me"), headers=live.bearer("resident"), timeout=10)
    assert health.status_code == 200
    assert me.json()["subject_id"] == live.resident_id


@pytest.mark.parametrize("username", ROLE_PAGES)
def test_every_role_gets_a_logged_in_console_page(
    page_as: Any, live: LiveWorld, username: str
) -> None:
    page = page_as(username)
    response = page.goto(live.url("/console"))
    assert response is not None and response.ok
    assert page.url == live.url("/console")  # not sent back to the login page
    assert username in page.locator("header").inner_text()
