"""A polars aggregate as a number a test can compare.

polars types ``Series.mean()``, ``max()``, ``min()`` and ``item()`` as any Python literal or None
(a date column's maximum is a date; an empty or all-null column gives None), so mypy refuses
``series.mean() > 0.85``. :func:`number` narrows the result to a float and fails the test, naming
what it got, where the aggregate is not a number.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["number"]


def number(value: object) -> float:
    """``value`` (a polars aggregate over a numeric or boolean column) as a float.

    >>> import polars as pl
    >>> number(pl.Series([True, False, True, True]).mean())
    0.75
    >>> number(pl.Series([3, 7]).max())
    7.0
    >>> number(pl.Series([], dtype=pl.Int64).mean())
    Traceback (most recent call last):
    ...
    AssertionError: expected a number from the aggregate, got None (an empty or all-null column?)
    """
    if isinstance(value, int | float | Decimal):
        return float(value)
    raise AssertionError(
        f"expected a number from the aggregate, got {value!r}"
        + (" (an empty or all-null column?)" if value is None else "")
    )
