"""Synthetic residents in households: district, age, hukou, family, work, income, disability.

People are drawn as households (``_households``): a household shares its district, mostly its
hukou and its surname line; marital status follows the relation to the head (a head and spouse
are married), employment follows age, income follows employment, and social assistance is
decided for the household from its members' incomes (``_assistance``).  Everything is
vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from profiles.schema import load_schema
from simulations.population import _marginals as m
from simulations.population._assistance import assess
from simulations.population._households import COLLECTIVE, Skeleton, draw_households
from simulations.population._names import digits, pools, sample
from simulations.population._sampling import bernoulli, categorical, categorical_index
from simulations.population._work import (
    employment_by_age,
    graduated_on,
    income_by_status,
    no_earner_fix,
    unemployment_registration,
)

__all__ = ["Drawn", "draw_residents", "generate_residents"]

_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Drawn:
    """Residents and their households, complete (no unknowns yet)."""

    residents: pl.DataFrame
    households: pl.DataFrame


def _by_age(
    rng: np.random.Generator, age: npt.NDArray[np.int64], table: dict[int, dict[str, float]]
) -> npt.NDArray[np.object_]:
    """Draw a category per person from ``table[lower age bound] -> shares``."""
    out = np.empty(age.shape[0], dtype=object)
    bounds = sorted(table)
    for i, low in enumerate(bounds):
        high = bounds[i + 1] if i + 1 < len(bounds) else 10_000
        mask = (age >= low) & (age < high)
        out[mask] = categorical(rng, table[low], int(mask.sum()))
    return out  # object array: polars reads it faster than numpy's fixed-width strings


# Marital status of people who live without a spouse, by age (modelled on the census's
# marital-status tables; a married person is one whose spouse lives in the household, except in
# collective households).
_UNPARTNERED_BY_AGE: dict[int, dict[str, float]] = {
    0: {"single": 1.0},
    25: {"single": 0.90, "divorced": 0.09, "widowed": 0.01},
    35: {"single": 0.55, "divorced": 0.38, "widowed": 0.07},
    50: {"single": 0.20, "divorced": 0.45, "widowed": 0.35},
    65: {"single": 0.06, "divorced": 0.18, "widowed": 0.76},
}
_COLLECTIVE_MARITAL_BY_AGE: dict[int, dict[str, float]] = {
    0: {"single": 1.0},
    20: {"single": 0.90, "married": 0.10},
    25: {"single": 0.55, "married": 0.44, "divorced": 0.01},
    30: {"single": 0.25, "married": 0.72, "divorced": 0.03},
    35: {"single": 0.08, "married": 0.82, "divorced": 0.08, "widowed": 0.02},
    60: {"single": 0.03, "married": 0.50, "divorced": 0.07, "widowed": 0.40},
}

# Hukou: a household is a migrant one with a probability by its head's age, and its members
# share the head's hukou but for a few (modelled to the census's 38.5 % from outside Beijing).
_NON_HUKOU_BY_HEAD = ((0, 0.44), (45, 0.30), (60, 0.13))
_NON_HUKOU_COLLECTIVE = 0.72
# Students in dormitories come mostly from other provinces; Beijing's own students mostly live
# at home (modelled).  Their family, not the dormitory, is the household social assistance
# assesses, so a Beijing hukou in a dormitory would look like a household without income.
_NON_HUKOU_DORMITORY = 0.92
_SHARES_HEAD_HUKOU = 0.92
# Where a Beijing hukou is registered: the district of residence for most (modelled).
_HUKOU_IN_RESIDENCE_DISTRICT = 0.8


def _marital(rng: np.random.Generator, s: Skeleton) -> npt.NDArray[np.object_]:
    n = s.age.size
    partnered = np.zeros(s.households, dtype=bool)
    spouse = np.flatnonzero(s.relation == "spouse")
    partnered[s.member_household[spouse]] = True
    collective = (s.kind == COLLECTIVE)[s.member_household]
    out = _by_age(rng, s.age, _UNPARTNERED_BY_AGE).astype(object)
    out[collective] = _by_age(rng, s.age[collective], _COLLECTIVE_MARITAL_BY_AGE)
    head = s.relation == "head"
    out[(head & partnered[s.member_household]) | (s.relation == "spouse")] = "married"
    # The head's parents: a couple when both live here, else mostly widowed.
    parent = np.flatnonzero(s.relation == "parent")
    both = np.bincount(s.member_household[parent], minlength=s.households) == 2
    two = parent[both[s.member_household[parent]]]
    out[two] = "married"
    one = parent[~both[s.member_household[parent]]]
    out[one] = categorical(rng, {"widowed": 0.85, "divorced": 0.08, "married": 0.07}, one.size)
    del n
    return out


def _birth_dates(
    rng: np.random.Generator, age: npt.NDArray[np.int64], as_of: date
) -> tuple[pl.Series, npt.NDArray[np.int64]]:
    """Birth dates that give exactly ``age`` whole years at ``as_of``."""
    n = age.size
    days_since_birthday = rng.integers(0, 365, size=n)
    as_of_days = (as_of - _EPOCH).days
    birth_days = as_of_days - (age * 365.2425).astype(np.int64) - days_since_birthday
    # Rounding of leap years can push a birthday across the as-of date; keep ages exact.
    birth = pl.Series(birth_days, dtype=pl.Int32).cast(pl.Date)
    exact = (
        pl.DataFrame({"b": birth})
        .select(
            (
                as_of.year
                - pl.col("b").dt.year().cast(pl.Int64)
                - (
                    (pl.col("b").dt.month().cast(pl.Int32) * 100 + pl.col("b").dt.day())
                    > as_of.month * 100 + as_of.day
                ).cast(pl.Int64)
            ).alias("age")
        )
        .to_series()
        .to_numpy()
    )
    return birth, np.asarray(exact, dtype=np.int64)


def _text(labels: npt.NDArray[Any]) -> pl.Series:
    """Labels as a polars string column (also when there are none)."""
    return pl.Series(labels, dtype=pl.String)


def _ids(prefix: str, n: int) -> pl.Series:
    return prefix + pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(9)


def _link(ids: pl.Series, index: npt.NDArray[np.int64]) -> pl.Series:
    """``ids[index]``, null where ``index`` is -1."""
    safe = pl.Series(np.maximum(index, 0))
    return pl.select(
        pl.when(pl.Series(index >= 0)).then(ids.gather(safe)).otherwise(None)
    ).to_series()


def draw_residents(rng: np.random.Generator, n: int, *, as_of: date) -> Drawn:
    """``n`` residents in their households as of ``as_of`` (every stored field, no nulls
    except where a fact does not apply: a parent not in the population, a graduation date
    not on file)."""
    p = pools()
    s = draw_households(rng, n)
    hh_of = s.member_household
    districts = np.array(list(m.DISTRICT_POPULATION_10K), dtype=object)
    hh_district = districts[
        categorical_index(rng, list(m.DISTRICT_POPULATION_10K.values()), s.households)
    ]
    district = hh_district[hh_of]
    birth, age = _birth_dates(rng, s.age, as_of)
    male = s.male
    gender = np.array(["female", "male"], dtype=object)[male.astype(np.intp)]

    # Hukou, mostly shared within a household.
    head_age = s.age[s.first_member]
    p_household = np.select(
        [head_age < low for low, _ in _NON_HUKOU_BY_HEAD[1:]],
        [share for _, share in _NON_HUKOU_BY_HEAD[:-1]],
        default=_NON_HUKOU_BY_HEAD[-1][1],
    )
    p_household = np.where(
        s.kind == COLLECTIVE,
        np.where(head_age < 23, _NON_HUKOU_DORMITORY, _NON_HUKOU_COLLECTIVE),
        p_household,
    )
    hh_migrant = bernoulli(rng, p_household, s.households)
    hh_city = np.array(m.NON_HUKOU_CITIES, dtype=object)[
        rng.integers(0, len(m.NON_HUKOU_CITIES), size=s.households)
    ]
    hh_hukou_district = np.where(
        bernoulli(rng, _HUKOU_IN_RESIDENCE_DISTRICT, s.households),
        hh_district,
        districts[rng.integers(0, districts.size, size=s.households)],
    )
    own = bernoulli(rng, 1 - _SHARES_HEAD_HUKOU, n) & (s.relation != "head")
    own_migrant = bernoulli(rng, np.select([age < 15, age < 60], [0.30, 0.46], default=0.15), n)
    non_hukou = np.where(own, own_migrant, hh_migrant[hh_of])
    own_city = np.array(m.NON_HUKOU_CITIES, dtype=object)[
        rng.integers(0, len(m.NON_HUKOU_CITIES), size=n)
    ]
    hukou_city = np.where(non_hukou, np.where(own, own_city, hh_city[hh_of]), "北京市")
    hukou_district = np.where(non_hukou, "外省市", hh_hukou_district[hh_of])

    retire_age = np.where(male, m.RETIREMENT_AGE["male"], m.RETIREMENT_AGE["female"])
    employment = no_earner_fix(rng, s, employment_by_age(rng, age, retire_age), retire_age)
    income = income_by_status(rng, employment)
    marital = _marital(rng, s)

    disability_p = np.zeros(n)
    for low, prevalence in m.DISABILITY_BY_AGE:
        disability_p[age >= low] = prevalence
    disabled = bernoulli(rng, disability_p, n)
    grades = categorical(rng, m.DISABILITY_GRADE_SHARE, n).astype(np.int64)
    disability_grade = np.where(disabled, grades, 0)

    size = s.size[hh_of]
    income_total = np.bincount(hh_of, weights=income, minlength=s.households)
    per_capita = income_total / np.maximum(s.size, 1)
    assistance = assess(
        rng,
        s,
        per_capita=per_capita,
        beijing=~hh_migrant,
        age=age,
        disability_grade=disability_grade,
    )

    adult = age >= 18
    veteran_p = np.where(male, m.VETERAN_SHARE_MALE_ADULT, m.VETERAN_SHARE_FEMALE_ADULT) * adult
    is_veteran = bernoulli(rng, veteran_p, n)

    # A household shares a surname line through the head (children mostly take it).
    hh_surname = rng.choice(len(p.surnames), size=s.households, p=p.surname_weights)
    own_surname = rng.choice(len(p.surnames), size=n, p=p.surname_weights)
    takes_head = np.isin(s.relation, ["head", "child", "grandchild"]) & bernoulli(rng, 0.9, n)
    surname = sample(p.surnames, np.where(takes_head, hh_surname[hh_of], own_surname))
    given = sample(p.given_names, rng.integers(0, len(p.given_names), size=n))
    hh_street = rng.integers(0, len(p.streets), size=s.households)
    hh_number = rng.integers(1, 300, size=s.households)
    prefix = sample(p.phone_prefixes, rng.integers(0, len(p.phone_prefixes), size=n))
    domain = sample(p.email_domains, rng.integers(0, len(p.email_domains), size=n))
    person_id = _ids("P", n)
    household_id = _ids("H", s.households)
    district_s = pl.Series(district, dtype=pl.String)
    address = (
        "北京市"
        + district_s
        + sample(p.streets, hh_street[hh_of])
        + pl.Series(hh_number[hh_of]).cast(pl.String)
        + "号"
    )
    residents = pl.DataFrame(
        {
            "person_id": person_id,
            "name": surname + given,
            "gender": _text(gender),
            "birth_date": birth,
            "hukou_city": _text(hukou_city),
            "hukou_district": _text(hukou_district),
            "residence_district": district_s,
            "address": address,
            "phone": prefix + digits(rng, n, 8),
            "email": "u" + digits(rng, n, 8) + "@" + domain,
            "marital_status": _text(marital),
            "household_size": size,
            "children_under_3": np.zeros(n, dtype=np.int64),  # from the links (profiles.links)
            "employment_status": _text(employment),
            "monthly_income": income,
            "household_income_per_capita": np.round(per_capita[hh_of], 2),
            "disability_grade": disability_grade,
            "subsistence_status": _text(assistance.status[hh_of]),
            "is_veteran": is_veteran,
            "household_id": household_id.gather(pl.Series(hh_of)),
            "relation_to_head": _text(s.relation),
            "mother_id": _link(person_id, s.mother),
            "father_id": _link(person_id, s.father),
            "guardian_id": _link(person_id, s.guardian),
            "graduated_on": graduated_on(rng, birth, age, employment, as_of),
        }
    ).with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("tags"))

    contact = s.first_member.copy()
    # An elderly head often names a working-age member as the household's contact (modelled).
    adult_member = (age >= 25) & (age < 60) & (s.relation != "head")
    candidates = np.flatnonzero(adult_member)
    first_adult = np.full(s.households, -1, dtype=np.int64)
    first_adult[hh_of[candidates[::-1]]] = candidates[::-1]  # the first in member order
    elderly_head = (head_age >= 75) & (first_adult >= 0) & bernoulli(rng, 0.6, s.households)
    contact[elderly_head] = first_adult[elderly_head]
    residents = residents.with_columns(**_documents(rng, age, employment, non_hukou, as_of))
    households = pl.DataFrame(
        {
            "household_id": household_id,
            "residence_district": pl.Series(hh_district, dtype=pl.String),
            "housing": _text(assistance.housing),
            "declared_assets": assistance.declared_assets,
            "contact_person_id": person_id.gather(pl.Series(contact)),
        }
    )
    return Drawn(residents=residents, households=households)


# Documents and statuses, modelled (SOURCES.md): a Beijing 居住证 for 55 % of non-hukou residents
# aged 16 and over (the age from which one applies); 计划生育特殊家庭 (an only child died or
# disabled) for 0.4 % of hukou residents aged 50 and over, their parents' generation.
_PERMIT_SHARE = 0.55
_FAMILY_PLANNING_SPECIAL_SHARE = 0.004


def _documents(
    rng: np.random.Generator,
    age: npt.NDArray[np.int64],
    employment: npt.NDArray[np.object_],
    non_hukou: npt.NDArray[np.bool_],
    as_of: date,
) -> dict[str, pl.Series | npt.NDArray[np.bool_]]:
    """The 就业创业证 and its registration date, the 居住证 and the 计生特殊家庭 flag, drawn
    from a jumped copy of ``rng`` so every field drawn before them keeps its bytes."""
    # jumped() returns an advanced copy and leaves rng as it was (PCG64; the stub lacks it)
    side = np.random.Generator(rng.bit_generator.jumped())  # type: ignore[attr-defined]
    n = age.size
    card, registered = unemployment_registration(side, age, employment, as_of)
    permit = non_hukou & (age >= 16) & bernoulli(side, _PERMIT_SHARE, n)
    special = ~non_hukou & (age >= 50) & bernoulli(side, _FAMILY_PLANNING_SPECIAL_SHARE, n)
    return {
        "employment_card": card,
        "unemployment_registered_on": registered,
        "residence_permit": permit,
        "family_planning_special": special,
    }


_HOUSEHOLD_LINK = ("household_id", "relation_to_head")  # filled when households are drawn
_LINKS = (*_HOUSEHOLD_LINK, *load_schema().resident.guardian_fields)


def generate_residents(rng: np.random.Generator, n: int, *, as_of: date) -> pl.DataFrame:
    """``n`` residents as of ``as_of``, with every stored core field but the links (no nulls
    otherwise): people to add to another population (a timeline's newborns), whose household
    and parents are theirs to give; drawn in households like :func:`draw_residents`."""
    return draw_residents(rng, n, as_of=as_of).residents.with_columns(
        pl.lit(None, dtype=pl.String).alias(name) for name in _LINKS
    )
