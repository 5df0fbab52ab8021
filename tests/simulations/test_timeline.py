from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from api.cli import main
from core.errors import ValidationError
from profiles.schema import load_schema
from rules.loader import load_catalog
from simulations.report import write_timeline_report
from simulations.timeline import (
    METRICS,
    RATES,
    Timeline,
    add_months,
    load_state,
    run_seed,
    simulate_timeline,
    summary_lines,
)
from simulations.timeline._dynamics import State, Transitions, apply_day, draw_month
from tests.populations import Populations

AS_OF = date(2026, 6, 30)
# Two months: with households linked, 低保 and the other household policies are no longer
# matched per member, and one month of 2,500 residents gives too few spells for the push's
# effect to show in every seed.
MONTHS = 2
CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
SCHEMA = load_schema()


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(2500, 200, seed=5, as_of=AS_OF)


@pytest.fixture(scope="module")
def timeline(population: Path) -> Timeline:
    catalog = load_catalog([CATALOG], SCHEMA)
    return simulate_timeline(
        population, catalog, SCHEMA, as_of=AS_OF, months=MONTHS, seeds=[1, 2, 3]
    )


def _elders(tmp_path: Path) -> Path:
    pl.DataFrame(
        {
            "person_id": ["P-aug", "P-oct", "P-young"],
            "gender": ["female", "male", "female"],
            "birth_date": [date(1946, 8, 15), date(1946, 10, 2), date(1990, 8, 15)],
            "hukou_city": ["北京市"] * 3,
            "residence_district": ["西城区"] * 3,
            "marital_status": ["widowed", "married", "single"],
            "employment_status": ["retired", "retired", "employed"],
        }
    ).write_parquet(tmp_path / "residents.parquet")
    return tmp_path


def test_turning_80_makes_the_elderly_allowance_newly_eligible_on_the_birthday(
    tmp_path: Path,
) -> None:
    policies = load_catalog([CATALOG], SCHEMA).in_force(AS_OF)
    no_deaths = replace(RATES, death_60_79=0.0, death_80_plus=0.0, death_under_60=0.0)
    run = run_seed(
        load_state(_elders(tmp_path), SCHEMA), policies, SCHEMA,
        start=AS_OF, months=3, seed=1, rates=no_deaths,
    )  # fmt: skip
    allowance = run.changes.filter(pl.col("policy_id") == "bj-elderly-allowance").select(
        "subject_id", pl.col("change").cast(pl.String), "day"
    )
    # P-oct turns 80 on 2 October, after the three months end on 30 September.
    assert allowance.rows() == [("P-aug", "newly_eligible", date(2026, 8, 15))]
    notice = run.changes.filter(pl.col("policy_id") == "bj-approaching-80-notice")
    assert ("P-aug", "no_longer_eligible", date(2026, 8, 15)) in notice.select(
        "subject_id", pl.col("change").cast(pl.String), "day"
    ).rows()
    # The grant is planned and told that day.
    told = run.told.filter(pl.col("policy_id") == "bj-elderly-allowance")
    assert told.select("subject_id", "day").rows() == [("P-aug", date(2026, 8, 15))]


def test_retirement_happens_on_the_birthday_with_its_service_event() -> None:
    residents = pl.DataFrame(
        {"person_id": ["M"], "gender": ["male"], "birth_date": [date(1966, 7, 3)],
         "employment_status": ["employed"], "monthly_income": [9000.0]}
    ).select(
        (pl.col(f.name) if f.name in ("person_id", "gender", "birth_date", "employment_status",
                                      "monthly_income") else pl.lit(None))
        .cast(f.polars_dtype).alias(f.name)
        for f in SCHEMA.resident.stored_fields
    )  # fmt: skip
    start = State(
        residents,
        SCHEMA.enterprise.polars_schema().to_frame(),
        SCHEMA.event.polars_schema().to_frame(),
    )
    empty = Transitions(
        pl.DataFrame(schema={"day": pl.Date, "kind": pl.String, "subject_id": pl.String}),
        pl.DataFrame(schema={"__day": pl.Date}),
        pl.DataFrame(schema={"__day": pl.Date}),
    )
    rng = np.random.default_rng(0)
    before, changed_before = apply_day(start, date(2026, 7, 2), empty, SCHEMA, rng)
    assert before.residents["employment_status"].cast(pl.String).to_list() == ["employed"]
    assert changed_before == set()
    after, changed = apply_day(before, date(2026, 7, 3), empty, SCHEMA, rng)
    assert after.residents["employment_status"].cast(pl.String).to_list() == ["retired"]
    assert changed == {"M"}
    assert after.events["item_code"].cast(pl.String).to_list() == ["retirement_approval"]


@pytest.mark.slow  # the shared three-seed timeline takes a few seconds
def test_the_same_seed_gives_the_same_timeline(population: Path, timeline: Timeline) -> None:
    catalog = load_catalog([CATALOG], SCHEMA)
    again = simulate_timeline(population, catalog, SCHEMA, as_of=AS_OF, months=MONTHS, seeds=[2])
    first = timeline.daily.filter(pl.col("seed") == 2)
    assert again.daily.equals(first)
    other = timeline.daily.filter(pl.col("seed") == 3).drop("seed")
    assert not first.drop("seed").equals(other)


@pytest.mark.slow  # the shared three-seed timeline takes a few seconds
def test_the_push_causes_take_up_the_world_without_it_lacks(timeline: Timeline) -> None:
    effect = timeline.summary.filter(pl.col("arm") == "effect")
    applied = effect.filter(pl.col("metric") == "applied").row(0, named=True)
    assert applied["mean"] > 0
    assert applied["lo"] <= applied["mean"] <= applied["hi"]
    totals = timeline.totals
    for seed in timeline.seeds:
        push, none = (
            totals.filter((pl.col("seed") == seed) & (pl.col("arm") == arm))["applied"].item()
            for arm in ("push", "no_push")
        )
        assert push > none
    without = totals.filter(pl.col("arm") == "no_push")
    assert without["messages"].sum() == 0 and without["complaints"].sum() == 0
    # Both arms live in the same world.
    assert (
        totals.filter(pl.col("arm") == "push")["new_eligible"].to_list()
        == without["new_eligible"].to_list()
    )


@pytest.mark.slow  # the shared three-seed timeline takes a few seconds
def test_csv_totals_equal_the_daily_sums(timeline: Timeline, tmp_path: Path) -> None:
    stamp = {"catalog": "c", "population snapshot": "p"}
    written = write_timeline_report(timeline, tmp_path, stamp=stamp, png=True)
    assert {p.name for p in written} >= {"daily.csv", "monthly.csv", "report.html"}
    assert written[-1].name == "report.html"
    pngs = {p.name for p in written if p.suffix == ".png"}
    assert pngs == {"push_load.png", "applications.png", "funnel.png", "budget_by_month.png"}
    daily = pl.read_csv(tmp_path / "daily.csv")
    monthly = pl.read_csv(tmp_path / "monthly.csv")
    totals = pl.read_csv(tmp_path / "totals.csv")
    metrics = list(METRICS)
    by_day = daily.group_by("seed", "arm").agg(pl.col(metrics).sum()).sort("seed", "arm")
    by_month = monthly.group_by("seed", "arm").agg(pl.col(metrics).sum()).sort("seed", "arm")
    assert by_day.equals(by_month)
    assert by_day.equals(totals.select("seed", "arm", *metrics).sort("seed", "arm"))
    assert daily["messages"].sum() > 0
    page = (tmp_path / "report.html").read_text()
    assert "population snapshot: p" in page and page.count("<svg") >= 4


def test_the_no_push_arm_alone_plans_nothing(population: Path) -> None:
    catalog = load_catalog([CATALOG], SCHEMA)
    alone = simulate_timeline(
        population, catalog, SCHEMA, as_of=AS_OF, months=1, seeds=[1], push=False
    )
    assert alone.arms == ("no_push",)
    assert set(alone.daily["arm"]) == {"no_push"}
    assert alone.daily["messages"].sum() == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--months", "0"], "--months must be from 1 to 120"), (["--seeds", "0", "--months", "1"],
      "--seeds must be at least 1")],
)  # fmt: skip
def test_bad_arguments_are_one_line_errors(
    population: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code = main(["simulate", "timeline", "--population", str(population),
                 "--policies", str(CATALOG), *args])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert needle in err
    assert err.count("\n") == 1


def test_simulate_timeline_refuses_a_zero_horizon(population: Path) -> None:
    with pytest.raises(ValidationError, match="--months"):
        simulate_timeline(
            population, load_catalog([CATALOG], SCHEMA), SCHEMA, as_of=AS_OF, months=0,
            seeds=[1],
        )  # fmt: skip


def test_add_months_clips_to_the_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 6, 30), 12) == date(2027, 6, 30)


@pytest.mark.slow  # the shared three-seed timeline takes a few seconds
def test_summary_lines_name_the_funnel_the_effect_and_the_peak(timeline: Timeline) -> None:
    lines = summary_lines(timeline)
    assert lines[1].startswith("  push     spells")
    assert "the push causes" in lines[3] and "peak" in lines[4]


def test_a_birth_adds_a_newborn_a_child_under_3_and_a_birth_registration(
    population: Path,
) -> None:
    state = load_state(population, SCHEMA)
    many = replace(RATES, births=0.05)  # a year's worth in a month, so the month has some
    rng = np.random.default_rng(4)
    first, last = date(2026, 7, 1), date(2026, 7, 31)
    drawn = draw_month(state, SCHEMA, rng, first, last, many)
    births = drawn.changes.filter(pl.col("kind") == "birth")
    assert births.height == drawn.newborns.height > 0
    day = births["day"].min()
    assert isinstance(day, date)
    today = births.filter(pl.col("day") == day)
    parent = today["subject_id"][0]
    before = state.residents.filter(pl.col("person_id") == parent)["children_under_3"].item()
    after, changed = apply_day(state, day, drawn.on(day), SCHEMA, rng, many)
    kids = after.residents.filter(pl.col("person_id") == parent)["children_under_3"].item()
    assert kids == (before or 0) + 1
    newborns = after.residents.filter(pl.col("birth_date") == day)
    assert newborns.height == today.height
    assert set(newborns["person_id"]) <= changed and parent in changed
    registered = after.events.filter(pl.col("item_code") == "birth_registration")
    assert parent in set(registered.filter(pl.col("occurred_at").dt.date() == day)["subject_id"])


LATER_POLICY = """\
id: test-later-senior-card
title: 晚些时候生效的老年卡
department: 测试局
audience: resident
mode: auto_grant
eligibility: 'age >= 60'
benefit_period: once
valid_from: 2026-08-10
"""


def test_a_policy_issued_during_the_horizon_takes_effect_on_its_day(tmp_path: Path) -> None:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "later.yaml").write_text(LATER_POLICY)
    catalog = load_catalog([tmp_path / "catalog"], SCHEMA)
    no_deaths = replace(RATES, death_60_79=0.0, death_80_plus=0.0, death_under_60=0.0)
    timeline = simulate_timeline(
        _elders(tmp_path), catalog, SCHEMA, as_of=AS_OF, months=2, seeds=[1], rates=no_deaths
    )
    daily = timeline.daily.filter((pl.col("arm") == "push") & (pl.col("new_eligible") > 0))
    assert daily.select("date", "new_eligible", "grant_notices").rows() == [
        (date(2026, 8, 10), 2.0, 2.0)
    ]


HOUSEHOLD_POLICY = """\
id: test-household-with-a-baby
title: 有三岁以下成员的家庭
department: 测试局
audience: resident
mode: proactive_push
eligibility: 'household.members_under_3 >= 1'
benefit_period: once
valid_from: 2020-01-01
"""


def _couple(tmp_path: Path) -> Path:
    pl.DataFrame(
        {
            "person_id": ["P-mum", "P-dad", "P-gran"],
            "gender": ["female", "male", "female"],
            "birth_date": [date(1995, 3, 1), date(1993, 5, 1), date(1960, 1, 1)],
            "hukou_city": ["北京市"] * 3,
            "residence_district": ["西城区"] * 3,
            "marital_status": ["married", "married", "widowed"],
            "employment_status": ["employed", "employed", "retired"],
            "household_id": ["H1", "H1", "H2"],
            "relation_to_head": ["head", "spouse", "head"],
        }
    ).write_parquet(tmp_path / "residents.parquet")
    pl.DataFrame({"household_id": ["H1", "H2"]}).write_parquet(tmp_path / "households.parquet")
    return tmp_path


def test_a_newborn_joins_the_parents_household_and_its_rules_see_the_baby(
    tmp_path: Path,
) -> None:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "baby.yaml").write_text(HOUSEHOLD_POLICY)
    policies = load_catalog([tmp_path / "catalog"], SCHEMA).in_force(AS_OF)
    rates = replace(RATES, births=30.0, death_60_79=0.0, death_80_plus=0.0, death_under_60=0.0)
    run = run_seed(
        load_state(_couple(tmp_path), SCHEMA), policies, SCHEMA,
        start=AS_OF, months=1, seed=3, rates=rates,
    )  # fmt: skip
    people = run.profiles["resident"]
    born = people.filter(pl.col("person_id").str.starts_with("B"))
    assert born.height >= 1
    # the newborn lives with the parents, as the head's child, with both parents linked
    assert set(born["household_id"]) == {"H1"}
    assert set(born["relation_to_head"].cast(pl.String)) == {"child"}
    assert set(born["mother_id"]) == {"P-mum"} and set(born["father_id"]) == {"P-dad"}
    first = born["birth_date"].min()
    spells = run.spells.filter(pl.col("status") == "eligible")
    # the whole household matches from the first birth on (read through the links), the
    # father too, who had no event of his own; the grandmother's household never does
    assert set(spells["subject_id"]) == {"P-mum", "P-dad", *born["person_id"]}
    dad = spells.filter(pl.col("subject_id") == "P-dad")
    assert dad["start"].to_list() == [first]


def test_a_household_benefit_is_told_once_to_the_head(tmp_path: Path) -> None:
    (tmp_path / "catalog").mkdir()
    text = HOUSEHOLD_POLICY.replace("audience: resident\n", "audience: resident\nunit: household\n")
    (tmp_path / "catalog" / "baby.yaml").write_text(text)
    policies = load_catalog([tmp_path / "catalog"], SCHEMA).in_force(AS_OF)
    assert policies[0].unit_kind == "household"
    rates = replace(RATES, births=30.0, death_60_79=0.0, death_80_plus=0.0, death_under_60=0.0)
    run = run_seed(
        load_state(_couple(tmp_path), SCHEMA), policies, SCHEMA,
        start=AS_OF, months=1, seed=3, rates=rates,
    )  # fmt: skip
    # one spell and one item told, both the head's, however many members match
    assert run.spells.filter(pl.col("status") == "eligible")["subject_id"].to_list() == ["P-mum"]
    assert run.told["subject_id"].to_list() == ["P-mum"]
