"""Exact numbers: the one numeric semantics shared by the compiler and the per-record evaluator.

Every number in a rule is a decimal with six places (micro-units; plenty for CNY and rates).
Field values are rounded to six places when read; ``+`` and ``-`` are exact; ``*`` and ``/``
round half-to-even to six places; ``//`` and ``%`` floor, as in Python; dividing by zero is
unknown.  Integer fields compared or combined with integers stay integers.  A benefit amount is
rounded to fen (two places) half away from zero (四舍五入).

>>> to_number(0.1) + to_number(0.2) == to_number(0.3)
True
>>> money(Decimal("1.005")), money(Decimal("-2.5"))
(Decimal('1.01'), Decimal('-2.50'))
>>> divide(Decimal(2), Decimal(3)), divide(Decimal(1), Decimal(0)) is None
(Decimal('0.666667'), True)
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Final

import polars as pl

__all__ = [
    "DECIMAL",
    "MONEY",
    "SCALE",
    "divide",
    "floor_divide",
    "modulo",
    "money",
    "multiply",
    "to_number",
]

SCALE: Final = 6
DECIMAL: Final = pl.Decimal(38, SCALE)
MONEY: Final = pl.Decimal(18, 2)
_QUANTUM = Decimal(1).scaleb(-SCALE)
_FEN = Decimal("0.01")


def to_number(value: float | int | Decimal) -> Decimal:
    """A field's or literal's value as a six-place decimal (exact binary value, half-even)."""
    if isinstance(value, bool):
        raise TypeError("booleans are not numbers")
    return Decimal(value).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def multiply(a: Decimal, b: Decimal) -> Decimal:
    return (a * b).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def divide(a: Decimal, b: Decimal) -> Decimal | None:
    if b == 0:
        return None
    return (a / b).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def floor_divide(a: Decimal, b: Decimal) -> Decimal | None:
    if b == 0:
        return None
    quotient = (a / b).to_integral_value(rounding="ROUND_FLOOR")
    return quotient.quantize(_QUANTUM)


def modulo(a: Decimal, b: Decimal) -> Decimal | None:
    if b == 0:
        return None
    q = floor_divide(a, b)
    assert q is not None
    return (a - q * b).quantize(_QUANTUM)


def money(value: Decimal) -> Decimal:
    """An amount rounded to fen, half away from zero."""
    rounded = abs(value).quantize(_FEN, rounding=ROUND_HALF_UP)
    return rounded if value >= 0 else -rounded
