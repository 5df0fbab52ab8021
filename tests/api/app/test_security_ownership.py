"""Ownership (issue 14 finding 10): a policy id stays with its department, and a simulation is
read by whoever ran it (or an admin), the same through the API and the console."""

from __future__ import annotations

from typing import Any

import pytest

from api.app.audit import AuditLog
from api.app.auth import UserStore
from api.app.services import Services
from rules.store import PolicyStore
from tests.api.app.world import CATALOG, FAST, PASSWORD, World

DRAFTS = "/api/v1/policies/drafts"
SIMS = "/api/v1/simulations"
POLICY = "bj-elderly-allowance"
OWNER = "北京市民政局"
OTHER = "北京市人力资源和社会保障局"


def _document(department: str) -> str:
    text = (CATALOG / f"{POLICY}.yaml").read_text(encoding="utf-8")
    return text.replace(f"department: {OWNER}", f"department: {department}")


@pytest.mark.parametrize("who", ["officer2", "admin"])
def test_a_draft_cannot_move_an_id_to_another_department(world: World, who: str) -> None:
    before = len(PolicyStore(world.engine).versions(POLICY))
    moved = world.client.post(DRAFTS, json={"document": _document(OTHER)}, headers=world.as_(who))
    assert moved.status_code == 403
    assert moved.json()["error"]["message"] == (
        f"policy {POLICY} belongs to {OWNER}; a draft cannot move it to {OTHER}. Keep "
        f"'department: {OWNER}', or give the new policy an id of its own"
    )
    assert len(PolicyStore(world.engine).versions(POLICY)) == before


def test_an_officer_cannot_draft_for_another_department(world: World) -> None:
    foreign = world.client.post(
        DRAFTS, json={"document": _document(OWNER)}, headers=world.as_("officer2")
    )
    assert foreign.status_code == 403
    assert f"this policy belongs to {OWNER}" in foreign.json()["error"]["message"]


def test_the_owning_departments_officer_drafts_the_next_version(world: World) -> None:
    own = world.client.post(
        DRAFTS, json={"document": _document(OWNER), "note": "v2"}, headers=world.as_("officer")
    )
    assert own.status_code == 201, own.text
    assert own.json()["policy_id"] == POLICY


def test_a_new_id_is_owned_by_the_department_that_drafts_it_first(world: World) -> None:
    text = _document(OTHER).replace(f"id: {POLICY}", "id: bj-new-allowance")
    first = world.client.post(DRAFTS, json={"document": text}, headers=world.as_("officer2"))
    assert first.status_code == 201, first.text
    taken = text.replace(f"department: {OTHER}", f"department: {OWNER}")
    again = world.client.post(DRAFTS, json={"document": taken}, headers=world.as_("officer"))
    assert again.status_code == 403
    assert "policy bj-new-allowance belongs to" in again.json()["error"]["message"]


# ---------------------------------------------------------------- who reads a simulation


def _simulation(world: World, author: str) -> int:
    """A finished simulation run by ``author`` (its work: a summary and no tables)."""
    svc = world.client.app.state["services"]
    assert isinstance(svc, Services)
    row = svc.simulations.start("timeline", {"months": 1}, author, lambda _: {"offers": 123})
    svc.simulations.join()
    return row.id


@pytest.fixture
def two_analysts(world: World) -> tuple[World, int]:
    users = UserStore(world.engine, FAST)
    other = users.create("analyst2", PASSWORD, role="analyst")
    world.tokens["analyst2"] = users.issue(other)
    return world, _simulation(world, "analyst")


def _read(world: World, who: str, path: str) -> Any:
    return world.client.get(path, headers=world.as_(who))


def test_an_analyst_reads_their_own_simulation_and_an_admin_any(
    two_analysts: tuple[World, int],
) -> None:
    world, sim = two_analysts
    for who in ("analyst", "admin"):
        got = _read(world, who, f"{SIMS}/{sim}")
        assert got.status_code == 200 and got.json()["summary"] == {"offers": 123}
        assert [s["id"] for s in _read(world, who, SIMS).json()] == [sim]


def test_another_analyst_gets_the_404_of_a_simulation_that_does_not_exist(
    two_analysts: tuple[World, int],
) -> None:
    world, sim = two_analysts
    theirs = _read(world, "analyst2", f"{SIMS}/{sim}")
    missing = _read(world, "analyst2", f"{SIMS}/999999")
    assert theirs.status_code == missing.status_code == 404
    assert _read(world, "analyst2", SIMS).json() == []
    assert _read(world, "analyst2", f"{SIMS}/{sim}/tables/daily").status_code == 404
    assert _read(world, "officer", f"{SIMS}/{sim}").status_code == 403


def test_the_console_applies_the_same_rule(two_analysts: tuple[World, int]) -> None:
    world, sim = two_analysts
    page, status = f"/console/analyst/timeline/{sim}", f"/console/analyst/timeline/{sim}/status"

    def console(who: str, path: str) -> int:
        world.client.cookies.clear()
        login = world.client.post(
            "/console/login", data={"username": who, "password": PASSWORD},
            follow_redirects=False,
        )  # fmt: skip
        assert login.status_code == 303
        return world.client.get(path).status_code

    assert (console("analyst", page), console("analyst", status)) == (200, 200)
    assert (console("admin", page), console("admin", status)) == (200, 200)
    assert (console("analyst2", page), console("analyst2", status)) == (404, 404)


def test_reading_a_finished_simulation_is_audited_with_the_figures_released(
    two_analysts: tuple[World, int],
) -> None:
    world, sim = two_analysts
    _read(world, "admin", f"{SIMS}/{sim}")
    (entry,) = AuditLog(world.engine).entries(entity_type="simulation", limit=1)
    assert (entry.actor, entry.action, entry.entity_id) == ("admin", "simulation.read", str(sim))
    assert entry.details == {"figures": {str(sim): {"offers": 123}}}


def test_the_analyst_pages_reach_csv_follows_the_same_rule(served_world: World) -> None:
    from tests.api.app.test_console_analyst import REFORM, run
    from tests.api.app.test_console_subject import login

    world = served_world
    users = UserStore(world.engine, FAST)
    users.create("analyst2", PASSWORD, role="analyst")
    login(world, "analyst")
    status, text = run(world, REFORM)
    assert status == 200, text
    link = text.split('id="csv" href="', 1)[1].split('"', 1)[0]
    assert world.client.get(link).status_code == 200
    login(world, "analyst2")
    assert world.client.get(link).status_code == 404
    login(world, "admin")
    assert world.client.get(link).status_code == 200
