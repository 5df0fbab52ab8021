"""What residents do and earn: employment by age, income by employment, schooling.

Employment follows age (the retired are of retirement age), income follows employment, a
household of working age rarely has nobody at work, and young adults who are not students have
the date they left school.  Everything is vectorised over residents.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from simulations.population import _marginals as m
from simulations.population._households import Skeleton
from simulations.population._sampling import bernoulli, categorical
from simulations.population._sampling import lognormal_median as lognormal

__all__ = [
    "employment_by_age",
    "graduated_on",
    "income_by_status",
    "no_earner_fix",
    "unemployment_registration",
]

# Level of schooling finished, by age at graduation (modelled on Beijing's high share of
# graduates among young adults): upper secondary 18, bachelor 22, master 25.
_GRADUATION_AGE = {18: 0.30, 22: 0.50, 25: 0.20}
_GRADUATION_RECORDED_UP_TO = 35  # age up to which a graduation date is on file
# Unemployment registration (失业登记, recorded on the 就业创业证), modelled: every unemployed
# resident is registered, a spell so far of up to 18 months; of the employed aged 16-59, 6 % were
# registered once, 6 months to 6 years ago, and have found work since (SOURCES.md).
_SPELL_DAYS = (0, 540)
_ONCE_REGISTERED_EMPLOYED = 0.06
_ONCE_DAYS = (180, 2190)


def employment_by_age(
    rng: np.random.Generator, age: npt.NDArray[np.int64], retire_age: npt.NDArray[np.int64]
) -> npt.NDArray[np.object_]:
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
        rng, {"retired": 0.93, "employed": 0.05, "not_working": 0.02}, int(old.sum())
    )
    return out


def income_by_status(
    rng: np.random.Generator, status: npt.NDArray[np.object_]
) -> npt.NDArray[np.float64]:
    income = np.zeros(status.shape[0], dtype=np.float64)
    for name, (median, sigma) in m.INCOME_LOGNORMAL.items():
        mask = status == name
        income[mask] = lognormal(rng, median, sigma, int(mask.sum()))
    # Half of the registered unemployed draw no benefit yet.
    unemployed = status == "unemployed"
    income[unemployed & bernoulli(rng, 0.5, status.shape[0])] = 0.0
    return np.round(income)


def no_earner_fix(
    rng: np.random.Generator,
    s: Skeleton,
    status: npt.NDArray[np.object_],
    retire_age: npt.NDArray[np.int64],
) -> npt.NDArray[np.object_]:
    """Households of working age where nobody works are rare (零就业家庭 are sought out by
    employment assistance): most of them have one member at work (modelled, 95 %)."""
    earner = np.isin(status, ["employed", "self_employed", "retired"])
    has_earner = np.bincount(s.member_household, weights=earner, minlength=s.households) > 0
    able = (s.age >= 23) & (s.age < retire_age) & np.isin(status, ["not_working", "unemployed"])
    # The first able member of each household without an earner (members are in order).
    candidates = np.flatnonzero(able & ~has_earner[s.member_household])
    households = s.member_household[candidates]
    starts = np.concatenate(([True], households[1:] != households[:-1]))[: households.size]
    first = candidates[starts]
    fix = first[bernoulli(rng, 0.95, first.size)]
    out = status.copy()
    out[fix] = "employed"
    return out


def graduated_on(
    rng: np.random.Generator,
    birth: pl.Series,
    age: npt.NDArray[np.int64],
    status: npt.NDArray[np.object_],
    as_of: date,
) -> pl.Series:
    """1 July of the year a young adult finished school; unknown for students and over 35."""
    n = age.size
    at = categorical(rng, _GRADUATION_AGE, n).astype(np.int64)
    # Nobody graduates in the future: a younger person finished at an earlier level.
    year = birth.dt.year().to_numpy().astype(np.int64) + at
    finished = np.where(
        year * 10_000 + 701 < as_of.year * 10_000 + as_of.month * 100 + as_of.day, year, -1
    )
    fallback = birth.dt.year().to_numpy().astype(np.int64) + 18
    year = np.where(finished > 0, finished, fallback)
    recorded = (
        (age >= 18)
        & (age <= _GRADUATION_RECORDED_UP_TO)
        & (status != "student")
        & (year * 10_000 + 701 < as_of.year * 10_000 + as_of.month * 100 + as_of.day)
    )
    return (
        pl.DataFrame({"y": year, "keep": recorded})
        .select(pl.when(pl.col("keep")).then(pl.date(pl.col("y"), 7, 1)).otherwise(None).alias("d"))
        .to_series()
    )


def unemployment_registration(
    rng: np.random.Generator,
    age: npt.NDArray[np.int64],
    status: npt.NDArray[np.object_],
    as_of: date,
) -> tuple[npt.NDArray[np.bool_], pl.Series]:
    """Who holds a 就业创业证 and the date of their latest unemployment registration (null
    for those who never registered: ``employment_card`` false says so for certain)."""
    n = age.size
    unemployed = status == "unemployed"
    once = (
        (status == "employed") & (age >= 16) & (age < 60)
        & bernoulli(rng, _ONCE_REGISTERED_EMPLOYED, n)
    )  # fmt: skip
    days = np.where(
        unemployed,
        rng.integers(_SPELL_DAYS[0], _SPELL_DAYS[1] + 1, size=n),
        rng.integers(_ONCE_DAYS[0], _ONCE_DAYS[1] + 1, size=n),
    )
    card = unemployed | once
    registered = (
        pl.DataFrame({"days": days, "card": card})
        .select(
            pl.when(pl.col("card"))
            .then(pl.lit(as_of) - pl.duration(days=pl.col("days")))
            .otherwise(None)
            .cast(pl.Date)
            .alias("d")
        )
        .to_series()
    )
    return card, registered
