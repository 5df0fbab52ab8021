"""Aggregates over groups, columnar: one group-by over the members (or employments) per batch.

A rule's aggregates (:func:`rules.compiler.compile_groups`) are computed by :func:`aggregate`
over a frame of group rows (a household's members, a firm's current employments each joined
with its employee's resident fields), one row per group key, and joined to the subjects by
:func:`attach`.  Unknown is not false, in Kleene's sense, over every row of a group:

- ``count(c)``: the number of rows where ``c`` is true; unknown if ``c`` is unknown for any row
  (the count is then not known, whatever the known rows say);
- ``sum(v, c)``: the total of ``v`` over rows where ``c`` is true; unknown if any row's ``c``
  is unknown, or ``c`` is true and ``v`` unknown; 0 over no rows.  Beside it, its bounds
  (``rules.groups.least``/``greatest`` of its column): each row adds between 0 and ``v`` where
  ``c`` is unknown, and an unknown ``v`` counts as the least and the most its field may be (the
  schema's ``min``/``max``; no bound where none is declared), so a comparison the known rows
  already settle is settled;
- ``min``/``max(v, c)``: likewise, and unknown over no rows (there is no least of nothing);
- ``any(c)``: true if ``c`` is true for some row, else unknown if unknown for some, else false;
- ``all(c)``: false if ``c`` is false for some row, else unknown if unknown for some, else true.

A subject whose key has no rows in a group frame that exists (a firm with no employments) gets
the values over no rows (0, false, true, unknown for min/max); a subject whose key is unknown,
or a population without that link file, gets unknown.  ``rules.evaluator`` does the same for
one subject, and the property test holds them equal.

>>> from datetime import date
>>> from profiles.schema import load_schema
>>> from rules.compiler import compile_groups
>>> from rules.language import parse_rule
>>> rule = parse_rule("members_sum(monthly_income, age >= 16) < 3000",
...                   load_schema().entity("household"))
>>> aggs = compile_groups(rule, as_of=date(2026, 1, 1))
>>> members = pl.LazyFrame({"household_id": ["h1", "h1", "h2", "h2"],
...                         "age": [40, 10, 40, 41], "monthly_income": [2000, None, 2500, None]})
>>> out = aggregate(members, "household_id", aggs).sort("household_id").collect()
>>> out[aggs[0].column].to_list()
[Decimal('2000.000000'), None]
>>> out[least(aggs[0].column)].to_list(), out[greatest(aggs[0].column)].to_list()
([Decimal('2000.000000'), Decimal('2500.000000')], [Decimal('2000.000000'), None])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from rules.compiler import GroupAggregate
from rules.groups import current_employment, greatest, known_by_rule, least
from rules.numbers import DECIMAL

__all__ = ["aggregate", "attach", "bound_columns", "employee_rows", "empty_value",
           "with_figure_bounds"]  # fmt: skip


@dataclass(frozen=True)
class _Steps:
    """One aggregate in three steps, so the group-by runs only polars' fast aggregations
    (sum, min, max, any, null counts; no filter or when inside a group): per-row columns,
    per-group statistics of them, and the Kleene value from the statistics."""

    rows: list[pl.Expr]
    stats: list[pl.Expr]
    value: pl.Expr
    bounds: tuple[pl.Expr, pl.Expr] | None = None  # a count's or a sum's least and greatest


def _steps(agg: GroupAggregate, n: int) -> _Steps:
    c_name, v_name = f"__c{n}", f"__v{n}"
    c = pl.col(c_name)
    unknown = pl.col(f"__u{n}") > 0  # rows whose condition is unknown
    condition = (pl.lit(True) if agg.condition is None else agg.condition).alias(c_name)
    if agg.op in ("count", "any", "all"):
        stats = [c.null_count().alias(f"__u{n}")]
        if agg.op == "count":
            stats.append(c.cast(pl.Int64).sum().alias(f"__s{n}"))
            value = pl.when(unknown).then(None).otherwise(pl.col(f"__s{n}"))
            # the true rows at least, and every unknown one too at most
            least = pl.col(f"__s{n}").cast(pl.Int64)
            greatest = least + pl.col(f"__u{n}").cast(pl.Int64)
            return _Steps([condition], stats, value.cast(pl.Int64), (least, greatest))
        wanted = c if agg.op == "any" else ~c  # a true (any) or a false (all) row settles it
        stats.append(wanted.fill_null(False).any().alias(f"__s{n}"))
        settled = pl.col(f"__s{n}")
        value = pl.when(settled).then(agg.op == "any").when(unknown).then(None)
        return _Steps([condition], stats, value.otherwise(agg.op == "all"))
    assert agg.value is not None
    known_c = pl.col(c_name).fill_null(False)
    # a row counts its value where the condition holds; unknown where it is unknown
    counted = pl.when(known_c).then(agg.value).alias(v_name)
    bad = (c.is_null() | (known_c & pl.col(v_name).is_null())).alias(f"__b{n}")
    total = {"sum": pl.col(v_name).sum(), "min": pl.col(v_name).min(),
             "max": pl.col(v_name).max()}[agg.op]  # fmt: skip
    stats = [pl.col(f"__b{n}").any().alias(f"__u{n}"), total.alias(f"__s{n}")]
    value = pl.when(pl.col(f"__u{n}")).then(None).otherwise(pl.col(f"__s{n}"))
    if agg.op != "sum":
        return _Steps([condition, counted, bad], stats, value)
    rows, bound_stats, bounds = _sum_bounds(agg, n)
    return _Steps([condition, counted, bad, *rows], stats + bound_stats, value, bounds)


def _sum_bounds(agg: GroupAggregate, n: int) -> tuple[list[pl.Expr], list[pl.Expr], Any]:
    """Per-row least and greatest additions to a sum, their per-group totals, and the
    bounds (null where a row's addition has no bound)."""
    assert agg.value is not None
    c = pl.col(f"__c{n}")
    low, high = agg.range

    def side(bound: float | None, pick: Any) -> pl.Expr:
        v = agg.value.cast(DECIMAL)  # type: ignore[union-attr]
        if bound is not None:
            v = v.fill_null(pl.lit(bound).cast(DECIMAL))
        zero = pl.lit(0).cast(DECIMAL)
        either = pl.when(v.is_null()).then(None).otherwise(pick(zero, v))  # c unknown: 0 or v
        return pl.when(c.is_null()).then(either).when(c).then(v).otherwise(zero)

    names = (f"__lo{n}", f"__hi{n}")
    rows = [side(low, pl.min_horizontal).alias(names[0]),
            side(high, pl.max_horizontal).alias(names[1])]  # fmt: skip
    stats = [
        e
        for name in names
        for e in (pl.col(name).sum().alias(f"{name}s"), pl.col(name).null_count().alias(f"{name}u"))
    ]
    bounds = tuple(
        pl.when(pl.col(f"{name}u") > 0).then(None).otherwise(pl.col(f"{name}s")) for name in names
    )
    return rows, stats, bounds


def _rows(key: str) -> str:
    return f"__rows:{key}"


def aggregate(rows: pl.LazyFrame, key: str, aggregates: Sequence[GroupAggregate]) -> pl.LazyFrame:
    """One row per ``key`` with a column per aggregate (rows with an unknown key left out)."""
    steps = [_steps(a, n) for n, a in enumerate(aggregates)]
    framed = rows.filter(pl.col(key).is_not_null())
    by_rule = known_by_rule(framed.collect_schema().names())  # a child's income: 0
    if by_rule:
        framed = framed.with_columns(by_rule)
    for phase in range(5):  # the condition, the counted value, what is unknown, the bounds
        exprs = [s.rows[phase] for s in steps if len(s.rows) > phase]
        if exprs:
            framed = framed.with_columns(exprs)
    grouped = framed.group_by(key).agg(
        pl.len().alias(_rows(key)), *(e for s in steps for e in s.stats)
    )
    values = []
    for step, agg in zip(steps, aggregates, strict=True):
        values.append(step.value.alias(agg.column))
        if step.bounds is not None:
            low, high = step.bounds
            values += [low.alias(least(agg.column)), high.alias(greatest(agg.column))]
    return grouped.select(key, _rows(key), *values)


def _columns(agg: GroupAggregate) -> list[str]:
    """The columns ``agg`` gives a subject: its value, and a count's or a sum's bounds."""
    if agg.op in ("count", "sum"):
        return [agg.column, least(agg.column), greatest(agg.column)]
    return [agg.column]


def empty_value(agg: GroupAggregate) -> object:
    """The aggregate over no rows: 0 for count and sum, false for any, true for all, unknown
    for min and max.

    >>> [empty_value(GroupAggregate("c", "members", op, None, None)) for op in ("count", "all")]
    [0, True]
    """
    return {"count": 0, "sum": 0, "any": False, "all": True}.get(agg.op)


def attach(
    subjects: pl.LazyFrame,
    aggregated: pl.LazyFrame | None,
    key: str,
    aggregates: Sequence[GroupAggregate],
) -> pl.LazyFrame:
    """``subjects`` with each aggregate's column, joined on ``key`` (``aggregated`` None: the
    group's link file is absent, so every value is unknown)."""
    if not aggregates:
        return subjects
    if aggregated is None:
        return subjects.with_columns(pl.lit(None).alias(c) for a in aggregates for c in _columns(a))
    joined = subjects.join(aggregated, on=key, how="left", coalesce=True, maintain_order="left")
    no_rows = pl.col(key).is_not_null() & pl.col(_rows(key)).is_null()
    fills = [
        pl.when(no_rows).then(pl.lit(empty)).otherwise(pl.col(c)).alias(c)
        for a in aggregates
        if (empty := empty_value(a)) is not None
        for c in _columns(a)
    ]
    return joined.with_columns(fills).drop(_rows(key))


def employee_rows(employments: pl.LazyFrame, residents: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """The employments current on ``as_of``, each with its employee's resident fields (the
    employment's own fields win a clash of names); the rows ``employees_*`` range over.
    ``residents`` should carry the derived fields (``age``) at ``as_of``."""
    own = set(employments.collect_schema().names())
    person = [c for c in residents.collect_schema().names() if c not in own or c == "person_id"]
    current = employments.filter(current_employment(as_of))
    return current.join(residents.select(person), on="person_id", how="left")


_SIDES = (":least", ":greatest")


def bound_columns(exprs: Sequence[pl.Expr]) -> set[str]:
    """The bound columns (``rules.groups.least``/``greatest``) ``exprs`` read."""
    return {n for e in exprs for n in e.meta.root_names() if n.endswith(_SIDES)}


def with_figure_bounds(
    records: pl.LazyFrame, households: pl.LazyFrame | None, wanted: set[str]
) -> pl.LazyFrame:
    """``records`` with each bound column of ``wanted`` it lacks: a resident's
    ``household_income_per_capita`` and ``household.x`` bounds are its household's
    (``profiles.links`` puts them beside the household's figures), else (no household on
    file) the figure itself bounds itself: known, it is its own bound; unknown, there is none.

    >>> people = pl.LazyFrame({"household_id": ["h", None],
    ...                        "household_income_per_capita": [None, 800.0]})
    >>> homes = pl.LazyFrame({"household_id": ["h"], "income_per_capita:least": [1500.0],
    ...                       "income_per_capita:greatest": [None]})
    >>> with_figure_bounds(people, homes, {"household_income_per_capita:least"}).collect().rows()
    [('h', None, 1500.0), (None, 800.0, 800.0)]
    """
    from profiles.links import LINKED_FIGURES

    names = records.collect_schema().names()
    missing = sorted(c for c in wanted if c not in names)
    if not missing:
        return records
    home_columns = [] if households is None else households.collect_schema().names()
    own: dict[str, str] = {}  # the household's column for each missing one
    for column in missing:
        figure, _, side = column.rpartition(":")
        group, _, name = figure.partition(".")
        source = name if group == "household" else LINKED_FIGURES.get(figure)
        if source is not None and f"{source}:{side}" in home_columns:
            own[column] = f"{source}:{side}"
    if own and "household_id" in names:
        assert households is not None
        homes = households.select(
            "household_id",
            pl.lit(True).alias("__home"),
            *(pl.col(c).alias(f"__{m}") for m, c in own.items()),
        )
        records = records.join(homes, on="household_id", how="left", maintain_order="left")
        found = pl.col("__home").fill_null(False)
    else:
        own, found = {}, pl.lit(False)
    fills = []
    for column in missing:
        figure = column.rpartition(":")[0]
        itself = pl.col(figure) if figure in names else pl.lit(None)
        if column in own:
            fills.append(pl.when(found).then(pl.col(f"__{column}")).otherwise(itself).alias(column))
        else:
            fills.append(itself.alias(column))
    dropped = ["__home", *(f"__{m}" for m in own)] if own else []
    return records.with_columns(fills).drop(dropped)
