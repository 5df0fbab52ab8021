"""The review pages (issue 17): the queue, one version's review, and what the editor shows of
the review (a return's reason, duplicates to declare, a reviewer's read-only text)."""

from __future__ import annotations

from typing import Any

import pytest

from api.app.auth import ROLES, UserStore
from tests.api.app.test_review import REPLACES, TWIN
from tests.api.app.world import FAST, USERS, World

ROLE_USERS = {role: name for name, (role, _, _) in USERS.items() if name[-1] != "2"}


def _get(world: World, path: str, username: str | None) -> Any:
    world.client.cookies.clear()
    if username is not None:
        store = UserStore(world.engine, FAST)
        secret = store.issue(store.get(username), kind="session", name="test", hours=1)
        world.client.cookies.set("zhida_session", secret)
    return world.client.get(path, follow_redirects=False)


def _post(world: World, who: str, path: str, body: Any = None) -> Any:
    world.client.cookies.clear()
    return world.client.post(path, headers=world.as_(who), json=body)


def _draft(world: World, doc: str) -> int:
    answer = _post(world, "officer", "/api/v1/policies/drafts", {"document": doc})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["version"])


LIFE = "/api/v1/policies/bj-elderly-allowance-2026/versions/{v}/{a}"


@pytest.mark.parametrize("role", ROLES)
def test_the_queue_is_for_officers_and_reviewers_and_a_review_for_reviewers(
    world: World, role: str
) -> None:
    v = _draft(world, REPLACES)
    _post(world, "officer", LIFE.format(v=v, a="submit"))
    queue = _get(world, "/console/review", ROLE_USERS[role])
    item = _get(world, f"/console/review/bj-elderly-allowance-2026/{v}", ROLE_USERS[role])
    assert queue.status_code == (200 if role in ("officer", "reviewer", "admin") else 403)
    assert item.status_code == (200 if role in ("reviewer", "admin") else 403)


def test_the_queue_lists_what_awaits_review_and_the_review_shows_the_relation_first(
    world: World,
) -> None:
    empty = _get(world, "/console/review", "reviewer").text
    assert 'id="queue-empty"' in empty
    v = _draft(world, REPLACES)
    _post(world, "officer", LIFE.format(v=v, a="submit"))
    queue = _get(world, "/console/review", "reviewer").text
    assert 'data-policy="bj-elderly-allowance-2026" data-version="1"' in queue
    page = _get(world, f"/console/review/bj-elderly-allowance-2026/{v}", "reviewer").text
    relations = page.index('id="relations"')
    assert relations < page.index('id="review-document"')  # before the text
    assert 'data-kind="replaces" data-policy="bj-elderly-allowance"' in page
    assert "覆盖人群完全相同" in page  # the duplicate found, said plainly
    assert '<textarea id="document"' not in page  # no editor: the text is shown read-only


def test_the_author_sees_the_reason_and_the_duplicate_to_declare_on_the_draft(
    world: World,
) -> None:
    v = _draft(world, TWIN)
    editor = _get(world, "/console/policies/bj-elderly-allowance-2026", "officer").text
    assert 'class="declare" data-kind="replaces" data-policy="bj-elderly-allowance"' in editor
    v = _draft(world, REPLACES)
    _post(world, "officer", LIFE.format(v=v, a="submit"))
    _post(world, "reviewer", LIFE.format(v=v, a="reject"), {"reason": "请补充依据文号"})
    editor = _get(world, "/console/policies/bj-elderly-allowance-2026", "officer").text
    assert 'id="return-notice"' in editor and "请补充依据文号" in editor


def test_the_reviewers_editor_is_read_only(world: World) -> None:
    v = _draft(world, REPLACES)
    _post(world, "officer", LIFE.format(v=v, a="submit"))
    page = _get(world, "/console/policies/bj-elderly-allowance-2026", "reviewer").text
    assert "readonly" in page.split('id="document"', 1)[1].split(">", 1)[0]
    assert 'id="open-review"' in page
    mine = _get(world, "/console/policies/bj-elderly-allowance-2026", "officer").text
    assert "readonly" not in mine.split('id="document"', 1)[1].split(">", 1)[0]
