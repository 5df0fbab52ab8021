"""The catalog's household and employer policies on a linked population, matched as a run is.

One Beijing household of three in public rental housing (income 1,800 a month: 600 a head,
under the 1,450 低保 standard), a one-person household from Baoding with a child of their own
hukou, and a firm that hired two people this year: each household policy is one pair of the
household told to its head, 育儿补贴 one pair per Beijing-hukou child told to its mother, and
the hiring policies count the qualifying hires over the firm's employments.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from matcher.population import scan_population
from matcher.units import match_units_frame
from profiles.schema import load_schema
from rules.loader import load_catalog

SCHEMA = load_schema()
CATALOG = load_catalog([Path(__file__).resolve().parents[2] / "rules" / "catalog"], SCHEMA)
ON = date(2025, 9, 30)  # 一次性扩岗补助 and 稳岗返还 are still in force
FIRM = "911100000000000001"


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    directory = tmp_path_factory.mktemp("linked")
    pl.DataFrame(
        {
            "person_id": ["mum", "dad", "kid", "solo", "kid2"],
            "birth_date": [
                date(1990, 3, 1),
                date(2002, 5, 1),  # 23: a young hire
                date(2024, 10, 1),
                date(1985, 1, 1),
                date(2024, 1, 1),
            ],
            "hukou_city": ["北京市", "北京市", "北京市", "保定市", "保定市"],
            "monthly_income": [1000.0, 800.0, 0.0, 9000.0, 0.0],
            "subsistence_status": ["none"] * 5,
            "is_veteran": [False] * 5,
            "disability_grade": [0] * 5,
            "employment_status": ["employed", "employed", "not_working", "employed", "not_working"],
            "household_id": ["h1", "h1", "h1", "h2", "h2"],
            "relation_to_head": ["head", "spouse", "child", "head", "child"],
            "mother_id": [None, None, "mum", None, None],
            "father_id": [None, None, "dad", None, "solo"],
        }
    ).write_parquet(directory / "residents.parquet")
    pl.DataFrame(
        {
            "household_id": ["h1", "h2"],
            "residence_district": ["西城区", "朝阳区"],
            "housing": ["public_rental", "market_rental"],
        }
    ).write_parquet(directory / "households.parquet")
    pl.DataFrame(
        {
            "enterprise_id": [FIRM],
            "size_class": ["micro"],
            "unemployment_insurance_months": [24],
            "layoff_rate": [0.0],
        }
    ).write_parquet(directory / "enterprises.parquet")
    pl.DataFrame(
        {
            "person_id": ["dad", "solo"],
            "enterprise_id": [FIRM, FIRM],
            "hired_on": [date(2025, 3, 1), date(2025, 4, 1)],
            "left_on": [None, None],
            "contract_months": [24, 36],
            "unemployment_insurance_months": [6, 5],
        }
    ).write_parquet(directory / "employments.parquet")
    policies = [p for p in CATALOG.policies if p.in_force(ON)]
    frames = scan_population(directory, SCHEMA)
    return match_units_frame(frames, policies, SCHEMA, as_of=ON)


def rows(pairs: pl.DataFrame, policy_id: str) -> list[dict[str, object]]:
    return pairs.filter(pl.col("policy_id") == policy_id).sort("subject_id").to_dicts()


def test_dibao_is_one_pair_of_the_household_told_to_its_head(pairs: pl.DataFrame) -> None:
    (pair,) = rows(pairs, "bj-dibao-invitation")
    assert (pair["subject_id"], pair["subject_type"], pair["unit"]) == (
        "h1",
        "household",
        "household",
    )
    assert pair["status"] == "eligible" and pair["recipient_id"] == "mum"
    assert pair["benefit"] == Decimal("2550.00")  # (1,450 - 1,800 / 3) × 3


def test_public_rental_subsidy_reaches_the_household_once(pairs: pl.DataFrame) -> None:
    (pair,) = rows(pairs, "bj-public-rental-rent-subsidy")
    assert (pair["subject_id"], pair["recipient_id"]) == ("h1", "mum")
    assert rows(pairs, "bj-market-rent-subsidy") == []  # h2 is not a Beijing household


def test_childcare_subsidy_is_the_beijing_childs_told_to_one_guardian(pairs: pl.DataFrame) -> None:
    (pair,) = rows(pairs, "cn-childcare-subsidy")
    assert (pair["subject_id"], pair["recipient_id"], pair["benefit"]) == (
        "kid",
        "mum",
        Decimal("3600.00"),
    )


def test_the_hire_subsidy_counts_each_qualifying_hire_once(pairs: pl.DataFrame) -> None:
    (pair,) = rows(pairs, "cn-graduate-hire-subsidy")
    # dad: 23, 6 insured months, a two-year contract; solo (40) is neither young nor a graduate
    # on record: unknown graduation makes the count unknown, so the firm is eligible (dad) and
    # its amount waits on solo's graduation date.
    assert (pair["subject_id"], pair["status"], pair["benefit"]) == (FIRM, "eligible", None)


def test_the_refund_sums_insured_months_per_employee(pairs: pl.DataFrame) -> None:
    (pair,) = rows(pairs, "cn-job-stabilization-refund")
    assert pair["benefit"] == Decimal("198.00")  # (6 + 5) × 30 × 60 %


def test_the_loan_counts_young_hires_against_the_staff(pairs: pl.DataFrame) -> None:
    # employees is derived from the employments: 2; one qualifying hire is 50 % ≥ 15 %
    (pair,) = rows(pairs, "cn-startup-guaranteed-loan")
    assert (pair["subject_id"], pair["status"]) == (FIRM, "eligible")


def test_firms_without_an_employments_file_are_maybe_not_an_error(tmp_path: Path) -> None:
    pl.DataFrame(
        {"enterprise_id": [FIRM], "size_class": ["micro"], "employees": [10]}
    ).write_parquet(tmp_path / "enterprises.parquet")
    policies = [p for p in CATALOG.policies if p.in_force(ON) and p.audience == "enterprise"]
    pairs = match_units_frame(scan_population(tmp_path, SCHEMA), policies, SCHEMA, as_of=ON)
    staff = pairs.filter(
        pl.col("policy_id").is_in(
            ["bj-skills-upgrade-subsidy", "cn-startup-guaranteed-loan", "cn-graduate-hire-subsidy"]
        )
    )
    assert sorted(staff["status"].to_list()) == ["maybe"] * 3
