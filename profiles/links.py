"""Aggregates over links: a household's from its members, a firm's from its employments.

Pure polars over lazy frames and an as-of date, no I/O and no Python per row.  Every frame
keeps its input's row order (matching slices the results into batches and shards).  Where a
population has ``households`` and ``employments``, these replace the flat fields a resident or
a firm carries (``household_size``, ``household_income_per_capita``, ``children_under_3``;
``employees``, ``graduate_hires``); without them nothing here runs and the flat fields stand.

The functions (the group-rule compiler and the matcher build on them):

- :func:`household_aggregates` ``(residents, households, *, as_of) -> LazyFrame``: the
  households with every field the schema derives ``from: members`` (size, income_total,
  income_per_capita, members_under_3, members_over_80, living_alone, head_id).
- :func:`with_household_fields` ``(residents, households, *, as_of) -> LazyFrame``: residents
  whose household is known get household_size, household_income_per_capita and
  children_under_3 from the links; ``households`` as :func:`household_aggregates` returns it.
- :func:`member_income` ``(as_of) -> Expr``: a member's income as a household sums it.
- :func:`current_employments` ``(employments, *, as_of) -> LazyFrame``: the jobs held at as-of.
- :func:`employer_aggregates` ``(employments, residents, *, as_of) -> LazyFrame``:
  ``enterprise_id, employees, graduate_hires`` for every firm with an employment.
- :func:`with_employer_fields` ``(enterprises, employments, residents, *, as_of)``: the firms
  with employees and graduate_hires from the links (0 for a firm with none).
- :func:`with_links` ``(frames, *, as_of) -> dict``: all of the above for a population's frames
  keyed by entity (resident, enterprise, household, employment); frames without links as given.

Unknown stays unknown: a household's income is unknown when any member's is, except that a
member under 16 with no income recorded earns 0 (what is known by rule is not unknown); a
count over members is unknown when a member's birth date is.  What is known is not unknown
either: an income total or per capita figure carries its bounds beside it (columns
:func:`lower_bound` and :func:`upper_bound` of the field), each unknown income counted at the
least and the most ``monthly_income`` may be (the schema's ``min`` and ``max``; null where
none is declared), so a rule can settle ``< 1450`` on the members whose income is known.

>>> from datetime import date
>>> people = pl.LazyFrame({
...     "person_id": ["a", "b", "c", "d"], "household_id": ["h1", "h1", "h1", "h2"],
...     "relation_to_head": ["head", "spouse", "child", "head"],
...     "birth_date": [date(1990, 1, 1), date(1991, 1, 1), date(2025, 1, 1), date(1940, 1, 1)],
...     "monthly_income": [3000.0, 300.0, None, None]})
>>> homes = pl.LazyFrame({"household_id": ["h1", "h2"]})
>>> out = household_aggregates(people, homes, as_of=date(2026, 6, 1)).collect()
>>> out.select("household_id", "size", "income_per_capita", "members_under_3", "head_id").rows()
[('h1', 3, 1100.0, 1, 'a'), ('h2', 1, None, 0, 'd')]
>>> out.select(lower_bound("income_per_capita"), upper_bound("income_per_capita")).rows()
[(1100.0, 1100.0), (0.0, None)]
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from core.errors import SchemaError
from profiles.derive import whole_years
from profiles.schema import Schema, load_schema

__all__ = [
    "BOUNDED_AGGREGATES",
    "EARNS_BY_RULE_UNDER",
    "LINKED_FIGURES",
    "MEMBER_AGGREGATES",
    "current_employments",
    "employer_aggregates",
    "household_aggregates",
    "lower_bound",
    "member_income",
    "upper_bound",
    "with_employer_fields",
    "with_household_fields",
    "with_links",
]

# A member younger than this with no income recorded earns nothing (child labour is unlawful
# under 16: 劳动法 第十五条), so an unrecorded income is 0, not unknown.
EARNS_BY_RULE_UNDER = 16
# graduate_hires: hires aged 16-24 (at hire) in the 12 months up to the as-of date
_HIRE_AGES = (16, 24)


# The member aggregates that carry bounds where a member's income is unknown, and the resident
# fields the links derive from them (a resident's household_income_per_capita is its
# household's income_per_capita).
BOUNDED_AGGREGATES = frozenset(("income_total", "income_per_capita"))
LINKED_FIGURES = {"household_income_per_capita": "income_per_capita"}


def lower_bound(column: str) -> str:
    """The column of the least value ``column`` may have (null: no bound known).

    >>> lower_bound("income_total"), upper_bound("income_total")
    ('income_total:least', 'income_total:greatest')
    """
    return f"{column}:least"


def upper_bound(column: str) -> str:
    """The column of the greatest value ``column`` may have (null: no bound known)."""
    return f"{column}:greatest"


def _age(as_of: date) -> pl.Expr:
    return whole_years("birth_date", as_of)


def member_income(as_of: date) -> pl.Expr:
    """A member's monthly income as the household counts it: as recorded, else 0 under 16,
    else unknown.

    >>> from datetime import date
    >>> f = pl.DataFrame({"birth_date": [date(2020, 1, 1), date(1990, 1, 1), None],
    ...                   "monthly_income": [None, None, None]})
    >>> f.select(member_income(date(2026, 1, 1)))["monthly_income"].to_list()
    [0.0, None, None]
    """
    young = _age(as_of) < EARNS_BY_RULE_UNDER
    return (
        pl.when(pl.col("monthly_income").is_null() & young.fill_null(False))
        .then(pl.lit(0.0))
        .otherwise(pl.col("monthly_income").cast(pl.Float64))
        .alias("monthly_income")
    )


def _known_count(condition: pl.Expr) -> pl.Expr:
    """How many members meet ``condition``; unknown if any member's answer is unknown."""
    return (
        pl.when(condition.null_count() > 0)
        .then(None)
        .otherwise(condition.cast(pl.Int64).sum())
        .cast(pl.Int64)
    )


def _bounded_sum(income: pl.Expr, bound: float | None) -> pl.Expr:
    """The members' total with each unknown income counted as ``bound``; unknown (no bound)
    when an income is unknown and ``bound`` is None."""
    if bound is None:
        return pl.when(income.null_count() > 0).then(None).otherwise(income.sum()).cast(pl.Float64)
    return income.fill_null(float(bound)).sum().cast(pl.Float64)


def _member_aggregates() -> dict[str, pl.Expr]:
    """Each aggregate a household field may be derived ``as``, over the per-household
    columns :func:`household_aggregates` computes."""
    size = pl.col("__size").fill_null(0)
    return {
        "size": size,
        "income_total": pl.col("__income_total"),
        "income_per_capita": pl.col("__income_total") / size,
        lower_bound("income_total"): pl.col("__income_least"),
        upper_bound("income_total"): pl.col("__income_greatest"),
        lower_bound("income_per_capita"): pl.col("__income_least") / size,
        upper_bound("income_per_capita"): pl.col("__income_greatest") / size,
        "members_under_3": pl.col("__members_under_3"),
        "members_over_80": pl.col("__members_over_80"),
        "living_alone": size == 1,
        "head_id": pl.col("__head_id"),
    }


# What a household field may be ``derived: {from: members, as: ...}`` (profiles/schema/core.yaml)
MEMBER_AGGREGATES = tuple(n for n in _member_aggregates() if ":" not in n)


def household_aggregates(
    residents: pl.LazyFrame, households: pl.LazyFrame, *, as_of: date, schema: Schema | None = None
) -> pl.LazyFrame:
    """``households`` with its members' aggregates at ``as_of`` (see the module docstring).

    Each household field the schema declares ``derived: {from: members, as: NAME}`` is the
    aggregate NAME (:data:`MEMBER_AGGREGATES`).  Reads the residents' ``household_id``,
    ``relation_to_head``, ``birth_date`` and ``monthly_income``; a household without members
    gets size 0 and nothing else known (the validation refuses it: it has no head).
    """
    entity = (schema or load_schema()).household
    wanted = [f for f in entity.derived_fields if f.derived_from == "members"]
    for f in wanted:
        if f.derived_as not in MEMBER_AGGREGATES:
            raise SchemaError(
                f"household.{f.name} is derived from members as {f.derived_as!r}; expected one "
                f"of {', '.join(MEMBER_AGGREGATES)}"
            )
    schema = schema or load_schema()
    age = _age(as_of)
    income = member_income(as_of)
    # an unknown income lies within the field's declared range (profiles/schema/core.yaml)
    income_field = schema.resident.by_name.get("monthly_income")
    least, most = (None, None) if income_field is None else (income_field.min, income_field.max)
    per_household = (
        residents.filter(pl.col("household_id").is_not_null())
        .group_by("household_id")
        .agg(
            pl.len().cast(pl.Int64).alias("__size"),
            pl.when(income.null_count() > 0)
            .then(None)
            .otherwise(income.sum())
            .cast(pl.Float64)
            .alias("__income_total"),
            _bounded_sum(income, least).alias("__income_least"),
            _bounded_sum(income, most).alias("__income_greatest"),
            _known_count(age < 3).alias("__members_under_3"),
            _known_count(age >= 80).alias("__members_over_80"),
            pl.col("person_id")
            .filter(pl.col("relation_to_head") == "head")
            .first()
            .alias("__head_id"),
        )
    )
    # what an earlier pass derived (and its bounds) is derived again, not kept
    derived = {
        side(f.name) for f in entity.derived_fields for side in (str, lower_bound, upper_bound)
    }
    stored = [c for c in households.collect_schema().names() if c not in derived]
    computed = _member_aggregates()
    bounds = [
        computed[side(str(f.derived_as))].cast(f.polars_dtype).alias(side(f.name))
        for f in wanted
        if f.derived_as in BOUNDED_AGGREGATES
        for side in (lower_bound, upper_bound)
    ]
    return (
        households.select(stored)
        .join(per_household, on="household_id", how="left", maintain_order="left")
        .select(
            *stored,
            *(computed[str(f.derived_as)].cast(f.polars_dtype).alias(f.name) for f in wanted),
            *bounds,
        )
    )


def with_household_fields(
    residents: pl.LazyFrame, households: pl.LazyFrame, *, as_of: date
) -> pl.LazyFrame:
    """``residents`` with ``household_size``, ``household_income_per_capita`` and
    ``children_under_3`` from their household (``households`` as :func:`household_aggregates`
    returns it); a resident without a household keeps the values on file.

    ``children_under_3`` counts the person's own children under 3 wherever they live (their
    ``mother_id`` or ``father_id``), and for a head or spouse also the members under 3 whose
    relation is ``child`` and who name no parent; unknown when such a child's birth date is.
    """
    names = residents.collect_schema().names()
    links = [link for link in ("mother_id", "father_id") if link in names]
    # One row per (parent, child): under 3 true, false or unknown (the child's birth unknown).
    young = residents.with_columns((_age(as_of) < 3).alias("__under_3"))
    own = [
        young.filter(pl.col(link).is_not_null()).select(
            pl.col(link).alias("person_id"), "__under_3"
        )
        for link in links
    ]
    unlinked = young.filter(pl.col("relation_to_head") == "child")
    for link in links:
        unlinked = unlinked.filter(pl.col(link).is_null())
    by_relation = (
        residents.filter(pl.col("relation_to_head").is_in(["head", "spouse"]))
        .select("person_id", "household_id")
        .join(unlinked.select("household_id", "__under_3"), on="household_id", how="inner")
        .select("person_id", "__under_3")
    )
    children = (
        pl.concat([*own, by_relation])
        .group_by("person_id")
        .agg(_known_count(pl.col("__under_3")).alias("__children"), pl.lit(True).alias("__has"))
    )
    linked = pl.col("household_id").is_not_null() & pl.col("__size").is_not_null()
    return (
        residents.join(
            households.select(
                "household_id",
                pl.col("size").alias("__size"),
                pl.col("income_per_capita").alias("__per_capita"),
            ),
            on="household_id",
            how="left",
            maintain_order="left",
        )
        .join(children, on="person_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(linked)
            .then(pl.col("__size"))
            .otherwise(pl.col("household_size"))
            .alias("household_size"),
            pl.when(linked)
            .then(pl.col("__per_capita"))
            .otherwise(pl.col("household_income_per_capita"))
            .alias("household_income_per_capita"),
            pl.when(linked & pl.col("__has").is_null())
            .then(0)  # no child links to them
            .when(linked)
            .then(pl.col("__children"))
            .otherwise(pl.col("children_under_3"))
            .alias("children_under_3"),
        )
        .select(names)
    )


def current_employments(employments: pl.LazyFrame, *, as_of: date) -> pl.LazyFrame:
    """The employments held at ``as_of``: hired on or before it, not left by it.

    >>> from datetime import date
    >>> jobs = pl.LazyFrame({"hired_on": [date(2020, 1, 1), date(2020, 1, 1), date(2027, 1, 1)],
    ...                      "left_on": [None, date(2026, 1, 1), None]})
    >>> current_employments(jobs, as_of=date(2026, 1, 1)).collect().height
    1
    """
    return employments.filter(
        (pl.col("hired_on") <= as_of) & (pl.col("left_on").is_null() | (pl.col("left_on") > as_of))
    )


def _a_year_before(as_of: date) -> date:
    try:
        return as_of.replace(year=as_of.year - 1)
    except ValueError:  # 29 February
        return as_of.replace(year=as_of.year - 1, day=28)


def employer_aggregates(
    employments: pl.LazyFrame, residents: pl.LazyFrame, *, as_of: date
) -> pl.LazyFrame:
    """``enterprise_id, employees, graduate_hires`` for every firm with an employment.

    ``employees``: employments held at ``as_of``.  ``graduate_hires``: hires in the 12 months
    up to ``as_of`` of people aged 16-24 on the day they were hired (the schema's
    definition); unknown when such a hire's birth date is unknown.
    """
    low, high = _HIRE_AGES
    born = pl.col("birth_date")
    hired = pl.col("hired_on")
    at_hire = (
        hired.dt.year().cast(pl.Int64)
        - born.dt.year().cast(pl.Int64)
        - (
            (born.dt.month().cast(pl.Int32) * 100 + born.dt.day().cast(pl.Int32))
            > (hired.dt.month().cast(pl.Int32) * 100 + hired.dt.day().cast(pl.Int32))
        ).cast(pl.Int64)
    )
    recent = (hired > _a_year_before(as_of)) & (hired <= as_of)
    current = (hired <= as_of) & (pl.col("left_on").is_null() | (pl.col("left_on") > as_of))
    young = at_hire.is_between(low, high)
    return (
        employments.select("person_id", "enterprise_id", "hired_on", "left_on")
        .join(residents.select("person_id", "birth_date"), on="person_id", how="left")
        .group_by("enterprise_id")
        .agg(
            current.sum().cast(pl.Int64).alias("employees"),
            _known_count(young.filter(recent)).alias("graduate_hires"),
        )
    )


def with_employer_fields(
    enterprises: pl.LazyFrame,
    employments: pl.LazyFrame,
    residents: pl.LazyFrame,
    *,
    as_of: date,
) -> pl.LazyFrame:
    """``enterprises`` with ``employees`` and ``graduate_hires`` from ``employments`` (a firm
    with no employment on file has 0 of each: the links are the record)."""
    names = enterprises.collect_schema().names()
    counts = employer_aggregates(employments, residents, as_of=as_of).rename(
        {"employees": "__employees", "graduate_hires": "__graduate_hires"}
    )
    return (
        enterprises.join(counts, on="enterprise_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("__employees").fill_null(0).alias("employees"),
            pl.when(pl.col("__employees").is_null())
            .then(0)
            .otherwise(pl.col("__graduate_hires"))
            .cast(pl.Int64)
            .alias("graduate_hires"),
        )
        .select(names)
    )


def with_links(frames: Mapping[str, pl.LazyFrame], *, as_of: date) -> dict[str, pl.LazyFrame]:
    """A population's frames with every aggregate the links give: households gain their
    members' aggregates and residents their household's; firms count their employments.
    Frames without links are returned as they are."""
    out = dict(frames)
    residents = frames.get("resident")
    if residents is None:
        return out
    households = frames.get("household")
    if households is not None:
        aggregated = household_aggregates(residents, households, as_of=as_of)
        out["household"] = aggregated
        out["resident"] = with_household_fields(residents, aggregated, as_of=as_of)
    employments = frames.get("employment")
    if employments is not None and "enterprise" in frames:
        out["enterprise"] = with_employer_fields(
            frames["enterprise"], employments, residents, as_of=as_of
        )
    return out
