"""Decision tables (rules.tables): rows of conditions → amount compile to the same chain the
YAML would hold, read back from it, and each row's problems are found: a row nobody reaches,
rows that overlap where the order decides, a gap where eligible people get nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from profiles.schema import load_schema
from rules.conditions import Condition, Conditions, ParameterRef
from rules.language import parse_rule
from rules.tables import DecisionTable, Tier, check_table, read_table, table_text

R = load_schema().resident


def _when(*rows: Condition) -> Conditions:
    return Conditions("all", rows)


def _age(n: int) -> Conditions:
    return _when(Condition("age", "ge", Decimal(n)))


def _findings(table: DecisionTable, eligibility: str = "age >= 80") -> list[tuple[object, ...]]:
    return [(f.tier, f.severity, f.code) for f in check_table(table, eligibility, R)]


def test_tiers_in_order_with_an_otherwise_amount_have_no_problem() -> None:
    table = DecisionTable(
        (Tier(_age(100), Decimal(800)), Tier(_age(90), Decimal(500))), Decimal(100)
    )
    assert table_text(table, "resident") == "age >= 100 ? 800 : (age >= 90 ? 500 : 100)"
    assert _findings(table) == []


def test_a_row_below_a_wider_one_is_never_reached_and_named_by_its_number() -> None:
    table = DecisionTable(
        (Tier(_age(90), Decimal(500)), Tier(_age(100), Decimal(800))), Decimal(100)
    )
    found = check_table(table, "age >= 80", R)
    assert [(f.tier, f.severity, f.code) for f in found] == [(2, "error", "unreachable_tier")]
    assert "请把它移到第 1 档之前" in found[0].message("zh")
    assert "move it before tier 1" in found[0].message("en")


def test_rows_that_overlap_with_different_amounts_are_a_warning_on_the_later_row() -> None:
    table = DecisionTable(
        (
            Tier(_when(Condition("disability_grade", "le", Decimal(2))), Decimal(300)),
            Tier(_when(Condition("is_veteran", "is_true")), Decimal(200)),
        ),
        Decimal(100),
    )
    assert _findings(table, "disability_grade >= 1") == [(2, "warning", "overlapping_tiers")]


def test_a_gap_is_reported_with_an_example_when_there_is_no_otherwise_amount() -> None:
    table = DecisionTable((Tier(_age(100), Decimal(800)), Tier(_age(90), Decimal(500))), None)
    found = check_table(table, "age >= 80", R)
    assert [(f.tier, f.code) for f in found] == [(None, "table_gap")]
    assert "年龄 = 8" in found[0].message("zh")  # someone aged 80-89
    covered = DecisionTable((*table.tiers, Tier(_age(80), Decimal(100))), None)
    assert _findings(covered) == []


@pytest.mark.parametrize(
    ("text", "tiers"),
    [
        ("age >= 100 ? 800 : (age >= 90 ? 500 : 100)", 2),
        ("disability_grade <= 2 ? 3000 : 1500", 1),
        ('subsistence_status == "low_income" ? parameters.dibao_standard : 0', 1),
    ],
)
def test_a_chain_reads_back_as_the_same_table(text: str, tiers: int) -> None:
    table = read_table(parse_rule(text, R, kind="benefit").expression, "resident")
    assert table is not None and len(table.tiers) == tiers
    assert table_text(table, "resident") == text


def test_a_chain_with_a_computed_amount_is_not_a_table() -> None:
    rule = parse_rule("age >= 90 ? age * 10 : 100", R, kind="benefit")
    assert read_table(rule.expression, "resident") is None
    rule = parse_rule("age >= 90 ? parameters.elderly_allowance[age] : 0", R, kind="benefit")
    table = read_table(rule.expression, "resident")
    assert table is not None
    assert table.tiers[0].amount == ParameterRef("elderly_allowance", "age")
    assert table.otherwise is None  # a trailing 0 is "nothing otherwise"
