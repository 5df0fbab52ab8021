"""The officer console's pages: who gets them, and what they render from the stores."""

from __future__ import annotations

import json
import re

import pytest

from api.app.auth import ROLES, UserStore
from tests.api.app.world import FAST, USERS, World

LIST, NEW, EDIT = "/console/policies", "/console/policies/new", "/console/policies/"
ROLE_USERS = {role: name for name, (role, _, _) in USERS.items() if name[-1] != "2"}
READERS = {"officer", "reviewer", "analyst", "admin"}
EDITORS = {"officer", "reviewer", "admin"}


def _get(world: World, path: str, username: str | None) -> object:
    world.client.cookies.clear()
    if username is not None:
        store = UserStore(world.engine, FAST)
        secret = store.issue(store.get(username), kind="session", name="test", hours=1)
        world.client.cookies.set("zhida_session", secret)
    return world.client.get(path, follow_redirects=False)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_pages_its_role_may_use(world: World, role: str) -> None:
    user = ROLE_USERS[role]
    statuses = {path: _get(world, path, user).status_code for path in (LIST, NEW)}  # type: ignore[attr-defined]
    assert statuses == {
        LIST: 200 if role in READERS else 403,
        NEW: 200 if role in EDITORS else 403,
    }


def test_a_stranger_is_sent_to_the_login_page(world: World) -> None:
    for path in (LIST, NEW, EDIT + "bj-elderly-allowance"):
        answer = _get(world, path, None)
        assert answer.status_code == 303  # type: ignore[attr-defined]
        assert answer.headers["location"] == "/console/login"  # type: ignore[attr-defined]


def test_the_list_shows_each_policy_with_status_and_k_anonymous_reach(world: World) -> None:
    page = _get(world, LIST, "officer").text  # type: ignore[attr-defined]
    row = re.search(r'<tr data-policy="bj-elderly-allowance">(.*?)</tr>', page, re.S)
    assert row is not None
    assert 'data-status="published"' in row.group(1)
    # The run's released reach (noisy, small ones withheld): the figure GET /api/v1/reach
    # gives the same user, from the same kept release.
    shown = re.search(r'<td class="num reach">(.*?)</td>', row.group(1))
    assert shown is not None
    released = world.client.get("/api/v1/reach", headers=world.as_("officer")).json()
    (mine,) = [r for r in released if r["policy_id"] == "bj-elderly-allowance"]
    assert shown.group(1) == str(mine["eligible"]).replace("<", "&lt;")


def test_a_new_draft_shows_as_draft_beside_the_published_version(world: World) -> None:
    doc = world.client.get(
        "/api/v1/policies/bj-elderly-allowance/versions", headers=world.as_("officer")
    ).json()[0]["document"]
    draft = world.client.post(
        "/api/v1/policies/drafts",
        json={"document": doc.replace("age >= 80", "age >= 75")},
        headers=world.as_("officer"),
    )
    assert draft.status_code == 201
    page = _get(world, LIST, "officer").text  # type: ignore[attr-defined]
    row = re.search(r'<tr data-policy="bj-elderly-allowance">(.*?)</tr>', page, re.S)
    assert row is not None
    assert 'data-status="draft"' in row.group(1) and "v2" in row.group(1)
    assert "status-published" in row.group(1)  # v1 is still the published one


def test_the_editor_carries_the_document_the_published_version_and_the_schemas_fields(
    world: World,
) -> None:
    page = _get(world, EDIT + "bj-elderly-allowance", "reviewer").text  # type: ignore[attr-defined]
    data = json.loads(
        re.search(
            r'<script type="application/json" id="editor-data">(.*?)</script>', page, re.S
        ).group(1)  # type: ignore[union-attr]
    )
    assert data["published_version"] == 1 and "age >= 80" in data["published"]
    assert data["history"] == [{"version": 1, "status": "published", "author": "importer"}]
    names = {f["name"]: f["zh"] for f in data["fields"]["resident"]}
    assert names["age"] == "年龄" and "person_id" not in names  # the key is not offered
    assert data["fields"]["enterprise"] and data["t"]["pol_submit"] == "提交审核"
    assert 'id="approve"' in page and 'id="save-draft"' not in page  # a reviewer does not author


def test_an_unknown_policy_is_a_404_page(world: World) -> None:
    answer = _get(world, EDIT + "no-such-policy", "officer")
    assert answer.status_code == 404  # type: ignore[attr-defined]
    assert "no-such-policy" in answer.text  # type: ignore[attr-defined]


def test_english_on_request(world: World) -> None:
    page = _get(world, LIST + "?lang=en", "officer").text  # type: ignore[attr-defined]
    assert ">published<" in page and "Policies" in page
