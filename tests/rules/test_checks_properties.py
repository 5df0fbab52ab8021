"""The checks hold against the independent reference evaluator on generated rules: a rule
flagged never true matches no generated profile, one flagged always true matches every one,
a rule not flagged (and fully analysable) is true for the example the analysis gives, and a
tier flagged unreachable is never the amount of anyone eligible."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from profiles.schema import load_schema
from rules.checks import check_benefit, check_eligibility
from rules.errors import RuleTypeError
from rules.formula import Formula, example, formula, satisfiable
from rules.language import parse_rule
from tests.rules.reference import U, reference
from tests.rules.test_properties import condition as everything
from tests.rules.test_properties import numeric as amounts

TODAY = date(2026, 6, 30)
R = load_schema().resident
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
EXAMPLES = 1500 if CI else 300
STATUSES = ("employed", "retired", "student")
TAGS = ("new_parent", "newly_married")

_compare = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
atoms = st.one_of(
    st.builds(lambda o, v: f"age {o} {v}", _compare,
              st.sampled_from(["-1", "0", "1", "2", "2.5", "3", "129", "130", "131"])),
    st.builds(lambda o, v: f"monthly_income {o} {v}", _compare,
              st.sampled_from(["-1", "0", "0.5", "1", "1.25", "2"])),
    st.builds(lambda o, v: f'employment_status {o} "{v}"', st.sampled_from(["==", "!="]),
              st.sampled_from(STATUSES)),
    st.builds(lambda vs: "employment_status in [" + ", ".join(f'"{v}"' for v in vs) + "]",
              st.lists(st.sampled_from(STATUSES), min_size=1, max_size=2)),
    st.builds(lambda t: f'"{t}" in tags', st.sampled_from(TAGS)),
    st.just("is_veteran"),
    st.builds(lambda o, d: f'birth_date {o} d"{d}"', _compare,
              st.sampled_from(["0001-01-02", "1950-01-01", "1950-01-02", "9999-12-30"])),
    st.builds(lambda o, v: f'hukou_city {o} "{v}"', st.sampled_from(["==", "!="]),
              st.sampled_from(["北京市", "天津市"])),
    st.just("age + 1 > 2"),  # opaque: arithmetic
    st.just('hukou_city =~ "^北"'),  # opaque: a regex
)  # fmt: skip


def conditions(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return atoms
    sub = conditions(depth - 1)
    return st.one_of(
        atoms,
        st.builds(lambda a, o, b: f"({a} {o} {b})", sub, st.sampled_from(["and", "or"]), sub),
        st.builds(lambda a: f"not ({a})", sub),
    )


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


profiles = st.fixed_dictionaries(
    {
        "age": _maybe(st.sampled_from([0, 1, 2, 3, 4, 128, 129, 130])),
        "monthly_income": _maybe(st.sampled_from([0, 0.25, 0.5, 1, 1.25, 1.5, 2, 3])),
        "employment_status": _maybe(st.sampled_from([*STATUSES, "unemployed"])),
        "tags": _maybe(st.lists(st.sampled_from(TAGS), max_size=2, unique=True)),
        "is_veteran": _maybe(st.booleans()),
        "birth_date": _maybe(
            st.sampled_from([date(1, 1, 1), date(1949, 12, 31), date(1950, 1, 1), date(2000, 1, 1)])
        ),
        "hukou_city": _maybe(st.sampled_from(["北京市", "天津市", "上海市"])),
    }
)
KNOWN = {"age": 1, "monthly_income": 1, "employment_status": "student", "tags": [],
         "is_veteran": False, "hukou_city": "上海市", "birth_date": date(1990, 1, 1)}  # fmt: skip
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _holds(text: str, row: dict[str, Any]) -> bool | None:
    value = reference(text, row, TODAY)
    return None if isinstance(value, str) and value == U else bool(value)


def _opaque(f: Formula) -> bool:
    if f.atom is not None and f.atom.kind == "opaque":
        return True
    return any(_opaque(p) for p in f.parts)


def _row(values: dict[str, Any]) -> dict[str, Any]:
    row = dict(KNOWN)
    for name, value in values.items():
        row[name] = float(value) if isinstance(value, Decimal) else value
    return row


@SETTINGS
@given(text=conditions(3), rows=st.lists(profiles, min_size=1, max_size=10))
def test_a_rule_flagged_never_true_matches_no_profile(
    text: str, rows: list[dict[str, Any]]
) -> None:
    rule = parse_rule(text, R)
    codes = {f.code for f in check_eligibility(rule)}
    for row in rows:
        result = _holds(rule.text, row)
        if "never_true" in codes:
            assert result is not True, (text, row)
        if "always_true" in codes:
            assert result is True, (text, row)
        if "true_when_known" in codes and all(row[n] is not None for n in rule.fields):
            assert result is True, (text, row)


@SETTINGS
@given(text=conditions(3))
def test_a_rule_that_can_hold_holds_for_the_example_the_analysis_gives(text: str) -> None:
    rule = parse_rule(text, R)
    f = formula(rule)
    if _opaque(f):
        return  # opaque clauses are assumed free: the example may not make them true
    if not satisfiable(f, R):
        return
    found = example(f, R)
    assert found is not None, text
    assert _holds(rule.text, _row(found)) is True, (text, found)


@SETTINGS
@given(
    eligibility=conditions(2),
    tiers=st.lists(conditions(1), min_size=2, max_size=4),
    rows=st.lists(profiles, min_size=1, max_size=10),
)
def test_a_tier_flagged_unreachable_is_nobody_eligibles_amount(
    eligibility: str, tiers: list[str], rows: list[dict[str, Any]]
) -> None:
    text = "".join(f"{c} ? {n} : " for n, c in enumerate(tiers, 1)) + "0"
    benefit = parse_rule(text, R, kind="benefit")
    found = check_benefit(benefit, parse_rule(eligibility, R))
    unreachable = {
        n
        for f in found
        if f.code == "unreachable_tier"
        for n, c in enumerate(tiers, 1)
        if text.index(c + " ? ") + 1 == f.col and not any(c == d for d in tiers[: n - 1])
    }
    for row in rows:
        if _holds(parse_rule(eligibility, R).text, row) is True:
            amount = reference(benefit.text, row, TODAY)
            assert amount == U or int(amount) not in unreachable, (eligibility, text, row)


@SETTINGS
@given(eligibility=everything(2), benefit=amounts(2))
def test_the_checks_answer_every_rule_the_language_accepts(eligibility: str, benefit: str) -> None:
    # the evaluators' own generated rules: arithmetic, regexes, dates, $today, nested ?:
    try:
        e, b = parse_rule(eligibility, R), parse_rule(benefit, R, kind="benefit")
    except RuleTypeError:
        reject()  # e.g. a part made only of numbers that divides by zero
    for found in [*check_eligibility(e, R), *check_benefit(b, e, R)]:
        assert found.in_language("zh") and found.in_language("en")
