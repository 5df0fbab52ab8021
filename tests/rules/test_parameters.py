"""The parameter library: files read and refused with file:line, values chosen by date, reforms."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from rules.parameters import (
    LIBRARY_DIR,
    NotInForceError,
    ParameterFileError,
    UnknownParameterError,
    builtin_library,
    read_library,
)

GOOD = """\
name: dibao_standard
name_zh: 低保标准
unit: CNY/month
description: 低保标准
values:
  - from: 2023-07-01
    until: 2024-06-30
    amount: 1395
    source: modelled
    reason: not yet checked against the notice
  - from: 2024-07-01
    amount: 1450
    source:
      document: 京民社救发〔2024〕80号
      issuer: 北京市民政局
"""


def _write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ParameterFileError) as caught:
        read_library([_write(tmp_path, text)])
    return list(caught.value.problems)


def test_the_value_in_force_is_chosen_by_date(tmp_path: Path) -> None:
    library = read_library([_write(tmp_path, GOOD)])
    assert library.amount("dibao_standard", date(2024, 6, 30)) == Decimal(1395)
    assert library.amount("低保标准", date(2024, 7, 1)) == Decimal(1450)
    assert library.used(["dibao_standard"], date(2025, 1, 1)) == {"dibao_standard": "2024-07-01"}


def test_a_date_before_every_value_is_an_error_naming_the_file(tmp_path: Path) -> None:
    library = read_library([_write(tmp_path, GOOD)])
    with pytest.raises(NotInForceError, match=r"no value in force on 2020-01-01.*p\.yaml"):
        library.amount("dibao_standard", date(2020, 1, 1))


def test_overlapping_values_are_refused_with_the_line(tmp_path: Path) -> None:
    text = GOOD.replace("until: 2024-06-30", "until: 2024-07-31")
    [problem] = _problems(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'p.yaml'}:11: the value from 2024-07-01 overlaps")
    assert "until: 2024-06-30" in problem  # the fix


def test_a_value_without_a_source_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    source: modelled\n    reason: not yet checked against the notice\n", ""
    )
    [problem] = _problems(tmp_path, text)
    assert ":6: a value needs its source" in problem


def test_a_modelled_value_needs_a_reason(tmp_path: Path) -> None:
    text = GOOD.replace("    reason: not yet checked against the notice\n", "")
    [problem] = _problems(tmp_path, text)
    assert ":9: a modelled value needs reason" in problem


def test_an_unknown_unit_is_refused_with_the_units(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, GOOD.replace("CNY/month", "yuan"))
    assert ":3: unknown unit 'yuan'" in problem and "CNY/month" in problem


def test_a_source_without_its_issuer_is_refused(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, GOOD.replace("      issuer: 北京市民政局\n", ""))
    assert ":14: a source needs issuer" in problem


def test_a_name_must_be_ascii(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, GOOD.replace("name: dibao_standard", "name: 低保"))
    assert ":1: name '低保' must be ASCII" in problem


def test_aliases_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("description: 低保标准", "description: &d 低保标准\ndescription_en: *d")
    [problem] = _problems(tmp_path, text)
    assert "anchors and aliases" in problem


def test_a_scale_value_must_have_brackets(tmp_path: Path) -> None:
    problems = _problems(tmp_path, GOOD.replace("unit: CNY/month", "unit: CNY/month\nkind: scale"))
    assert any(":9: a scale parameter has brackets:, not amount:" in p for p in problems)


def test_two_files_with_one_name_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(ParameterFileError, match="already used by"):
        read_library([tmp_path])


def test_an_unknown_name_suggests_the_nearest() -> None:
    with pytest.raises(UnknownParameterError, match="did you mean 'dibao_standard'"):
        builtin_library().resolve("dibao_standart")
    with pytest.raises(UnknownParameterError, match="低保标准"):
        builtin_library().resolve("低保标")


def test_the_builtin_library_holds_the_catalogs_cited_amounts() -> None:
    library = read_library([LIBRARY_DIR])
    assert library.amount("dibao_standard", date(2024, 6, 30)) == 1395
    assert library.amount("dibao_standard", date(2024, 7, 1)) == 1450
    tiers = library.version("elderly_allowance", date(2026, 1, 1))
    assert tiers.shown() == "≥80: 100; ≥90: 500; ≥100: 800"
    assert tiers.source.document == "京民养老发〔2019〕160号"
    care = library.version("hardship_elderly_care_subsidy", date(2026, 1, 1))
    assert care.shown() == "dibao: 300; low_income: 200; family_planning_special: 100"
    assert library.amount("childcare_subsidy", date(2026, 1, 1)) == 3600
    latest = library.version("dibao_standard", date(2026, 1, 1)).source
    assert latest.document == "京民社救发〔2024〕80号" and not latest.is_modelled


def test_a_reform_takes_effect_from_its_date_only() -> None:
    library = builtin_library()
    reform = library.with_override("dibao_standard=1500", on=date(2026, 1, 1))
    assert reform.amount("dibao_standard", date(2026, 1, 1)) == 1500
    assert reform.amount("dibao_standard", date(2025, 12, 31)) == 1450
    assert reform.version("dibao_standard", date(2026, 1, 1)).source.is_modelled
    assert reform.content_hash != library.content_hash


def test_a_reform_of_one_bracket() -> None:
    reform = builtin_library().with_override("elderly_allowance[90]=600", on=date(2026, 1, 1))
    assert reform.version("elderly_allowance", date(2026, 1, 1)).shown() == (
        "≥80: 100; ≥90: 600; ≥100: 800"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dibao_standard", "write name=amount"),
        ("dibao_standard=abc", "is not a number"),
        ("elderly_allowance=600", r"change one bracket: elderly_allowance\[80\]=600"),
        ("elderly_allowance[85]=600", "has no bracket '85'"),
        ("dibao_standard[1]=1", "is a single amount"),
        ("dibao=1500", "did you mean 'dibao_standard'"),
    ],
)
def test_a_reform_that_cannot_be_read_says_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises((ValueError, LookupError), match=message):
        builtin_library().with_override(text, on=date(2026, 1, 1))


def test_a_deployment_adds_its_own_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = GOOD.replace("dibao_standard", "district_top_up").replace("低保标准", "区级补贴")
    _write(tmp_path, text, "district.yaml")
    monkeypatch.setenv("ZHIDA_PARAMETERS", str(tmp_path))
    assert builtin_library().amount("区级补贴", date(2025, 1, 1)) == 1450
    assert builtin_library().amount("dibao_standard", date(2025, 1, 1)) == 1450
    _write(tmp_path, GOOD, "clash.yaml")  # the built-in name again: refused
    monkeypatch.setenv("ZHIDA_PARAMETERS", f"{tmp_path}{os.pathsep}")  # read afresh
    with pytest.raises(ParameterFileError, match="'dibao_standard' is already used by"):
        builtin_library()
