from __future__ import annotations

import pytest

from profiles.schema import load_schema
from rules.errors import RuleSyntaxError, RuleTypeError
from rules.language import parse_rule

RESIDENT = load_schema().resident
ENTERPRISE = load_schema().enterprise


def test_chinese_field_names_are_mapped_and_fields_recorded() -> None:
    rule = parse_rule('年龄 >= 80 and 户籍城市 == "北京市"', RESIDENT)
    assert rule.text == 'age >= 80 and hukou_city == "北京市"'
    assert rule.fields == {"age", "hukou_city"}
    assert rule.source == '年龄 >= 80 and 户籍城市 == "北京市"'


def test_chinese_text_inside_strings_is_left_alone() -> None:
    rule = parse_rule('name == "年龄"', RESIDENT)
    assert rule.text == 'name == "年龄"'


@pytest.mark.parametrize(
    ("source", "line", "col", "needle"),
    [
        ("agee >= 80", 1, 1, "did you mean 'age'?"),
        ('employment_status == "retird"', 1, 22, 'did you mean "retired"?'),
        ('residence_district in ["西城区", "东城去"]', 1, 31, 'did you mean "东城区"?'),
        ('age >= "80"', 1, 8, "cannot compare age (a number) with a string"),
        ("年龄 >= 80 and\n  月收入 < 3000 and 婚姻 == 1", 2, 18, "unknown field '婚姻'"),
        ("age >= 80 and\n  monthly_incom < 3000", 2, 3, "did you mean 'monthly_income'?"),
        ("age", 1, 1, "eligibility must be a condition"),
        ("monthly_income == null", 1, 19, "null cannot be compared"),
        ('name =~ "(?=王)"', 1, 9, "look-around"),
        ('name =~ "(a)\\\\1"', 1, 9, "back-references"),
        ("age ** 2 > 3", 1, 1, "** is not supported"),
        ('"x" in monthly_income', 1, 8, "'in' expects a list literal"),
        ("age >= 80 ? 1 : true", 1, 1, "both branches"),
        ("is_veteran and age", 1, 16, "'and' expects boolean"),
        ("$now > birth_date", 1, 1, "the only built-in is $today"),
    ],
)
def test_type_errors_point_at_the_officers_text(
    source: str, line: int, col: int, needle: str
) -> None:
    with pytest.raises(RuleTypeError) as info:
        parse_rule(source, RESIDENT)
    assert (info.value.line, info.value.col) == (line, col)
    assert needle in info.value.detail


@pytest.mark.parametrize(
    ("source", "line", "col", "needle"),
    [
        ("age >=", 1, 7, "ends too early"),
        ("(age > 3", 1, 9, "ends too early"),
        ("age > 3 && is_veteran", 1, 9, "write 'and'"),
        ("age >= 80 )", 1, 11, "unexpected ')'"),
        ("", 1, 1, "is empty"),
    ],
)
def test_syntax_errors_point_at_the_problem(source: str, line: int, col: int, needle: str) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(source, RESIDENT)
    assert (info.value.line, info.value.col) == (line, col)
    assert needle in info.value.detail


def test_benefit_must_be_an_amount() -> None:
    with pytest.raises(RuleTypeError, match="benefit must be an amount"):
        parse_rule("age >= 80", RESIDENT, kind="benefit")
    assert parse_rule("age >= 100 ? 800 : 100", RESIDENT, kind="benefit").kind == "benefit"


def test_enterprise_rules_use_enterprise_fields() -> None:
    rule = parse_rule('规模 == "micro"'.replace("规模", "企业规模"), ENTERPRISE)
    assert rule.fields == {"size_class"}
    with pytest.raises(RuleTypeError, match="unknown field 'age' for enterprises"):
        parse_rule("age >= 3", ENTERPRISE)


def test_an_error_moves_into_the_yaml_file() -> None:
    with pytest.raises(RuleTypeError) as info:
        parse_rule('employment_status == "retird"', RESIDENT)
    moved = info.value.located("catalog/x.yaml", line=7, col=14)
    assert str(moved).startswith("catalog/x.yaml:7:35: ")
