"""Explaining rules over groups: the member's fact a maybe waits for, and plain words that show
the household's figures to its recipient only."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from profiles.schema import load_schema
from rules.explainer import explain
from rules.group_explainer import member_facts, plain_group_clauses
from rules.groups import EMPLOYEES, HOUSEHOLD, MEMBERS
from rules.language import parse_rule

AS_OF = date(2026, 6, 30)
SCHEMA = load_schema()


def person(pid: str, age: int | None, income: float | None) -> dict[str, Any]:
    return {"person_id": pid, "age": age, "monthly_income": income, "hukou_city": "北京市"}


def household(
    *members: dict[str, Any], per_head: float | None, total: float | None
) -> dict[str, Any]:
    home = {"household_id": "h1", "size": len(members), "income_total": total,
            "income_per_capita": per_head}  # fmt: skip
    return {**home, MEMBERS: list(members)}


def test_an_unknown_household_income_names_the_member_whose_income_is_missing() -> None:
    rule = parse_rule("income_per_capita < 1450", SCHEMA.entity("household"))
    record = household(person("a", 40, 2000.0), person("b", 38, None), person("c", 5, None),
                       per_head=None, total=None)  # fmt: skip
    e = explain(rule, record, as_of=AS_OF)
    assert e.status == "maybe"
    assert e.unknown_fields == ("income_per_capita",)


def test_a_resident_rule_over_the_household_names_the_member_not_the_reader() -> None:
    rule = parse_rule("家庭.人均月收入 < 1450 and age >= 18", SCHEMA.resident)
    members = [person("a", 40, 2000.0), person("b", 38, None), person("c", 5, None)]
    home = {"household_id": "h1", "size": 3, "income_total": None, "income_per_capita": None}
    record = {**members[0], HOUSEHOLD: home, MEMBERS: members}
    e = explain(rule, record, as_of=AS_OF)
    assert e.status == "maybe"
    assert e.unknown_fields == ()  # nothing of the reader's own is missing
    # the child's income is 0 by rule; b's is what the answer waits for
    assert [(f.subject_id, f.fields, f.alone) for f in e.member_facts] == [
        ("b", ("monthly_income",), True)
    ]
    assert e.clauses[0].values == {"household.income_per_capita": None}
    assert e.to_dict()["member_facts"][0]["subject_id"] == "b"


def test_an_unknown_count_names_each_member_it_waits_for() -> None:
    rule = parse_rule('members_count(age < 3 and hukou_city == "北京市") >= 1',
                      SCHEMA.entity("household"))  # fmt: skip
    record = household(person("a", 30, 1.0), person("b", None, 1.0), person("c", None, 1.0),
                       per_head=1.0, total=3.0)  # fmt: skip
    facts = member_facts(rule, record, as_of=AS_OF)
    assert [(f.subject_id, f.fields, f.alone) for f in facts] == [
        ("b", ("age",), False),
        ("c", ("age",), False),
    ]


def test_a_settled_group_value_names_no_member() -> None:
    rule = parse_rule("any_member(age >= 80)", SCHEMA.entity("household"))
    record = household(person("a", 85, 1.0), person("b", None, 1.0), per_head=1.0, total=2.0)
    assert explain(rule, record, as_of=AS_OF).result is True
    assert member_facts(rule, record, as_of=AS_OF) == ()


def test_an_unknown_hire_names_the_employee() -> None:
    rule = parse_rule("员工数(年龄 <= 24 and 失业保险月数 >= 3) >= 1", SCHEMA.enterprise)
    jobs = [{"person_id": "p1", "age": 23, "hired_on": date(2026, 1, 1), "left_on": None,
             "unemployment_insurance_months": None}]  # fmt: skip
    facts = member_facts(rule, {"enterprise_id": "E", EMPLOYEES: jobs}, as_of=AS_OF)
    assert [(f.subject_id, f.fields) for f in facts] == [("p1", ("unemployment_insurance_months",))]


TWO = household(person("a", 40, 1500.0), person("b", 38, 700.0), per_head=1100.0, total=2200.0)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_recipient_reads_the_household_figures(lang: str) -> None:
    rule = parse_rule("家庭.人均月收入 < 1450", SCHEMA.resident)
    record = {**TWO[MEMBERS][0], HOUSEHOLD: TWO, MEMBERS: TWO[MEMBERS]}
    (line,) = plain_group_clauses(rule, record, as_of=AS_OF, lang=lang, recipient=True)
    expected = {
        "zh": "家庭人均月收入 1,100 元（2 人合计 2,200 元）低于 1,450 元 ✓",
        "en": "household income per capita 1,100 CNY (2 people, 2,200 CNY in total) "
        "below 1,450 CNY ✓",
    }[lang]
    assert line == expected


@pytest.mark.parametrize(
    "text",
    [
        "家庭.人均月收入 < 1450",
        "家庭.家庭月收入合计 >= 2000",
        "household.members_sum(monthly_income, age >= 16) < 3000",
        "household.members_max(monthly_income) > 1000",
    ],
)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_another_member_reads_met_or_not_and_no_figure(text: str, lang: str) -> None:
    rule = parse_rule(text, SCHEMA.resident)
    record = {**TWO[MEMBERS][1], HOUSEHOLD: TWO, MEMBERS: TWO[MEMBERS]}
    (line,) = plain_group_clauses(rule, record, as_of=AS_OF, lang=lang, recipient=False)
    # the only figures are the rule's own: b cannot work out a's income from the line
    figures = {f.replace(",", "") for f in re.findall(r"\d[\d,]*", line)}
    assert figures <= set(re.findall(r"\d+", text)), line
    assert "1100" not in line.replace(",", "") and "2200" not in line.replace(",", "")
    assert line.endswith(("✓", "✗"))


def test_an_ordinary_group_figure_is_shown_to_every_member() -> None:
    rule = parse_rule("household.members_count(age < 3) >= 1", SCHEMA.resident)
    record = {**TWO[MEMBERS][1], HOUSEHOLD: TWO, MEMBERS: TWO[MEMBERS]}
    (line,) = plain_group_clauses(rule, record, as_of=AS_OF, lang="zh", recipient=False)
    assert line == "符合条件的成员人数（年龄 低于 3） 0 不低于 1 ✗"


def test_a_count_its_known_members_settle_is_not_maybe() -> None:
    rule = parse_rule("members_count(age < 3) >= 1", SCHEMA.entity("household"))
    record = household(person("a", 1, None), person("b", None, 1.0), per_head=None, total=None)
    e = explain(rule, record, as_of=AS_OF)
    assert e.result is True  # the baby settles it whatever b's age
    assert e.member_facts == ()
    assert e.clauses[0].values == {"members_count(age < 3)": None}  # the count itself is not known
    fewer = parse_rule("members_count(age < 3) == 1", SCHEMA.entity("household"))
    assert explain(fewer, record, as_of=AS_OF).result is None  # b could be a baby too
    assert [f.subject_id for f in member_facts(fewer, record, as_of=AS_OF)] == ["b"]


def test_known_incomes_that_settle_the_household_figure_are_not_maybe_and_read_as_such() -> None:
    # 4,000 known over two members: at least 2,000 a head, whatever b earns (profiles.links)
    rule = parse_rule("家庭.人均月收入 < 1450", SCHEMA.resident)
    members = [person("a", 40, 4000.0), person("b", 38, None)]
    home = {"household_id": "h1", "size": 2, "income_total": None, "income_per_capita": None,
            "income_per_capita:least": 2000.0, "income_per_capita:greatest": None}  # fmt: skip
    record = {**members[0], HOUSEHOLD: home, MEMBERS: members}
    e = explain(rule, record, as_of=AS_OF)
    assert (e.result, e.member_facts) == (False, ())
    (line,) = plain_group_clauses(rule, record, as_of=AS_OF, lang="zh", recipient=True)
    assert line == "家庭人均月收入 至少 2,000 元 低于 1,450 元 ✗"
    # a lower known part leaves it open, and names the member it waits for
    lower = {**home, "income_per_capita:least": 1000.0}
    e = explain(rule, {**record, HOUSEHOLD: lower}, as_of=AS_OF)
    assert e.result is None
    assert [(f.subject_id, f.fields) for f in e.member_facts] == [("b", ("monthly_income",))]
