"""Service events (办件记录) that agree with the subjects' attributes and dates.

Life events follow the attributes drawn for each subject — a birth registration for each child
under 3, filed by a parent, retirement approvals at retirement age, business registration on
the founding date, and so on — and ordinary high-volume services form the background.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

from simulations.population import _marginals as m

__all__ = ["BACKGROUND_WINDOW_DAYS", "generate_events"]

BACKGROUND_WINDOW_DAYS = 3 * 365
_EPOCH = date(1970, 1, 1)
_US_PER_DAY = 86_400_000_000
_OFFICE_OPENS_US = 9 * 3_600_000_000

_RESIDENT_BACKGROUND = {
    "social_insurance_payment": 0.30,
    "medical_insurance_claim": 0.30,
    "housing_fund_withdrawal": 0.15,
    "tax_filing": 0.15,
    "employment_filing": 0.10,
}


class _Collector:
    """Accumulates (subject, item, day) arrays and builds one frame at the end."""

    def __init__(self, rng: np.random.Generator, as_of: date) -> None:
        self.rng = rng
        self.as_of_day = (as_of - _EPOCH).days
        self.parts: list[pl.DataFrame] = []

    def add(
        self,
        subject_type: str,
        ids: pl.Series,
        item: str | pl.Series,
        day: npt.NDArray[np.int64],
    ) -> None:
        """Events on ``day`` (days since the epoch), never after the as-of date."""
        if ids.len() == 0:
            return
        day = np.minimum(day, self.as_of_day - 1)
        # Office hours, 09:00-17:00 local time.
        within = self.rng.integers(0, 8 * 3_600_000_000, size=ids.len())
        at = day * _US_PER_DAY + _OFFICE_OPENS_US + within
        n = ids.len()
        items = item if isinstance(item, pl.Series) else pl.repeat(item, n, eager=True)
        self.parts.append(
            pl.DataFrame(
                {
                    "subject_id": ids,
                    "subject_type": pl.repeat(subject_type, n, eager=True),
                    "item_code": items,
                    "occurred_at": pl.Series(at, dtype=pl.Int64).cast(pl.Datetime("us")),
                }
            )
        )

    def recent(self, n: int, max_days: int) -> npt.NDArray[np.int64]:
        """``n`` days within the last ``max_days`` days before the as-of date."""
        return np.asarray(self.as_of_day - self.rng.integers(1, max_days + 1, size=n))

    def frame(self) -> pl.DataFrame:
        if not self.parts:
            return pl.DataFrame(
                schema={
                    "subject_id": pl.String,
                    "subject_type": pl.String,
                    "item_code": pl.String,
                    "occurred_at": pl.Datetime("us"),
                }
            )
        return pl.concat(self.parts).sort("occurred_at", "subject_id", maintain_order=True)


def _days(dates: pl.Series) -> npt.NDArray[np.int64]:
    return np.asarray(dates.cast(pl.Int32).to_numpy(), dtype=np.int64)


def _years_before(day: int, years: int) -> date:
    """The date ``years`` years before ``day`` (days since the epoch)."""
    d = _EPOCH + timedelta(days=day)
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _resident_events(c: _Collector, r: pl.DataFrame) -> None:
    rng = c.rng
    ids = r["person_id"]
    n = r.height
    count = rng.poisson(2.5, size=n)
    who = np.repeat(np.arange(n), count)
    keys = list(_RESIDENT_BACKGROUND)
    item = pl.Series(keys).gather(
        rng.choice(len(keys), size=who.size, p=list(_RESIDENT_BACKGROUND.values()))
    )
    c.add("resident", ids.gather(who), item, c.recent(who.size, BACKGROUND_WINDOW_DAYS))

    # One birth registration per child under 3, filed by the mother (else the father, else the
    # guardian, else the household's head) within 30 days of the birth.
    heads = r.filter(pl.col("relation_to_head") == "head").select(
        "household_id", pl.col("person_id").alias("__head")
    )
    kids = (
        r.with_row_index("__row")
        .filter(pl.col("birth_date") > pl.lit(_years_before(c.as_of_day, 3)))
        .join(heads, on="household_id", how="left")
        .sort("__row")
        .select(
            pl.coalesce("mother_id", "father_id", "guardian_id", "__head", "person_id"),
            "birth_date",
        )
    )
    c.add(
        "resident",
        kids.to_series(0),
        "birth_registration",
        _days(kids["birth_date"]) + rng.integers(1, 30, kids.height),
    )

    birth = _days(r["birth_date"])
    age_days = c.as_of_day - birth
    married = np.flatnonzero((r["marital_status"] == "married").to_numpy())
    since_20 = np.maximum(age_days[married] - 20 * 365, 1)
    c.add(
        "resident",
        ids.gather(married),
        "marriage_registration",
        c.as_of_day - (rng.random(married.size) * since_20).astype(np.int64),
    )

    retired = np.flatnonzero((r["employment_status"] == "retired").to_numpy())
    male = (r["gender"] == "male").to_numpy()[retired]
    retire_years = np.where(male, m.RETIREMENT_AGE["male"], m.RETIREMENT_AGE["female"])
    c.add(
        "resident",
        ids.gather(retired),
        "retirement_approval",
        birth[retired]
        + (retire_years * 365.2425).astype(np.int64)
        + rng.integers(0, 30, retired.size),
    )

    unemployed = np.flatnonzero((r["employment_status"] == "unemployed").to_numpy())
    c.add(
        "resident",
        ids.gather(unemployed),
        "unemployment_registration",
        c.recent(unemployed.size, 365),
    )

    disabled = np.flatnonzero(r["disability_grade"].to_numpy() > 0)
    certified = np.maximum(c.recent(disabled.size, 10 * 365), birth[disabled] + 30)
    c.add("resident", ids.gather(disabled), "disability_certification", certified)

    migrant = np.flatnonzero(
        ((r["hukou_district"] == "外省市").to_numpy())
        & (age_days >= 16 * 365)
        & (rng.random(n) < 0.7)
    )
    c.add("resident", ids.gather(migrant), "residence_permit", c.recent(migrant.size, 2 * 365))

    veterans = np.flatnonzero(r["is_veteran"].to_numpy())
    c.add(
        "resident",
        ids.gather(veterans),
        "veteran_registration",
        np.maximum(c.recent(veterans.size, 20 * 365), birth[veterans] + 20 * 365),
    )

    # Assistance is applied for by the household, through its head.
    assisted = np.flatnonzero(
        ((r["subsistence_status"] != "none").to_numpy())
        & ((r["relation_to_head"] == "head").to_numpy())
    )
    c.add(
        "resident",
        ids.gather(assisted),
        "subsistence_application",
        c.recent(assisted.size, 3 * 365),
    )

    oldest = np.flatnonzero((age_days >= 80 * 365) & (rng.random(n) < 0.2))
    c.add(
        "resident", ids.gather(oldest), "elderly_care_application", c.recent(oldest.size, 2 * 365)
    )


def _enterprise_events(c: _Collector, e: pl.DataFrame) -> None:
    rng = c.rng
    ids = e["enterprise_id"]
    n = e.height
    founded = _days(e["founded_date"])
    c.add("enterprise", ids, "business_registration", founded)

    def after_founding(idx: npt.NDArray[np.intp], days: int) -> npt.NDArray[np.int64]:
        return np.maximum(c.recent(idx.size, days), founded[idx])

    high_tech = np.flatnonzero(e["high_tech"].to_numpy())
    c.add(
        "enterprise",
        ids.gather(high_tech),
        "high_tech_certification",
        after_founding(high_tech, 3 * 365),
    )
    specialized = np.flatnonzero(e["specialized_sme"].to_numpy())
    c.add(
        "enterprise",
        ids.gather(specialized),
        "specialized_sme_certification",
        after_founding(specialized, 3 * 365),
    )
    hires = np.minimum(e["graduate_hires"].to_numpy(), 20)
    hiring = np.repeat(np.arange(n), hires)
    c.add("enterprise", ids.gather(hiring), "graduate_hire_filing", after_founding(hiring, 365))
    layoffs = np.flatnonzero(e["layoff_rate"].to_numpy() > 0.05)
    c.add("enterprise", ids.gather(layoffs), "layoff_filing", after_founding(layoffs, 365))
    filings = np.repeat(np.arange(n), rng.poisson(6, size=n))
    c.add("enterprise", ids.gather(filings), "tax_filing", after_founding(filings, 365))
    changes = np.repeat(np.arange(n), rng.poisson(0.3, size=n))
    c.add("enterprise", ids.gather(changes), "business_change", after_founding(changes, 3 * 365))


def generate_events(
    rng: np.random.Generator, residents: pl.DataFrame, enterprises: pl.DataFrame, *, as_of: date
) -> pl.DataFrame:
    """Every subject's service events up to (not including) ``as_of``, sorted by time."""
    c = _Collector(rng, as_of)
    _resident_events(c, residents)
    _enterprise_events(c, enterprises)
    return c.frame()
