"""Rules beyond the size limits are refused before anything walks them; the largest allowed work."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import TypeVar

import polars as pl
import pytest

from profiles.schema import load_schema
from rules.compiler import compile_rule
from rules.errors import EvaluationTimeLimitError, RuleSyntaxError
from rules.evaluator import evaluate
from rules.explainer import explain
from rules.language import parse_rule
from rules.limits import MAX_EXPRESSION_CHARS, MAX_NESTING, MAX_TERMS

RESIDENT = load_schema().resident
AS_OF = date(2026, 1, 1)
T = TypeVar("T")


def or_chain(terms: int) -> str:
    return " or ".join(f"age == {i}" for i in range(terms // 2))


@pytest.mark.parametrize("terms", [500, 1000])
def test_a_long_or_chain_is_refused_with_the_term_limit(terms: int) -> None:
    text = " or ".join(f"age == {i % 10}" for i in range(terms // 2))
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(text, RESIDENT)
    assert f"the limit is {MAX_TERMS}" in info.value.detail
    assert "field in [...]" in info.value.detail
    # placed at the first term past the limit: clause number MAX_TERMS / 2, 12 characters each
    assert (info.value.line, info.value.col) == (1, 12 * (MAX_TERMS // 2) + 1)


def test_five_hundred_nested_nots_are_refused_with_the_nesting_limit() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule("not " * 500 + "is_veteran", RESIDENT)
    assert f"the limit is {MAX_NESTING}" in info.value.detail
    assert (info.value.line, info.value.col) == (1, MAX_NESTING * 4 + 1)


def test_brackets_count_towards_nesting() -> None:
    text = "(" * (MAX_NESTING + 1) + "is_veteran" + ")" * (MAX_NESTING + 1)
    with pytest.raises(RuleSyntaxError, match="nests more than"):
        parse_rule(text, RESIDENT)


def test_an_expression_longer_than_the_limit_is_refused_unread() -> None:
    text = "age >= 80 and " + "hukou_city == " + '"' + "北" * MAX_EXPRESSION_CHARS + '"'
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(text, RESIDENT)
    assert f"the limit is {MAX_EXPRESSION_CHARS:,}" in info.value.detail


def test_a_list_of_plain_values_is_one_term() -> None:
    values = ", ".join(str(-i) for i in range(1000))
    rule = parse_rule(f"age in [{values}] and is_veteran", RESIDENT)
    assert evaluate(rule, {"age": -999, "is_veteran": True}, as_of=AS_OF) is True


def test_operators_inside_a_list_count_as_terms() -> None:
    values = " + ".join("1" for _ in range(MAX_TERMS + 1))
    with pytest.raises(RuleSyntaxError, match="terms"):
        parse_rule(f"age in [{values}]", RESIDENT)


def _on_a_deep_stack(call: Callable[[], T], depth: int = 200) -> T:
    """``call()`` with ``depth`` frames already used, as under a web framework."""
    return call() if depth == 0 else _on_a_deep_stack(call, depth - 1)


@pytest.mark.parametrize(
    "text",
    [
        or_chain(MAX_TERMS),
        "not " * MAX_NESTING + "is_veteran",
        "not (" * (MAX_NESTING // 2) + "is_veteran" + ")" * (MAX_NESTING // 2),
        "(" * (MAX_NESTING - 1) + or_chain(MAX_TERMS - 2) + ")" * (MAX_NESTING - 1),
        "age == " + " + ".join("1" for _ in range(MAX_TERMS - 1)),
    ],
    ids=["or-chain", "nots", "not-brackets", "brackets-and-chain", "sum"],
)
def test_the_largest_allowed_rules_parse_compile_and_explain(text: str) -> None:
    assert sys.getrecursionlimit() == 1000  # what the limits were chosen against
    rule = _on_a_deep_stack(lambda: parse_rule(text, RESIDENT))
    frame = pl.DataFrame(
        {"age": [3, None], "is_veteran": [True, None]},
        schema={"age": pl.Int64, "is_veteran": pl.Boolean},
    )
    compiled = frame.select(compile_rule(rule, as_of=AS_OF)).to_series().to_list()
    explained = [
        _on_a_deep_stack(lambda row=row: explain(rule, row, as_of=AS_OF)).result  # type: ignore[misc]
        for row in frame.to_dicts()
    ]
    assert compiled == explained


def test_an_evaluation_past_its_deadline_stops_with_a_clear_error() -> None:
    rule = parse_rule(or_chain(100), RESIDENT)
    with pytest.raises(EvaluationTimeLimitError, match="ran past its time limit"):
        evaluate(rule, {"age": 1}, as_of=AS_OF, deadline=0.0)


def test_an_explanation_past_its_time_limit_stops_with_a_clear_error() -> None:
    rule = parse_rule(or_chain(100), RESIDENT)
    with pytest.raises(EvaluationTimeLimitError, match="simplify the rule"):
        explain(rule, {"age": None}, as_of=AS_OF, time_limit=0.0)
