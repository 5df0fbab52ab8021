"""Aggregates over groups, columnar: one group-by over the members (or employments) per batch.

A rule's aggregates (:func:`rules.compiler.compile_groups`) are computed by :func:`aggregate`
over a frame of group rows (a household's members, a firm's current employments each joined
with its employee's resident fields), one row per group key, and joined to the subjects by
:func:`attach`.  Unknown is not false, in Kleene's sense, over every row of a group:

- ``count(c)``: the number of rows where ``c`` is true; unknown if ``c`` is unknown for any row
  (the count is then not known, whatever the known rows say);
- ``sum(v, c)``: the total of ``v`` over rows where ``c`` is true; unknown if any row's ``c``
  is unknown, or ``c`` is true and ``v`` unknown; 0 over no rows;
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
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from rules.compiler import GroupAggregate
from rules.groups import current_employment

__all__ = ["aggregate", "attach", "employee_rows", "empty_value"]


def _kleene(agg: GroupAggregate) -> pl.Expr:
    """The aggregate's expression inside a group-by (Kleene over the group's rows)."""
    # one value per row even where the rule wrote a literal (members_min(42), no condition)
    row = pl.int_range(pl.len()) >= 0
    c = row if agg.condition is None else agg.condition & row
    unknown_c = c.is_null().any()
    match agg.op:
        case "count":
            counted = c.fill_null(False).cast(pl.Int64).sum()
            return pl.when(unknown_c).then(None).otherwise(counted).cast(pl.Int64)
        case "any":
            return (
                pl.when(c.fill_null(False).any()).then(True).when(unknown_c).then(None)
                .otherwise(False)
            )  # fmt: skip
        case "all":
            return (
                pl.when((~c).fill_null(False).any()).then(False).when(unknown_c).then(None)
                .otherwise(True)
            )  # fmt: skip
    assert agg.value is not None
    v = pl.when(row).then(agg.value)
    unknown = (c.is_null() | (c.fill_null(False) & v.is_null())).any()
    chosen = v.filter(c.fill_null(False))
    if agg.op == "sum":
        total = chosen.sum()
    elif agg.op == "min":
        total = chosen.min()
    else:
        total = chosen.max()
    return pl.when(unknown).then(None).otherwise(total)


def _rows(key: str) -> str:
    return f"__rows:{key}"


def aggregate(rows: pl.LazyFrame, key: str, aggregates: Sequence[GroupAggregate]) -> pl.LazyFrame:
    """One row per ``key`` with a column per aggregate (rows with an unknown key left out)."""
    return (
        rows.filter(pl.col(key).is_not_null())
        .group_by(key)
        .agg(pl.len().alias(_rows(key)), *(_kleene(a).alias(a.column) for a in aggregates))
    )


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
        return subjects.with_columns(pl.lit(None).alias(a.column) for a in aggregates)
    joined = subjects.join(aggregated, on=key, how="left", coalesce=True, maintain_order="left")
    no_rows = pl.col(key).is_not_null() & pl.col(_rows(key)).is_null()
    fills = [
        pl.when(no_rows).then(pl.lit(empty)).otherwise(pl.col(a.column)).alias(a.column)
        for a in aggregates
        if (empty := empty_value(a)) is not None
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
