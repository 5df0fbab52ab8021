"""How the population moves forward: life events drawn month by month from documented rates.

Each month's transitions are drawn at its first simulated day, each on a uniform day of the
month, and applied on that day (:func:`apply_day`), which also writes the service events
(办件记录) they cause.  Ageing needs no draw: ``age`` is derived from ``birth_date`` on the
simulated day, so a resident turns 80 on their birthday.

Rates (per year unless noted; **documented** = a published figure, **modelled** = an assumption
chosen to be plausible; replace it with a deployment's own figures):

* **births** 4.1 per 1,000 residents — documented: ~90,000 births a year per 21.9 M residents
  (Beijing Statistical Yearbook 2024); the parent is drawn among married residents aged 22–45.
* **a child turns 3**: 1/36 a month per child under 3 — modelled (children's ages are not
  stored on the parent).
* **marriages** 10.9 persons per 1,000 — documented: 7.68 M couples registered in China in 2023
  (Ministry of Civil Affairs, statistical bulletin 2023) per 1.41 bn people; spouses drawn among
  unmarried residents aged 20–60, four times as likely at 25–39 (modelled).
* **retirement** on the birthday at 60 (men) or 55 (women) for those working or unemployed —
  the generator's rule (State Council rules before the gradual reform of 2025); the income
  becomes a pension, log-normal with median 4,500 CNY/month (as ``SOURCES.md``).
* **job loss** 3 % of the employed a year, **re-employment** 5 % of the unemployed a month —
  modelled so that registered unemployment settles near 5 %, close to Beijing's surveyed urban
  rate of 4.4 % (2023, Beijing Municipal Bureau of Statistics).
* **deaths** 0.5 ‰ under 60, 10 ‰ at 60–79, 60 ‰ at 80+ — modelled on the shape of China's
  life tables; gives a crude rate of a few per 1,000, near Beijing's.
* **firms founded** 10 % of the firm count a year — modelled near Beijing's ~250,000 new
  enterprises a year on ~2.1 M (Beijing Municipal Administration for Market Regulation, 2023);
  new firms are micro, rated M, uninsured, uncertified.
* **firms closed** 6 % a year (deregistered, removed 60 days later); **firms growing** 3 % a
  year move up one size class — modelled.
* **unemployment insurance**: insured firms gain a month on the 1st of each month.
* **background services** (social insurance, medical claims, housing fund, tax, employment
  filings): Poisson(2.5) per resident per 3 years, as the generator (``SOURCES.md``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from itertools import pairwise

import numpy as np
import polars as pl

from profiles.derive import whole_years
from profiles.schema import Entity, Schema
from simulations.population import generate_enterprises, generate_residents

__all__ = [
    "RATES",
    "Rates",
    "State",
    "Transitions",
    "apply_day",
    "draw_month",
    "month_end",
    "newborn_links",
]

_SIZES = ("micro", "small", "medium", "large")
_EMPLOYEES = {"small": 20, "medium": 300, "large": 1000}
_BACKGROUND = ("social_insurance_payment", "medical_insurance_claim", "housing_fund_withdrawal",
               "tax_filing", "employment_filing")  # fmt: skip
_BACKGROUND_P = (0.30, 0.30, 0.15, 0.15, 0.10)


@dataclass(frozen=True)
class Rates:
    """The yearly rates of the module docstring (monthly where the name says so)."""

    births: float = 90_000 / 21_893_000
    child_ages_out_monthly: float = 1 / 36
    marriages: float = 7_680_000 * 2 / 1_410_000_000
    job_loss: float = 0.03
    reemployment_monthly: float = 0.05
    death_under_60: float = 0.0005
    death_60_79: float = 0.010
    death_80_plus: float = 0.060
    firms_founded: float = 0.10
    firms_closed: float = 0.06
    firms_growing: float = 0.03
    background_per_year: float = 2.5 / 3
    pension_median: float = 4_500.0
    retirement_age_male: int = 60
    retirement_age_female: int = 55


RATES = Rates()


@dataclass(frozen=True, eq=False)
class State:
    """The population on one day: stored fields in schema dtypes, and every event so far."""

    residents: pl.DataFrame
    enterprises: pl.DataFrame
    events: pl.DataFrame
    gone: frozenset[str] = frozenset()  # subjects who died or whose firm was removed
    # The link files (households.parquet, employments.parquet) when the population has them:
    # rules over groups read them, and a newborn joins their parent's household.
    households: pl.DataFrame | None = None
    employments: pl.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class Transitions:
    """Transitions to apply: ``day``, ``kind``, ``subject_id``; new records with ``__day``."""

    changes: pl.DataFrame
    newborns: pl.DataFrame
    new_firms: pl.DataFrame

    def on(self, day: date) -> Transitions:
        return Transitions(
            self.changes.filter(pl.col("day") == day),
            self.newborns.filter(pl.col("__day") == day),
            self.new_firms.filter(pl.col("__day") == day),
        )

    def after(self, day: date) -> Transitions:
        return Transitions(
            self.changes.filter(pl.col("day") > day),
            self.newborns.filter(pl.col("__day") > day),
            self.new_firms.filter(pl.col("__day") > day),
        )

    def plus(self, other: Transitions) -> Transitions:
        return Transitions(
            pl.concat([self.changes, other.changes]),
            pl.concat([self.newborns, other.newborns], how="diagonal_relaxed"),
            pl.concat([self.new_firms, other.new_firms], how="diagonal_relaxed"),
        )


def month_end(day: date) -> date:
    """The last day of ``day``'s month.

    >>> month_end(date(2028, 2, 10))
    datetime.date(2028, 2, 29)
    """
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _pick(rng: np.random.Generator, ids: pl.Series, rate: float, weights: np.ndarray | None = None
          ) -> pl.Series:  # fmt: skip
    """A Poisson(rate × len) number of distinct ids, by weight."""
    if ids.len() == 0:
        return ids.head(0)
    k = min(int(rng.poisson(rate * ids.len())), ids.len())
    p = None if weights is None else weights / weights.sum()
    return ids.gather(np.sort(rng.choice(ids.len(), size=k, replace=False, p=p)))


def _changes(rng: np.random.Generator, kind: str, ids: pl.Series, first: date, last: date
             ) -> pl.DataFrame:  # fmt: skip
    offsets = rng.integers(0, (last - first).days + 1, size=ids.len())
    return pl.DataFrame(
        {
            "day": pl.Series([first + timedelta(days=int(o)) for o in offsets], dtype=pl.Date),
            "kind": pl.Series([kind] * ids.len(), dtype=pl.String),
            "subject_id": ids.cast(pl.String),
        }
    )


def _conform(frame: pl.DataFrame, entity: Entity) -> pl.DataFrame:
    return frame.select(
        (pl.col(f.name) if f.name in frame.columns else pl.lit(None))
        .cast(f.polars_dtype, strict=False)
        .alias(f.name)
        for f in entity.stored_fields
    )


def draw_month(
    state: State, schema: Schema, rng: np.random.Generator, first: date, last: date,
    rates: Rates = RATES,
) -> Transitions:  # fmt: skip
    """The transitions of the days ``first``..``last`` (one month or its simulated part)."""
    share = ((last - first).days + 1) / 365.25  # of a year
    months = share * 12
    r, e = state.residents, state.enterprises
    age = r.select(whole_years("birth_date", first).fill_null(40)).to_series().to_numpy()
    marital = r["marital_status"].cast(pl.String).fill_null("")
    status = r["employment_status"].cast(pl.String).fill_null("")
    ids = r["person_id"]
    parts = []

    parental = ((age >= 22) & (age <= 45) & (marital == "married").to_numpy()).astype(float)
    parents = _pick(rng, ids.filter(parental > 0), rates.births * r.height / max(parental.sum(), 1)
                    * share)  # fmt: skip
    parts.append(_changes(rng, "birth", parents, first, last))
    kids = r["children_under_3"].fill_null(0).to_numpy()
    growing = ids.filter(kids > 0)
    parts.append(_changes(rng, "child_turns_3", _pick(rng, growing,
                          rates.child_ages_out_monthly * months), first, last))  # fmt: skip
    unmarried = (marital != "married").to_numpy() & (marital != "").to_numpy()
    weight = np.where((age >= 25) & (age < 40), 4.0, 1.0) * unmarried * (age >= 20) * (age <= 60)
    pool = weight > 0
    marrying = rates.marriages * r.height / max(int(pool.sum()), 1) * share
    parts.append(_changes(rng, "marriage", _pick(rng, ids.filter(pool), marrying, weight[pool]),
                          first, last))  # fmt: skip
    employed = (status == "employed").to_numpy()
    parts.append(_changes(rng, "job_loss", _pick(rng, ids.filter(employed),
                          rates.job_loss * share), first, last))  # fmt: skip
    parts.append(_changes(rng, "reemployment", _pick(rng, ids.filter(status == "unemployed"),
                          rates.reemployment_monthly * months), first, last))  # fmt: skip
    mortality = np.select([age < 60, age < 80], [rates.death_under_60, rates.death_60_79],
                          rates.death_80_plus)  # fmt: skip
    dying = rng.random(r.height) < mortality * share
    parts.append(_changes(rng, "death", ids.filter(dying), first, last))
    background = rng.poisson(rates.background_per_year * share, size=r.height)
    who = ids.gather(np.repeat(np.arange(r.height), background))
    parts.append(_changes(rng, "background", who, first, last))

    firms = e["enterprise_id"]
    closing = _changes(rng, "deregistration", _pick(rng, firms, rates.firms_closed * share),
                       first, last)  # fmt: skip
    removal = closing.with_columns(
        pl.col("day") + pl.duration(days=60), pl.lit("removal").alias("kind")
    )
    size = e["size_class"].cast(pl.String).fill_null("micro")
    parts += [closing, removal]
    parts.append(_changes(rng, "growth", _pick(rng, firms.filter(size != "large"),
                          rates.firms_growing * share), first, last))  # fmt: skip

    n_births = parts[0].height
    newborns = pl.DataFrame(schema={"__day": pl.Date})
    if n_births:
        born = generate_residents(rng, n_births, as_of=first)
        parent = r.select("person_id", "residence_district", "hukou_city", "hukou_district",
                          "address", "phone", "email").join(
            parts[0].select(pl.col("subject_id").alias("person_id"), "day"), on="person_id"
        ).sort("day", "person_id")  # fmt: skip
        stamp = f"{first:%Y%m}"
        newborns = born.with_columns(
            pl.Series("person_id", [f"B{stamp}{i:07d}" for i in range(n_births)]),
            *newborn_links(r, parent["person_id"]),
            parent["residence_district"], parent["hukou_city"], parent["hukou_district"],
            parent["address"], parent["phone"], parent["email"],
            parent["day"].alias("birth_date"),
            pl.lit("single").alias("marital_status"),
            pl.lit("not_working").alias("employment_status"),
            pl.lit(0.0).alias("monthly_income"), pl.lit(0).alias("children_under_3"),
            pl.lit(0).alias("disability_grade"), pl.lit("none").alias("subsistence_status"),
            pl.lit(False).alias("is_veteran"),
        )  # fmt: skip
        newborns = _conform(newborns, schema.resident).with_columns(parent["day"].alias("__day"))
    n_firms = int(rng.poisson(rates.firms_founded * e.height * share))
    new_firms = pl.DataFrame(schema={"__day": pl.Date})
    if n_firms:
        made = generate_enterprises(rng, n_firms, as_of=first).filter(
            ~pl.col("enterprise_id").is_in(firms.implode())
        )
        offsets = rng.integers(0, (last - first).days + 1, size=made.height)
        founded = pl.Series("founded_date", [first + timedelta(days=int(o)) for o in offsets])
        new_firms = _conform(
            made.with_columns(
                founded, pl.lit("micro").alias("size_class"),
                pl.col("employees").clip(upper_bound=19), pl.lit("M").alias("tax_credit_rating"),
                pl.lit(0).alias("unemployment_insurance_months"), pl.lit(False).alias("high_tech"),
                pl.lit(False).alias("specialized_sme"), pl.lit(0).alias("graduate_hires"),
                pl.lit(0.0).alias("layoff_rate"),
            ),
            schema.enterprise,
        ).with_columns(founded.alias("__day"))  # fmt: skip
    return Transitions(pl.concat(parts).sort("day", "kind", "subject_id"), newborns, new_firms)


# A newborn's place in the household, by the parent's: the head's or spouse's child is a
# child of the head; a child's child is a grandchild; anyone else's, other.
_NEWBORN_RELATION = {"head": "child", "spouse": "child", "child": "grandchild"}


def newborn_links(residents: pl.DataFrame, parents: pl.Series) -> list[pl.Series]:
    """For newborns of ``parents`` (person ids, one per newborn): the parent's
    ``household_id``, the newborn's ``relation_to_head``, and ``mother_id``/``father_id``: the
    parent by gender, and the other parent the parent's partner in the household (the head and
    the spouse), where there is one.  Without household links, only the parent.

    >>> people = pl.DataFrame({"person_id": ["m", "f", "g"], "gender": ["female", "male", "male"],
    ...     "household_id": ["h", "h", "h"], "relation_to_head": ["spouse", "head", "parent"]})
    >>> [s.to_list() for s in newborn_links(people, pl.Series(["m", "g"]))]
    [['h', 'h'], ['child', 'other'], ['m', None], ['f', 'g']]
    """
    names = residents.columns
    linked = "household_id" in names and "relation_to_head" in names
    cols = ["person_id", "gender"] + (["household_id", "relation_to_head"] if linked else [])
    people = residents.select(
        pl.col(c).cast(pl.String) if c != "person_id" else pl.col(c) for c in cols
    )
    rows = pl.DataFrame({"person_id": parents.cast(pl.String)}).join(
        people, on="person_id", how="left", maintain_order="left"
    )
    if linked:
        # the parent's partner: the head for the spouse, the spouse for the head
        other = {"head": "spouse", "spouse": "head"}
        partners = (
            people.filter(pl.col("relation_to_head").is_in(list(other)))
            .select(
                "household_id",
                pl.col("relation_to_head").replace_strict(other).alias("__of"),
                pl.col("person_id").alias("__partner"),
            )
            .unique(["household_id", "__of"], keep="first", maintain_order=True)
        )
        rows = rows.join(
            partners,
            left_on=["household_id", "relation_to_head"],
            right_on=["household_id", "__of"],
            how="left",
            maintain_order="left",
        )
    else:
        rows = rows.with_columns(
            pl.lit(None, pl.String).alias(c) for c in ("household_id", "relation_to_head")
        ).with_columns(pl.lit(None, pl.String).alias("__partner"))
    female = pl.col("gender") == "female"
    out = rows.select(
        pl.col("household_id"),
        pl.when(pl.col("household_id").is_not_null())
        .then(
            pl.col("relation_to_head").replace_strict(
                _NEWBORN_RELATION, default="other", return_dtype=pl.String
            )
        )
        .alias("relation_to_head"),
        pl.when(female).then("person_id").otherwise("__partner").alias("mother_id"),
        pl.when(female).then("__partner").otherwise("person_id").alias("father_id"),
    )
    return out.get_columns()


_KIND_ITEM = {
    "birth": "birth_registration",
    "marriage": "marriage_registration",
    "retirement": "retirement_approval",
    "job_loss": "unemployment_registration",
    "reemployment": "reemployment_registration",
    "deregistration": "business_deregistration",
    "growth": "business_change",
}


def _events(day: date, subject_type: str, ids: pl.Series, items: pl.Series | str,
            rng: np.random.Generator) -> pl.DataFrame:  # fmt: skip
    n = ids.len()
    start = datetime.combine(day, time(9))
    at = [start + timedelta(seconds=int(s)) for s in rng.integers(0, 8 * 3600, size=n)]
    return pl.DataFrame(
        {
            "subject_id": ids.cast(pl.String),
            "subject_type": [subject_type] * n,
            "item_code": items if isinstance(items, pl.Series) else [items] * n,
            "occurred_at": pl.Series(at, dtype=pl.Datetime("us")),
        }
    )


def _ids(changes: pl.DataFrame, kind: str) -> pl.Series:
    return changes.filter(pl.col("kind") == kind)["subject_id"]


def _where(key: str, ids: pl.Series) -> pl.Expr:
    return pl.col(key).is_in(ids.implode())


def apply_day(
    state: State, day: date, today: Transitions, schema: Schema, rng: np.random.Generator,
    rates: Rates = RATES,
) -> tuple[State, set[str]]:  # fmt: skip
    """Apply ``today``'s transitions; returns the new state and the subjects that changed.

    Besides the drawn transitions: residents whose age changed today (birthdays — retirement
    at the retirement age) and firms whose age in years changed today are changed subjects.
    """
    # A transition drawn for someone who has since died (or a firm since removed) lapses.
    c = today.changes.filter(~pl.col("subject_id").is_in(list(state.gone)))
    r, e = state.residents, state.enterprises
    yesterday = day - timedelta(days=1)
    birthday = r.filter(whole_years("birth_date", day) != whole_years("birth_date", yesterday))
    age = birthday.select(whole_years("birth_date", day)).to_series()
    gender = birthday["gender"].cast(pl.String)
    retire_at = pl.Series(np.where(gender == "male", rates.retirement_age_male,
                                   rates.retirement_age_female))  # fmt: skip
    working = (
        birthday["employment_status"]
        .cast(pl.String)
        .is_in(["employed", "self_employed", "unemployed"])
    )
    retiring = birthday["person_id"].filter((age == retire_at) & working)
    pensions = np.round(rng.lognormal(np.log(rates.pension_median), 0.35, retiring.len()))
    anniversary = e.filter(
        whole_years("founded_date", day) != whole_years("founded_date", yesterday)
    )["enterprise_id"]

    births, married, lost, found = (_ids(c, k) for k in ("birth", "marriage", "job_loss",
                                                         "reemployment"))  # fmt: skip
    grown, deaths = _ids(c, "child_turns_3"), _ids(c, "death")
    incomes = np.round(rng.lognormal(np.log(9_000), 0.55, found.len()))
    r = r.with_columns(
        pl.when(_where("person_id", births)).then(pl.col("children_under_3").fill_null(0) + 1)
        .when(_where("person_id", grown)).then((pl.col("children_under_3") - 1).clip(0))
        .otherwise(pl.col("children_under_3")).alias("children_under_3"),
        pl.when(_where("person_id", births) | _where("person_id", married))
        .then(pl.col("household_size").fill_null(1) + 1)
        .otherwise(pl.col("household_size")).alias("household_size"),
        pl.when(_where("person_id", married)).then(pl.lit("married"))
        .otherwise(pl.col("marital_status").cast(pl.String))
        .cast(r.schema["marital_status"]).alias("marital_status"),
        pl.when(_where("person_id", retiring)).then(pl.lit("retired"))
        .when(_where("person_id", lost)).then(pl.lit("unemployed"))
        .when(_where("person_id", found)).then(pl.lit("employed"))
        .otherwise(pl.col("employment_status").cast(pl.String))
        .cast(r.schema["employment_status"]).alias("employment_status"),
    )  # fmt: skip
    updates = pl.DataFrame(
        {"person_id": pl.concat([retiring, lost, found]).cast(pl.String),
         "__income": np.concatenate([pensions, np.zeros(lost.len()), incomes])},
        schema={"person_id": pl.String, "__income": pl.Float64},
    ).unique("person_id", keep="last")  # fmt: skip
    if updates.height:
        r = r.join(updates, on="person_id", how="left").with_columns(
            pl.coalesce("__income", "monthly_income").cast(r.schema["monthly_income"])
            .alias("monthly_income")
        ).drop("__income")  # fmt: skip
    born = today.newborns
    if born.height:
        r = pl.concat([r, born.drop("__day")])
    r = r.filter(~_where("person_id", deaths))

    firms, removed = _ids(c, "growth"), _ids(c, "removal")
    up = dict(pairwise(_SIZES))
    size = pl.col("size_class").cast(pl.String)
    e = e.with_columns(
        pl.when(_where("enterprise_id", firms)).then(size.replace(up)).otherwise(size)
        .cast(e.schema["size_class"]).alias("size_class"),
        pl.when(_where("enterprise_id", firms))
        .then(pl.max_horizontal(pl.col("employees"), size.replace_strict(up, default="large")
                                .replace_strict(_EMPLOYEES, default=0, return_dtype=pl.Int64)))
        .otherwise(pl.col("employees")).cast(e.schema["employees"]).alias("employees"),
    )  # fmt: skip
    if day.day == 1:  # one more month of unemployment insurance for insured firms
        months = pl.col("unemployment_insurance_months")
        e = e.with_columns(
            pl.when(months > 0).then(months + 1).otherwise(months)
            .alias("unemployment_insurance_months")
        )  # fmt: skip
    if today.new_firms.height:
        e = pl.concat([e, today.new_firms.drop("__day")])
    e = e.filter(~_where("enterprise_id", removed))

    events = [
        _events(day, "resident", births, _KIND_ITEM["birth"], rng),
        _events(day, "resident", married, _KIND_ITEM["marriage"], rng),
        _events(day, "resident", retiring, _KIND_ITEM["retirement"], rng),
        _events(day, "resident", lost, _KIND_ITEM["job_loss"], rng),
        _events(day, "resident", found, _KIND_ITEM["reemployment"], rng),
        _events(day, "resident", found, "employment_filing", rng),
        _events(day, "enterprise", _ids(c, "deregistration"), _KIND_ITEM["deregistration"], rng),
        _events(day, "enterprise", firms, _KIND_ITEM["growth"], rng),
        _events(day, "enterprise", today.new_firms["enterprise_id"] if today.new_firms.height
                else pl.Series([], dtype=pl.String), "business_registration", rng),
    ]  # fmt: skip
    background = _ids(c, "background")
    items = pl.Series(np.array(_BACKGROUND)[rng.choice(len(_BACKGROUND), size=background.len(),
                                                       p=_BACKGROUND_P)])  # fmt: skip
    events.append(_events(day, "resident", background, items, rng))
    new_events = pl.concat([ev for ev in events if ev.height] or [state.events.head(0)])
    all_events = pl.concat([state.events, new_events.cast(state.events.schema)], rechunk=True)
    changed = set(c["subject_id"].to_list()) | set(birthday["person_id"].to_list())
    changed |= set(anniversary.to_list())
    if born.height:
        changed |= set(born["person_id"].to_list())
    if today.new_firms.height:
        changed |= set(today.new_firms["enterprise_id"].to_list())
    gone = state.gone | set(deaths.to_list()) | set(removed.to_list())
    return replace(
        state, residents=r, enterprises=e, events=all_events, gone=frozenset(gone)
    ), changed
