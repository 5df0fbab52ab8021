"""The OpenFisca peer of ``zhida match``: bench/fixtures/resident-policies as OpenFisca variables.

Runs in the bench-only environment ``bench/out/openfisca-venv`` (openfisca-core and polars;
``bench.bench_openfisca`` creates it), never in the project's: it imports nothing of Zhida.
Written as an OpenFisca modeller would (openfisca-country-template's way): one person entity,
input variables for the stored fields (Enums for the closed vocabularies), ``age`` as a formula
of ``birth`` on the day evaluated, and one boolean ``<policy>`` variable plus one amount
``<policy>__benefit`` per policy.  Validity is OpenFisca's own: ``end`` for a policy that ended,
a dated formula (``formula_2027_01_01``) for one that starts later.  The simulation runs on the
arrays of the residents file and writes the same pairs file as Zhida (subject_id, policy_id,
benefit), so both do the same work: read, compute, write.

Usage (the bench runs it): ``openfisca-venv/bin/python bench/openfisca_peer.py POP OUT DATE``.
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

Person = build_entity(key="person", plural="persons", label="Resident", is_person=True)


class Gender(Enum):
    male = "male"
    female = "female"


class EmploymentStatus(Enum):
    employed = "employed"
    unemployed = "unemployed"
    retired = "retired"
    student = "student"
    self_employed = "self_employed"
    not_working = "not_working"


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
    _input("gender", Enum, possible_values=Gender, default_value=Gender.male),
    _input(
        "employment_status",
        Enum,
        possible_values=EmploymentStatus,
        default_value=EmploymentStatus.employed,
    ),
    _input(
        "subsistence_status",
        Enum,
        possible_values=SubsistenceStatus,
        default_value=SubsistenceStatus.none,
    ),
    _input("disability_grade", int),
    _input("household_size", int),
    _input("children_under_3", int),
    _input("household_income_per_capita", float),
    _input("is_veteran", bool),
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


def _beijing(p: Any, d: Any) -> Any:
    return p("hukou_city", d) == "北京市"


def _hardship(p: Any, d: Any) -> Any:
    s = p("subsistence_status", d)
    return (
        (s == SubsistenceStatus.dibao)
        | (s == SubsistenceStatus.low_income)
        | (s == SubsistenceStatus.tekun)
    )


def _older_worker(p: Any, d: Any) -> Any:
    age_ = p("age", d)
    return ((p("gender", d) == Gender.female) & (age_ >= 40)) | (age_ >= 50)


# Policy id -> (eligibility, benefit or None, extra class attributes: end / starts).
POLICIES: dict[str, tuple[Any, Any, dict[str, str]]] = {
    "bj-approaching-80-notice": (lambda p, d: (p("age", d) == 79) & _beijing(p, d), None, {}),
    "bj-assistive-devices-subsidy": (
        lambda p, d: (p("disability_grade", d) >= 1) & _beijing(p, d),
        lambda p, d: np.where(p("disability_grade", d) <= 2, 3000, 1500),
        {},
    ),
    "bj-dibao-invitation": (
        lambda p, d: (
            _beijing(p, d)
            & (p("household_income_per_capita", d) < 1395)
            & (p("subsistence_status", d) == SubsistenceStatus.none)
        ),
        lambda p, d: (1395 - p("household_income_per_capita", d)) * p("household_size", d),
        {},
    ),
    "bj-disabled-elderly-care-subsidy": (
        lambda p, d: (
            (p("age", d) >= 60) & _beijing(p, d) & np.isin(p("disability_grade", d), [1, 2])
        ),
        lambda p, d: np.full(p.count, 600),
        {},
    ),
    "bj-elderly-allowance-2010": (
        lambda p, d: (p("age", d) >= 90) & _beijing(p, d),
        lambda p, d: np.full(p.count, 100),
        {"end": "2019-12-31"},
    ),
    "bj-elderly-allowance": (
        lambda p, d: (p("age", d) >= 80) & _beijing(p, d),
        lambda p, d: np.select([p("age", d) >= 100, p("age", d) >= 90], [800, 500], 100),
        {},
    ),
    "bj-elderly-card": (lambda p, d: p("age", d) >= 60, None, {}),
    "bj-employment-assistance-4050": (
        lambda p, d: (
            (p("employment_status", d) == EmploymentStatus.unemployed)
            & _beijing(p, d)
            & _older_worker(p, d)
        ),
        None,
        {},
    ),
    "bj-flexible-employment-insurance-subsidy": (
        lambda p, d: (
            (p("employment_status", d) == EmploymentStatus.self_employed)
            & _beijing(p, d)
            & _older_worker(p, d)
        ),
        lambda p, d: np.full(p.count, 800),
        {},
    ),
    "bj-hardship-elderly-care-subsidy": (
        lambda p, d: (p("age", d) >= 60) & _beijing(p, d) & _hardship(p, d),
        lambda p, d: np.where(p("subsistence_status", d) == SubsistenceStatus.low_income, 400, 600),
        {},
    ),
    "bj-long-term-care-insurance": (
        lambda p, d: (p("age", d) >= 60) & np.isin(p("disability_grade", d), [1, 2]),
        lambda p, d: np.full(p.count, 1200),
        {"starts": "2027_01_01"},
    ),
    "bj-student-hardship-grant": (
        lambda p, d: (p("employment_status", d) == EmploymentStatus.student) & _hardship(p, d),
        lambda p, d: np.full(p.count, 2000),
        {},
    ),
    "bj-tekun-support": (
        lambda p, d: p("subsistence_status", d) == SubsistenceStatus.tekun,
        lambda p, d: np.full(p.count, 2093),
        {},
    ),
    "bj-veteran-elderly-condolence": (
        lambda p, d: p("is_veteran", d) & (p("age", d) >= 80),
        lambda p, d: np.full(p.count, 1000),
        {},
    ),
    "bj-winter-heating-subsidy": (
        lambda p, d: _hardship(p, d) & _beijing(p, d),
        lambda p, d: np.where(
            p("subsistence_status", d) == SubsistenceStatus.low_income, 600, 1000
        ),
        {},
    ),
    "cn-childcare-subsidy": (
        lambda p, d: p("children_under_3", d) >= 1,
        lambda p, d: 3600 * p("children_under_3", d),
        {},
    ),
    "cn-hardship-disability-living-subsidy": (
        lambda p, d: (p("disability_grade", d) >= 1) & _hardship(p, d) & _beijing(p, d),
        lambda p, d: np.where(p("disability_grade", d) <= 2, 200, 100),
        {},
    ),
    "cn-severe-disability-care-subsidy": (
        lambda p, d: np.isin(p("disability_grade", d), [1, 2]) & _beijing(p, d),
        lambda p, d: np.where(p("disability_grade", d) == 1, 300, 200),
        {},
    ),
    "cn-unemployment-insurance-benefit": (
        lambda p, d: p("employment_status", d) == EmploymentStatus.unemployed,
        None,
        {},
    ),
    "cn-veteran-preferential-card": (lambda p, d: p("is_veteran", d), None, {}),
}


def _variable(name: str, value_type: type, rule: Any, extra: dict[str, str]) -> type[Variable]:
    def formula(person: Any, day: Any, _parameters: Any) -> Any:
        return rule(person, day)

    attrs: dict[str, Any] = {
        "value_type": value_type,
        "entity": Person,
        "definition_period": DAY,
        "label": name,
    }
    if "end" in extra:
        attrs["end"] = extra["end"]
    key = f"formula_{extra['starts']}" if "starts" in extra else "formula"
    return type(name.replace("-", "_"), (Variable,), {**attrs, key: formula})


def tax_benefit_system() -> TaxBenefitSystem:
    system = TaxBenefitSystem([Person])
    for variable in [*INPUTS, age]:
        system.add_variable(variable)
    for pid, (eligible, benefit, extra) in POLICIES.items():
        system.add_variable(_variable(pid, bool, eligible, extra))
        if benefit is not None:
            system.add_variable(_variable(pid + "__benefit", float, benefit, extra))
    return system


def run(population: str, out: str, as_of: str) -> int:
    residents = pl.read_parquet(
        f"{population}/residents.parquet",
        columns=["person_id", "birth_date", *[v.__name__ for v in INPUTS[1:]]],
    )
    builder = SimulationBuilder()
    system = tax_benefit_system()
    builder.create_entities(system)
    builder.declare_person_entity("person", residents["person_id"].to_numpy())
    simulation = builder.build(system)
    day = period(as_of)
    simulation.set_input("birth", day, residents["birth_date"].to_numpy())
    for variable in INPUTS[1:]:
        column = residents[variable.__name__]
        # Enums are given as their names (a NumPy str array), as a modeller reading a file does.
        values = (
            column.cast(pl.String).to_numpy().astype(str)
            if column.dtype == pl.Enum
            else column.to_numpy()
        )
        simulation.set_input(variable.__name__, day, values)
    ids = residents["person_id"]
    parts = []
    for pid, (_eligible, benefit, _extra) in POLICIES.items():
        eligible = simulation.calculate(pid.replace("-", "_"), day)
        if not eligible.any():
            continue
        amounts = (
            pl.Series(simulation.calculate(pid.replace("-", "_") + "__benefit", day))
            .cast(pl.Float64)
            .round(2)
            .filter(pl.Series(eligible))
            if benefit is not None
            else pl.repeat(None, int(eligible.sum()), dtype=pl.Float64, eager=True)
        )
        parts.append(
            pl.DataFrame(
                {
                    "subject_id": ids.filter(pl.Series(eligible)),
                    "policy_id": pl.repeat(pid, int(eligible.sum()), eager=True),
                    "benefit": amounts.cast(pl.Decimal(18, 2)),
                }
            )
        )
    pairs = pl.concat(parts)
    pairs.write_parquet(out)
    return pairs.height


if __name__ == "__main__":
    started = time.perf_counter()
    count = run(*sys.argv[1:4])
    print(f"{count} pairs in {time.perf_counter() - started:.2f}s")
