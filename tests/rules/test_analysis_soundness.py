"""The 查重 analysis (rules.analysis) never calls a rule that can hold never true, even when its
grid of candidate values is too large to hold whole."""

from __future__ import annotations

from profiles.schema import load_schema
from rules.analysis import never_true
from rules.language import parse_rule

R = load_schema().resident


def test_a_rule_over_many_fields_that_can_hold_is_not_never_true() -> None:
    # Twelve fields' candidates make a grid of millions of rows, cut at 200,000: the old
    # analysis found no true row among those it kept and called the rule never true.
    text = (
        "age >= 3 and monthly_income > 5 and household_size < 4 and disability_grade < 3 "
        "and children_under_3 >= 1 and household_income_per_capita > 100 "
        'and employment_status == "retired" and marital_status == "married" '
        'and residence_district == "东城区" and age > 100 and age < 120 '
        "and monthly_income > 6 and monthly_income < 99"
    )
    assert not never_true(parse_rule(text, R))


def test_a_contradiction_on_a_large_grid_is_still_found() -> None:
    text = (
        "monthly_income > 5 and household_size < 4 and disability_grade < 3 "
        "and children_under_3 >= 1 and household_income_per_capita > 100 "
        'and employment_status == "retired" and marital_status == "married" '
        "and age > 100 and age < 90"
    )
    assert never_true(parse_rule(text, R))
