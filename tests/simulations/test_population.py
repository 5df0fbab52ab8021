from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from profiles.schema import load_schema
from simulations.population import FILES, GenerationSpec, generate_population
from simulations.population import _marginals as m
from simulations.population._credit_code import is_valid
from tests.populations import Populations

AS_OF = date(2026, 11, 22)


@pytest.fixture(scope="module")
def population(populations: Populations) -> dict[str, pl.DataFrame]:
    out = populations(40_000, 4_000, seed=11, as_of=AS_OF)
    return {name: pl.read_parquet(out / file) for name, file in FILES.items()}


@pytest.fixture(scope="module")
def complete(populations: Populations) -> dict[str, pl.DataFrame]:
    """A population without unknown values, to check consistency rules exactly."""
    out = populations(30_000, 3_000, seed=5, as_of=AS_OF, unknown_scale=0.0)
    return {name: pl.read_parquet(out / file) for name, file in FILES.items()}


def _digest(directory: Path) -> dict[str, str]:
    return {f: hashlib.sha256((directory / f).read_bytes()).hexdigest() for f in FILES.values()}


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    spec = GenerationSpec(3_000, 300, seed=3, as_of=AS_OF)
    generate_population(spec, tmp_path / "a")
    generate_population(spec, tmp_path / "b")
    generate_population(GenerationSpec(3_000, 300, seed=4, as_of=AS_OF), tmp_path / "c")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert (
        _digest(tmp_path / "a")["residents.parquet"] != _digest(tmp_path / "c")["residents.parquet"]
    )


@pytest.mark.parametrize("entity", ["resident", "enterprise", "event", "household", "employment"])
def test_files_have_exactly_the_schemas_stored_columns_and_dtypes(
    population: dict[str, pl.DataFrame], entity: str
) -> None:
    assert population[entity].schema == load_schema().entity(entity).polars_schema()


# Links that do not apply to everyone: a parent outside the population, no appointed guardian,
# no graduation date on file (students, people over 35).
_WHERE_THEY_APPLY = {
    "mother_id", "father_id", "guardian_id", "graduated_on", "left_on",
    "unemployment_registered_on",  # only for those who registered (employment_card)
}  # fmt: skip


@pytest.mark.parametrize("entity", ["resident", "enterprise", "household", "employment"])
def test_every_core_field_is_modelled(population: dict[str, pl.DataFrame], entity: str) -> None:
    frame = population[entity]
    for field in load_schema().entity(entity).stored_fields:
        if field.name in _WHERE_THEY_APPLY:
            assert frame[field.name].null_count() < frame.height, field.name
            continue
        null_share = frame[field.name].null_count() / frame.height
        assert null_share <= field.missing + 0.03, field.name


def test_unknown_shares_follow_the_schema(population: dict[str, pl.DataFrame]) -> None:
    income = population["resident"]["monthly_income"]
    share = income.null_count() / income.len()
    assert share == pytest.approx(load_schema().resident.field("monthly_income").missing, abs=0.01)
    assert population["resident"]["person_id"].null_count() == 0


def test_districts_follow_the_census(population: dict[str, pl.DataFrame]) -> None:
    total = sum(m.DISTRICT_POPULATION_10K.values())
    shares = (
        population["resident"]["residence_district"].cast(pl.String).value_counts(normalize=True)
    )
    got = dict(zip(shares["residence_district"], shares["proportion"], strict=True))
    for district, people in m.DISTRICT_POPULATION_10K.items():
        assert got[district] == pytest.approx(people / total, abs=0.01), district


def test_broad_age_groups_and_hukou_share_follow_the_census(
    population: dict[str, pl.DataFrame],
) -> None:
    r = population["resident"]
    age = r.select(AS_OF.year - pl.col("birth_date").dt.year()).to_series()
    assert (age < 15).mean() == pytest.approx(0.119, abs=0.015)
    # 2024: 5.140 M of 21.832 M residents aged 60+ (targets.yaml, 2024年北京市老龄事业发展报告)
    assert (age >= 60).mean() == pytest.approx(5.140 / 21.832, abs=0.02)
    assert (r["hukou_city"] != "北京市").mean() == pytest.approx(m.NON_HUKOU_SHARE, abs=0.02)
    assert (r["gender"] == "male").mean() == pytest.approx(m.MALE_SHARE, abs=0.01)


def test_enterprise_sizes_and_codes(population: dict[str, pl.DataFrame]) -> None:
    e = population["enterprise"]
    micro = (e["size_class"] == "micro").mean()
    assert micro == pytest.approx(0.82, abs=0.02)
    assert e["enterprise_id"].n_unique() == e.height
    assert all(is_valid(code) for code in e["enterprise_id"])


def _with_age(r: pl.DataFrame) -> pl.DataFrame:
    from profiles.derive import with_derived

    return with_derived(r.lazy(), load_schema().resident, as_of=AS_OF).collect()


def test_retired_people_are_of_retirement_age(complete: dict[str, pl.DataFrame]) -> None:
    r = _with_age(complete["resident"])
    retired = r.filter(pl.col("employment_status") == "retired")
    assert retired.height > 0
    too_young = retired.filter(
        pl.col("age") < pl.when(pl.col("gender") == "male").then(60).otherwise(55)
    )
    assert too_young.height == 0


def test_children_under_3_have_parents_of_plausible_ages_in_their_household(
    complete: dict[str, pl.DataFrame],
) -> None:
    r = _with_age(complete["resident"])
    kids = r.filter(pl.col("age") < 3)
    assert kids.height > 0
    mothers = kids.join(
        r.select("person_id", "household_id", "age", "gender"),
        left_on="mother_id",
        right_on="person_id",
        suffix="_mother",
    )
    assert mothers.height >= 0.9 * kids.height  # most babies live with their mother
    assert (mothers["household_id"] == mothers["household_id_mother"]).all()
    assert (mothers["gender_mother"] == "female").all()
    assert mothers["age_mother"].min() >= 20  # type: ignore[operator]
    assert mothers["age_mother"].max() <= 45  # type: ignore[operator]
    # A parent's children_under_3 counts their own children under 3 (profiles.links).
    parents = r.filter(pl.col("children_under_3") > 0)
    assert set(parents["person_id"]) == set(kids["mother_id"].drop_nulls()) | set(
        kids["father_id"].drop_nulls()
    )


def test_incomes_follow_employment(complete: dict[str, pl.DataFrame]) -> None:
    r = complete["resident"]
    by_status = r.group_by("employment_status").agg(pl.col("monthly_income").median())
    median = dict(zip(by_status["employment_status"], by_status["monthly_income"], strict=True))
    assert median["student"] == 0
    assert median["employed"] > median["retired"] > median["unemployed"]


def test_life_events_agree_with_attributes(complete: dict[str, pl.DataFrame]) -> None:
    r, e, ev = complete["resident"], complete["enterprise"], complete["event"]
    counts = ev.group_by("subject_id", "item_code").len()

    def subjects(item: str) -> set[str]:
        return set(counts.filter(pl.col("item_code") == item)["subject_id"])

    assert subjects("disability_certification") == set(
        r.filter(pl.col("disability_grade") > 0)["person_id"]
    )
    assert subjects("unemployment_registration") == set(
        r.filter(pl.col("employment_status") == "unemployed")["person_id"]
    )
    assert subjects("retirement_approval") == set(
        r.filter(pl.col("employment_status") == "retired")["person_id"]
    )
    # One birth registration per child under 3, filed by the mother where she is known.
    births = ev.filter(pl.col("item_code") == "birth_registration")
    kids = _with_age(r).filter(pl.col("age") < 3)
    assert births.height == kids.height
    assert set(kids["mother_id"].drop_nulls()) <= set(births["subject_id"])
    assert subjects("high_tech_certification") == set(
        e.filter(pl.col("high_tech"))["enterprise_id"]
    )
    registered = ev.filter(pl.col("item_code") == "business_registration").join(
        e, left_on="subject_id", right_on="enterprise_id"
    )
    assert registered.height == e.height
    assert (registered["occurred_at"].dt.date() == registered["founded_date"]).all()


def test_events_happen_before_the_as_of_date_to_known_subjects(
    complete: dict[str, pl.DataFrame],
) -> None:
    ev = complete["event"]
    assert ev["occurred_at"].max().date() < AS_OF  # type: ignore[union-attr]
    known = set(complete["resident"]["person_id"]) | set(complete["enterprise"]["enterprise_id"])
    assert set(ev["subject_id"]) <= known
    background = ev.filter(pl.col("item_code") == "social_insurance_payment")
    assert background.height > complete["resident"].height // 2


def test_a_complete_population_is_the_same_people_without_unknowns(tmp_path: Path) -> None:
    generate_population(GenerationSpec(2000, 200, seed=9, as_of=AS_OF), tmp_path / "a")
    generate_population(GenerationSpec(2000, 200, 9, AS_OF, unknown_scale=0.0), tmp_path / "b")
    partial = pl.read_parquet(tmp_path / "a" / "residents.parquet")
    complete = pl.read_parquet(tmp_path / "b" / "residents.parquet")
    for name in ("monthly_income", "marital_status", "household_size"):
        known = partial[name].is_not_null()
        assert known.sum() < partial.height  # some values were hidden
        assert partial[name].filter(known).equals(complete[name].filter(known))
    assert complete["monthly_income"].null_count() == 0
