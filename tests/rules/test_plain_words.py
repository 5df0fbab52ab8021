"""A clause in plain words: strings, fields and operators, in linear time on any clause text."""

from __future__ import annotations

import time

import pytest

from profiles.schema import load_schema
from rules.plain_words import plain_clause

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
