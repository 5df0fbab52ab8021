from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from profiles.schema import load_schema
from rules.compiler import compile_rule
from rules.language import parse_rule

RESIDENT = load_schema().resident
AS_OF = date(2026, 5, 2)


def run(source: str, rows: dict[str, list[Any]], kind: str = "eligibility") -> list[Any]:
    schema = RESIDENT.polars_schema(include_derived=True)
    frame = pl.DataFrame(rows, schema={k: schema[k] for k in rows})
    rule = parse_rule(source, RESIDENT, kind=kind)  # type: ignore[arg-type]
    return frame.with_columns(compile_rule(rule, as_of=AS_OF).alias("out"))["out"].to_list()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("is_veteran and age >= 80", [True, False, None, False, False]),
        ("is_veteran or age >= 80", [True, True, True, False, None]),
        ("not is_veteran", [False, True, None, True, None]),
    ],
)
def test_logic_is_kleene(source: str, expected: list[bool | None]) -> None:
    rows: dict[str, list[Any]] = {
        "is_veteran": [True, False, None, False, None],
        "age": [80, 85, 85, 10, 10],
    }
    assert run(source, rows) == expected


def test_any_comparison_with_unknown_is_unknown_even_equality() -> None:
    rows: dict[str, list[Any]] = {"employment_status": [None, "retired"], "age": [None, 3]}
    assert run('employment_status == "retired"', rows) == [None, True]
    assert run('employment_status != "retired"', rows) == [None, False]
    assert run("age == age", rows) == [None, True]


def test_unknown_tags_make_membership_unknown() -> None:
    rows = {"tags": [["new_parent"], [], None]}
    assert run('"new_parent" in tags', rows) == [True, False, None]


def test_ternary_with_unknown_condition_is_unknown() -> None:
    rows = {"age": [100, 50, None]}
    assert run("age >= 100 ? 800 : 100", rows, kind="benefit") == [
        Decimal("800.00"),
        Decimal("100.00"),
        None,
    ]


def test_money_is_exact() -> None:
    rows = {"age": [1]}
    assert run("0.1 + 0.2", rows, kind="benefit") == [Decimal("0.30")]
    assert run("(0.1 + 0.2) == 0.3", rows) == [True]
    assert run("1.005 * 1", rows, kind="benefit") == [Decimal("1.01")]  # 四舍五入 to the fen
    assert run("1000000 * 2 / 3", rows, kind="benefit") == [Decimal("666666.67")]


def test_division_rounds_half_even_to_six_places_and_by_zero_is_unknown() -> None:
    rows = {"household_size": [3, 0]}
    assert run("2 / household_size * 1000000", rows, kind="benefit") == [
        Decimal("666667.00"),
        None,
    ]


def test_income_fields_compare_as_decimals() -> None:
    rows = {"monthly_income": [2999.99, 3000.0, None]}
    assert run("monthly_income < 3000", rows) == [True, False, None]


def test_dates_and_today() -> None:
    rows = {"birth_date": [date(1946, 5, 2), date(1946, 5, 3), None]}
    assert run('birth_date <= d"1946-05-02"', rows) == [True, False, None]
    assert run("birth_date < $today", rows) == [True, True, None]


def test_regex_matches_like_rule_engine() -> None:
    rows = {"name": ["王小明", "李王", None]}
    assert run('name =~ "王"', rows) == [True, False, None]  # anchored at the start
    assert run('name =~~ "王"', rows) == [True, True, None]  # anywhere
    assert run('name !~ "王"', rows) == [False, True, None]


def test_enum_membership_and_numbers_in_lists() -> None:
    rows: dict[str, list[Any]] = {
        "residence_district": ["西城区", "海淀区", None],
        "disability_grade": [1, 3, None],
    }
    assert run('residence_district in ["西城区", "东城区"]', rows) == [True, False, None]
    assert run("disability_grade in [1, 2]", rows) == [True, False, None]


def test_a_catalog_shares_sub_expressions_in_one_query() -> None:
    shared = 'age >= 60 and hukou_city == "北京市"'
    rules = [parse_rule(f"{shared} and disability_grade == {g}", RESIDENT) for g in range(1, 5)]
    frame = pl.LazyFrame(
        {"age": [70], "hukou_city": ["北京市"], "disability_grade": [2]},
        schema={"age": pl.Int64, "hukou_city": pl.String, "disability_grade": pl.Int64},
    )
    query = frame.select(compile_rule(r, as_of=AS_OF).alias(str(i)) for i, r in enumerate(rules))
    plan = query.explain()
    assert "__POLARS_CSER" in plan  # the shared clause is computed once
    assert query.collect().row(0) == (False, True, False, False)
