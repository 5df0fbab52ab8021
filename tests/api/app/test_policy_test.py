"""POST /api/v1/policies/test: a draft's clauses for one subject or a typed profile, masked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from api.app.audit import AuditLog
from matcher.live.source import live_as_of, today_local
from tests.api.app.world import CATALOG, World, make_world

URL = "/api/v1/policies/test"
ALLOWANCE = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")
BY_INCOME = ALLOWANCE.replace(
    'age >= 80 and hukou_city == "北京市"', "age >= 80 and monthly_income < 3000"
)
AS_OF = date(2026, 3, 1)  # the world's latest run


@pytest.fixture
def pop_world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    population = tmp_path / "pop"
    population.mkdir()
    pl.DataFrame(
        {
            "person_id": ["110101194001010011", "110101199001010022"],
            "birth_date": [date(1940, 1, 1), date(1990, 1, 1)],
            "hukou_city": ["北京市", "北京市"],
            "monthly_income": [3200.0, None],
        }
    ).write_parquet(population / "residents.parquet")
    pl.DataFrame(
        {
            "subject_id": ["110101199001010022"],
            "subject_type": ["resident"],
            "item_code": ["birth_registration"],
            "occurred_at": [datetime(2026, 1, 5, 10, 0)],
        }
    ).write_parquet(population / "events.parquet")
    yield from make_world(sqlite_url, tmp_path, population)


def _test(world: World, body: dict[str, Any], user: str = "officer", lang: str = "zh") -> Any:
    return world.client.post(f"{URL}?lang={lang}", json=body, headers=world.as_(user))


def test_a_typed_profile_gets_each_clause_true_false_or_unknown_in_plain_words(
    world: World,
) -> None:
    answer = _test(world, {"document": BY_INCOME, "profile": {"年龄": "85"}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "maybe" and body["subject"] is None
    assert [(c["text"], c["value"]) for c in body["clauses"]] == [
        ("age >= 80", "true"),
        ("monthly_income < 3000", "unknown"),
    ]
    assert body["clauses"][0]["words"] == "年龄 不低于 80"
    assert body["clauses"][1]["value_words"] == "未知（缺少信息）"
    assert body["unknown_fields"] == ["monthly_income"]


def test_how_to_meet_a_clause_reads_in_the_asked_language(world: World) -> None:
    body = _test(world, {"document": ALLOWANCE, "profile": {"年龄": "85"}}).json()
    hukou = body["clauses"][1]
    assert hukou["counterfactual"] == 'eligible if hukou_city == "北京市"; it is unknown'
    assert hukou["counterfactual_words"] == "需 户籍城市 为 “北京市”；当前为 未知"
    english = _test(world, {"document": ALLOWANCE, "profile": {"age": 85}}, lang="en").json()
    words = english["clauses"][1]["counterfactual_words"]
    assert words == "eligible if hukou city is “北京市”; it is unknown"


def test_an_eligible_profile_gets_its_benefit(world: World) -> None:
    body = _test(world, {"document": ALLOWANCE, "profile": {"age": 92, "户籍城市": "北京市"}})
    assert body.json()["status"] == "eligible"
    assert body.json()["benefit"] == "500.00" and body.json()["benefit_period"] == "month"


def test_english_words_on_request(world: World) -> None:
    body = _test(world, {"document": ALLOWANCE, "profile": {"age": 70}}, lang="en").json()
    assert body["status"] == "not_eligible"
    assert body["clauses"][0]["words"] == "age at least 80"
    assert body["clauses"][0]["value_words"] == "not met"


def test_a_birth_date_gives_the_age_on_the_live_date(world: World) -> None:
    as_of = live_as_of(today_local(), AS_OF)  # as explain, offers and ingestion
    born = (as_of + timedelta(days=1)).replace(year=as_of.year - 80)  # 80 only tomorrow
    body = _test(world, {"document": ALLOWANCE, "profile": {"birth_date": str(born)}}).json()
    assert body["as_of"] == as_of.isoformat()
    assert body["clauses"][0]["values"] == {"age": 79}


def test_a_subject_is_read_from_the_population_masked_and_audited(pop_world: World) -> None:
    body = _test(pop_world, {"document": BY_INCOME, "subject_id": "110101194001010011"}).json()
    assert body["status"] == "not_eligible"
    assert body["subject"] == "1101**********0011"
    income = body["clauses"][1]
    assert income["value"] == "false"
    assert income["values"] == {"monthly_income": "***"}
    assert "3200" not in str(body) and income["counterfactual"].endswith("it is ***")
    entries = AuditLog(pop_world.engine).entries()
    read = [e for e in entries if e.action == "profile.read"]
    assert read and read[-1].entity_id == "110101194001010011"
    assert read[-1].actor == "officer" and read[-1].details["what"] == "policy test"


def test_an_unknown_sensitive_value_is_shown_as_unknown(pop_world: World) -> None:
    body = _test(pop_world, {"document": BY_INCOME, "subject_id": "110101199001010022"}).json()
    assert body["clauses"][1]["values"] == {"monthly_income": None}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"document": ALLOWANCE}, "give either subject_id"),
        ({"document": ALLOWANCE, "subject_id": "P1", "profile": {}}, "not both"),
        ({"document": ALLOWANCE, "profile": {"agee": 80}}, "did you mean 'age'"),
        ({"document": ALLOWANCE, "profile": {"age": "eighty"}}, "expected a whole number"),
        ({"document": ALLOWANCE, "profile": {"gender": "m"}}, "expected one of male, female"),
        ({"document": ALLOWANCE, "profile": {"monthly_income": "NaN"}}, "a finite number"),
        ({"document": ALLOWANCE, "profile": {"birth_date": "1940-13-01"}}, "a date YYYY-MM-DD"),
        ({"document": ALLOWANCE, "profile": {"is_veteran": "maybe"}}, "true or false"),
        ({"document": ALLOWANCE, "profile": {"hukou_city": ["北京市"]}}, "not a list"),
        ({"document": "id: [", "profile": {"age": 80}}, ""),
    ],
)
def test_a_bad_request_is_refused_with_how_to_fix_it(
    world: World, body: dict[str, Any], message: str
) -> None:
    answer = _test(world, body)
    assert answer.status_code == 422
    assert message in answer.json()["error"]["message"]


def test_an_invalid_document_gives_every_problem_with_line_and_column(world: World) -> None:
    broken = ALLOWANCE.replace("age >= 80", "agee >= 80")
    answer = _test(world, {"document": broken, "profile": {"age": 80}})
    assert answer.status_code == 422
    problems = answer.json()["error"]["problems"]
    line = broken.splitlines().index(next(x for x in broken.splitlines() if "agee" in x)) + 1
    assert problems[0]["line"] == line and problems[0]["col"] > 1
    assert "age" in problems[0]["message"]


def test_a_subject_in_neither_the_database_nor_a_population_is_404_with_what_to_do(
    world: World,
) -> None:
    answer = _test(world, {"document": ALLOWANCE, "subject_id": "P1"})
    assert answer.status_code == 404
    message = answer.json()["error"]["message"]
    assert "zhida serve --population DIR" in message and "type a profile instead" in message


def test_a_subject_a_department_sent_is_tested_as_sent(pop_world: World) -> None:
    """The panel reads a subject as explain does: the database over the population file."""
    subject = "110101194001010011"  # 3200 a month in the file
    sent = {"birth_date": "1940-01-01", "hukou_city": "北京市", "monthly_income": 2000}
    put = pop_world.client.put(
        f"/api/v1/profiles/resident/{subject}", json=sent, headers=pop_world.as_("admin")
    )
    assert put.status_code == 200, put.text
    body = _test(pop_world, {"document": BY_INCOME, "subject_id": subject}).json()
    assert (body["status"], body["clauses"][1]["value"]) == ("eligible", "true")


def test_a_firm_is_refused_for_a_resident_policy(pop_world: World, tmp_path: Path) -> None:
    answer = _test(pop_world, {"document": ALLOWANCE, "subject_id": "nobody"})
    assert answer.status_code == 404


def test_typed_tags_are_read_as_a_set_and_named_in_words(world: World) -> None:
    doc = ALLOWANCE.replace('age >= 80 and hukou_city == "北京市"', '"new_parent" in tags')
    body = _test(world, {"document": doc, "profile": {"标签": "new_parent， other"}}).json()
    assert body["status"] == "eligible"
    assert body["clauses"][0]["words"] == "有标签“新生儿父母”"
    none = _test(world, {"document": doc, "profile": {"tags": []}}).json()
    assert none["status"] == "not_eligible"  # a known, empty tag set: not unknown


def test_a_subjects_tags_come_from_its_own_service_events(pop_world: World) -> None:
    doc = ALLOWANCE.replace('age >= 80 and hukou_city == "北京市"', '"new_parent" in tags')
    parent = _test(pop_world, {"document": doc, "subject_id": "110101199001010022"}).json()
    other = _test(pop_world, {"document": doc, "subject_id": "110101194001010011"}).json()
    assert (parent["status"], other["status"]) == ("eligible", "not_eligible")


DRAFT = """id: {id}
title: 草案
department: 北京市民政局
provenance: modelled
provenance_note: a draft under test
audience: {audience}
mode: proactive_push
eligibility: '{rule}'
valid_from: 2020-01-01
"""
HOUSEHOLD_RULE = DRAFT.format(
    id="draft-household", audience="resident",
    rule="household.income_per_capita < 1600 and household.members_count(age < 3) >= 1",
)  # fmt: skip
STAFF_RULE = DRAFT.format(
    id="draft-staff", audience="enterprise",
    rule="employees_count(hired_on >= $today - 365) >= 2",
)  # fmt: skip
FIRM = "91110108MA00000001"


@pytest.fixture
def linked_world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    """A household of three (a mother earning 3,000 a month, her partner earning nothing
    recorded as 0, a baby) and a firm that hired two people this year."""
    today = live_as_of(today_local(), AS_OF)
    population = tmp_path / "linked"
    population.mkdir()
    pl.DataFrame(
        {"person_id": ["M1", "F1", "B1"], "household_id": ["H1"] * 3,
         "relation_to_head": ["head", "spouse", "child"],
         "birth_date": [date(1990, 1, 1), date(1989, 1, 1), today - timedelta(days=200)],
         "monthly_income": [3000.0, 0.0, None], "hukou_city": ["北京市"] * 3,
         "mother_id": [None, None, "M1"]}
    ).write_parquet(population / "residents.parquet")  # fmt: skip
    pl.DataFrame({"household_id": ["H1"]}).write_parquet(population / "households.parquet")
    pl.DataFrame({"enterprise_id": [FIRM]}).write_parquet(population / "enterprises.parquet")
    pl.DataFrame(
        {"person_id": ["M1", "F1"], "enterprise_id": [FIRM] * 2,
         "hired_on": [today - timedelta(days=30), today - timedelta(days=60)]}
    ).write_parquet(population / "employments.parquet")  # fmt: skip
    yield from make_world(sqlite_url, tmp_path, population)


def test_a_subjects_household_is_read_and_its_sensitive_figures_masked(
    linked_world: World,
) -> None:
    """The panel reads the household as the batch run does: 3,000 over three members is
    1,000 a month, and one member is under 3; the income figure is masked, the count not."""
    answer = _test(linked_world, {"document": HOUSEHOLD_RULE, "subject_id": "F1"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "eligible", body
    income, young = body["clauses"]
    assert income["value"] == "true"
    assert income["values"] == {"household.income_per_capita": "***"}
    assert "1000" not in str(body) and "3000" not in str(body)
    assert young["value"] == "true"
    assert list(young["values"].values()) == [1]
    typed = _test(linked_world, {"document": HOUSEHOLD_RULE, "profile": {"age": 30}}).json()
    assert typed["status"] == "maybe"  # a typed profile has no household: unknown, not false


def test_a_firms_staff_are_counted_from_its_employments(linked_world: World) -> None:
    body = _test(linked_world, {"document": STAFF_RULE, "subject_id": FIRM}).json()
    assert body["status"] == "eligible", body
    (clause,) = body["clauses"]
    assert list(clause["values"].values()) == [2]  # hires are not a masked figure
