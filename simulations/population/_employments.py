"""Employments (劳动关系): employed residents linked to the generated firms, weighted by size.

Each firm has a size drawn for its class (``_enterprises``); the employed residents who work for
an enterprise (most of them: the rest work for public bodies and institutions outside the
enterprise register) are shared out among the firms, first one to each firm (a firm's staff
includes its owner-manager), the rest in proportion to the firm's drawn size.  A firm's
``employees`` and ``graduate_hires`` then come from these links (``profiles.links``), never
from the draw.  A job starts after the person left school and after the firm was founded;
recently unemployed people have a job that ended in the last year.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from simulations.population._sampling import bernoulli, categorical

__all__ = ["ENTERPRISE_SHARE_OF_EMPLOYED", "generate_employments"]

_EPOCH = date(1970, 1, 1)
# modelled: share of employed residents whose employer is an enterprise (not a public body).
ENTERPRISE_SHARE_OF_EMPLOYED: Final = 0.8
# modelled: share of the registered unemployed whose last job ended in the last 12 months.
_RECENTLY_LEFT: Final = 0.7
# modelled: labour-contract lengths in months (无固定期限 contracts counted as 60).
_CONTRACT_MONTHS: Final = {12: 0.30, 24: 0.15, 36: 0.35, 60: 0.20}
_MEAN_TENURE_YEARS: Final = 6.0
_INSURED_FIRM_LAG_MONTHS: Final = 2  # contributions start up to two months after hiring


def _days(series: pl.Series) -> npt.NDArray[np.int64]:
    return np.asarray(series.cast(pl.Int32).fill_null(-(10**6)).to_numpy(), dtype=np.int64)


def _pick_firms(
    rng: np.random.Generator, capacity: npt.NDArray[np.float64], workers: int
) -> npt.NDArray[np.int64]:
    """A firm for each of ``workers``: one each for as many firms as there are workers (the
    larger the firm, the likelier it is among them), the rest in proportion to size.

    >>> picked = _pick_firms(np.random.default_rng(0), np.array([1.0, 1.0, 101.0]), 1_000)
    >>> np.bincount(picked).tolist()[:2]  # each small firm has its one worker
    [1, 1]
    """
    m = capacity.size
    if m == 0 or workers == 0:
        return np.zeros(0, dtype=np.int64)
    weight = np.maximum(capacity, 1e-9)
    # Weighted sampling without replacement (Efraimidis-Spirakis keys).
    keys = np.log(rng.random(m)) / weight
    firsts = np.argsort(-keys, kind="stable")[: min(workers, m)]
    rest = workers - firsts.size
    extra = np.maximum(capacity - 1, 0)
    p = extra / extra.sum() if extra.sum() > 0 else weight / weight.sum()
    others = rng.choice(m, size=rest, p=p)
    picked = np.concatenate((firsts, others)).astype(np.int64)
    return np.asarray(picked[rng.permutation(picked.size)], dtype=np.int64)


def _months(days: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.asarray(np.maximum(days, 0) * 12 // 365, dtype=np.int64)


def generate_employments(
    rng: np.random.Generator,
    residents: pl.DataFrame,
    enterprises: pl.DataFrame,
    *,
    as_of: date,
) -> pl.DataFrame:
    """One row per job: ``person_id, enterprise_id, hired_on, left_on, contract_months,
    unemployment_insurance_months``; current jobs have no ``left_on``."""
    as_of_day = (as_of - _EPOCH).days
    status = residents["employment_status"].to_numpy()
    birth = _days(residents["birth_date"])
    age_days = as_of_day - birth
    able = age_days > 16 * 365.25 + 1  # of working age since before the as-of date
    employed = np.flatnonzero(
        (status == "employed") & able & bernoulli(rng, ENTERPRISE_SHARE_OF_EMPLOYED, status.size)
    )
    left = np.flatnonzero(
        (status == "unemployed") & able & bernoulli(rng, _RECENTLY_LEFT, status.size)
    )
    people = np.concatenate((employed, left))
    firm = _pick_firms(rng, enterprises["employees"].to_numpy().astype(np.float64), people.size)
    if firm.size == 0:  # no firms: nobody is linked
        employed, left, people = employed[:0], left[:0], people[:0]
    k = people.size

    # When the job ended (null: it goes on) and when it began.
    founded = _days(enterprises["founded_date"])[firm]
    # A job that ended did so in the last year, after the firm was founded.
    ended = np.full(k, -1, dtype=np.int64)
    school = _days(residents["graduated_on"])[people]
    start_of_work = np.maximum(birth[people] + int(16 * 365.25), school)
    earliest = np.maximum.reduce(
        [
            founded[employed.size :] + 1,
            start_of_work[employed.size :] + 1,
            np.full(left.size, as_of_day - 365),
        ]
    )
    span = np.maximum(as_of_day - earliest, 1)
    ended[employed.size :] = np.minimum(
        earliest + (rng.random(left.size) * span).astype(np.int64), as_of_day - 1
    )
    end_or_now = np.where(ended >= 0, ended, as_of_day)
    tenure = rng.exponential(_MEAN_TENURE_YEARS * 365.25, size=k).astype(np.int64) + 1
    hired = np.maximum.reduce([end_or_now - tenure, founded, start_of_work])
    hired = np.maximum(np.minimum(hired, end_or_now - 1), np.maximum(founded, start_of_work))

    insured = enterprises["unemployment_insurance_months"].to_numpy()[firm]
    lag = rng.integers(0, _INSURED_FIRM_LAG_MONTHS + 1, size=k)
    ui = np.where(insured > 0, np.maximum(_months(end_or_now - hired) - lag, 0), 0)
    ui = np.minimum(ui, insured)
    contract = categorical(rng, _CONTRACT_MONTHS, k).astype(np.int64)

    # A job cannot have ended unless it began the day before (a firm founded yesterday, a
    # school left yesterday): such a person had no job here.
    keep = (ended < 0) | (hired < ended)
    people, firm, hired, ended, contract, ui = (
        a[keep] for a in (people, firm, hired, ended, contract, ui)
    )
    return pl.DataFrame(
        {
            "person_id": residents["person_id"].gather(pl.Series(people)),
            "enterprise_id": enterprises["enterprise_id"].gather(pl.Series(firm)),
            "hired_on": pl.Series(hired, dtype=pl.Int32).cast(pl.Date),
            "left_on": pl.Series(ended, dtype=pl.Int32)
            .cast(pl.Date)
            .scatter(np.flatnonzero(ended < 0), None),
            "contract_months": contract,
            "unemployment_insurance_months": ui,
        }
    ).sort("person_id", "hired_on")
