"""The built-in catalog validates, and each policy behaves at its boundaries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from profiles.schema import load_schema
from rules.evaluator import evaluate, evaluate_benefit
from rules.groups import EMPLOYEES, HOUSEHOLD
from rules.language import parse_rule
from rules.loader import load_catalog
from rules.parameters import builtin_library

CATALOG_DIR = Path(__file__).resolve().parents[2] / "rules" / "catalog"
CATALOG = load_catalog([CATALOG_DIR])
SCHEMA = load_schema()
ON = date(2026, 6, 30)
BJ = {"hukou_city": "北京市"}
OUT = {"hukou_city": "保定市"}


def job(**fields: Any) -> dict[str, Any]:
    """One current employment of a firm merged with its employee's resident fields (how a rule
    over employees reads it): hired half a year before ON on a two-year contract, 6 months of
    unemployment insurance paid, a 30-year-old non-veteran without disability."""
    return {
        "hired_on": date(2026, 1, 1),
        "left_on": None,
        "contract_months": 24,
        "unemployment_insurance_months": 6,
        "age": 30,
        "graduated_on": date(2010, 7, 1),
        "is_veteran": False,
        "disability_grade": 0,
        **fields,
    }


def firm(jobs: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {EMPLOYEES: jobs, **fields}


YEAR_AGO = date(2025, 6, 30)  # ON - 365 days: still "in the last 12 months"
# Retired policies are read on their last day (the amounts they read were in force then).
LAST_DAY = {
    "cn-graduate-hire-subsidy": date(2025, 12, 31),
    "cn-job-stabilization-refund": date(2025, 12, 31),  # its refund rates end then
    "bj-elderly-allowance-2010": date(2019, 12, 31),
    "bj-small-firm-rent-relief-2022": date(2022, 12, 31),
    "bj-long-term-care-insurance": date(2027, 1, 1),  # its first day
}


def hire(**fields: Any) -> dict[str, Any]:
    """:func:`job` of a hire half a year before 2025-12-31, the hire subsidy's last day."""
    return job(**{"hired_on": date(2025, 7, 1), **fields})


# (policy id, profile, expected result True/False/None, expected benefit or None)
CASES: list[tuple[str, dict[str, Any], bool | None, str | None]] = [
    ("bj-elderly-allowance", {"age": 80, **BJ}, True, "100"),
    ("bj-elderly-allowance", {"age": 79, **BJ}, False, None),
    ("bj-elderly-allowance", {"age": 90, **BJ}, True, "500"),
    ("bj-elderly-allowance", {"age": 100, **BJ}, True, "800"),
    ("bj-elderly-allowance", {"age": 85, **OUT}, False, None),
    ("bj-elderly-allowance", {"age": None, **BJ}, None, None),
    ("bj-elderly-allowance", {"age": 85, "hukou_city": None}, None, "100"),
    (
        "bj-hardship-elderly-care-subsidy",
        {"age": 60, **BJ, "subsistence_status": "dibao"},
        True,
        "300",
    ),
    (
        "bj-hardship-elderly-care-subsidy",
        {"age": 60, **BJ, "subsistence_status": "low_income"},
        True,
        "200",
    ),
    (  # 特困 people are not listed by the measures
        "bj-hardship-elderly-care-subsidy",
        {"age": 70, **BJ, "subsistence_status": "tekun", "family_planning_special": False},
        False,
        None,
    ),
    (  # the third category: 计划生育特殊家庭, 100 a month
        "bj-hardship-elderly-care-subsidy",
        {"age": 60, **BJ, "subsistence_status": "none", "family_planning_special": True},
        True,
        "100",
    ),
    (  # in both a 低保 family and a 计生特殊家庭: the assistance category's (higher) amount
        "bj-hardship-elderly-care-subsidy",
        {"age": 60, **BJ, "subsistence_status": "dibao", "family_planning_special": True},
        True,
        "300",
    ),
    (
        "bj-hardship-elderly-care-subsidy",
        {"age": 60, **OUT, "subsistence_status": "none", "family_planning_special": True},
        False,
        None,
    ),
    (  # not in a listed category, the 计生 status unknown: maybe, at the 计生 amount
        "bj-hardship-elderly-care-subsidy",
        {"age": 60, **BJ, "subsistence_status": "none"},
        None,
        "100",
    ),
    (
        "bj-hardship-elderly-care-subsidy",
        {"age": 59, **BJ, "subsistence_status": "dibao"},
        False,
        None,
    ),
    ("bj-hardship-elderly-care-subsidy", {"age": 70, **BJ, "subsistence_status": None}, None, None),
    ("bj-disabled-elderly-care-subsidy", {"age": 60, **BJ, "disability_grade": 2}, True, "600"),
    ("bj-disabled-elderly-care-subsidy", {"age": 60, **BJ, "disability_grade": 3}, False, None),
    ("cn-severe-disability-care-subsidy", {"disability_grade": 1, **BJ}, True, "300"),
    ("cn-severe-disability-care-subsidy", {"disability_grade": 2, **BJ}, True, "200"),
    ("cn-severe-disability-care-subsidy", {"disability_grade": 0, **BJ}, False, None),
    (
        "cn-hardship-disability-living-subsidy",
        {"disability_grade": 3, "subsistence_status": "dibao", **BJ},
        True,
        "100",
    ),
    (  # grades 1-2 are the scale's first bracket, 3-4 its second
        "cn-hardship-disability-living-subsidy",
        {"disability_grade": 2, "subsistence_status": "low_income", **BJ},
        True,
        "200",
    ),
    (
        "cn-hardship-disability-living-subsidy",
        {"disability_grade": 0, "subsistence_status": "dibao", **BJ},
        False,
        None,
    ),
    ("cn-childcare-subsidy", {"age": 2, **BJ}, True, "3600"),  # the child is the subject
    ("cn-childcare-subsidy", {"age": 0, **BJ}, True, "3600"),
    ("cn-childcare-subsidy", {"age": 3, **BJ}, False, None),
    ("cn-childcare-subsidy", {"age": 1, **OUT}, False, None),  # the child's hukou counts
    ("cn-childcare-subsidy", {"age": 1, "hukou_city": None}, None, "3600"),
    ("cn-childcare-subsidy", {"age": 30, **BJ, "children_under_3": 2}, False, None),  # a parent
    (
        "bj-dibao-invitation",
        {
            **BJ,
            "household_income_per_capita": 1449.99,
            "subsistence_status": "none",
            "household_size": 2,
        },
        True,
        "0.02",
    ),
    (
        "bj-dibao-invitation",
        {
            **BJ,
            "household_income_per_capita": 1450.0,
            "subsistence_status": "none",
            "household_size": 2,
        },
        False,
        None,
    ),
    (
        "bj-dibao-invitation",
        {
            **BJ,
            "household_income_per_capita": 1000.1,
            "subsistence_status": "none",
            "household_size": 3,
        },
        True,
        "1349.70",
    ),
    (
        "bj-dibao-invitation",
        {
            **BJ,
            "household_income_per_capita": None,
            "subsistence_status": "none",
            "household_size": 3,
        },
        None,
        None,
    ),
    ("bj-tekun-support", {"subsistence_status": "tekun"}, True, "2175"),
    ("bj-winter-heating-subsidy", {"subsistence_status": "low_income", **BJ}, True, "600"),
    ("cn-veteran-preferential-card", {"is_veteran": True}, True, None),
    ("cn-veteran-preferential-card", {"is_veteran": None}, None, None),
    ("bj-veteran-elderly-condolence", {"is_veteran": True, "age": 80}, True, "1000"),
    ("bj-veteran-elderly-condolence", {"is_veteran": False, "age": None}, False, None),
    ("cn-unemployment-insurance-benefit", {"employment_status": "unemployed"}, True, None),
    (
        "bj-employment-assistance-4050",
        {"employment_status": "unemployed", **BJ, "gender": "female", "age": 40},
        True,
        None,
    ),
    (
        "bj-employment-assistance-4050",
        {"employment_status": "unemployed", **BJ, "gender": "male", "age": 49},
        False,
        None,
    ),
    (
        "bj-employment-assistance-4050",
        {"employment_status": "unemployed", **BJ, "gender": None, "age": 45},
        None,
        None,
    ),
    (
        "bj-employment-assistance-4050",
        {"employment_status": "unemployed", **BJ, "gender": None, "age": 50},
        True,
        None,
    ),
    (
        "bj-flexible-employment-insurance-subsidy",
        {"employment_status": "self_employed", **BJ, "gender": "male", "age": 50},
        True,
        "800",
    ),
    (
        "bj-maternity-allowance",
        {"tags": ["new_parent"], "employment_status": "employed"},
        True,
        None,
    ),
    ("bj-maternity-allowance", {"tags": [], "employment_status": "employed"}, False, None),
    ("bj-maternity-allowance", {"tags": None, "employment_status": "employed"}, None, None),
    ("bj-premarital-health-check", {"tags": ["newly_married"]}, True, None),
    ("bj-retiree-community-service", {"tags": ["recently_retired"]}, True, None),
    ("bj-elderly-card", {"age": 60}, None, None),  # hukou and permit unknown
    ("bj-elderly-card", {"age": 59}, False, None),
    ("bj-elderly-card", {"age": 60, **BJ}, True, None),
    ("bj-elderly-card", {"age": 60, **OUT, "residence_permit": True}, True, None),  # 居住证
    ("bj-elderly-card", {"age": 60, **OUT, "residence_permit": False}, False, None),
    ("bj-elderly-card", {"age": 60, **OUT}, None, None),  # the permit not on file: maybe
    ("bj-elderly-card", {"age": 59, **OUT, "residence_permit": True}, False, None),
    ("bj-assistive-devices-subsidy", {"disability_grade": 2, **BJ}, True, "3000"),
    ("bj-assistive-devices-subsidy", {"disability_grade": 4, **BJ}, True, "1500"),
    (
        "bj-student-hardship-grant",
        {"employment_status": "student", "subsistence_status": "tekun"},
        True,
        "2000",
    ),
    ("bj-approaching-80-notice", {"age": 79, **BJ}, True, None),
    ("bj-approaching-80-notice", {"age": 80, **BJ}, False, None),
    ("bj-elderly-allowance-2010", {"age": 80, **BJ}, True, "100"),  # from 80, not 90
    ("bj-elderly-allowance-2010", {"age": 79, **BJ}, False, None),
    ("bj-long-term-care-insurance", {"age": 60, "disability_grade": 1}, True, "1200"),
    (
        "cn-micro-small-income-tax-relief",
        {"size_class": "small", "employees": 300, "annual_revenue": 5000},
        True,
        None,
    ),
    (  # no size-class filter: a medium firm within the tests qualifies
        "cn-micro-small-income-tax-relief",
        {"size_class": "medium", "employees": 120, "annual_revenue": 4000},
        True,
        None,
    ),
    (
        "cn-micro-small-income-tax-relief",
        {"size_class": "small", "employees": 301, "annual_revenue": 5000},
        False,
        None,
    ),
    (
        "cn-micro-small-income-tax-relief",
        {"size_class": "small", "employees": 30, "annual_revenue": None},
        None,
        None,
    ),
    ("bj-high-tech-award", {"high_tech": True, "tax_credit_rating": "M"}, True, "100000"),
    ("bj-high-tech-award", {"high_tech": False, "tax_credit_rating": "A"}, False, None),
    ("bj-specialized-sme-award", {"specialized_sme": True, "size_class": "medium"}, True, "200000"),
    ("bj-new-business-service-pack", {"tags": ["new_business"]}, True, None),
    ("cn-disabled-employment-levy-exemption", {"employees": 30}, True, None),
    ("cn-disabled-employment-levy-exemption", {"employees": 31}, False, None),
    ("cn-rd-super-deduction", {"industry_code": "C26", "employees": 5000}, True, None),  # any size
    ("cn-rd-super-deduction", {"industry_code": "C15"}, True, None),
    ("cn-rd-super-deduction", {"industry_code": "C16"}, False, None),  # tobacco
    ("cn-rd-super-deduction", {"industry_code": "F51"}, False, None),  # wholesale
    ("cn-rd-super-deduction", {"industry_code": "H62"}, False, None),  # catering
    ("cn-rd-super-deduction", {"industry_code": "K70"}, False, None),  # real estate
    ("cn-rd-super-deduction", {"industry_code": "L72"}, False, None),  # business services
    ("cn-rd-super-deduction", {"industry_code": "R90"}, False, None),  # entertainment
    ("cn-rd-super-deduction", {"industry_code": "R86"}, True, None),
    ("cn-rd-super-deduction", {"industry_code": None}, None, None),
    ("bj-layoff-stabilization-guidance", {"layoff_rate": 0.1, "employees": 20}, True, None),
    ("bj-layoff-stabilization-guidance", {"layoff_rate": 0.09, "employees": 100}, False, None),
    (  # 20 people is a 规模裁员 whatever the share
        "bj-layoff-stabilization-guidance",
        {"layoff_rate": 0.02, "employees": 1000},
        True,
        None,
    ),
    ("bj-layoff-stabilization-guidance", {"layoff_rate": 0.019, "employees": 1000}, False, None),
    ("bj-a-credit-green-channel", {"tax_credit_rating": "A"}, True, None),
    ("bj-a-credit-green-channel", {"tax_credit_rating": None}, None, None),
    (
        "bj-small-firm-rent-relief-2022",
        {"size_class": "micro", "annual_revenue": 99.9},
        True,
        "5000",
    ),
    (  # the scale's second bracket starts at 100 (10k CNY) of revenue
        "bj-small-firm-rent-relief-2022",
        {"size_class": "small", "annual_revenue": 100},
        True,
        "10000",
    ),
    # Added from the seeds (issue 16): each eligible at its boundary, not just below it.
    (
        "bj-temporary-assistance",
        {"household_income_per_capita": 2899.99, "tags": ["newly_unemployed"]},
        True,
        None,
    ),
    (
        "bj-temporary-assistance",
        {"household_income_per_capita": 2900, "tags": ["frequent_medical_claims"]},
        False,
        None,
    ),
    (
        "bj-temporary-assistance",
        {"household_income_per_capita": 800, "tags": ["new_parent"]},
        False,
        None,
    ),
    (
        "bj-medical-assistance",
        {"subsistence_status": "low_income", "tags": ["frequent_medical_claims"]},
        True,
        None,
    ),
    (
        "bj-medical-assistance",
        {"subsistence_status": "none", "tags": ["frequent_medical_claims"]},
        False,
        None,
    ),
    (
        "bj-children-hardship-allowance",
        {"age": 17, **BJ, "subsistence_status": "dibao", "disability_grade": 0},
        True,
        None,
    ),
    (
        "bj-children-hardship-allowance",
        {"age": 18, **BJ, "subsistence_status": "dibao", "disability_grade": 0},
        False,
        None,
    ),
    (
        "bj-children-hardship-allowance",
        {"age": 5, **BJ, "subsistence_status": "none", "disability_grade": 2},
        True,
        None,
    ),
    (
        "bj-children-hardship-allowance",
        {"age": 5, **BJ, "subsistence_status": "low_income", "disability_grade": 3},
        False,
        None,
    ),
    (
        "bj-elderly-meal-subsidy",
        {"age": 60, **BJ, "subsistence_status": "low_income", "disability_grade": 0},
        True,
        "150",
    ),
    (
        "bj-elderly-meal-subsidy",
        {"age": 59, **BJ, "subsistence_status": "low_income", "disability_grade": 0},
        False,
        None,
    ),
    (
        "bj-elderly-meal-subsidy",
        {"age": 75, **BJ, "subsistence_status": "none", "disability_grade": 2},
        True,
        "150",
    ),
    (
        "bj-resident-pension-contribution",
        {"age": 16, **BJ, "employment_status": "not_working", "subsistence_status": "tekun"},
        True,
        "1000",
    ),
    (
        "bj-resident-pension-contribution",
        {"age": 59, **BJ, "employment_status": "unemployed", "disability_grade": 1},
        True,
        "1000",
    ),
    (
        "bj-resident-pension-contribution",
        {"age": 60, **BJ, "employment_status": "not_working", "subsistence_status": "dibao"},
        False,
        None,
    ),
    (
        "bj-resident-pension-contribution",
        {"age": 40, **BJ, "employment_status": "employed", "subsistence_status": "dibao"},
        False,
        None,
    ),
    ("bj-internship-subsidy", {"employment_status": "unemployed", "age": 24}, True, None),
    ("bj-internship-subsidy", {"employment_status": "unemployed", "age": 16}, True, None),
    ("bj-internship-subsidy", {"employment_status": "unemployed", "age": 25}, False, None),
    (
        "bj-xicheng-enterprise-service-package",
        {
            "registered_district": "西城区",
            "high_tech": False,
            "specialized_sme": False,
            "size_class": "medium",
        },
        True,
        None,
    ),
    (
        "bj-xicheng-enterprise-service-package",
        {
            "registered_district": "西城区",
            "high_tech": False,
            "specialized_sme": False,
            "size_class": "small",
        },
        False,
        None,
    ),
    (
        "bj-xicheng-enterprise-service-package",
        {"registered_district": "东城区", "high_tech": True, "size_class": "large"},
        False,
        None,
    ),
    # Housing: the household's housing (households.parquet), its income under twice the 低保
    # standard (2 × 1,450 on ON).
    (
        "bj-public-rental-rent-subsidy",
        {**BJ, HOUSEHOLD: {"housing": "public_rental"}, "household_income_per_capita": 2899.99},
        True,
        None,
    ),
    (
        "bj-public-rental-rent-subsidy",
        {**BJ, HOUSEHOLD: {"housing": "public_rental"}, "household_income_per_capita": 2900},
        False,
        None,
    ),
    (
        "bj-public-rental-rent-subsidy",
        {**BJ, HOUSEHOLD: {"housing": "owned"}, "household_income_per_capita": 500},
        False,
        None,
    ),
    (  # no households file: the housing is unknown
        "bj-public-rental-rent-subsidy",
        {**BJ, "household_income_per_capita": 500},
        None,
        None,
    ),
    (
        "bj-market-rent-subsidy",
        {**BJ, HOUSEHOLD: {"housing": "market_rental"}, "household_income_per_capita": 2899.99},
        True,
        None,
    ),
    (
        "bj-market-rent-subsidy",
        {**OUT, HOUSEHOLD: {"housing": "market_rental"}, "household_income_per_capita": 1000},
        False,
        None,
    ),
    (
        "bj-market-rent-subsidy",
        {**BJ, HOUSEHOLD: {"housing": "public_rental"}, "household_income_per_capita": 1000},
        False,
        None,
    ),
    # 财政部 税务总局 人力资源社会保障部 农业农村部公告2023年第15号: 6,000 a year per hire
    # registered unemployed (就业创业证) at least 183 days before the hire, for three years.
    (
        "cn-unemployed-hire-tax-deduction",
        firm([job(employment_card=True, unemployment_registered_on=date(2025, 7, 2))] * 2),
        True,
        "12000",
    ),
    (  # registered 182 days before the hire: not yet half a year
        "cn-unemployed-hire-tax-deduction",
        firm([job(employment_card=True, unemployment_registered_on=date(2025, 7, 3))]),
        False,
        None,
    ),
    (  # hired three years (1,095 days) before the as-of date: the last year of the deduction
        "cn-unemployed-hire-tax-deduction",
        firm(
            [
                job(
                    hired_on=date(2023, 7, 1),
                    employment_card=True,
                    unemployment_registered_on=date(2022, 12, 1),
                )
            ]
        ),
        True,
        "6000",
    ),
    (
        "cn-unemployed-hire-tax-deduction",
        firm(
            [
                job(
                    hired_on=date(2023, 6, 30),
                    employment_card=True,
                    unemployment_registered_on=date(2022, 12, 1),
                )
            ]
        ),
        False,
        None,
    ),
    (  # never registered (no 就业创业证): known, so no maybe
        "cn-unemployed-hire-tax-deduction",
        firm([job(employment_card=False)]),
        False,
        None,
    ),
    (  # a contract under a year does not count
        "cn-unemployed-hire-tax-deduction",
        firm(
            [
                job(
                    contract_months=11,
                    employment_card=True,
                    unemployment_registered_on=date(2024, 1, 1),
                )
            ]
        ),
        False,
        None,
    ),
    (  # whether the hire holds the card is not on file: maybe
        "cn-unemployed-hire-tax-deduction",
        firm([job(unemployment_registered_on=date(2024, 1, 1))]),
        None,
        None,
    ),
    # Over a firm's employments (employments.parquet): per qualifying hire or insured employee.
    # The hire subsidy ended on 2025-12-31 (its amount a parameter until then): read on that day.
    (
        "cn-graduate-hire-subsidy",
        firm([hire(age=24, unemployment_insurance_months=3)]),
        True,
        "1500",
    ),
    (
        "cn-graduate-hire-subsidy",
        firm([hire(age=24, unemployment_insurance_months=2)]),
        False,
        None,
    ),
    ("cn-graduate-hire-subsidy", firm([hire(age=24, contract_months=11)]), False, None),
    ("cn-graduate-hire-subsidy", firm([hire(age=24, hired_on=date(2024, 12, 31))]), True, "1500"),
    ("cn-graduate-hire-subsidy", firm([hire(age=24, hired_on=date(2024, 12, 30))]), False, None),
    (  # left before the as-of date: no longer the firm's
        "cn-graduate-hire-subsidy",
        firm([hire(age=24, left_on=date(2025, 12, 1))]),
        False,
        None,
    ),
    (  # a graduate of 730 days before the hire, whatever the age; two hires pay twice
        "cn-graduate-hire-subsidy",
        firm([hire(age=27, graduated_on=date(2023, 7, 2)), hire(age=20), hire(age=40)]),
        True,
        "3000",
    ),
    ("cn-graduate-hire-subsidy", firm([hire(age=27, graduated_on=date(2023, 7, 1))]), False, None),
    ("cn-graduate-hire-subsidy", firm([hire(age=27, graduated_on=None)]), None, None),
    (  # a young hire settles it; the other's unknown graduation leaves the amount unknown
        "cn-graduate-hire-subsidy",
        firm([hire(age=22), hire(age=27, graduated_on=None)]),
        True,
        None,
    ),
    ("cn-graduate-hire-subsidy", {}, None, None),  # no employments file: unknown
    (  # 15 % of staff at 100 or fewer: 15 qualifying hires of 100
        "cn-startup-guaranteed-loan",
        firm([job(age=22)] * 14 + [job(is_veteran=True)], size_class="small", employees=100),
        True,
        None,
    ),
    (
        "cn-startup-guaranteed-loan",
        firm(
            [job(age=22)] * 14 + [job(age=25, employment_card=False)],
            size_class="small",
            employees=100,
        ),
        False,
        None,
    ),
    (  # a hire registered unemployed (就业创业证) before the hire counts; one registered after not
        "cn-startup-guaranteed-loan",
        firm(
            [job(age=22)] * 14
            + [job(age=40, employment_card=True, unemployment_registered_on=date(2026, 1, 1))],
            size_class="small",
            employees=100,
        ),
        True,
        None,
    ),
    (
        "cn-startup-guaranteed-loan",
        firm(
            [job(age=22)] * 14
            + [job(age=40, employment_card=True, unemployment_registered_on=date(2026, 1, 2))],
            size_class="small",
            employees=100,
        ),
        False,
        None,
    ),
    (  # whether the older hire holds the card is not on file: maybe
        "cn-startup-guaranteed-loan",
        firm([job(age=22)] * 14 + [job(age=25)], size_class="small", employees=100),
        None,
        None,
    ),
    (  # 8 % above 100: 16 of 200 (a disabled hire counts; a one-year contract is enough)
        "cn-startup-guaranteed-loan",
        firm(
            [job(age=23)] * 15 + [job(disability_grade=3, contract_months=12)],
            size_class="small",
            employees=200,
        ),
        True,
        None,
    ),
    (
        "cn-startup-guaranteed-loan",
        firm(
            [job(age=23)] * 15 + [job(age=23, contract_months=11)],
            size_class="small",
            employees=200,
        ),
        False,
        None,
    ),
    (  # hires of more than a year ago do not count
        "cn-startup-guaranteed-loan",
        firm([job(age=22, hired_on=date(2025, 6, 29))] * 5, size_class="micro", employees=10),
        False,
        None,
    ),
    (
        "cn-startup-guaranteed-loan",
        firm([job(age=22)] * 5, size_class="medium", employees=10),
        False,
        None,
    ),
    (  # 360 a year per employee insured 12 months or more, else 30 a month: (360+360+180) × 60 %
        "cn-job-stabilization-refund",
        firm(
            [
                hire(unemployment_insurance_months=12),
                hire(unemployment_insurance_months=40),
                hire(unemployment_insurance_months=6),
            ],
            unemployment_insurance_months=12,
            layoff_rate=0.055,
            employees=3,
            size_class="small",
        ),
        True,
        "540",
    ),
    (
        "cn-job-stabilization-refund",
        firm(
            [hire(unemployment_insurance_months=24)] * 2,
            unemployment_insurance_months=12,
            layoff_rate=0.0,
            employees=40,
            size_class="large",
        ),
        True,
        "216",
    ),
    (
        "cn-job-stabilization-refund",
        firm([hire()], unemployment_insurance_months=12, layoff_rate=0.056, employees=100),
        False,
        None,
    ),
    (
        "cn-job-stabilization-refund",
        firm(
            [hire()],
            unemployment_insurance_months=30,
            layoff_rate=0.2,
            employees=30,
            size_class="small",
        ),
        True,
        "108",
    ),
    (
        "cn-job-stabilization-refund",
        firm([hire()], unemployment_insurance_months=11, layoff_rate=0.0, employees=30),
        False,
        None,
    ),
    (
        "bj-skills-upgrade-subsidy",
        firm([job(), job(unemployment_insurance_months=12)]),
        True,
        None,
    ),
    ("bj-skills-upgrade-subsidy", firm([job(unemployment_insurance_months=11)]), False, None),
    ("bj-skills-upgrade-subsidy", firm([]), False, None),
]


def test_the_built_in_catalog_validates_and_covers_every_mode_and_audience() -> None:
    assert len(CATALOG.policies) >= 30
    assert {p.mode for p in CATALOG.policies} == {"auto_grant", "proactive_push", "fast_track"}
    assert {p.audience for p in CATALOG.policies} == {"resident", "enterprise"}
    assert all(p.department and p.basis for p in CATALOG.policies)


def test_every_policy_has_boundary_cases() -> None:
    assert {c[0] for c in CASES} == set(CATALOG.by_id)


@pytest.mark.parametrize(("policy_id", "profile", "expected", "benefit"), CASES)
def test_policy_at_its_boundaries(
    policy_id: str, profile: dict[str, Any], expected: bool | None, benefit: str | None
) -> None:
    policy = CATALOG.by_id[policy_id]
    entity = SCHEMA.entity(policy.audience)
    on = LAST_DAY.get(policy_id, ON)
    assert evaluate(parse_rule(policy.eligibility, entity), profile, as_of=on) is expected
    if policy.benefit and expected is not False:
        amount = evaluate_benefit(
            parse_rule(policy.benefit, entity, kind="benefit"), profile, as_of=on
        )
        assert amount == (Decimal(benefit) if benefit is not None else None)


def test_in_force_follows_the_validity_dates() -> None:
    ids = {p.id for p in CATALOG.in_force(ON)}
    assert "bj-elderly-allowance-2010" not in ids  # retired in 2019
    assert "bj-long-term-care-insurance" not in ids  # starts in 2027
    assert "bj-elderly-allowance-2010" in {p.id for p in CATALOG.in_force(date(2015, 1, 1))}


@pytest.mark.parametrize(
    ("on", "expected", "benefit"),
    [
        (date(2024, 6, 30), False, None),  # the standard was 1,395 until 2024-06-30
        (date(2024, 7, 1), True, "100.00"),  # 1,450 from 2024-07-01: (1,450 - 1,400) × 2
    ],
)
def test_the_dibao_invitation_reads_the_standard_in_force_on_its_date(
    on: date, expected: bool, benefit: str | None
) -> None:
    policy = CATALOG.by_id["bj-dibao-invitation"]
    entity = SCHEMA.entity("resident")
    profile = {
        **BJ,
        "household_income_per_capita": 1400,
        "subsistence_status": "none",
        "household_size": 2,
    }
    assert evaluate(parse_rule(policy.eligibility, entity), profile, as_of=on) is expected
    if benefit is not None:
        assert policy.benefit is not None
        amount = evaluate_benefit(
            parse_rule(policy.benefit, entity, kind="benefit"), profile, as_of=on
        )
        assert amount == Decimal(benefit)


def test_tekun_support_is_one_and_a_half_times_the_standard_of_its_date() -> None:
    text = CATALOG.by_id["bj-tekun-support"].benefit
    assert text is not None
    rule = parse_rule(text, SCHEMA.entity("resident"), kind="benefit")
    profile = {"subsistence_status": "tekun"}
    assert evaluate_benefit(rule, profile, as_of=date(2024, 1, 1)) == Decimal("2092.50")
    assert evaluate_benefit(rule, profile, as_of=date(2024, 7, 1)) == Decimal("2175")


def test_every_amount_the_catalog_pays_is_read_from_the_parameter_library() -> None:
    """A benefit is a parameter or a formula over parameters and the subject's fields, so a
    changed amount is one edit of the parameter; the figures are those the parameters hold."""
    from rules.parameter_use import parameters_of

    paying = [p for p in CATALOG.policies if p.benefit]
    assert [p.id for p in paying if not parameters_of(p)] == []
    library = builtin_library()
    assert library.amount("tekun_standard_factor", ON) == Decimal("1.5")
    assert library.amount("elderly_allowance_2010", date(2019, 12, 31)) == 100


@pytest.mark.parametrize(
    ("size_class", "refund"), [("micro", "216"), ("medium", "216"), ("large", "108")]
)
def test_the_job_stabilization_refund_rate_is_read_by_size_class(
    size_class: str, refund: str
) -> None:
    """60 % of a year's contributions (360) for micro, small and medium firms, 30 % for large."""
    policy = CATALOG.by_id["cn-job-stabilization-refund"]
    assert policy.benefit is not None
    rule = parse_rule(policy.benefit, SCHEMA.entity("enterprise"), kind="benefit")
    profile = firm([hire(unemployment_insurance_months=12)], size_class=size_class)
    assert evaluate_benefit(rule, profile, as_of=date(2025, 12, 31)) == Decimal(refund)


def test_the_catalog_validates_without_a_warning() -> None:
    """No amount written out that the parameter library holds, no always-true rule, no tier
    nobody reaches: `zhida policies validate rules/catalog` prints no warning."""
    assert [str(w) for w in CATALOG.warnings] == []


def test_every_policy_says_whether_it_is_cited_or_modelled() -> None:
    """Each file's first comment says cited or modelled (or retired/expired, then why), and
    SOURCES.md lists every policy."""
    sources = (CATALOG_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for policy in CATALOG.policies:
        head = CATALOG.sources[policy.id].read_text(encoding="utf-8").split("\n", 1)[0]
        assert head.startswith(("# cited:", "# modelled:", "# Retired:", "# Expired;")), policy.id
        assert f"| {policy.id} " in sources, policy.id


def test_every_policy_declares_its_provenance_as_its_comment_says() -> None:
    """``provenance`` is set in every file, ``modelled`` exactly where the file's first comment
    names a modelled part (``modelled:``), with a note; the key is what the match summary, reach
    reports, console and API show."""
    modelled = set()
    for policy in CATALOG.policies:
        text = CATALOG.sources[policy.id].read_text(encoding="utf-8")
        head = "".join(line for line in text.splitlines() if line.startswith("#"))
        assert policy.provenance in ("cited", "modelled"), policy.id
        assert policy.modelled == ("modelled:" in head), policy.id
        assert not policy.modelled or len(policy.provenance_note or "") > 20, policy.id
        modelled.add(policy.modelled)
    assert modelled == {True, False}
