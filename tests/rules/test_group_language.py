"""The rule language over groups: what each audience may read, in English and Chinese, and the
errors (line, column, the nearest name) for what it may not."""

from __future__ import annotations

import pytest

from profiles.schema import load_schema
from rules.errors import RuleTypeError
from rules.language import parse_rule

SCHEMA = load_schema()
RESIDENT, HOUSEHOLD, ENTERPRISE = SCHEMA.resident, SCHEMA.entity("household"), SCHEMA.enterprise


@pytest.mark.parametrize(
    ("entity", "chinese", "english"),
    [
        (RESIDENT, "家庭.人均月收入 < 1450", "household.income_per_capita < 1450"),
        (
            RESIDENT,
            '家庭.成员数(年龄 < 3 and 户籍城市 == "北京市") >= 1',
            'household.members_count(age < 3 and hukou_city == "北京市") >= 1',
        ),
        (HOUSEHOLD, '住房类型 == "公租房" and 任一成员(年龄 >= 80)',
         'housing == "public_rental" and any_member(age >= 80)'),
        (
            ENTERPRISE,
            "员工数(招用日期 >= $today - 365 and 年龄 <= 24 and 失业保险月数 >= 3) >= 1",
            "employees_count(hired_on >= $today - 365 and age <= 24 and "
            "unemployment_insurance_months >= 3) >= 1",
        ),
        (HOUSEHOLD, "成员合计(月收入, 年龄 >= 16) / 人数 < 1450",
         "members_sum(monthly_income, age >= 16) / size < 1450"),
    ],
)  # fmt: skip
def test_chinese_group_words_read_as_the_english(entity, chinese: str, english: str) -> None:
    assert parse_rule(chinese, entity).text == english


def test_a_rule_says_what_it_reads_of_its_groups() -> None:
    rule = parse_rule(
        'household.size >= 3 and household.members_count(hukou_city == "北京市") >= 1', RESIDENT
    )
    assert rule.groups == {"household.size", "members", "members.hukou_city"}
    assert rule.fields == frozenset()


def test_an_enum_label_of_a_household_field_reads_as_its_value() -> None:
    assert parse_rule('家庭.住房类型 == "公租房"', RESIDENT).text == (
        'household.housing == "public_rental"'
    )


@pytest.mark.parametrize(
    ("entity", "text", "col", "words"),
    [
        (RESIDENT, "household.income_per_capit < 1450", 1, "did you mean 'income_per_capita'"),
        (RESIDENT, "age > 3 and household.members_cont(age < 3) > 1", 13, "members_count"),
        (RESIDENT, "members_count(age < 3) >= 1", 1, "write household.members_count"),
        (HOUSEHOLD, "household.members_count(age < 3) >= 1", 1, "without household."),
        (HOUSEHOLD, "household.size > 1", 1, "write size"),
        (ENTERPRISE, "members_count(age < 3) >= 1", 1, "resident rules"),
        (RESIDENT, "employees_count(age < 3) >= 1", 1, "enterprise rules"),
        (HOUSEHOLD, "members_count(agee < 3) >= 1", 15, "did you mean 'age'"),
        (HOUSEHOLD, "members_sum(hukou_city) > 1", 13, "members_sum's value"),
        (HOUSEHOLD, "members_count(age) > 1", 15, "members_count's condition"),
        (HOUSEHOLD, "any_member() ", 1, "takes one condition"),
        (HOUSEHOLD, "members_count(members_count() > 1) > 1", 15, "can be used only"),
        (ENTERPRISE, "employees_count(hired_on >= $today - 1.5) > 0", 38, "whole number of days"),
    ],
)
def test_group_mistakes_are_located_and_say_how_to_fix(entity, text, col, words) -> None:
    with pytest.raises(RuleTypeError) as caught:
        parse_rule(text, entity)
    assert (caught.value.line, caught.value.col) == (1, col), str(caught.value)
    assert words in str(caught.value)


def test_a_chinese_household_field_misspelt_suggests_the_nearest() -> None:
    with pytest.raises(RuleTypeError) as caught:
        parse_rule("家庭.人均收入 < 1450", RESIDENT)
    assert "人均月收入" in str(caught.value)
