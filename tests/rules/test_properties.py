"""Three evaluators agree on generated rules and profiles with unknowns: the compiled polars
query, the per-record evaluator behind the explainer, and the independent reference."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from profiles.schema import load_schema
from rules.compiler import compile_rule
from rules.errors import RuleTypeError
from rules.evaluator import evaluate, evaluate_benefit
from rules.explainer import explain
from rules.language import Rule, RuleKind, parse_rule
from tests.rules.reference import U, reference, reference_money

TODAY = date(2026, 6, 30)
SCHEMA = load_schema()
RESIDENT = SCHEMA.resident
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
EXAMPLES = 2000 if CI else 300

STATUSES = RESIDENT.field("employment_status").values
TAGS = ("new_parent", "newly_married", "recently_retired")

ints = st.integers(-5, 120).map(str)
decimals = st.decimals(-1000, 5000, places=2, allow_nan=False).map(lambda d: format(d, "f"))
numeric_literal = st.one_of(ints, decimals)
numeric_field = st.sampled_from(["age", "monthly_income", "household_size", "disability_grade"])


def numeric(depth: int) -> st.SearchStrategy[str]:
    leaf = st.one_of(numeric_field, numeric_literal)
    if depth == 0:
        return leaf
    sub = numeric(depth - 1)
    op = st.sampled_from(["+", "-", "*", "/", "//", "%"])
    return st.one_of(
        leaf,
        st.builds(lambda a, o, b: f"({a} {o} {b})", sub, op, sub),
        st.builds(lambda c, a, b: f"({c} ? {a} : {b})", condition(0), sub, sub),
    )


def condition(depth: int) -> st.SearchStrategy[str]:
    compare = st.builds(
        lambda a, o, b: f"{a} {o} {b}",
        numeric(min(depth, 1)),
        st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
        numeric(0),
    )
    atoms = st.one_of(
        compare,
        st.builds(lambda v, o: f'employment_status {o} "{v}"', st.sampled_from(STATUSES),
                  st.sampled_from(["==", "!="])),
        st.builds(lambda vs: "employment_status in [" + ", ".join(f'"{v}"' for v in vs) + "]",
                  st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3)),
        st.builds(lambda t: f'"{t}" in tags', st.sampled_from(TAGS)),
        st.just("is_veteran"),
        st.builds(lambda d, o: f'birth_date {o} d"{d.isoformat()}"',
                  st.dates(date(1930, 1, 1), date(2025, 1, 1)), st.sampled_from(["<", ">="])),
        st.just("birth_date < $today"),
        st.builds(lambda p: f'hukou_city =~ "{p}"',
                  st.sampled_from(["北京", "市$", "保定", "(北|天)+", r"\\w{2}市$", "[^北]"])),
        st.builds(lambda p: f'hukou_city =~~ "{p}"',
                  st.sampled_from(["京", "定市", r"\\d", r"\\s|津", "(a+)+$"])),
        st.builds(lambda o, p: f'hukou_city {o} "{p}"', st.sampled_from(["!~", "!~~"]),
                  st.sampled_from(["北京", "市$", r"\\w+"])),
    )  # fmt: skip
    if depth == 0:
        return atoms
    sub = condition(depth - 1)
    return st.one_of(
        atoms,
        st.builds(lambda a, o, b: f"({a} {o} {b})", sub, st.sampled_from(["and", "or"]), sub),
        st.builds(lambda a: f"not ({a})", sub),
        st.builds(lambda c, a, b: f"({c} ? {a} : {b})", sub, sub, sub),
    )


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


profiles = st.fixed_dictionaries(
    {
        "age": _maybe(st.integers(0, 110)),
        "monthly_income": _maybe(st.decimals(0, 20000, places=2, allow_nan=False).map(float)),
        "household_size": _maybe(st.integers(1, 8)),
        "disability_grade": _maybe(st.integers(0, 4)),
        "employment_status": _maybe(st.sampled_from(STATUSES)),
        "tags": _maybe(st.lists(st.sampled_from(TAGS), max_size=2, unique=True)),
        "is_veteran": _maybe(st.booleans()),
        "birth_date": _maybe(st.dates(date(1920, 1, 1), date(2026, 6, 1))),
        "hukou_city": _maybe(st.sampled_from(["北京市", "保定市", "天津市"])),
    }
)


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = RESIDENT.polars_schema(include_derived=True)
    return pl.DataFrame(rows, schema={k: schema[k] for k in rows[0]})


def _parse(text: str, kind: RuleKind) -> Rule:
    try:
        return parse_rule(text, RESIDENT, kind=kind)
    except RuleTypeError as exc:
        if "cannot be computed" in exc.detail:  # e.g. (3 // 0): refused when parsed
            reject()
        raise


def _ref_bool(value: Any) -> bool | None:
    return None if isinstance(value, str) and value == U else bool(value)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(text=condition(2), rows=st.lists(profiles, min_size=1, max_size=8))
def test_eligibility_evaluators_agree(text: str, rows: list[dict[str, Any]]) -> None:
    rule = _parse(text, "eligibility")
    compiled = (
        _frame(rows).with_columns(compile_rule(rule, as_of=TODAY).alias("out"))["out"].to_list()
    )
    for row, got in zip(rows, compiled, strict=True):
        expected = _ref_bool(reference(rule.text, row, TODAY))
        assert got == expected, (text, row)
        assert evaluate(rule, row, as_of=TODAY) == expected, (text, row)
        assert explain(rule, row, as_of=TODAY).result == expected, (text, row)


@settings(
    max_examples=EXAMPLES // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(text=numeric(2), rows=st.lists(profiles, min_size=1, max_size=8))
def test_benefit_evaluators_agree_to_the_fen(text: str, rows: list[dict[str, Any]]) -> None:
    rule = _parse(text, "benefit")
    compiled = (
        _frame(rows).with_columns(compile_rule(rule, as_of=TODAY).alias("out"))["out"].to_list()
    )
    for row, got in zip(rows, compiled, strict=True):
        expected = reference_money(rule.text, row, TODAY)
        expected = None if isinstance(expected, str) else expected
        assert got == expected, (text, row)
        assert evaluate_benefit(rule, row, as_of=TODAY) == expected, (text, row)
        if expected is not None:
            assert isinstance(got, Decimal)
