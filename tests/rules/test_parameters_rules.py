"""Rules reading parameters: named in English or Chinese, type-checked, and valued on the as-of
date alike by the compiler and the per-subject evaluator (an independent table as the oracle)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles.schema import load_schema
from rules.compiler import compile_rule
from rules.errors import RuleTypeError
from rules.evaluator import evaluate, evaluate_benefit
from rules.explainer import explain
from rules.language import parse_rule
from rules.parameters import builtin_library, parameters_read, using
from tests.rules.reference import U, reference, reference_money
from tests.rules.test_properties import _frame as _frame_of
from tests.rules.test_properties import condition, numeric, profiles

RESIDENT = load_schema().resident
STATUSES = RESIDENT.field("subsistence_status").values
BEFORE, AFTER = date(2024, 6, 30), date(2024, 7, 1)


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "age": pl.Int64,
            "household_income_per_capita": pl.Decimal(18, 2),
            "subsistence_status": pl.Enum(STATUSES),
        },
    )


def _compiled(
    text: str, rows: list[dict[str, Any]], on: date, kind: str = "eligibility"
) -> list[Any]:
    rule = parse_rule(text, RESIDENT, kind=kind)  # type: ignore[arg-type]
    return _frame(rows).select(compile_rule(rule, as_of=on)).to_series().to_list()


def test_english_and_chinese_names_read_the_same_parameter() -> None:
    english = parse_rule("household_income_per_capita < parameters.dibao_standard", RESIDENT)
    chinese = parse_rule("家庭人均月收入 < 参数.低保标准", RESIDENT)
    assert english.text == chinese.text
    assert parameters_read(chinese.expression) == {"dibao_standard"}
    assert chinese.fields == {"household_income_per_capita"}  # a parameter is not a field


def test_the_standard_in_force_on_the_as_of_date_decides() -> None:
    rows = [{"household_income_per_capita": Decimal("1420.00")}]
    text = "household_income_per_capita < parameters.dibao_standard"
    assert _compiled(text, rows, BEFORE) == [False]  # 1,395 until 2024-06-30
    assert _compiled(text, rows, AFTER) == [True]  # 1,450 from 2024-07-01
    rule = parse_rule(text, RESIDENT)
    assert evaluate(rule, rows[0], as_of=BEFORE) is False
    assert evaluate(rule, rows[0], as_of=AFTER) is True


def test_a_reform_in_place_changes_the_amount_without_changing_the_rule() -> None:
    rule = parse_rule("(parameters.dibao_standard - household_income_per_capita)", RESIDENT,
                      kind="benefit")  # fmt: skip
    row = {"household_income_per_capita": Decimal("1000")}
    reform = builtin_library().with_override("dibao_standard=1500", on=AFTER)
    with using(reform):
        assert evaluate_benefit(rule, row, as_of=AFTER) == Decimal("500.00")
        compiled = _frame([row]).select(compile_rule(rule, as_of=AFTER)).item()
    assert compiled == Decimal("500.00")
    assert evaluate_benefit(rule, row, as_of=AFTER) == Decimal("450.00")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("age < parameters.dibao_standar", (1, 7), "did you mean 'dibao_standard'"),
        ("age < 参数.低保", (1, 7), "低保标准"),
        ("parameters.elderly_allowance > 1", (1, 1), r"a scale: say which bracket"),
        ("parameters.elderly_allowance[subsistence_status] > 1", (1, 30), "expects number"),
        ("参数.困难老年人养老服务补贴[age] > 1", (1, 16), "expects string"),
        ("parameters.dibao_standard[age] > 1", (1, 27), "is one amount"),
        ('parameters.dibao_standard == "1450"', (1, 30), "cannot"),
    ],
)
def test_a_wrong_reference_is_a_positioned_error(
    text: str, where: tuple[int, int], message: str
) -> None:
    with pytest.raises(RuleTypeError, match=message) as caught:
        parse_rule(text, RESIDENT)
    assert (caught.value.line, caught.value.col) == where


def _elderly(age: int | None) -> Decimal | None:  # the 2019 measures' tiers, written out
    if age is None:
        return None
    return Decimal(800 if age >= 100 else 500 if age >= 90 else 100 if age >= 80 else 0)


_CARE = {"dibao": 300, "low_income": 200}  # 困难老年人养老服务补贴 by category; others 0

rows = st.lists(
    st.fixed_dictionaries(
        {
            "age": st.one_of(st.none(), st.integers(0, 115)),
            "household_income_per_capita": st.one_of(
                st.none(), st.decimals(0, 3000, places=2, allow_nan=False)
            ),
            "subsistence_status": st.one_of(st.none(), st.sampled_from(STATUSES)),
        }
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=60, deadline=None)
@given(rows=rows, on=st.sampled_from([BEFORE, AFTER]))
def test_compiler_evaluator_and_the_table_agree_on_brackets(
    rows: list[dict[str, Any]], on: date
) -> None:
    text = (
        "parameters.elderly_allowance[age] + 参数.困难老年人养老服务补贴[subsistence_status]"
        " + (household_income_per_capita < parameters.dibao_standard ? 1 : 0)"
    )
    rule = parse_rule(text, RESIDENT, kind="benefit")
    compiled = _compiled(text, rows, on, kind="benefit")
    standard = 1395 if on == BEFORE else 1450
    for row, got in zip(rows, compiled, strict=True):
        elderly, status, income = (
            _elderly(row["age"]),
            row["subsistence_status"],
            row["household_income_per_capita"],
        )
        if elderly is None or status is None or income is None:
            expected = None
        else:
            expected = elderly + _CARE.get(status, 0) + (1 if income < standard else 0)
        assert got == expected
        assert evaluate_benefit(rule, row, as_of=on) == expected


PARAMETER_REFS = st.sampled_from(
    ["parameters.dibao_standard", "参数.低保标准", "parameters.childcare_subsidy", "参数.育儿补贴"]
)


def _with_parameters(row: dict[str, Any], on: date) -> dict[str, Any]:
    """``row`` with the amounts in force, for the independent reference (it reads symbols)."""
    library = builtin_library()
    names = ("dibao_standard", "childcare_subsidy")
    return {**row, **{f"parameters__{n}": library.amount(n, on) for n in names}}


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    rows=st.lists(profiles, min_size=1, max_size=6),
    on=st.sampled_from([date(2025, 3, 1), date(2026, 6, 30)]),
)
def test_rules_reading_parameters_agree_with_the_independent_reference(
    data: st.DataObject, rows: list[dict[str, Any]], on: date
) -> None:
    arithmetic = st.builds(
        lambda a, o, p: f"({a} {o} {p})",
        numeric(1),
        st.sampled_from(["+", "-", "*"]),
        PARAMETER_REFS,
    )
    compared = st.builds(
        lambda a, o, p: f"{a} {o} {p}",
        arithmetic,
        st.sampled_from(["<", ">=", "=="]),
        PARAMETER_REFS,
    )
    text = data.draw(
        st.one_of(compared, st.builds(lambda a, b: f"({a} and {b})", compared, condition(0)))
    )
    rule = parse_rule(text, RESIDENT)
    compiled = _frame_of(rows).with_columns(compile_rule(rule, as_of=on).alias("o"))["o"]
    for row, got in zip(rows, compiled.to_list(), strict=True):
        expected = reference(rule.text, _with_parameters(row, on), on)
        expected = None if expected == U else bool(expected)
        assert got == expected, (text, row)
        assert evaluate(rule, row, as_of=on) == expected, (text, row)
        assert explain(rule, row, as_of=on).result == expected, (text, row)
    benefit = parse_rule(data.draw(arithmetic), RESIDENT, kind="benefit")
    amounts = _frame_of(rows).with_columns(compile_rule(benefit, as_of=on).alias("o"))["o"]
    for row, got in zip(rows, amounts.to_list(), strict=True):
        money = reference_money(benefit.text, _with_parameters(row, on), on)
        assert got == (None if money == U else money), (benefit.text, row)
        assert evaluate_benefit(benefit, row, as_of=on) == got


def test_an_explanation_shows_the_amount_in_force_beside_the_clause() -> None:
    rule = parse_rule("家庭人均月收入 < 参数.低保标准 and age >= 18", RESIDENT)
    record = {"household_income_per_capita": Decimal("1420"), "age": 30}
    before, after = explain(rule, record, as_of=BEFORE), explain(rule, record, as_of=AFTER)
    assert before.clauses[0].text == "家庭人均月收入 < 参数.低保标准"
    assert before.clauses[0].values["parameters.dibao_standard"] == Decimal(1395)
    assert after.clauses[0].values["parameters.dibao_standard"] == Decimal(1450)
    assert (before.result, after.result) == (False, True)
    assert "parameters.dibao_standard" not in before.clauses[1].values


@pytest.mark.parametrize(
    ("text", "lang", "words"),
    [
        ("家庭人均月收入 < 参数.低保标准", "zh", "家庭人均月收入 低于 低保标准"),
        ("household_income_per_capita < parameters.dibao_standard", "zh",
         "家庭人均月收入 低于 低保标准"),
        ("household_income_per_capita < 参数.低保标准", "en",
         "household income per capita below dibao standard"),
    ],
)  # fmt: skip
def test_a_parameter_reads_as_its_name_in_plain_words(text: str, lang: str, words: str) -> None:
    from rules.plain_words import plain_clause

    assert plain_clause(text, RESIDENT, lang) == words
