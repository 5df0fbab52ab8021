from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from api.app.audit import AuditLog
from matcher.live.source import live_as_of, today_local
from tests.api.app.world import World, make_world

URL = "/api/v1/subjects/{}/offers/bj-elderly-allowance/explain"
RUN_AS_OF = date(2026, 3, 1)  # the world's latest run


@pytest.fixture
def world_with_population(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    population = tmp_path / "pop"
    population.mkdir()
    # Only some columns: every absent field is unknown (DESIGN.md).
    pl.DataFrame(
        {
            "person_id": ["P1", "P2"],
            "birth_date": [date(1940, 5, 1), date(1990, 1, 1)],
            "hukou_city": ["北京市", None],
        }
    ).write_parquet(population / "residents.parquet")
    yield from make_world(sqlite_url, tmp_path, population)


def test_a_resident_sees_why_clause_by_clause(world_with_population: World) -> None:
    world = world_with_population
    response = world.client.get(URL.format("P1"), headers=world.as_("resident"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["as_of"], body["policy_title"]) == (
        "eligible", str(live_as_of(today_local(), RUN_AS_OF)), "高龄老年人津贴",
    )  # fmt: skip
    assert [(c["text"], c["result"]) for c in body["clauses"]] == [
        ("age >= 80", True),
        ('hukou_city == "北京市"', True),
    ]


def test_an_unknown_field_is_named_and_another_residents_explanation_is_hidden(
    world_with_population: World,
) -> None:
    world = world_with_population
    theirs = world.client.get(URL.format("P2"), headers=world.as_("resident"))
    assert theirs.status_code == 404
    own = world.client.get(URL.format("P2"), headers=world.as_("resident2")).json()
    assert own["status"] == "not_eligible"  # 36 years old: false whatever the hukou
    assert own["clauses"][0]["result"] is False


def test_an_admins_explanation_is_an_audited_profile_read(world_with_population: World) -> None:
    world = world_with_population
    assert world.client.get(URL.format("P1"), headers=world.as_("admin")).status_code == 200
    (entry,) = AuditLog(world.engine).entries(entity_type="subject")
    assert entry.details == {"what": "explain"}


def test_a_subject_in_neither_the_database_nor_a_population_is_a_404_saying_what_to_do(
    world: World,
) -> None:
    response = world.client.get(URL.format("P1"), headers=world.as_("resident"))
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "PUT /api/v1/profiles/resident/P1" in message
    assert "zhida serve --population DIR" in message


def test_without_a_population_a_subject_sent_by_a_department_is_explained(world: World) -> None:
    sent = {"birth_date": "1940-05-01", "hukou_city": "北京市"}
    world.client.put("/api/v1/profiles/resident/P1", json=sent, headers=world.as_("admin"))
    body = world.client.get(URL.format("P1"), headers=world.as_("resident")).json()
    assert body["status"] == "eligible"


def test_a_resident_reads_their_own_profile_unmasked_with_derived_fields(
    world_with_population: World,
) -> None:
    world = world_with_population
    response = world.client.get("/api/v1/subjects/P1/profile", headers=world.as_("resident"))
    assert response.status_code == 200, response.text
    body = response.json()
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["birth_date"]["value"] == "1940-05-01" and not fields["birth_date"]["masked"]
    as_of = date.fromisoformat(body["as_of"])  # the live date, as explain and ingestion use
    assert as_of == live_as_of(today_local(), RUN_AS_OF)
    assert fields["age"]["value"] == as_of.year - 1940 - ((as_of.month, as_of.day) < (5, 1))
    assert fields["hukou_city"]["label"] == "户籍城市"


def test_an_admin_sees_the_profile_with_sensitive_fields_masked_and_the_read_audited(
    world_with_population: World,
) -> None:
    world = world_with_population
    response = world.client.get("/api/v1/subjects/P1/profile", headers=world.as_("admin"))
    fields = {f["name"]: f for f in response.json()["fields"]}
    assert fields["birth_date"] == {
        "name": "birth_date", "label": "出生日期", "value": "1940-**-**", "masked": True,
    }  # fmt: skip
    assert fields["hukou_city"]["value"] == "北京市"  # not sensitive
    (entry,) = AuditLog(world.engine).entries(entity_type="subject")
    assert (entry.actor, entry.action, entry.details) == (
        "admin",
        "profile.read",
        {"what": "profile"},
    )
    other = world.client.get("/api/v1/subjects/P1/profile", headers=world.as_("resident2"))
    assert other.status_code == 404


def test_the_console_explains_an_offer_in_plain_words(world_with_population: World) -> None:
    from tests.api.app.world import PASSWORD

    world = world_with_population
    world.client.post("/console/login", data={"username": "resident", "password": PASSWORD})
    home = world.client.get("/console")
    assert 'href="/console/why/bj-elderly-allowance"' in home.text
    page = world.client.get("/console/why/bj-elderly-allowance")
    assert page.status_code == 200
    assert "高龄老年人津贴" in page.text and "符合条件" in page.text
    assert "✓ 满足" in page.text and "age &gt;= 80" in page.text


def test_the_console_says_what_to_do_when_the_subject_is_nowhere(world: World) -> None:
    from tests.api.app.world import PASSWORD

    world.client.post("/console/login", data={"username": "resident", "password": PASSWORD})
    page = world.client.get("/console/why/bj-elderly-allowance")
    assert page.status_code == 404
    assert "zhida serve --population DIR" in page.text


def test_after_the_hukou_moves_the_explanation_agrees_with_the_offers(
    world_with_population: World,
) -> None:
    """Issue 12: offers dropped the Beijing-only allowance while explain still read the file."""
    world = world_with_population
    moved = {"birth_date": "1940-05-01", "hukou_city": "上海市"}
    put = world.client.put("/api/v1/profiles/resident/P1", json=moved, headers=world.as_("admin"))
    assert put.status_code == 200, put.text
    offers = world.client.get("/api/v1/subjects/P1/offers", headers=world.as_("resident")).json()
    assert "bj-elderly-allowance" not in {o["policy_id"] for o in offers}
    body = world.client.get(URL.format("P1"), headers=world.as_("resident")).json()
    assert body["status"] == "not_eligible"
    assert ('hukou_city == "北京市"', False) in [(c["text"], c["result"]) for c in body["clauses"]]
    changes = world.client.get("/api/v1/subjects/P1/changes", headers=world.as_("admin")).json()
    assert body["as_of"] == changes[-1]["as_of"]  # the date ingestion evaluated on


def test_the_profile_shows_what_a_department_sent_over_the_population_file(
    world_with_population: World,
) -> None:
    world = world_with_population
    moved = {"birth_date": "1940-05-01", "hukou_city": "上海市"}
    world.client.put("/api/v1/profiles/resident/P1", json=moved, headers=world.as_("admin"))
    response = world.client.get("/api/v1/subjects/P1/profile", headers=world.as_("resident"))
    fields = {f["name"]: f["value"] for f in response.json()["fields"]}
    assert fields["hukou_city"] == "上海市"
