"""The OpenFisca peer of ``zhida match`` over groups: 低保 per household and 育儿补贴 per child.

Runs in the bench-only environment ``bench/out/openfisca-venv`` (openfisca-core and polars),
never in the project's: it imports nothing of Zhida.  The two policies of
``bench/fixtures/group-peer-policies`` written as an OpenFisca modeller would, with a group
entity (openfisca-country-template's ``household`` with a ``head`` and ``members``):

- 最低生活保障 (``bj-dibao-invitation``, unit household): the household's income per capita
  (``household.sum`` of its members' monthly incomes over ``household.nb_persons()``) under the
  standard, and a member with a Beijing hukou not already assisted (``household.any``); the
  benefit (standard − income per capita) × size, once per household.  Standard 1,450 CNY a
  person-month from 2024-07-01 (京民社救发〔2024〕80号; Zhida's parameter ``dibao_standard``).
- 育儿补贴 (``cn-childcare-subsidy``, per child): each child under 3 with a Beijing hukou,
  3,600 CNY a year (《育儿补贴制度实施方案》, 2025; Zhida's ``childcare_subsidy``); the
  household's amount is ``household.sum`` over its children.

OpenFisca has no unknown values: the bench's population has none (``--unknown-scale 0``; a
member under 16 without an income counts 0, as Zhida's rule says).  It writes the pairs
``zhida match`` writes for the same policies: one per household (``subject_id`` the household)
and one per child, with their benefits.

Usage (``bench.peer_openfisca_groups`` runs it):
``openfisca-venv/bin/python bench/openfisca_groups_peer.py POP OUT DATE``.
"""
# ruff: noqa: N801, N805  (OpenFisca: variables are classes named as the variables, and a
# formula takes the population as its first argument)

from __future__ import annotations

import sys
import time
from datetime import date
from typing import Any

import numpy as np
import polars as pl
from openfisca_core.entities import build_entity
from openfisca_core.indexed_enums import Enum
from openfisca_core.periods import DAY, period
from openfisca_core.simulations import SimulationBuilder
from openfisca_core.taxbenefitsystems import TaxBenefitSystem
from openfisca_core.variables import Variable

DIBAO_STANDARD = 1450.0  # CNY per person-month, 京民社救发〔2024〕80号, from 2024-07-01
CHILDCARE_SUBSIDY = 3600.0  # CNY per child-year, 《育儿补贴制度实施方案》 2025

Person = build_entity(key="person", plural="persons", label="Resident", is_person=True)
Household = build_entity(
    key="household",
    plural="households",
    label="Household (户)",
    roles=[{"key": "head", "max": 1}, {"key": "member", "plural": "members"}],
)


class SubsistenceStatus(Enum):
    none = "none"
    dibao = "dibao"
    low_income = "low_income"
    tekun = "tekun"


def _input(name: str, value_type: type, **extra: Any) -> type[Variable]:
    attrs = {"value_type": value_type, "entity": Person, "definition_period": DAY, "label": name}
    return type(name, (Variable,), {**attrs, **extra})


INPUTS = [
    _input("birth", date),
    _input("hukou_city", str),
    _input(
        "subsistence_status",
        Enum,
        possible_values=SubsistenceStatus,
        default_value=SubsistenceStatus.none,
    ),
    _input("monthly_income", float),
]


class age(Variable):
    value_type = int
    entity = Person
    definition_period = DAY
    label = "Whole years on the day evaluated"

    def formula(person, day, _parameters):
        birth = person("birth", day)
        years = birth.astype("datetime64[Y]").astype(int) + 1970
        months = birth.astype("datetime64[M]").astype(int) % 12 + 1
        days = (birth - birth.astype("datetime64[M]")).astype(int) + 1
        start = day.start
        before = (months > start.month) | ((months == start.month) & (days > start.day))
        return start.year - years - before


class income_per_capita(Variable):
    value_type = float
    entity = Household
    definition_period = DAY
    label = "Members' monthly incomes over the members"

    def formula(household, day, _parameters):
        return household.sum(household.members("monthly_income", day)) / household.nb_persons()


class dibao_member(Variable):
    value_type = bool
    entity = Person
    definition_period = DAY
    label = "A member with a Beijing hukou not already assisted"

    def formula(person, day, _parameters):
        status = person("subsistence_status", day)
        return (person("hukou_city", day) == "北京市") & (status == SubsistenceStatus.none)


class dibao(Variable):
    value_type = bool
    entity = Household
    definition_period = DAY
    label = "最低生活保障: the household is eligible"

    def formula(household, day, _parameters):
        below = household("income_per_capita", day) < DIBAO_STANDARD
        return below & household.any(household.members("dibao_member", day))


class dibao__benefit(Variable):
    value_type = float
    entity = Household
    definition_period = DAY
    label = "最低生活保障: (standard - income per capita) x size, CNY a month"

    def formula(household, day, _parameters):
        gap = DIBAO_STANDARD - household("income_per_capita", day)
        return np.where(household("dibao", day), gap * household.nb_persons(), 0.0)


class childcare(Variable):
    value_type = bool
    entity = Person
    definition_period = DAY
    label = "育儿补贴: a child under 3 with a Beijing hukou"

    def formula(person, day, _parameters):
        return (person("age", day) < 3) & (person("hukou_city", day) == "北京市")


class childcare__household(Variable):
    value_type = float
    entity = Household
    definition_period = DAY
    label = "育儿补贴: the household's children's subsidies, CNY a year"

    def formula(household, day, _parameters):
        return household.sum(household.members("childcare", day)) * CHILDCARE_SUBSIDY


def tax_benefit_system() -> TaxBenefitSystem:
    system = TaxBenefitSystem([Person, Household])
    for variable in [*INPUTS, age, income_per_capita, dibao_member, dibao, dibao__benefit,
                     childcare, childcare__household]:  # fmt: skip
        system.add_variable(variable)
    return system


def run(population: str, out: str, as_of: str) -> tuple[int, float]:
    residents = pl.read_parquet(
        f"{population}/residents.parquet",
        columns=["person_id", "household_id", "relation_to_head", "birth_date", "hukou_city",
                 "subsistence_status", "monthly_income"],
    ).with_columns(pl.col("monthly_income").fill_null(0.0))  # fmt: skip
    homes = pl.read_parquet(f"{population}/households.parquet", columns=["household_id"])
    system = tax_benefit_system()
    builder = SimulationBuilder()
    builder.create_entities(system)
    builder.declare_person_entity("person", residents["person_id"].to_numpy())
    household = builder.declare_entity("household", homes["household_id"].to_numpy())
    roles = np.where(
        (residents["relation_to_head"].cast(pl.String) == "head").to_numpy(), "head", "member"
    )
    builder.join_with_persons(household, residents["household_id"].to_numpy(), roles)
    simulation = builder.build(system)
    day = period(as_of)
    simulation.set_input("birth", day, residents["birth_date"].to_numpy())
    simulation.set_input("hukou_city", day, residents["hukou_city"].to_numpy().astype(str))
    simulation.set_input(
        "subsistence_status",
        day,
        residents["subsistence_status"].cast(pl.String).fill_null("none").to_numpy().astype(str),
    )
    simulation.set_input("monthly_income", day, residents["monthly_income"].to_numpy())
    started = time.perf_counter()
    eligible = simulation.calculate("dibao", day)
    amounts = simulation.calculate("dibao__benefit", day)
    children = simulation.calculate("childcare", day)
    per_household = simulation.calculate("childcare__household", day)
    seconds = time.perf_counter() - started
    # the order OpenFisca holds households in is the order they were declared
    ids = homes["household_id"]
    pairs = pl.concat(
        [
            pl.DataFrame(
                {
                    "subject_id": ids.filter(pl.Series(eligible)),
                    "policy_id": "bj-dibao-invitation",
                    "benefit": pl.Series(amounts, dtype=pl.Float64)
                    .filter(pl.Series(eligible))
                    .round(2),
                }
            ),
            pl.DataFrame(
                {
                    "subject_id": residents["person_id"].filter(pl.Series(children)),
                    "policy_id": "cn-childcare-subsidy",
                    "benefit": pl.repeat(CHILDCARE_SUBSIDY, int(children.sum()), eager=True),
                }
            ),
        ]
    ).with_columns(pl.col("benefit").cast(pl.Decimal(18, 2)))
    # the group entity's own sum equals the children's pairs
    assert float(per_household.sum()) == CHILDCARE_SUBSIDY * int(children.sum())
    pairs.write_parquet(out)
    return pairs.height, seconds


if __name__ == "__main__":
    started = time.perf_counter()
    count, computing = run(*sys.argv[1:4])
    print(f"{count} pairs in {time.perf_counter() - started:.2f}s ({computing:.2f}s computing)")
