"""Synthetic residents: district, age, hukou, family, work, income, disability, assistance.

Attributes are drawn in dependency order so that they agree: employment follows age (the retired
are of retirement age), income follows employment, children under 3 belong to adults of parental
age, assistance follows household income, and so on.  Everything is vectorised.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from simulations.population import _marginals as m
from simulations.population._names import digits, pools, sample
from simulations.population._sampling import bernoulli, categorical, categorical_index
from simulations.population._sampling import lognormal_median as lognormal

__all__ = ["generate_residents"]

_EPOCH = date(1970, 1, 1)


def _ages(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    lows = np.array([low for low, _ in m.AGE_BANDS])
    band = categorical_index(rng, [share for _, share in m.AGE_BANDS], n)
    return np.asarray(lows[band] + rng.integers(0, 5, size=n), dtype=np.int64)


def _by_age(
    rng: np.random.Generator, age: npt.NDArray[np.int64], table: dict[int, dict[str, float]]
) -> npt.NDArray[np.str_]:
    """Draw a category per person from ``table[lower age bound] -> shares``."""
    out = np.empty(age.shape[0], dtype=object)
    bounds = sorted(table)
    for i, low in enumerate(bounds):
        high = bounds[i + 1] if i + 1 < len(bounds) else 10_000
        mask = (age >= low) & (age < high)
        out[mask] = categorical(rng, table[low], int(mask.sum()))
    return out.astype(str)


_MARITAL_BY_AGE: dict[int, dict[str, float]] = {
    0: {"single": 1.0},
    20: {"single": 0.90, "married": 0.10},
    25: {"single": 0.55, "married": 0.44, "divorced": 0.01},
    30: {"single": 0.25, "married": 0.72, "divorced": 0.03},
    35: {"single": 0.08, "married": 0.82, "divorced": 0.08, "widowed": 0.02},
    60: {"single": 0.03, "married": 0.82, "divorced": 0.05, "widowed": 0.10},
    75: {"single": 0.02, "married": 0.60, "divorced": 0.03, "widowed": 0.35},
}

_HOUSEHOLD_BY_MARITAL: dict[str, dict[int, float]] = {
    "child": {2: 0.10, 3: 0.55, 4: 0.25, 5: 0.10},
    "single": {1: 0.45, 2: 0.20, 3: 0.25, 4: 0.10},
    "married": {2: 0.45, 3: 0.35, 4: 0.13, 5: 0.07},
    "divorced": {1: 0.60, 2: 0.30, 3: 0.10},
    "widowed": {1: 0.60, 2: 0.20, 3: 0.20},
}


def _employment(
    rng: np.random.Generator, age: npt.NDArray[np.int64], retire_age: npt.NDArray[np.int64]
) -> npt.NDArray[np.str_]:
    n = age.shape[0]
    out = np.full(n, "not_working", dtype=object)
    school = (age >= 6) & (age < 16)
    out[school] = "student"
    young = (age >= 16) & (age < 23)
    out[young] = categorical(
        rng,
        {"student": 0.60, "employed": 0.30, "unemployed": 0.05, "not_working": 0.05},
        int(young.sum()),
    )
    working = (age >= 23) & (age < retire_age)
    out[working] = categorical(
        rng,
        {"employed": 0.78, "self_employed": 0.08, "unemployed": 0.04, "not_working": 0.10},
        int(working.sum()),
    )
    old = age >= retire_age
    out[old] = categorical(
        rng, {"retired": 0.90, "employed": 0.05, "not_working": 0.05}, int(old.sum())
    )
    return out.astype(str)


def _income(rng: np.random.Generator, status: npt.NDArray[np.str_]) -> npt.NDArray[np.float64]:
    income = np.zeros(status.shape[0], dtype=np.float64)
    for name, (median, sigma) in m.INCOME_LOGNORMAL.items():
        mask = status == name
        income[mask] = lognormal(rng, median, sigma, int(mask.sum()))
    # Half of the registered unemployed draw no benefit yet.
    unemployed = status == "unemployed"
    income[unemployed & bernoulli(rng, 0.5, status.shape[0])] = 0.0
    return np.round(income)


def generate_residents(rng: np.random.Generator, n: int, *, as_of: date) -> pl.DataFrame:
    """``n`` residents as of ``as_of``, with every stored core field (no nulls yet)."""
    p = pools()
    district_names = list(m.DISTRICT_POPULATION_10K)
    district = np.array(district_names)[
        categorical_index(rng, list(m.DISTRICT_POPULATION_10K.values()), n)
    ]
    age = _ages(rng, n)
    male = bernoulli(rng, m.MALE_SHARE, n)
    gender = np.where(male, "male", "female")
    days_since_birthday = rng.integers(0, 365, size=n)
    as_of_days = (as_of - _EPOCH).days
    birth_days = as_of_days - (age * 365.2425).astype(np.int64) - days_since_birthday
    # Rounding of leap years can push a birthday across the as-of date; keep ages exact.
    birth = pl.Series(birth_days, dtype=pl.Int32).cast(pl.Date)
    exact_age = (
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
    age = np.asarray(exact_age, dtype=np.int64)

    # Hukou: migrants concentrate in working ages (census share 38.5 % overall).
    p_non_hukou = np.select([age < 15, age < 60], [0.30, 0.46], default=0.15)
    non_hukou = bernoulli(rng, p_non_hukou, n)
    hukou_city = np.where(
        non_hukou,
        np.array(m.NON_HUKOU_CITIES)[rng.integers(0, len(m.NON_HUKOU_CITIES), size=n)],
        "北京市",
    )
    other_district = np.array(district_names)[rng.integers(0, len(district_names), size=n)]
    hukou_district = np.where(
        non_hukou, "外省市", np.where(bernoulli(rng, 0.8, n), district, other_district)
    )

    retire_age = np.where(male, m.RETIREMENT_AGE["male"], m.RETIREMENT_AGE["female"])
    employment = _employment(rng, age, retire_age)
    income = _income(rng, employment)

    marital = _by_age(rng, age, _MARITAL_BY_AGE)
    married = marital == "married"
    parental = (age >= 22) & (age <= 45)
    p_child = np.where(married, 0.12, 0.01) * parental
    has_child = bernoulli(rng, p_child, n)
    children_under_3 = has_child * np.where(bernoulli(rng, 0.1, n), 2, 1)

    household_kind = np.where(age < 18, "child", marital)
    household = np.ones(n, dtype=np.int64)
    for kind, shares in _HOUSEHOLD_BY_MARITAL.items():
        mask = household_kind == kind
        household[mask] = categorical(rng, shares, int(mask.sum()))
    household = np.maximum(household, 1 + married + children_under_3)

    spouse_income = np.where(married, lognormal(rng, 7000.0, 0.6, n), 0.0)
    hh_income = np.round((income + spouse_income) / household, 2)

    disability_p = np.zeros(n)
    for low, prevalence in m.DISABILITY_BY_AGE:
        disability_p[age >= low] = prevalence
    disabled = bernoulli(rng, disability_p, n)
    grades = categorical(rng, m.DISABILITY_GRADE_SHARE, n).astype(np.int64)
    disability_grade = np.where(disabled, grades, 0)

    # Assistance: Beijing hukou households under the standards (means-tested).
    beijing = ~non_hukou
    below_dibao = beijing & (hh_income < m.SUBSISTENCE_THRESHOLD_DIBAO)
    below_low = beijing & (hh_income < m.SUBSISTENCE_THRESHOLD_LOW_INCOME)
    draw = rng.random(n)
    subsistence = np.full(n, "none", dtype=object)
    subsistence[below_low & (draw < 0.06)] = "low_income"
    subsistence[below_dibao & (draw < 0.035)] = "dibao"
    alone_and_frail = (age >= 60) & (household == 1) & (disabled | (age >= 80))
    subsistence[below_dibao & alone_and_frail & (draw < 0.30)] = "tekun"

    adult = age >= 18
    veteran_p = np.where(male, m.VETERAN_SHARE_MALE_ADULT, m.VETERAN_SHARE_FEMALE_ADULT) * adult
    is_veteran = bernoulli(rng, veteran_p, n)

    surname = sample(p.surnames, rng.choice(len(p.surnames), size=n, p=p.surname_weights))
    given = sample(p.given_names, rng.integers(0, len(p.given_names), size=n))
    street = sample(p.streets, rng.integers(0, len(p.streets), size=n))
    prefix = sample(p.phone_prefixes, rng.integers(0, len(p.phone_prefixes), size=n))
    domain = sample(p.email_domains, rng.integers(0, len(p.email_domains), size=n))
    serial = pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(9)
    district_s = pl.Series(district, dtype=pl.String)
    return pl.DataFrame(
        {
            "person_id": "P" + serial,
            "name": surname + given,
            "gender": gender,
            "birth_date": birth,
            "hukou_city": hukou_city,
            "hukou_district": hukou_district,
            "residence_district": district_s,
            "address": "北京市"
            + district_s
            + street
            + pl.Series(rng.integers(1, 300, size=n)).cast(pl.String)
            + "号",
            "phone": prefix + digits(rng, n, 8),
            "email": "u" + digits(rng, n, 8) + "@" + domain,
            "marital_status": marital,
            "household_size": household,
            "children_under_3": children_under_3.astype(np.int64),
            "employment_status": employment,
            "monthly_income": income,
            "household_income_per_capita": hh_income,
            "disability_grade": disability_grade,
            "subsistence_status": subsistence.astype(str),
            "is_veteran": is_veteran,
        }
    ).with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("tags"))
