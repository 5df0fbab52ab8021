"""What is known is not unknown (issue 15 item 2): a household whose known incomes already
reach the 低保 standard is over it whatever its unknown incomes are (monthly_income is at
least 0), in the batch run and for one subject alike; one that stays a maybe names the
members whose income settles it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import pytest

from matcher.batch import match_frame, match_population
from matcher.group_context import with_group_context
from profiles.links import with_links
from profiles.schema import load_schema
from rules.evaluator import evaluate
from rules.explainer import explain
from rules.language import parse_rule

AS_OF = date(2026, 6, 30)
SCHEMA = load_schema()
STANDARD = 1450  # 京民社救发〔2024〕80号: 1,450 CNY per person-month (rules/catalog/SOURCES.md)


@dataclass(frozen=True)
class P:
    id: str
    audience: str
    eligibility: str
    benefit: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None


# (person, household, relation, birth date, monthly income)
PEOPLE = [
    ("a1", "rich", "head", date(1980, 1, 1), 6000.0),  # 6000 known over 2: at least 3000
    ("a2", "rich", "spouse", date(1981, 1, 1), None),
    ("b1", "poor", "head", date(1980, 1, 1), 1000.0),  # at least 500: it depends on b2
    ("b2", "poor", "spouse", date(1981, 1, 1), None),
    ("c1", "known", "head", date(1980, 1, 1), 1000.0),  # 1000 over 2 (the child earns 0)
    ("c2", "known", "child", date(2018, 1, 1), None),
    ("d1", "edge", "head", date(1980, 1, 1), 2900.0),  # exactly 1450 at least: not below
    ("d2", "edge", "spouse", date(1981, 1, 1), None),
]
HOMES = ("rich", "poor", "known", "edge")


def _frame(rows: list[dict[str, Any]], entity: str) -> pl.LazyFrame:
    return pl.DataFrame(rows, schema=SCHEMA.entity(entity).polars_schema()).lazy()


def population() -> dict[str, pl.LazyFrame]:
    residents = _frame(
        [
            {"person_id": p, "household_id": h, "relation_to_head": r, "birth_date": b,
             "monthly_income": m, "hukou_city": "北京市", "subsistence_status": "none"}
            for p, h, r, b, m in PEOPLE
        ],
        "resident",
    )  # fmt: skip
    return {"resident": residents, "household": _frame([{"household_id": h} for h in HOMES],
                                                        "household")}  # fmt: skip


DIBAO = ('hukou_city == "北京市" and household_income_per_capita < 1450 '
         'and subsistence_status == "none"')  # fmt: skip
POLICIES = [
    P("flat", "resident", DIBAO),  # as rules/catalog/bj-dibao-invitation.yaml reads it
    P("attribute", "resident", "household.income_per_capita < 1450"),
    P("household", "household", "income_per_capita < 1450", "(1450 - income_per_capita) * size"),
    P("total", "household", "income_total >= 2900"),
    P("sum", "household", "members_sum(monthly_income, age >= 16) < 2 * 1450"),
]


def pairs(batch_rows: int = 3) -> dict[tuple[str, str], str]:
    out = pl.concat(list(match_population(population(), POLICIES, SCHEMA, as_of=AS_OF,
                                          batch_rows=batch_rows)))  # fmt: skip
    return {(r["policy_id"], r["subject_id"]): r["status"] for r in out.to_dicts()}


def test_known_incomes_over_the_standard_settle_the_household() -> None:
    got = pairs()
    for policy in ("flat", "attribute"):
        status = {s: got.get((policy, s)) for s, *_ in PEOPLE}
        assert status == {
            "a1": None,
            "a2": None,
            "b1": "maybe",
            "b2": "maybe",
            "c1": "eligible",
            "c2": "eligible",
            "d1": None,
            "d2": None,
        }, policy
    assert {h: got.get(("household", h)) for h in HOMES} == {
        "rich": None, "poor": "maybe", "known": "eligible", "edge": None}  # fmt: skip
    # ">=": true as soon as the known incomes reach it
    assert {h: got.get(("total", h)) for h in HOMES} == {
        "rich": "eligible", "poor": "maybe", "known": None, "edge": "eligible"}  # fmt: skip
    assert {h: got.get(("sum", h)) for h in HOMES} == {
        "rich": None, "poor": "maybe", "known": "eligible", "edge": None}  # fmt: skip


def test_the_bounds_do_not_depend_on_the_batch_size() -> None:
    assert pairs(1) == pairs(2) == pairs(100)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.id)
def test_one_subject_is_evaluated_as_the_batch_does(policy: P) -> None:
    got = pairs()
    frames = population()
    linked = with_links(frames, as_of=AS_OF)
    entity = SCHEMA.entity(policy.audience)
    rule = parse_rule(policy.eligibility, entity)
    subjects = linked[policy.audience].collect().to_dicts()
    for subject in subjects:
        key = subject[str(entity.key)]
        record = with_group_context(subject, entity, frames, as_of=AS_OF, schema=SCHEMA)
        result = evaluate(rule, record, as_of=AS_OF)
        expected = None if result is False else ("eligible" if result else "maybe")
        assert got.get((policy.id, key)) == expected, (policy.id, key, result)
        assert explain(rule, record, as_of=AS_OF, schema=SCHEMA).result == result


@pytest.mark.parametrize("text", ["household.income_per_capita < 1450", DIBAO])
def test_a_maybe_the_bounds_leave_names_the_member_whose_income_settles_it(text: str) -> None:
    frames = population()
    rule = parse_rule(text, SCHEMA.resident)
    b1 = with_links(frames, as_of=AS_OF)["resident"].filter(pl.col("person_id") == "b1")
    record = with_group_context(b1.collect().row(0, named=True), SCHEMA.resident, frames,
                                as_of=AS_OF, schema=SCHEMA)  # fmt: skip
    facts = explain(rule, record, as_of=AS_OF, schema=SCHEMA).member_facts
    assert [(f.subject_id, f.fields, f.alone) for f in facts] == [("b2", ("monthly_income",), True)]


def test_without_links_an_unknown_figure_stays_unknown() -> None:
    flat = _frame(
        [
            {"person_id": "x", "hukou_city": "北京市", "subsistence_status": "none",
             "household_income_per_capita": 900.0},
            {"person_id": "y", "hukou_city": "北京市", "subsistence_status": "none"},
            {"person_id": "z", "hukou_city": "北京市", "subsistence_status": "none",
             "household_income_per_capita": 2000.0},
        ],
        "resident",
    )  # fmt: skip
    out = match_frame({"resident": flat}, [POLICIES[0]], SCHEMA, as_of=AS_OF)
    assert dict(zip(out["subject_id"], out["status"], strict=True)) == {
        "x": "eligible", "y": "maybe"}  # fmt: skip
