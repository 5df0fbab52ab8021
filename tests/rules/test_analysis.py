from __future__ import annotations

import polars as pl
import pytest

from profiles.schema import load_schema
from rules.analysis import always_true, implies, is_exact, never_true, overlaps
from rules.language import parse_rule

R = load_schema().resident


def rule(text: str):
    return parse_rule(text, R)


@pytest.mark.parametrize(
    "text",
    [
        "age > 80 and age < 70",
        'employment_status == "retired" and employment_status == "student"',
        "disability_grade > 4",
        "is_veteran and not is_veteran",
    ],
)
def test_rules_that_can_never_hold(text: str) -> None:
    assert never_true(rule(text))


@pytest.mark.parametrize(
    "text", ["age >= 0", "disability_grade <= 4", "is_veteran or not is_veteran"]
)
def test_rules_that_always_hold_for_known_values(text: str) -> None:
    assert always_true(rule(text))


@pytest.mark.parametrize("text", ["age >= 1", "age > 80 or age < 70", "is_veteran"])
def test_ordinary_rules_are_neither(text: str) -> None:
    assert not never_true(rule(text)) and not always_true(rule(text))


def test_containment_and_equivalence() -> None:
    assert implies(rule("age >= 90 and is_veteran"), rule("age >= 80"))
    assert not implies(rule("age >= 80"), rule("age >= 90"))
    found = overlaps(
        [
            ("a", rule("age >= 80")),
            ("b", rule("not (age < 80)")),
            ("c", rule('age >= 85 and hukou_city == "北京市"')),
        ]
    )
    kinds = {(f.kind, f.policies) for f in found}
    assert ("equivalent", ("a", "b")) in kinds
    assert ("contained", ("c", "a")) in kinds


def test_regex_rules_are_not_judged_from_candidates() -> None:
    assert not is_exact(rule('name =~ "王"'))
    assert overlaps([("r", rule('name =~ "王"'))]) == []


def test_similar_reach_on_a_population() -> None:
    people = pl.DataFrame({"age": list(range(60, 100)), "is_veteran": [True] * 40})
    found = overlaps(
        [("a", rule("age >= 61")), ("b", rule("age >= 62 and is_veteran"))], population=people
    )
    (similar,) = [f for f in found if f.kind == "similar_reach"]
    assert similar.policies == ("a", "b")
    assert "Jaccard 0.97" in similar.detail
