"""Review (issue 17): duplicates must declare a relation, returns carry a reason, reviewers do not
edit, one version is published at a time, and a replaced policy is retired on publish."""

from __future__ import annotations

from typing import Any

import pytest

from api.app.auth import UserStore
from tests.api.app.world import CATALOG, FAST, PASSWORD, World

DOC = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")
# The same people as the published 高龄津贴, under a new id: a duplicate.
TWIN = DOC.replace("id: bj-elderly-allowance", "id: bj-elderly-allowance-2026").replace(
    "title: 高龄老年人津贴", "title: 高龄津贴（新）"
)
# Fewer people (90 and over), all of them inside the published policy's: contained.
INSIDE = TWIN.replace("age >= 80 and", "age >= 90 and")
REPLACES = TWIN + "relations:\n  - replaces: bj-elderly-allowance\n"
LIFE = "/api/v1/policies/{pid}/versions/{v}"
OLD = "bj-elderly-allowance"


def _draft(world: World, doc: str, who: str = "officer") -> tuple[str, int]:
    response = world.client.post(
        "/api/v1/policies/drafts", headers=world.as_(who), json={"document": doc, "note": "n"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["policy_id"], int(body["version"])


def _step(
    world: World, who: str, pid: str, v: int, action: str, body: Any = None
) -> tuple[int, Any]:
    response = world.client.post(
        (LIFE + "/{a}").format(pid=pid, v=v, a=action), headers=world.as_(who), json=body
    )
    return response.status_code, response.json()


def _statuses(world: World, pid: str) -> list[str]:
    response = world.client.get(f"/api/v1/policies/{pid}/versions", headers=world.as_("reviewer"))
    return [v["status"] for v in response.json()]


@pytest.mark.parametrize("doc, kind", [(TWIN, "equivalent"), (INSIDE, "contained")])
def test_a_duplicate_cannot_be_submitted_until_it_declares_its_relation(
    world: World, doc: str, kind: str
) -> None:
    pid, v = _draft(world, doc)
    found = world.client.get(
        LIFE.format(pid=pid, v=v) + "/relations", headers=world.as_("officer")
    ).json()
    assert [(d["policy_id"], d["kind"], d["by"]) for d in found["undeclared"]] == [
        ("bj-elderly-allowance", kind, "analysis")
    ]
    assert found["can_submit"] is False
    status, body = _step(world, "officer", pid, v, "submit")
    assert status == 409
    assert "relations: [{replaces: bj-elderly-allowance}]" in body["error"]["message"]
    assert _statuses(world, pid) == ["draft"]  # nothing moved
    pid, v = _draft(world, doc + "relations:\n  - supplements: bj-elderly-allowance\n")
    assert _step(world, "officer", pid, v, "submit")[0] == 200


def test_a_policy_reaching_other_people_needs_no_relation(world: World) -> None:
    pid, v = _draft(world, TWIN.replace('hukou_city == "北京市"', 'hukou_city == "天津市"'))
    assert _step(world, "officer", pid, v, "submit")[0] == 200


def test_a_relation_must_name_a_published_policy(world: World) -> None:
    pid, v = _draft(world, TWIN + "relations:\n  - replaces: bj-no-such-policy\n")
    status, body = _step(world, "officer", pid, v, "submit")
    assert status == 409 and "bj-no-such-policy is not a published policy" in str(body)


def test_a_bad_relation_is_refused_at_its_line_with_how_to_write_it(world: World) -> None:
    response = world.client.post(
        "/api/v1/policies/validate",
        headers=world.as_("officer"),
        json={"document": TWIN + "relations:\n  - replace: bj-elderly-allowance\n"},
    )
    (problem,) = response.json()["problems"]
    assert problem["line"] == len(TWIN.splitlines()) + 2  # the list's first item
    assert "replaces: ID, supplements: ID or excludes: ID" in problem["message"]


def test_return_needs_a_reason_the_author_sees_and_replace_retires_on_publish(
    world: World,
) -> None:
    pid, v = _draft(world, REPLACES)
    assert _step(world, "officer", pid, v, "submit")[0] == 200
    status, body = _step(world, "reviewer", pid, v, "reject")
    assert status == 422 and "退回修改需要写明原因" in body["error"]["message"]
    status, body = _step(world, "reviewer", pid, v, "reject", {"reason": "  "})
    assert status == 422 and _statuses(world, pid) == ["in_review"]
    status, body = _step(world, "reviewer", pid, v, "reject", {"reason": "请写明依据文号"})
    assert (status, body["status"]) == (200, "draft")
    mine = world.client.get(f"/api/v1/policies/{pid}/versions", headers=world.as_("officer"))
    (seen,) = mine.json()
    assert (seen["return_reason"], seen["returned_by"]) == ("请写明依据文号", "reviewer")
    assert _step(world, "officer", pid, v, "submit")[0] == 200
    # The reviewer's editor is read-only: an approval carrying a changed document is refused.
    status, body = _step(world, "reviewer", pid, v, "approve", {"document": REPLACES + "# x\n"})
    assert status == 409 and "cannot change" in body["error"]["message"]
    assert _statuses(world, pid) == ["in_review"]
    status, body = _step(world, "reviewer", pid, v, "approve", {"document": REPLACES})
    assert (status, body["status"]) == (200, "published")
    assert _statuses(world, "bj-elderly-allowance") == ["retired"]
    listed = world.client.get("/api/v1/policies", headers=world.as_("resident")).json()
    assert [p["policy_id"] for p in listed] == [pid]


def test_replacing_another_departments_policy_needs_its_reviewer(world: World) -> None:
    other = REPLACES.replace("department: 北京市民政局", "department: 北京市人力资源和社会保障局")
    pid, v = _draft(world, other, who="officer2")
    found = world.client.get(
        LIFE.format(pid=pid, v=v) + "/relations", headers=world.as_("reviewer")
    ).json()
    assert found["declared"][0]["needs_reviewer_of"] == "北京市民政局"
    assert _step(world, "officer2", pid, v, "submit")[0] == 200
    status, body = _step(world, "reviewer", pid, v, "approve")
    assert (
        status == 403 and "a reviewer of 北京市民政局 must approve it" in body["error"]["message"]
    )
    users = UserStore(world.engine, FAST)
    theirs = users.create("mz-reviewer", PASSWORD, role="reviewer", department="北京市民政局")
    response = world.client.post(
        LIFE.format(pid=pid, v=v) + "/approve",
        headers={"Authorization": f"Bearer {users.issue(theirs)}"},
    )
    assert response.json()["status"] == "published"
    assert _statuses(world, "bj-elderly-allowance") == ["retired"]


def test_one_version_is_published_at_a_time(world: World) -> None:
    pid, v2 = _draft(world, DOC.replace("age >= 80 and", "age >= 79 and"))
    _step(world, "officer", pid, v2, "submit")
    assert _step(world, "reviewer", pid, v2, "approve")[0] == 200
    pid, v3 = _draft(world, DOC.replace("age >= 80 and", "age >= 78 and"))
    _step(world, "officer", pid, v3, "submit")
    assert _statuses(world, pid) == ["superseded", "published", "in_review"]
    _step(world, "reviewer", pid, v3, "approve")
    assert _statuses(world, pid) == ["superseded", "superseded", "published"]
    body = world.client.get(f"/api/v1/policies/{pid}", headers=world.as_("resident")).json()
    assert body["eligibility"].startswith("age >= 78")


def test_review_rules_hold_on_postgres(pg_world: World) -> None:
    pid, v = _draft(pg_world, TWIN)
    assert _step(pg_world, "officer", pid, v, "submit")[0] == 409
    pid, v = _draft(pg_world, REPLACES)
    assert _step(pg_world, "officer", pid, v, "submit")[0] == 200
    assert _step(pg_world, "reviewer", pid, v, "reject")[0] == 422
    assert _step(pg_world, "reviewer", pid, v, "reject", {"reason": "补充材料清单"})[0] == 200
    _step(pg_world, "officer", pid, v, "submit")
    assert _step(pg_world, "reviewer", pid, v, "approve", {"document": "id: x"})[0] == 409
    assert _step(pg_world, "reviewer", pid, v, "approve")[0] == 200
    assert _statuses(pg_world, "bj-elderly-allowance") == ["retired"]
    _, v2 = _draft(pg_world, REPLACES.replace("age >= 80 and", "age >= 79 and"))
    _step(pg_world, "officer", pid, v2, "submit")
    _step(pg_world, "reviewer", pid, v2, "approve")
    assert _statuses(pg_world, pid) == ["draft", "superseded", "published"]


def test_the_confirmation_says_what_publishing_will_cause(served_world: World) -> None:
    pid, v = _draft(served_world, REPLACES)
    assert _step(served_world, "officer", pid, v, "submit")[0] == 200
    url = LIFE.format(pid=pid, v=v) + "/consequences"
    assert served_world.client.get(url, headers=served_world.as_("officer")).status_code == 403
    effect = served_world.client.get(url, headers=served_world.as_("reviewer")).json()
    assert (effect["mode"], effect["retires"], effect["supersedes"]) == ("auto_grant", [OLD], None)
    # A new 免申即享 policy grants everyone it reaches in its first run, each told once.
    assert effect["grants"] == effect["notices"] and effect["questions"] == 0
    assert effect["grants"] == "<10" or effect["grants"] > 10
    # The same answer again costs nothing more (the dry-run's cache and budget).
    again = served_world.client.get(url, headers=served_world.as_("reviewer")).json()
    assert again["cached"] is True and again["grants"] == effect["grants"]
    # A new version of the published policy: it supersedes v1, nobody newly granted.
    _, v2 = _draft(served_world, DOC.replace("title: 高龄老年人津贴", "title: 高龄津贴"))
    _step(served_world, "officer", OLD, v2, "submit")
    mine = served_world.client.get(
        LIFE.format(pid=OLD, v=v2) + "/consequences", headers=served_world.as_("reviewer")
    ).json()
    assert (mine["supersedes"], mine["grants"], mine["no_longer_eligible"]) == (1, 0, 0)
