from __future__ import annotations

from api.app.audit import AuditLog
from tests.api.app.world import CATALOG, World

DOC = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")
RAISED = DOC.replace("age >= 80 and", "age >= 79 and")
TYPO = DOC.replace("age >= 80 and", "agee >= 80 and")
OTHER_DEPT = RAISED.replace("department: 北京市民政局", "department: 北京市人力资源和社会保障局")


def _draft(world: World, who: str, doc: str = RAISED) -> int:
    response = world.client.post(
        "/api/v1/policies/drafts", headers=world.as_(who), json={"document": doc, "note": "79"}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["version"])


def _step(world: World, who: str, version: int, action: str) -> tuple[int, dict[str, object]]:
    response = world.client.post(
        f"/api/v1/policies/bj-elderly-allowance/versions/{version}/{action}",
        headers=world.as_(who),
    )
    return response.status_code, response.json()


def test_every_role_lists_the_published_catalog(world: World) -> None:
    response = world.client.get("/api/v1/policies", headers=world.as_("resident"))
    assert [p["policy_id"] for p in response.json()] == ["bj-elderly-allowance"]
    assert response.json()[0]["provenance"] == "cited"  # as its file declares


def test_a_published_policy_reads_with_its_rule_and_how_to_apply(world: World) -> None:
    response = world.client.get(
        "/api/v1/policies/bj-elderly-allowance", headers=world.as_("enterprise")
    )
    body = response.json()
    assert (body["title"], body["mode"], body["benefit_period"]) == (
        "高龄老年人津贴",
        "auto_grant",
        "month",
    )
    assert body["eligibility"] == 'age >= 80 and hukou_city == "北京市"'
    assert (body["provenance"], body["provenance_note"]) == ("cited", None)
    missing = world.client.get("/api/v1/policies/bj-nope", headers=world.as_("enterprise"))
    assert missing.status_code == 404


def test_validate_returns_each_problem_with_its_line_and_column(world: World) -> None:
    response = world.client.post(
        "/api/v1/policies/validate", headers=world.as_("officer"), json={"document": TYPO}
    )
    body = response.json()
    assert response.status_code == 200 and body["valid"] is False
    (problem,) = body["problems"]
    line = next(i for i, text in enumerate(TYPO.splitlines(), 1) if "agee" in text)
    assert problem["line"] == line
    assert TYPO.splitlines()[line - 1][problem["col"] - 1 :].startswith("agee")
    assert "age" in problem["message"]  # the nearest field name is suggested
    ok = world.client.post(
        "/api/v1/policies/validate", headers=world.as_("officer"), json={"document": DOC}
    )
    assert ok.json() == {"valid": True, "policy_id": "bj-elderly-allowance", "problems": []}


def test_validate_speaks_chinese_unless_asked_for_english_and_lists_warnings(
    world: World,
) -> None:
    never = DOC.replace("age >= 80 and", "age >= 80 and age < 80 and")
    zh = world.client.post(
        "/api/v1/policies/validate", headers=world.as_("officer"), json={"document": never}
    ).json()
    assert zh["valid"] is False
    assert [(p["severity"], p["message"][:13]) for p in zh["problems"]] == [
        ("error", "资格条件：条件永远不成立：")
    ]
    en = world.client.post(
        "/api/v1/policies/validate?lang=en", headers=world.as_("officer"), json={"document": never}
    ).json()
    assert en["problems"][0]["message"].startswith("eligibility: this never holds")
    # (amounts that are no parameter's, so the overlap is the one warning)
    tiers = DOC.replace(
        "benefit: 'parameters.elderly_allowance[age]'",
        "benefit: 'age >= 90 ? 510 : (age >= 85 and is_veteran ? 810 : 110)'",
    )
    warned = world.client.post(
        "/api/v1/policies/validate", headers=world.as_("officer"), json={"document": tiers}
    ).json()
    assert warned["valid"] is True
    assert [p["severity"] for p in warned["problems"]] == ["warning"]


def test_a_draft_with_errors_is_refused_with_the_same_positions(world: World) -> None:
    response = world.client.post(
        "/api/v1/policies/drafts", headers=world.as_("officer"), json={"document": TYPO}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "CatalogError"
    assert error["problems"][0]["line"] > 1
    assert "您是否要写“年龄”（age）？" in error["problems"][0]["message"]
    english = world.client.post(
        "/api/v1/policies/drafts?lang=en", headers=world.as_("officer"), json={"document": TYPO}
    )
    assert "did you mean 'age'?" in english.json()["error"]["problems"][0]["message"]


def test_four_eyes_the_author_cannot_approve_but_a_reviewer_publishes(world: World) -> None:
    version = _draft(world, "admin")  # an admin may author, but not approve their own
    assert _step(world, "admin", version, "submit")[0] == 200
    status, body = _step(world, "admin", version, "approve")
    assert status == 409
    assert "cannot also approve it" in str(body["error"]["message"])  # type: ignore[index]
    status, body = _step(world, "reviewer", version, "approve")
    assert (status, body["status"]) == (200, "published")
    versions = world.client.get(
        "/api/v1/policies/bj-elderly-allowance/versions", headers=world.as_("officer")
    ).json()
    assert [(v["version"], v["status"], v["reviewer"]) for v in versions][-1] == (
        version, "published", "reviewer",
    )  # fmt: skip


def test_an_officer_drafts_and_submits_only_for_their_own_department(world: World) -> None:
    version = _draft(world, "officer")
    status, body = _step(world, "officer2", version, "submit")
    assert status == 403
    assert "belongs to 北京市民政局" in str(body["error"]["message"])  # type: ignore[index]
    assert _step(world, "officer", version, "submit") == (
        200, {"policy_id": "bj-elderly-allowance", "version": version, "status": "in_review"},
    )  # fmt: skip
    refused = world.client.post(
        "/api/v1/policies/drafts", headers=world.as_("officer"), json={"document": OTHER_DEPT}
    )
    assert refused.status_code == 403


def test_a_transition_the_lifecycle_does_not_allow_is_a_409(world: World) -> None:
    version = _draft(world, "officer")
    status, body = _step(world, "reviewer", version, "approve")  # not submitted yet
    assert status == 409
    assert "cannot publish a version that is draft" in str(body["error"]["message"])  # type: ignore[index]


def test_every_rule_change_and_publish_is_audited_in_order(world: World) -> None:
    version = _draft(world, "officer")
    _step(world, "officer", version, "submit")
    _step(world, "reviewer", version, "approve")
    _step(world, "reviewer", version, "retire")
    entries = AuditLog(world.engine).entries(entity_type="policy")
    assert [(e.actor, e.action, e.details["version"]) for e in reversed(entries)] == [
        ("officer", "policy.draft", version),
        ("officer", "policy.submit", version),
        ("reviewer", "policy.approve", version),
        ("reviewer", "policy.retire", version),
    ]
    assert AuditLog(world.engine).verify()[2] == []


def test_an_unknown_policy_or_version_is_a_404(world: World) -> None:
    h = world.as_("reviewer")
    assert world.client.get("/api/v1/policies/nope/versions", headers=h).status_code == 404
    assert _step(world, "reviewer", 99, "approve")[0] == 404


def test_a_draft_is_shown_as_a_diff_against_the_published_version(world: World) -> None:
    version = _draft(world, "officer")
    response = world.client.get(
        f"/api/v1/policies/bj-elderly-allowance/versions/{version}/diff",
        headers=world.as_("reviewer"),
    )
    body = response.json()
    assert (body["version"], body["against"]) == (version, 1)
    changed = [line for line in body["diff"].splitlines() if line[:1] in "+-"]
    assert changed == [
        "--- bj-elderly-allowance@v1",
        f"+++ bj-elderly-allowance@v{version}",
        "-eligibility: 'age >= 80 and hukou_city == \"北京市\"'",
        "+eligibility: 'age >= 79 and hukou_city == \"北京市\"'",
    ]
