"""The synthetic population as households and employers (issue 15 item 6)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from matcher.population import scan_population
from profiles.links import employer_aggregates
from profiles.schema import load_schema
from simulations.population import FILES, GenerationSpec, generate_population, summarise
from simulations.population._assistance import DIBAO_STANDARD
from simulations.population._households import draw_households
from tests.populations import Populations
from tests.scalars import number

AS_OF = date(2026, 11, 22)


@pytest.fixture(scope="module")
def directory(populations: Populations) -> Path:
    return populations(30_000, 3_000, seed=5, as_of=AS_OF, unknown_scale=0.0)


@pytest.fixture(scope="module")
def pop(directory: Path) -> dict[str, pl.DataFrame]:
    frames = {name: pl.read_parquet(directory / file) for name, file in FILES.items()}
    age = AS_OF.year - pl.col("birth_date").dt.year()
    before_birthday = pl.col("birth_date").dt.strftime("%m%d") > AS_OF.strftime("%m%d")
    frames["resident"] = frames["resident"].with_columns(
        (age - before_birthday.cast(pl.Int32)).alias("age")
    )
    return frames


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1_000])
def test_households_hold_exactly_the_residents_asked_for_each_with_one_head(n: int) -> None:
    s = draw_households(np.random.default_rng(n), n)
    assert s.member_household.size == n
    assert int(s.size.sum()) == n
    assert (s.size >= 1).all()
    heads = np.bincount(s.member_household[s.relation == "head"], minlength=s.households)
    assert (heads == 1).all()
    assert (s.relation[s.first_member] == "head").all()


def test_every_resident_is_in_a_household_with_exactly_one_head(
    pop: dict[str, pl.DataFrame],
) -> None:
    r, h = pop["resident"], pop["household"]
    assert r["household_id"].null_count() == 0
    assert set(r["household_id"]) == set(h["household_id"])
    heads = r.filter(pl.col("relation_to_head") == "head").group_by("household_id").len()
    assert heads.height == h.height
    assert (heads["len"] == 1).all()
    # The designated contact is a member of the household.
    contact = h.join(
        r.select("person_id", pl.col("household_id").alias("member_of")),
        left_on="contact_person_id",
        right_on="person_id",
    )
    assert contact.height == h.height
    assert (contact["household_id"] == contact["member_of"]).all()


def test_household_sizes_follow_the_census_and_collectives_are_households_of_one(
    pop: dict[str, pl.DataFrame],
) -> None:
    r = pop["resident"]
    sizes = r.group_by("household_id").len()["len"]
    # census 2020: 13.1 % of residents in collective households (households of one here) and
    # 2.31 persons per family household; the rest of the one-person households live alone.
    collective = 0.131 * r.height
    mean_family = (r.height - collective) / (sizes.len() - collective)
    assert mean_family == pytest.approx(2.31, abs=0.12)
    assert 0.20 < (sizes == 1).sum() / r.height < 0.30
    assert number(sizes.max()) <= 7
    # Every member's household_size is the number of members (profiles.links).
    n = r.group_by("household_id").agg(pl.len().alias("n"), pl.col("household_size").unique())
    assert (n.explode("household_size")["household_size"] == n["n"]).all()


def test_compositions_are_plausible(pop: dict[str, pl.DataFrame], directory: Path) -> None:
    r = pop["resident"]
    members = r.select("person_id", "household_id", "relation_to_head", "age", "gender")
    heads = members.filter(pl.col("relation_to_head") == "head").select(
        "household_id", pl.col("age").alias("head_age"), pl.col("gender").alias("head_gender")
    )
    with_head = members.join(heads, on="household_id")
    spouses = with_head.filter(pl.col("relation_to_head") == "spouse")
    assert spouses.height > 0
    assert (spouses["gender"] != spouses["head_gender"]).all()
    assert ((spouses["age"] - spouses["head_age"]).abs() <= 6).all()
    parents = with_head.filter(pl.col("relation_to_head") == "parent")
    assert (parents["age"] >= parents["head_age"] + 20).all()
    children = with_head.filter(pl.col("relation_to_head") == "child")
    assert (children["age"] <= children["head_age"] - 16).all()
    # Head and spouse are married; the elderly live alone, as a couple or with children.
    couple = r.filter(pl.col("relation_to_head") == "spouse")["household_id"]
    heads_of_couples = r.filter(
        pl.col("household_id").is_in(couple.implode()) & (pl.col("relation_to_head") == "head")
    )
    assert (heads_of_couples["marital_status"] == "married").all()
    summary = summarise(directory)
    assert summary.elderly_living is not None
    lives = dict(zip(*summary.elderly_living.select("aged 60+ live", "share"), strict=True))
    for how in ("alone", "with their spouse only", "with their children"):
        assert 0.1 < lives[how] < 0.6, how


def test_children_name_parents_who_are_older_and_in_the_population(
    pop: dict[str, pl.DataFrame],
) -> None:
    r = pop["resident"].select("person_id", "age", "mother_id", "father_id", "guardian_id")
    ages = r.select(pl.col("person_id").alias("pid"), pl.col("age").alias("parent_age"))
    for link in ("mother_id", "father_id", "guardian_id"):
        linked = r.filter(pl.col(link).is_not_null()).join(ages, left_on=link, right_on="pid")
        assert linked.height == r[link].drop_nulls().len() > 0, link
        assert (linked["parent_age"] >= linked["age"] + 16).all(), link


def test_hukou_is_mostly_shared_within_a_household(pop: dict[str, pl.DataFrame]) -> None:
    r = pop["resident"]
    heads = r.filter(pl.col("relation_to_head") == "head").select(
        "household_id", pl.col("hukou_city").alias("head_hukou")
    )
    others = r.filter(pl.col("relation_to_head") != "head").join(heads, on="household_id")
    same = number((others["hukou_city"] == others["head_hukou"]).mean())
    assert same > 0.85


def test_young_adults_have_a_graduation_date_in_the_past_after_school_age(
    pop: dict[str, pl.DataFrame],
) -> None:
    r = pop["resident"]
    graduated = r.filter(pl.col("graduated_on").is_not_null())
    assert graduated.height > 0.1 * r.height
    assert (graduated["graduated_on"] < AS_OF).all()
    at = graduated["graduated_on"].dt.year() - graduated["birth_date"].dt.year()
    assert number(at.min()) >= 17
    young_workers = r.filter(
        (pl.col("age").is_between(23, 30)) & (pl.col("employment_status") == "employed")
    )
    assert young_workers["graduated_on"].null_count() == 0
    assert r.filter(pl.col("employment_status") == "student")["graduated_on"].null_count() == (
        r.filter(pl.col("employment_status") == "student").height
    )


def test_assistance_is_decided_per_household_from_income_per_member(
    pop: dict[str, pl.DataFrame],
) -> None:
    r = pop["resident"]
    statuses = r.group_by("household_id").agg(pl.col("subsistence_status").n_unique())
    assert (statuses["subsistence_status"] == 1).all()
    # The household's income per member is its members' incomes summed over its size.
    sums = r.group_by("household_id").agg(
        (pl.col("monthly_income").sum() / pl.len()).alias("per_member"),
        pl.col("household_income_per_capita").first(),
    )
    assert number((sums["per_member"] - sums["household_income_per_capita"]).abs().max()) < 0.01
    dibao = r.filter(pl.col("subsistence_status").is_in(["dibao", "tekun"]))
    assert dibao.height > 0
    assert (dibao["household_income_per_capita"] < DIBAO_STANDARD).all()
    assert number((dibao["hukou_city"] == "北京市").mean()) > 0.85  # the household's (head's) hukou


def test_people_in_households_under_the_dibao_standard_are_few(
    pop: dict[str, pl.DataFrame],
) -> None:
    # Beijing's caseload is about 0.5 % of residents; the generator keeps Beijing-hukou people
    # in households under the standard (recipients and those not yet applying) within 1.5 %.
    r = pop["resident"]
    under = r.filter(
        (pl.col("hukou_city") == "北京市") & (pl.col("household_income_per_capita") < 1450)
    )
    assert 0.003 < under.height / r.height <= 0.015
    dibao = number((r["subsistence_status"] == "dibao").mean())
    assert 0.002 < dibao < 0.008


def test_employments_link_employed_residents_to_known_firms(
    pop: dict[str, pl.DataFrame],
) -> None:
    r, e, j = pop["resident"], pop["enterprise"], pop["employment"]
    assert set(j["enterprise_id"]) <= set(e["enterprise_id"])
    current = j.filter(pl.col("left_on").is_null())
    people = r.join(current, on="person_id")
    assert set(people["employment_status"]) == {"employed"}
    assert current["person_id"].n_unique() == current.height  # one current job each
    employed = int((r["employment_status"] == "employed").sum())
    assert 0.7 * employed < current.height <= employed
    left = j.filter(pl.col("left_on").is_not_null()).join(r, on="person_id")
    assert set(left["employment_status"]) == {"unemployed"}
    assert (left["left_on"] >= AS_OF - timedelta(days=366)).all()
    assert (j["hired_on"] < AS_OF).all()
    started = j.join(e.select("enterprise_id", "founded_date"), on="enterprise_id").join(
        r.select("person_id", "birth_date", "graduated_on"), on="person_id"
    )
    assert (started["hired_on"] >= started["founded_date"]).all()
    assert (started["hired_on"] >= started["graduated_on"]).fill_null(True).all()
    assert (j["unemployment_insurance_months"] >= 0).all()
    assert set(j["contract_months"]) <= {12, 24, 36, 60}


def test_firms_employees_and_graduate_hires_come_from_the_links(
    pop: dict[str, pl.DataFrame],
) -> None:
    r, e, j = pop["resident"], pop["enterprise"], pop["employment"]
    counts = employer_aggregates(j.lazy(), r.lazy(), as_of=AS_OF).collect()
    joined = e.join(counts, on="enterprise_id", how="left", suffix="_links")
    assert (joined["employees"] == joined["employees_links"].fill_null(0)).all()
    assert (joined["graduate_hires"] == joined["graduate_hires_links"].fill_null(0)).all()
    assert joined["graduate_hires"].sum() > 0
    # Bigger classes hold more staff; nearly every firm has someone.
    mean = dict(e.group_by("size_class").agg(pl.col("employees").mean()).iter_rows())
    assert mean["micro"] < mean["small"] < mean["medium"] < mean["large"]
    assert number((e["employees"] > 0).mean()) > 0.95


def test_the_generated_links_pass_the_loaders_checks(directory: Path) -> None:
    # scan_population refuses bad links (profiles.link_checks) with the file, row and field.
    frames = scan_population(directory, load_schema())
    assert {"resident", "household", "enterprise", "employment"} <= set(frames)


def test_every_row_carries_a_weight_summing_to_beijing(pop: dict[str, pl.DataFrame]) -> None:
    for entity in ("resident", "household", "enterprise"):
        assert pop[entity]["weight"].null_count() == 0
        assert (pop[entity]["weight"] > 0).all()
    # Members carry their household's weight.
    r = pop["resident"].join(pop["household"], on="household_id", suffix="_household")
    assert (r["weight"] == r["weight_household"]).all()
    # Weighted to Beijing's 2024 residents (targets.yaml: 21,832,000).
    assert pop["resident"]["weight"].sum() == pytest.approx(21_832_000, rel=0.03)


def test_links_are_the_same_bytes_for_the_same_seed(tmp_path: Path) -> None:
    spec = GenerationSpec(2_000, 200, seed=8, as_of=AS_OF)
    generate_population(spec, tmp_path / "a")
    generate_population(spec, tmp_path / "b")
    for name in ("households.parquet", "employments.parquet", "residents.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_job_at_a_firm_founded_yesterday_never_ends_before_it_began() -> None:
    from simulations.population._employments import generate_employments

    n = 400
    residents = pl.DataFrame(
        {
            "person_id": [f"P{i}" for i in range(n)],
            # some turned 16 on the as-of date itself
            "birth_date": [date(1990, 1, 1), AS_OF.replace(year=AS_OF.year - 16)] * (n // 2),
            "employment_status": ["unemployed"] * (n // 4) + ["employed"] * (n // 4) * 3,
            "graduated_on": [AS_OF - timedelta(days=1), None, None, None] * (n // 4),
        },
        schema_overrides={"graduated_on": pl.Date},
    )
    firms = pl.DataFrame(
        {
            "enterprise_id": ["F1", "F2"],
            "employees": [50, 50],
            "founded_date": [AS_OF - timedelta(days=1), date(2000, 1, 1)],
            "unemployment_insurance_months": [0, 120],
        }
    )
    jobs = generate_employments(np.random.default_rng(3), residents, firms, as_of=AS_OF)
    assert jobs.height > 0
    ended = jobs.filter(pl.col("left_on").is_not_null())
    assert ended.height > 0
    assert (ended["hired_on"] < ended["left_on"]).all()
    assert (jobs["hired_on"] < AS_OF).all()


def test_births_follow_their_recent_fall(pop: dict[str, pl.DataFrame]) -> None:
    # 2024: 6.09 births per 1,000 residents (targets.yaml); earlier cohorts were larger
    # (census 2020: 4.3 % of residents aged 0-4).
    age = pop["resident"]["age"]
    assert 0.0045 < number((age == 0).mean()) < 0.0075
    assert (age == 0).sum() < (age == 4).sum()
