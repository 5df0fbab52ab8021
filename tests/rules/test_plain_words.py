"""A clause in plain words: strings, fields and operators, in linear time on any clause text."""

from __future__ import annotations

import time

import pytest

from profiles.schema import load_schema
from rules.plain_words import plain_clause, plain_counterfactual

RESIDENT = load_schema().resident


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('hukou_city == "北京市"', "户籍城市 为 “北京市”"),
        ("hukou_city == '北京市'", "户籍城市 为 “北京市”"),
        ('name == ""', "姓名 为 “”"),
    ],
)
def test_strings_in_either_quote_are_shown_in_chinese_quotes(text: str, expected: str) -> None:
    assert plain_clause(text, RESIDENT, "zh") == expected


def test_an_unclosed_quote_before_many_backslashes_is_read_in_linear_time() -> None:
    # A comment inside a clause may hold an unclosed quote; the old pattern backtracked
    # exponentially over the backslashes after it (60 of them: hours).
    text = 'age >= # "' + "\\" * 60 + "\n 80"
    started = time.perf_counter()
    plain_clause(text, RESIDENT, "zh")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ('subsistence_status == "tekun"', "zh", "社会救助类别 为 “特困”"),
        ('subsistence_status == "tekun"', "en", "subsistence status is “extreme poverty support”"),
        ('gender == "female" and age >= 60', "zh", "性别 为 “女” 并且 年龄 不低于 60"),
        ('"male" != gender', "zh", "“男” 不为 性别"),
        ('employment_status in ["retired", "unemployed"]', "zh",
         "就业状态 属于 [ “退休” , “失业” ]"),
        ('hukou_city == "retired"', "zh", "户籍城市 为 “retired”"),  # not an enum: as written
        ('age > 1 and "tekun" == name', "zh", "年龄 高于 1 并且 “tekun” 为 姓名"),
    ],
)  # fmt: skip
def test_an_enum_value_reads_as_its_label(text: str, lang: str, expected: str) -> None:
    assert plain_clause(text, RESIDENT, lang) == expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ('eligible if subsistence_status == "tekun"; it is "dibao"', "zh",
         "需 社会救助类别 为 “特困”；当前为 低保"),
        ("eligible if monthly_income < 3000; it is ***", "zh", "需 月收入 低于 3000；当前为 ***"),
        ("eligible if age >= 80; it is unknown", "en",
         "eligible if age at least 80; it is unknown"),
        ("something else", "zh", "something else"),
    ],
)  # fmt: skip
def test_how_to_meet_a_clause_reads_in_plain_words(text: str, lang: str, expected: str) -> None:
    assert plain_counterfactual(text, RESIDENT, lang) == expected


@pytest.mark.parametrize(
    "text", ['"new_parent" in tags', '"新生儿父母" in 标签', '"new_parent" in 标签']
)
def test_a_tag_test_reads_the_same_however_the_officer_named_it(text: str) -> None:
    names = {"new_parent": "新生儿父母"}
    assert plain_clause(text, RESIDENT, "zh", names) == "有标签“新生儿父母”"
