from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from profiles.schema import load_schema
from rules.evaluator import evaluate_benefit
from rules.explainer import explain
from rules.language import parse_rule

RESIDENT = load_schema().resident
AS_OF = date(2026, 1, 1)


def test_each_clause_has_its_text_values_and_result() -> None:
    rule = parse_rule('年龄 >= 80 and hukou_city == "北京市"', RESIDENT)
    e = explain(rule, {"age": 85, "hukou_city": "保定市"}, as_of=AS_OF)
    assert e.status == "not_eligible"
    assert [(c.text, c.result, dict(c.values)) for c in e.clauses] == [
        ("年龄 >= 80", True, {"age": 85}),
        ('hukou_city == "北京市"', False, {"hukou_city": "保定市"}),
    ]


def test_a_failed_numeric_clause_gives_its_counterfactual() -> None:
    rule = parse_rule("age >= 60 and monthly_income < 3000", RESIDENT)
    e = explain(rule, {"age": 66, "monthly_income": 3200.0}, as_of=AS_OF)
    assert e.clauses[1].counterfactual == "eligible if monthly_income < 3000; it is 3200.0"
    assert e.clauses[0].counterfactual is None


def test_literal_on_the_left_is_read_the_other_way_round() -> None:
    rule = parse_rule("80 <= age", RESIDENT)
    e = explain(rule, {"age": 79}, as_of=AS_OF)
    assert e.clauses[0].counterfactual == "eligible if age >= 80; it is 79"


def test_a_maybe_names_the_field_that_would_settle_it_and_the_range() -> None:
    rule = parse_rule("age >= 60 and monthly_income < 3000", RESIDENT)
    e = explain(rule, {"age": 66, "monthly_income": None}, as_of=AS_OF)
    assert e.status == "maybe"
    assert e.unknown_fields == ("monthly_income",)
    (settle,) = e.settle
    assert settle.field == "monthly_income"
    assert settle.alone is True
    assert settle.eligible_if == ("monthly_income < 3000",)


def test_a_maybe_on_an_enum_lists_the_values_that_make_it_eligible() -> None:
    rule = parse_rule('employment_status in ["unemployed", "not_working"]', RESIDENT)
    e = explain(rule, {"employment_status": None}, as_of=AS_OF)
    (settle,) = e.settle
    assert settle.eligible_values == ("unemployed", "not_working")


def test_two_unknowns_neither_settles_alone() -> None:
    rule = parse_rule("is_veteran and disability_grade >= 1", RESIDENT)
    e = explain(rule, {"is_veteran": None, "disability_grade": None}, as_of=AS_OF)
    assert {s.field for s in e.settle} == {"is_veteran", "disability_grade"}
    assert not any(s.alone for s in e.settle)


def test_a_false_known_clause_makes_unknowns_irrelevant() -> None:
    rule = parse_rule("age >= 80 and monthly_income < 3000", RESIDENT)
    e = explain(rule, {"age": 30, "monthly_income": None}, as_of=AS_OF)
    assert e.status == "not_eligible"
    assert e.settle == ()


def test_explanations_are_json() -> None:
    rule = parse_rule('birth_date < d"1950-01-01" and "new_parent" in tags', RESIDENT)
    e = explain(rule, {"birth_date": date(1940, 1, 1), "tags": ["new_parent"]}, as_of=AS_OF)
    data = json.loads(json.dumps(e.to_dict(), ensure_ascii=False))
    assert data["status"] == "eligible"
    assert data["clauses"][0]["values"] == {"birth_date": "1940-01-01"}


def test_benefit_for_one_record_is_exact() -> None:
    rule = parse_rule(
        "(3000 - household_income_per_capita) * household_size", RESIDENT, kind="benefit"
    )
    record = {"household_income_per_capita": 1200.10, "household_size": 3}
    assert evaluate_benefit(rule, record, as_of=AS_OF) == Decimal("5399.70")
    assert evaluate_benefit(rule, {"household_size": 3}, as_of=AS_OF) is None
