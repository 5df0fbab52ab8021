"""Regexes in rules run in linear time in every evaluator, and both engines read them alike."""

from __future__ import annotations

import time
import unicodedata
from datetime import date

import polars as pl
import pytest

from profiles.schema import load_schema
from rules.compiler import compile_rule
from rules.errors import RuleTypeError
from rules.evaluator import evaluate
from rules.explainer import explain
from rules.language import parse_rule
from rules.regex import matches, pattern_problem

RESIDENT = load_schema().resident
AS_OF = date(2026, 1, 1)
EVIL_NAME = "a" * 24 + "!"  # (a+)+$ on this took 10 s with Python's re


def test_a_catastrophic_pattern_evaluates_in_linear_time_per_subject() -> None:
    rule = parse_rule('name =~ "(a+)+$"', RESIDENT)
    started = time.perf_counter()
    result = evaluate(rule, {"name": "a" * 5000 + "!"}, as_of=AS_OF)
    explanation = explain(rule, {"name": EVIL_NAME}, as_of=AS_OF)
    assert time.perf_counter() - started < 1
    assert result is False and explanation.status == "not_eligible"


def test_a_catastrophic_pattern_compiles_to_a_linear_time_query() -> None:
    rule = parse_rule('name =~~ "(a+)+$" or name !~ "(x+x+)+y"', RESIDENT)
    frame = pl.DataFrame({"name": [EVIL_NAME, "a" * 5000 + "!", "x" * 5000]})
    started = time.perf_counter()
    out = frame.select(compile_rule(rule, as_of=AS_OF)).to_series().to_list()
    assert time.perf_counter() - started < 1
    assert out == [True, True, True]


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        (r"(a)\1", "back-references"),
        ("(?P<x>a)(?P=x)", "back-references"),
        ("(?=王)", "look-around"),
        ("(?<!王)伟", "look-around"),
        ("(?>a+)", "atomic groups"),
        ("a*+b", "possessive quantifiers"),
        (r"\b王", "word boundaries"),
        ("[a[b]]", "reads differently"),
        ("[a&&b]", "reads differently"),
        ("a{2000}", "not a regular expression the rule engine can run"),
    ],
)
def test_a_pattern_only_a_backtracking_engine_runs_is_refused_at_its_place(
    pattern: str, says: str
) -> None:
    with pytest.raises(RuleTypeError) as info:
        escaped = pattern.replace("\\", "\\\\")  # as written in a rule's string literal
        parse_rule(f'age > 1 and name =~ "{escaped}"', RESIDENT)
    assert (info.value.line, info.value.col) == (1, 21)
    assert says in info.value.detail and "regular expression" in info.value.detail


@pytest.mark.parametrize("pattern", [r"\d", r"\D", r"\s", r"\S", r"\w", r"\W", r"[\d_]", r"[^\w]"])
def test_perl_classes_mean_in_re2_what_they_mean_in_polars(pattern: str) -> None:
    texts = ["１", "7", "\u3000", " ", "\t", "é", "王", "_", "-", "Ⓐ", "٣", "\u00a0", "!"]
    rust = pl.Series(texts).str.contains(f"^(?:{pattern})$").to_list()
    assert [matches(f"(?:{pattern})$", t, anchored=True) for t in texts] == rust


def test_evaluator_and_compiler_agree_on_a_trailing_newline() -> None:
    # Python's re let $ match before a final newline; polars and RE2 do not.
    rule = parse_rule('name =~ "王$"', RESIDENT)
    frame = pl.DataFrame({"name": ["王\n", "王"]})
    compiled = frame.select(compile_rule(rule, as_of=AS_OF)).to_series().to_list()
    per_record = [evaluate(rule, {"name": n}, as_of=AS_OF) for n in ["王\n", "王"]]
    assert compiled == per_record == [False, True]


def test_an_escaped_bracket_before_a_question_mark_is_no_look_ahead() -> None:
    assert pattern_problem(r"\(?=") is None
    assert matches(r"\(?=", "(=", anchored=True) and matches(r"\(?=", "=", anchored=True)


def test_a_refused_pattern_writes_nothing_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    assert pattern_problem("a{2000}") is not None
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("cls", [r"\d", r"\s", r"\w"])
def test_perl_classes_agree_on_every_assigned_character_of_the_bmp(cls: str) -> None:
    # assigned as far as this Python's Unicode tables know; newer characters may differ
    chars = [
        chr(c)
        for c in range(0x10000)
        if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) != "Cn"
    ]
    rust = pl.Series(chars).str.contains(f"^{cls}$").to_list()
    ours = [matches(f"{cls}$", c, anchored=True) for c in chars]
    assert [c for c, a, b in zip(chars, rust, ours, strict=True) if a != b] == []
