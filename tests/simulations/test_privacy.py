"""simulations.privacy and simulations.budget: identifying rules refused, benefits bounded,
noise of the stated scale, budgets charged once per release and capped per day and lifetime."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from core.db import get_engine, upgrade
from profiles.schema import load_schema
from rules.evaluator import evaluate_benefit
from rules.language import parse_rule
from rules.loader import Catalog
from rules.policy import Policy
from simulations.budget import BudgetSpentError, NotRunError, PrivacyBudget
from simulations.privacy import (
    DEFAULT,
    IdentifyingRuleError,
    PrivacyParameters,
    benefit_bound,
    bounded,
    identifying_reads,
    noisy,
    refuse_identifying,
)

SCHEMA = load_schema()
RESIDENT = SCHEMA.resident


def _policy(eligibility: str = "age >= 0", benefit: str | None = None) -> Policy:
    return Policy(
        "bj-x", "X", "d", "resident", "auto_grant", eligibility, date(2026, 1, 1),
        benefit=benefit, benefit_period="month" if benefit else None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ('person_id == "P000000002"', "person_id"),
        ('phone == "13800001234"', "phone"),
        ('name == "王芳" and birth_date == d"1940-05-01"', "name"),
        ('address =~ "西城区.*"', "address"),
        ('email == "a@b.cn"', "email"),
        ('birth_date < d"1950-01-01"', "birth_date"),
        ('个人编号 == "P1"', "person_id"),  # the Chinese name is the same field
    ],
)
def test_a_rule_reading_an_identifier_is_refused_naming_the_field(rule: str, field: str) -> None:
    with pytest.raises(IdentifyingRuleError) as caught:
        refuse_identifying([_policy(rule)], SCHEMA, answer="a dry-run")
    assert any(f"reads {field}" in p for p in caught.value.problems)
    assert caught.value.http_status == 422


def test_the_benefit_attack_of_finding_1_is_refused() -> None:
    attack = _policy("age >= 0", 'person_id == "P000000002" ? monthly_income : 0')
    with pytest.raises(IdentifyingRuleError, match="the benefit reads person_id"):
        refuse_identifying([attack], SCHEMA, answer="a dry-run")


def test_a_quasi_identifier_points_to_its_coarsened_field() -> None:
    (why,) = identifying_reads(parse_rule('birth_date < d"1950-01-01"', RESIDENT), RESIDENT)
    assert "through age" in why


def test_income_age_and_groups_may_be_read_in_aggregates() -> None:
    rule = parse_rule(
        'monthly_income < 3000 and age >= 60 and gender == "female" and disability_grade > 0',
        RESIDENT,
    )
    assert identifying_reads(rule, RESIDENT) == []


@pytest.mark.parametrize(
    ("benefit", "bound"),
    [
        ("500", Decimal(500)),
        ("age >= 100 ? 800 : (age >= 90 ? 500 : 100)", Decimal(800)),
        ("children_under_3 * 300 + 100", Decimal(3100)),
        ("disability_grade <= 2 ? 1000 : 500", Decimal(1000)),
        ("monthly_income * 0.1", None),
        ("3000 - monthly_income", None),
        ("household_size / 2", None),
    ],
)
def test_the_benefit_bound_comes_from_constants_tiers_and_schema_bounds(
    benefit: str, bound: Decimal | None
) -> None:
    assert benefit_bound(_policy(benefit=benefit), SCHEMA) == bound


def test_an_unbounded_benefit_is_clipped_to_the_cap_as_every_evaluator_reads_it() -> None:
    catalog, bounds = bounded(Catalog((_policy(benefit="monthly_income"),), {}, {}), SCHEMA)
    (clipped,) = catalog.policies
    rule = parse_rule(str(clipped.benefit), RESIDENT, kind="benefit")
    as_of = date(2026, 3, 1)
    assert evaluate_benefit(rule, {"monthly_income": 6697}, as_of=as_of) == Decimal(5000)
    assert evaluate_benefit(rule, {"monthly_income": 1200}, as_of=as_of) == Decimal(1200)
    assert bounds == {"bj-x": Decimal(DEFAULT.benefit_cap)}


def test_a_bounded_benefit_is_left_as_written() -> None:
    policy = _policy(benefit="age >= 90 ? 500 : 100")
    catalog, _ = bounded(Catalog((policy,), {}, {}), SCHEMA)
    assert catalog.policies == (policy,)


def test_noise_has_the_stated_scale_and_interval() -> None:
    scale = DEFAULT.count_scale
    draws = noisy([0] * 4000, scale)
    inside = sum(abs(d) <= DEFAULT.interval95(scale) for d in draws) / len(draws)
    assert 0.93 <= inside <= 0.97
    assert 0.9 * scale <= statistics.mean(abs(d) for d in draws) <= 1.1 * scale
    assert abs(statistics.mean(draws)) < 2  # unbiased


def test_a_day_of_thirty_previews_fits_the_default_budget() -> None:
    assert 30 * DEFAULT.dry_run_epsilon <= DEFAULT.daily_cap
    assert DEFAULT.daily_cap <= DEFAULT.lifetime_cap


@pytest.fixture
def budget(database_url: str) -> PrivacyBudget:
    engine = get_engine(database_url)
    upgrade(engine)
    return PrivacyBudget(engine, PrivacyParameters(daily_cap=1.0, lifetime_cap=2.5))


NOON = datetime(2026, 3, 2, 12, 0)


def test_a_release_is_kept_and_charged_once_per_user(budget: PrivacyBudget) -> None:
    calls = []

    def compute() -> dict[str, object]:
        calls.append(1)
        return {"eligible": len(calls) * 100}

    first, kept = budget.answer("ana", "k1", "dry_run", 0.4, compute)
    again, kept_again = budget.answer("ana", "k1", "dry_run", 0.4, compute)
    other, _ = budget.answer("bo", "k1", "dry_run", 0.4, compute)
    assert (first, kept) == ({"eligible": 100}, False)
    assert (again, kept_again) == ({"eligible": 100}, True)
    assert other == {"eligible": 100} and len(calls) == 1  # the same noisy answer for all
    assert budget.spent("ana").today == pytest.approx(0.4)
    assert budget.spent("bo").releases == 1


def test_a_spent_daily_budget_is_refused_saying_what_is_left(budget: PrivacyBudget) -> None:
    budget.charge("ana", "k1", 0.8, NOON)
    with pytest.raises(BudgetSpentError, match=r"0\.20 of the daily 1 is left") as caught:
        budget.charge("ana", "k2", 0.4, NOON)
    assert caught.value.http_status == 429
    assert budget.charge("ana", "k2", 0.4, NOON + timedelta(days=1))  # a new day


def test_the_lifetime_cap_holds_across_days(budget: PrivacyBudget) -> None:
    for day in range(2):
        budget.charge("ana", f"k{day}", 1.0, NOON + timedelta(days=day))
    with pytest.raises(BudgetSpentError, match="lifetime"):
        budget.charge("ana", "k9", 1.0, NOON + timedelta(days=2))


def test_a_reset_starts_the_budget_afresh_and_is_listed(budget: PrivacyBudget) -> None:
    budget.charge("ana", "k1", 1.0, NOON)
    before = budget.reset("ana", "admin", "a new analysis project", NOON + timedelta(minutes=1))
    assert before.today == pytest.approx(1.0)
    after = budget.spent("ana", NOON + timedelta(minutes=2))
    assert after.today == 0 and after.last_reset is not None
    assert [s.username for s in budget.budgets(NOON)] == ["ana"]


def test_a_preview_without_a_run_is_answered_only_once_received(budget: PrivacyBudget) -> None:
    with pytest.raises(NotRunError, match="run it explicitly"):
        budget.answer("ana", "k1", "dry_run", 0.4, lambda: {"x": 1}, run=False)
    budget.answer("ana", "k1", "dry_run", 0.4, lambda: {"x": 1})
    assert budget.answer("ana", "k1", "dry_run", 0.4, lambda: {"x": 2}, run=False) == (
        {"x": 1},
        True,
    )


def test_the_small_count_rule_reads_the_noisy_figure() -> None:
    """A true 5 is sometimes shown as a number and a true 12 sometimes withheld: which cells
    are withheld says nothing certain about their true counts."""
    from simulations.disclosure import noised, suppress

    five = [suppress(v) for v in noised([5] * 400, DEFAULT.count_scale)]
    twelve = [suppress(v) for v in noised([12] * 400, DEFAULT.count_scale)]
    assert any(isinstance(v, int) and v >= 10 for v in five)
    assert "<10" in twelve and 0 in twelve
