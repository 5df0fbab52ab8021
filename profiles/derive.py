"""Derived fields (``age``, ``age_years``): computed at the as-of date, never read from input.

The schema marks a field ``derived: {from: F, as: whole_years}``; :func:`with_derived` adds every
such column to a frame, so rules read ``age`` as of the run's date rather than of the wall clock.

>>> import polars as pl
>>> from datetime import date
>>> from profiles.schema import load_schema
>>> frame = pl.LazyFrame({"birth_date": [date(1946, 5, 2), date(1946, 5, 3), None]})
>>> out = with_derived(frame, load_schema().resident, as_of=date(2026, 5, 2)).collect()
>>> out["age"].to_list()
[80, 79, None]
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import polars as pl

from profiles.schema import Entity

__all__ = ["derive_record", "whole_years", "whole_years_between", "with_derived"]


def whole_years(column: str, as_of: date) -> pl.Expr:
    """Whole years from the date in ``column`` to ``as_of`` (a birthday counts on its day).

    Someone born on 29 February turns a year older on 1 March in common years.
    """
    born = pl.col(column)
    before_anniversary = (born.dt.month().cast(pl.Int32) * 100 + born.dt.day().cast(pl.Int32)) > (
        as_of.month * 100 + as_of.day
    )
    return (
        pl.lit(as_of.year, pl.Int64)
        - born.dt.year().cast(pl.Int64)
        - before_anniversary.cast(pl.Int64)
    )


def with_derived(frame: pl.LazyFrame, entity: Entity, *, as_of: date) -> pl.LazyFrame:
    """``frame`` with every derived field of ``entity`` computed at ``as_of``.

    A source column the frame lacks makes the derived field unknown (null) for every record.
    """
    present = set(frame.collect_schema().names())
    columns = []
    for field in entity.derived_fields:
        assert field.derived_from is not None
        if field.from_links:  # aggregates over members: profiles.links
            continue
        if field.derived_from in present:
            expr = whole_years(field.derived_from, as_of)
        else:
            expr = pl.lit(None, dtype=field.polars_dtype)
        columns.append(expr.cast(field.polars_dtype).alias(field.name))
    return frame.with_columns(columns) if columns else frame


def whole_years_between(born: date, on: date) -> int:
    """The same rule as :func:`whole_years`, for one value.

    >>> whole_years_between(date(2000, 2, 29), date(2026, 2, 28))
    25
    """
    return on.year - born.year - ((born.month, born.day) > (on.month, on.day))


def derive_record(record: Mapping[str, Any], entity: Entity, *, as_of: date) -> dict[str, Any]:
    """``record`` with ``entity``'s derived fields computed at ``as_of`` (one subject)."""
    full = dict(record)
    for field in entity.derived_fields:
        if field.from_links:  # aggregates over members: profiles.links
            continue
        source = record.get(field.derived_from or "")
        if isinstance(source, datetime):
            source = source.date()
        full[field.name] = whole_years_between(source, as_of) if source is not None else None
    return full
