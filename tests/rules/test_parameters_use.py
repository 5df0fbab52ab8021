"""Amount literals that are parameters are warned of at validation; runs know what they read."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from profiles.schema import load_schema
from rules.language import parse_rule
from rules.loader import check_policy_text
from rules.parameter_use import literal_warnings, readers, versions_read
from rules.parameters import builtin_library, using
from rules.policy import Policy

RESIDENT = load_schema().resident
SINCE_2024 = date(2024, 7, 1)

POLICY = """\
id: bj-dibao-draft
title: 低保申请邀请
department: 北京市民政局
audience: resident
mode: proactive_push
eligibility: 'household_income_per_capita < {limit}'
benefit: '({limit} - household_income_per_capita) * household_size'
benefit_period: month
valid_from: 2025-01-01
"""


def _warned(text: str, kind: str = "benefit", start: date = SINCE_2024) -> list[str]:
    rule = parse_rule(text, RESIDENT, kind=kind)  # type: ignore[arg-type]
    return [str(w) for w in literal_warnings(rule, start, None)]


def test_validation_warns_of_the_standard_written_out_with_the_parameter_as_the_fix() -> None:
    check = check_policy_text(POLICY.format(limit=1450), Path("draft.yaml"))
    assert check.policy is not None  # a warning does not refuse the policy
    shown = [str(w) for w in check.warnings]
    assert any(
        w.startswith("draft.yaml:6:45: eligibility: the amount 1450 is the parameter "
                     "dibao_standard") and "write parameters.dibao_standard (参数.低保标准)" in w
        for w in shown
    ), shown  # fmt: skip
    assert any(w.startswith("draft.yaml:7:12: benefit: the amount 1450") for w in shown)


def test_the_policy_on_the_parameter_is_not_warned_of() -> None:
    check = check_policy_text(POLICY.format(limit="参数.低保标准"), Path("draft.yaml"))
    assert check.policy is not None and check.warnings == ()


def test_a_value_not_in_force_while_the_policy_is_is_not_warned_of() -> None:
    # 1,395 was the standard until 2024-06-30; a policy from 2025 may mean something else
    assert _warned("(1395 - household_income_per_capita)", start=date(2025, 1, 1)) == []
    assert _warned("(1395 - household_income_per_capita)", start=date(2024, 1, 1)) != []


def test_thresholds_are_not_amounts() -> None:
    assert _warned("age >= 100", kind="eligibility") == []


def test_a_tier_amount_is_warned_of_only_where_its_field_chooses_it() -> None:
    tiers = _warned("age >= 100 ? 800 : (age >= 90 ? 500 : 100)")
    assert [w.split(":")[1] for w in tiers] == ["14", "33", "39"]
    assert all("parameters.elderly_allowance[age]" in w for w in tiers)
    assert _warned("household_size == 1 ? 900 : 100") == []  # not chosen by age


def test_readers_and_versions_read() -> None:
    policy = Policy(
        id="bj-x", title="x", department="d", audience="resident", mode="auto_grant",
        eligibility="household_income_per_capita < 参数.低保标准",
        benefit="parameters.elderly_allowance[age]", valid_from=date(2020, 1, 1),
    )  # fmt: skip
    assert readers([policy]) == {"dibao_standard": ["bj-x"], "elderly_allowance": ["bj-x"]}
    assert versions_read([policy], date(2024, 6, 30)) == {
        "dibao_standard": "2023-07-01",
        "elderly_allowance": "2020-01-01",
    }
    reform = builtin_library().with_override("dibao_standard=1500", on=date(2026, 1, 1))
    with using(reform):
        assert versions_read([policy], date(2026, 1, 1))["dibao_standard"] == "2026-01-01"


@pytest.mark.parametrize("limit", ["1450", "1450.00"])
def test_a_decimal_spelling_is_the_same_amount(limit: str) -> None:
    assert len(_warned(f"({limit} - household_income_per_capita)")) == 1


def test_a_policy_in_force_on_days_its_parameter_has_no_value_is_refused() -> None:
    early = POLICY.format(limit="参数.低保标准").replace("2025-01-01", "2020-01-01")
    check = check_policy_text(early, Path("draft.yaml"))
    assert check.policy is None
    error, benefit = [str(e) for e in check.problems]
    assert benefit.startswith("draft.yaml:7:12: benefit: parameter dibao_standard")
    assert error.startswith(
        "draft.yaml:6:45: eligibility: parameter dibao_standard (低保标准) has no value "
        "from 2020-01-01 to 2023-06-30 while the policy is in force"
    )
    assert "to rules/parameters/library/dibao_standard.yaml" in error
    assert "zhida parameters history dibao_standard" in error


def test_a_policy_ending_before_its_parameter_stops_is_accepted() -> None:
    ended = POLICY.format(limit="参数.低保标准").replace(
        "valid_from: 2025-01-01", "valid_from: 2023-07-01\nvalid_until: 2024-12-31"
    )
    assert check_policy_text(ended, Path("draft.yaml")).policy is not None
