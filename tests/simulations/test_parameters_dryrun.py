"""The dry-run of a draft with a parameter change: the change alone, against the published."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from rules.loader import Catalog, load_policy_text
from simulations.preview import Published, compute_dry_run
from simulations.privacy import PrivacyParameters

ON = date(2026, 1, 1)
SHARP = PrivacyParameters(epsilon=1000.0)  # noise far below one subject: figures checkable
POLICY = """\
id: bj-dibao-test
title: 低保申请邀请
department: 北京市民政局
audience: resident
mode: proactive_push
eligibility: 'household_income_per_capita < 参数.低保标准'
benefit: '参数.低保标准 - household_income_per_capita'
benefit_period: month
valid_from: 2023-07-01
"""


@pytest.fixture
def population(tmp_path: Path) -> Path:
    """120 residents at 1,400 (under both standards), 60 at 1,480 (between), 40 at 1,600."""
    incomes = [1400.0] * 120 + [1480.0] * 60 + [1600.0] * 40
    pl.DataFrame(
        {
            "person_id": [f"P{i:04d}" for i in range(len(incomes))],
            "household_income_per_capita": incomes,
            "age": [40] * len(incomes),
            "residence_district": ["西城区"] * len(incomes),
        }
    ).write_parquet(tmp_path / "residents.parquet")
    return tmp_path


def test_a_dry_run_with_a_parameter_change_shows_who_it_reaches(population: Path) -> None:
    policy = load_policy_text(POLICY, Path("bj-dibao-test.yaml"))
    published = Published(Catalog((policy,), {}, {}), {policy.id: 1})
    plain = compute_dry_run(policy, published, population, as_of=ON, params=SHARP)
    assert plain["eligible"] == 120 and plain["versus_published"]["newly_eligible"] == 0
    reform = compute_dry_run(
        policy, published, population, as_of=ON, params=SHARP,
        parameters=("dibao_standard=1500",),
    )  # fmt: skip
    assert reform["parameters"] == ["dibao_standard=1500"]
    assert reform["eligible"] == 180
    assert reform["versus_published"]["newly_eligible"] == 60
    assert reform["versus_published"]["no_longer_eligible"] == 0
    # 120 × (1500 - 1400) + 60 × (1500 - 1480) = 13,200 a month, within the noise
    assert abs(float(reform["cost_per_period"]) - 13_200) < 50
