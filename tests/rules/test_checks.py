"""The checks of rules.checks: never-true and always-true rules, unreachable and overlapping
tiers, each at its place in the officer's text, in both languages; and through the loader and
``zhida policies validate``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from api.cli import main
from profiles.schema import load_schema
from rules.checks import check_benefit, check_eligibility
from rules.language import parse_rule
from rules.loader import check_policy_text, load_catalog

R = load_schema().resident
E = load_schema().enterprise
CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"


def _eligibility(text: str, entity: object = R) -> list[tuple[str, str, int, int]]:
    found = check_eligibility(parse_rule(text, entity))  # type: ignore[arg-type]
    return [(f.severity, f.code or "", f.line, f.col) for f in found]


def _benefit(text: str, eligibility: str = "age >= 0") -> list[tuple[str, str, int]]:
    found = check_benefit(parse_rule(text, R, kind="benefit"), parse_rule(eligibility, R))
    return [(f.severity, f.code or "", f.col) for f in found]


@pytest.mark.parametrize(
    ("text", "col"),
    [
        ("年龄>=80 and 年龄<80", 12),
        ("age > 79.5 and age < 80", 16),  # no whole number between
        ("age > 130", 1),  # the schema's max
        ("monthly_income < 0", 1),  # the schema's min
        ('社会救助类别 in ["特困", "低保"] and 社会救助类别 == "无"', 28),
        ('"new_parent" in tags and not ("新生儿父母" in 标签)', 31),
        ("is_veteran and not is_veteran", 20),
        ('hukou_city =~ "^北" and not (hukou_city =~ "^北")', 29),  # one regex, both ways
        ("disability_grade != 0 and disability_grade != 1 and disability_grade != 2 and "
         "disability_grade != 3 and disability_grade != 4", 105),
        ('birth_date < d"1950-01-01" and birth_date > d"1949-12-31"', 32),
        ('birth_date > d"9999-12-30" and birth_date < d"9999-12-31"', 32),  # the calendar's end
        ("(age >= 80 or age < 18) and age >= 60 and age < 65", 43),
        ("false", 1),
    ],
)  # fmt: skip
def test_a_never_true_eligibility_is_an_error_at_the_clause_that_contradicts(
    text: str, col: int
) -> None:
    ((severity, code, line, at),) = _eligibility(text)
    assert (severity, code, line) == ("error", "never_true", 1)
    assert at == col


@pytest.mark.parametrize(
    "text",
    [
        "age >= 80 and age < 81",
        'employment_status != "retired" and employment_status != "employed"',
        "monthly_income > 0.5 and monthly_income < 0.6",
        'hukou_city != "北京市" and hukou_city != "天津市"',
        "monthly_income * 2 > 3 and monthly_income < 10",  # arithmetic: may hold
        'hukou_city =~ "^北" and not (hukou_city =~ "^北京")',  # regexes: nothing claimed
        "age >= 80 and age < 90",
        'birth_date == d"1950-01-01"',  # dates: the checks' example days stay in the calendar
        'birth_date != d"1950-01-01" and is_veteran',
        'birth_date < d"0001-01-02"',
    ],
)
def test_a_rule_that_can_hold_is_not_flagged(text: str) -> None:
    assert _eligibility(text) == []


@pytest.mark.parametrize(
    ("text", "cols"),
    [
        ('age >= 80 and (hukou_city == "北京市" or age < 60)', [39]),  # the wrong way round
        ("年龄 >= 80 and 年龄 >= 60", [14]),  # left over
        ("age < 200", []),  # the whole rule: reported as true when known, not clause by clause
        ("(age >= 80 or age >= 90) and is_veteran", [15]),
        ("age > 79 and age < 81 and age != 80 or age == 80", [1, 14, 27]),  # at most three
    ],
)
def test_a_clause_that_never_decides_is_a_warning(text: str, cols: list[int]) -> None:
    found = _eligibility(text)
    assert [c for _, code, _, c in found if code == "idle_clause"] == cols
    assert all(severity == "warning" for severity, *_ in found)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("true", "always_true"),
        ('person_id != "" or person_id == ""', "always_true"),  # never unknown: required
        ("年龄 >= 0 or 年龄 < 0", "true_when_known"),  # unknown age: maybe, not true
        ("age >= 0", "true_when_known"),
        ("age < 200", "true_when_known"),
        ("is_veteran or not is_veteran", "true_when_known"),
    ],
)
def test_a_rule_true_for_everyone_is_a_warning_that_minds_unknowns(text: str, code: str) -> None:
    assert _eligibility(text) == [("warning", code, 1, 1)]


def test_the_unreachable_tier_of_the_issue_is_an_error_at_its_condition() -> None:
    text = "年龄 >= 90 ? 500 : 年龄 >= 100 ? 800 : 100"
    assert _benefit(text, "年龄 >= 80") == [("error", "unreachable_tier", 18)]
    found = check_benefit(parse_rule(text, R, kind="benefit"), parse_rule("年龄 >= 80", R))[0]
    assert "第 1 档（年龄 >= 90 → 500）" in found.in_language("zh")
    assert "move it before tier 1" in found.in_language("en")


@pytest.mark.parametrize(
    ("text", "eligibility", "expected"),
    [
        ("age >= 100 ? 800 : (age >= 90 ? 500 : 100)", "age >= 80", []),  # the catalog's
        ("age < 80 ? 50 : 100", "age >= 80", [("error", "unreachable_tier", 1)]),
        ("age >= 80 ? 1 : 2", "age >= 80", []),  # an unreached default is no error
        ("monthly_income * (age > 90 ? 2 : (age > 95 ? 3 : 1))", "age > 0",
         [("error", "unreachable_tier", 35)]),
        ("age >= 90 ? (age >= 80 ? 5 : 6) : 7", "age >= 0", []),
        ("age >= 90 ? (age < 80 ? 5 : 6) : 7", "age >= 0", [("error", "unreachable_tier", 14)]),
        ('age >= 80 and hukou_city == "北京市" ? 100 : age >= 90 ? 500 : 0', "age >= 80",
         [("warning", "overlapping_tiers", 43)]),
        ("disability_grade <= 2 ? 300 : is_veteran ? 200 : 100", "age >= 60",
         [("warning", "overlapping_tiers", 31)]),
        ("disability_grade <= 2 ? 300 : is_veteran ? 300 : 100", "age >= 60", []),  # same sum
        ("age >= 100 ? 800 : age >= 90 ? 500 : age >= 80 ? 100 : 0", "age >= 80", []),
    ],
)  # fmt: skip
def test_tiers_nobody_reaches_are_errors_and_tiers_the_order_decides_warnings(
    text: str, eligibility: str, expected: list[tuple[str, str, int]]
) -> None:
    assert _benefit(text, eligibility) == expected


def test_an_overlap_names_an_example_in_the_readers_words() -> None:
    benefit = parse_rule(
        '社会救助类别 == "特困" ? 600 : 残疾等级 <= 2 ? 300 : 100', R, kind="benefit"
    )
    (found,) = check_benefit(benefit, parse_rule("age >= 60", R))
    assert "社会救助类别 = 特困" in found.in_language("zh")
    assert "subsistence_status = extreme poverty support" in found.in_language("en")


def test_the_shipped_catalog_has_no_error_and_no_warning() -> None:
    catalog = load_catalog([CATALOG])
    assert catalog.warnings == ()


DOC = """\
id: x-test
title: 测试
department: 北京市民政局
audience: resident
mode: auto_grant
eligibility: |
  年龄 >= 80 and
    年龄 < 80
benefit: '年龄 >= 90 ? 500 : 年龄 >= 100 ? 800 : 100'
benefit_period: month
valid_from: 2026-01-01
"""


def test_the_loader_refuses_a_never_true_rule_at_its_file_position() -> None:
    checked = check_policy_text(DOC, Path("x.yaml"))
    assert checked.policy is None
    assert [(p.line, p.col, p.code) for p in checked.problems] == [(8, 5, "never_true")]
    assert checked.problems[0].in_language("zh").startswith("资格条件：条件永远不成立")


def test_the_loader_refuses_an_unreachable_tier_at_its_file_position() -> None:
    checked = check_policy_text(DOC.replace("年龄 < 80", "年龄 < 120"), Path("x.yaml"))
    assert [(p.line, p.col, p.code) for p in checked.problems] == [(9, 28, "unreachable_tier")]
    assert str(checked.problems[0]).startswith("x.yaml:9:28: benefit: this tier (800)")


def test_warnings_do_not_refuse_the_policy() -> None:
    doc = DOC.replace("    年龄 < 80\n", "    年龄 < 90\n").replace(
        "年龄 >= 90 ? 500 : 年龄 >= 100 ? 800 : 100", "残疾等级 <= 2 ? 350 : 退役军人 ? 250 : 150"
    )
    checked = check_policy_text(doc, Path("x.yaml"))
    assert checked.policy is not None and checked.problems == ()
    assert [w.code for w in checked.warnings] == ["overlapping_tiers"]


def test_validate_reports_unknown_tags_and_never_true_rules_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(
        DOC.replace("id: x-test", "id: a-test").replace(
            "  年龄 >= 80 and\n    年龄 < 80\n", '  "育儿家庭" in 标签\n'
        ),
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text(DOC, encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["policies", "validate", str(tmp_path)])
    assert info.value.code == 1
    out = capsys.readouterr().out
    assert f'{tmp_path}/a.yaml:7:3: eligibility: unknown tag "育儿家庭"' in out
    assert f"{tmp_path}/b.yaml:8:5: eligibility: this never holds" in out
    with pytest.raises(SystemExit):
        main(["policies", "validate", "--lang", "zh", str(tmp_path / "b.yaml")])
    assert f"{tmp_path}/b.yaml:8:5: 资格条件：条件永远不成立" in capsys.readouterr().out


def test_validate_prints_warnings_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = DOC.replace("    年龄 < 80\n", "    年龄 < 90\n").replace(
        "年龄 >= 90 ? 500 : 年龄 >= 100 ? 800 : 100", "残疾等级 <= 2 ? 350 : 退役军人 ? 250 : 150"
    )
    (tmp_path / "w.yaml").write_text(doc, encoding="utf-8")
    assert main(["policies", "validate", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path}/w.yaml:9:29: warning: benefit: tiers 1 and 2 overlap" in out
    assert "1 policies OK" in out and "1 warning" in out


@pytest.mark.parametrize("joiner", [" or ", " and "])
def test_a_rule_at_the_term_limit_is_checked_at_once(joiner: str) -> None:
    inner = " and " if joiner == " or " else " or "
    parts = [f"(age > {i}{inner}monthly_income < {i * 100}{inner}is_veteran)" for i in range(32)]
    started = time.perf_counter()
    check_eligibility(parse_rule(joiner.join(parts), R))
    assert time.perf_counter() - started < 3
