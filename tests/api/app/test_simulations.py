"""Simulations through the API, reach-by-group CSV exports and tags."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from api.app.audit import AuditLog
from api.app.services import Services
from simulations.privacy import PrivacyParameters
from simulations.timeline_release import timeline_epsilon
from tests.api.app.test_dryrun import AS_OF, FROM_70, FROM_75, _age, _people
from tests.api.app.world import World, make_world

SIMS = "/api/v1/simulations"


@pytest.fixture
def sim_world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    population = tmp_path / "pop"
    population.mkdir()
    people = _people()
    people.write_parquet(population / "residents.parquet")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    pl.DataFrame(
        {
            "subject_id": ["P1", "P2"],
            "subject_type": ["resident", "resident"],
            "item_code": ["birth_registration", "marriage_registration"],
            "occurred_at": [now, now],
        }
    ).write_parquet(population / "events.parquet")
    for world in make_world(sqlite_url, tmp_path, population):
        # What is counted: an ε so large the noise rounds to nothing (test_privacy.py checks
        # the released figures at the published parameters).
        _svc(world).privacy.params = PRECISE
        yield world


PRECISE = PrivacyParameters(epsilon=1e9, daily_cap=1e15, lifetime_cap=1e15)


def _svc(world: World) -> Services:
    found = world.client.app.state["services"]
    assert isinstance(found, Services)
    return found


def _finished(world: World, sim_id: int) -> dict[str, Any]:
    _svc(world).simulations.join()
    # An admin reads every simulation; an analyst only their own (access.may_read_simulation).
    body: dict[str, Any] = world.client.get(f"{SIMS}/{sim_id}", headers=world.as_("admin")).json()
    return body


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_an_analyst_runs_a_reach_simulation_and_downloads_its_tables(sim_world: World) -> None:
    world = sim_world
    started = world.client.post(
        SIMS, json={"kind": "reach", "documents": [FROM_75]}, headers=world.as_("analyst")
    )
    assert started.status_code == 202, started.text
    assert started.json()["status"] in ("queued", "running", "done")
    done = _finished(world, started.json()["id"])
    assert done["status"] == "done", done["error"]
    assert done["params"]["changed"] == ["bj-elderly-allowance"]
    assert done["tables"] == ["groups", "overlap", "policies"]
    people = _people()
    ages = [_age(b) for b in people["birth_date"]]
    beijing = [h == "北京市" for h in people["hukou_city"]]
    before = sum(1 for a, b in zip(ages, beijing, strict=True) if b and a >= 80)
    after = sum(1 for a, b in zip(ages, beijing, strict=True) if b and a >= 75)
    response = world.client.get(
        f"{SIMS}/{done['id']}/tables/policies", headers=world.as_("analyst")
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    (row,) = [r for r in _csv(response.text) if r["policy_id"] == "bj-elderly-allowance"]
    assert (row["eligible_before"], row["eligible_after"], row["newly_eligible"]) == (
        str(before), str(after), "<10",  # 75-79: five, suppressed
    )  # fmt: skip
    groups = world.client.get(f"{SIMS}/{done['id']}/tables/groups", headers=world.as_("analyst"))
    counts = [v for r in _csv(groups.text) for k, v in r.items()
              if k.startswith(("eligible", "maybe", "newly", "no_longer"))]  # fmt: skip
    assert "<10" in counts  # 75-79 with a Beijing hukou: 5 newly eligible
    for r in _csv(groups.text):  # the cost of so few would give their count away
        assert (r["cost_year_after"] == "—") == (r["eligible_after"] == "<10")
    assert all(v == "<10" or int(v) == 0 or int(v) >= 10 for v in counts)
    entries = AuditLog(world.engine).entries(entity_type="simulation")
    exports = [e for e in entries if e.action == "simulation.export"]
    assert sorted((e.action, e.details["table"]) for e in exports) == [
        ("simulation.export", "groups"), ("simulation.export", "policies"),
    ]  # fmt: skip
    listed = world.client.get(SIMS, headers=world.as_("admin")).json()  # the author's or any
    assert [s["id"] for s in listed] == [done["id"]]


def test_a_bad_draft_or_an_empty_change_is_refused_before_anything_is_recorded(
    sim_world: World,
) -> None:
    world = sim_world
    typo = FROM_70.replace("age >= 70", "agee >= 70")
    bad = world.client.post(
        SIMS, json={"kind": "reach", "documents": [typo]}, headers=world.as_("analyst")
    )
    line = typo[: typo.index("agee")].count("\n") + 1  # the catalog file's own line
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["line"] == line
    empty = world.client.post(SIMS, json={"kind": "reach"}, headers=world.as_("analyst"))
    assert empty.status_code == 422 and "needs a change" in empty.json()["error"]["message"]
    gone = world.client.post(
        SIMS, json={"kind": "reach", "retire": ["no-such"]}, headers=world.as_("analyst")
    )
    assert gone.status_code == 404
    months = world.client.post(
        SIMS, json={"kind": "timeline", "months": 99}, headers=world.as_("analyst")
    )
    assert months.status_code == 422
    assert world.client.get(SIMS, headers=world.as_("analyst")).json() == []


def test_retiring_a_policy_is_simulated_too(sim_world: World) -> None:
    world = sim_world
    started = world.client.post(
        SIMS, json={"kind": "reach", "retire": ["bj-elderly-allowance"]},
        headers=world.as_("admin"),
    )  # fmt: skip
    done = _finished(world, started.json()["id"])
    assert done["status"] == "done", done["error"]
    assert done["summary"]["changes"] == [
        {"policy_id": "bj-elderly-allowance", "change": "removed"}
    ]


def test_a_timeline_runs_in_the_background_and_reports_its_status(sim_world: World) -> None:
    world = sim_world
    started = world.client.post(
        SIMS, json={"kind": "timeline", "months": 1, "seeds": 1}, headers=world.as_("analyst")
    )
    assert started.status_code == 202
    done = _finished(world, started.json()["id"])
    assert done["status"] == "done", done["error"]
    assert done["summary"]["start"] == AS_OF.isoformat()
    monthly = world.client.get(f"{SIMS}/{done['id']}/tables/monthly", headers=world.as_("analyst"))
    assert {r["arm"] for r in _csv(monthly.text)} == {"push", "no_push"}


def test_tables_of_an_unfinished_or_unknown_simulation_are_404(sim_world: World) -> None:
    world = sim_world
    assert world.client.get(f"{SIMS}/99", headers=world.as_("analyst")).status_code == 404
    started = world.client.post(
        SIMS, json={"kind": "reach", "documents": [FROM_70]}, headers=world.as_("analyst")
    ).json()
    _finished(world, started["id"])
    wrong = world.client.get(f"{SIMS}/{started['id']}/tables/monthly", headers=world.as_("analyst"))
    assert wrong.status_code == 404 and "policies" in wrong.json()["error"]["message"]


def test_a_simulation_left_running_by_a_stopped_server_is_marked_interrupted(
    sim_world: World,
) -> None:
    import sqlalchemy as sa

    from simulations.jobs import SimulationRunner
    from simulations.tables import simulations

    world = sim_world
    with world.engine.begin() as conn:
        conn.execute(
            simulations.insert().values(
                kind="reach",
                status="running",
                params="{}",
                author="analyst",
                created_at=datetime(2026, 3, 1),
            )
        )
    runner = SimulationRunner(world.engine, Path("unused"))
    runner.start("reach", {}, "analyst", lambda _d: {})
    runner.join()
    with world.engine.connect() as conn:
        statuses = [r.status for r in conn.execute(sa.select(simulations.c.status))]
    assert statuses[0] == "failed" and statuses[-1] == "done"


def test_reach_by_group_downloads_as_k_anonymous_csv(sim_world: World) -> None:
    world = sim_world
    response = world.client.get("/api/v1/exports/reach-by-group.csv", headers=world.as_("analyst"))
    assert response.status_code == 200, response.text
    rows = _csv(response.text)
    # The world's run: P1 and P2 eligible for the allowance, P1 maybe for the card.
    allowance = {(r["dimension"], r["group"]): r["eligible"] for r in rows
                 if r["policy_id"] == "bj-elderly-allowance"}  # fmt: skip
    assert allowance[("district", "西城区")] == "<10"
    assert {r["dimension"] for r in rows} >= {"district", "age_band", "hukou"}
    (entry,) = AuditLog(world.engine).entries(entity_type="match_run")
    assert entry.action == "reach.export"


def test_the_tag_library_and_a_residents_own_tags(sim_world: World) -> None:
    world = sim_world
    library = world.client.get("/api/v1/tags", headers=world.as_("resident")).json()
    assert {"new_parent", "newly_married"} <= {t["id"] for t in library}
    new_parent = next(t for t in library if t["id"] == "new_parent")
    assert new_parent["name_zh"] == "新生儿父母"
    own = world.client.get("/api/v1/subjects/P1/tags", headers=world.as_("resident")).json()
    assert "new_parent" in [t["id"] for t in own["tags"]]
    assert "newly_married" not in [t["id"] for t in own["tags"]]
    theirs = world.client.get("/api/v1/subjects/P2/tags", headers=world.as_("resident"))
    assert theirs.status_code == 404
    admin = world.client.get("/api/v1/subjects/P2/tags", headers=world.as_("admin")).json()
    assert "newly_married" in [t["id"] for t in admin["tags"]]
    assert "new_parent" not in [t["id"] for t in admin["tags"]]
    nobody = world.client.get("/api/v1/subjects/P404/tags", headers=world.as_("admin"))
    assert nobody.status_code == 404


def test_a_timeline_is_charged_once_and_read_again_for_free(sim_world: World) -> None:
    world = sim_world
    budget = _svc(world).privacy
    budget.params = PrivacyParameters()  # the published parameters
    started = world.client.post(
        SIMS, json={"kind": "timeline", "months": 1, "seeds": 1}, headers=world.as_("analyst")
    )
    assert started.status_code == 202
    sim_id = started.json()["id"]
    _finished(world, sim_id)
    charged = budget.spent("analyst")
    assert (charged.today, charged.releases) == (timeline_epsilon(), 1)
    reads = [
        (world.client.get(f"{SIMS}/{sim_id}", headers=world.as_("analyst")).json()["summary"],
         world.client.get(f"{SIMS}/{sim_id}/tables/summary", headers=world.as_("analyst")).text)
        for _ in range(3)
    ]  # fmt: skip
    assert reads[0] == reads[1] == reads[2] and "ε=1.5" in reads[0][0]["lines"][0]
    assert budget.spent("analyst") == charged


def test_a_spent_budget_refuses_a_timeline_with_a_429_saying_what_is_left(sim_world: World) -> None:
    world = sim_world
    budget = _svc(world).privacy
    budget.params = PrivacyParameters()
    budget.charge("analyst", "earlier answers", budget.params.daily_cap - 1.0)
    refused = world.client.post(
        SIMS, json={"kind": "timeline", "months": 1, "seeds": 1}, headers=world.as_("analyst")
    )
    assert refused.status_code == 429
    message = refused.json()["error"]["message"]
    assert "privacy budget for today is spent" in message and "1.00 of the daily 30" in message
    assert _svc(world).simulations.list() == []
