"""What a figure about people shows and what it withholds: the one small-count rule.

Zhida shows aggregates only, and an aggregate of very few people can name them.  A count of
subjects that is positive and under :data:`K_ANONYMITY` (10) is withheld: written ``"<10"``
instead of the number.  Zero is shown (it names nobody).  A cost is a count times a benefit, so
the cost of a withheld count is withheld too, written :data:`HIDDEN` (``"—"``).  A withheld
figure is always a string standing in for the number; a shown one is a number (or, for money,
the decimal text of it), so :func:`is_withheld` tells them apart wherever they are drawn.

Every place a count of subjects leaves Zhida passes through here: the officer's dry-run, the
reach route and its CSV export, the simulation tables, the analyst console and its charts.
Each figure shown about people carries differential-privacy noise first (:func:`noised`, with
the scales of :mod:`simulations.privacy`), and the small-count rule reads the *noisy* figure:
suppressing on the true count would tell which cells are truly small.

>>> suppress(9), suppress(10), suppress(0)
('<10', 10, 0)
>>> cost(3600, eligible=3), cost(36_000, eligible=30), cost(0, eligible=0)
('—', '36000', '0')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, TypeGuard

import polars as pl

__all__ = [
    "HIDDEN",
    "K_ANONYMITY",
    "REACH_COLUMNS",
    "cost",
    "is_small",
    "is_withheld",
    "k_anonymous",
    "money",
    "noised",
    "reach_rows",
    "suppress",
]

# Counts under this many subjects are shown as "<10": a group so small could name a person.
K_ANONYMITY: Final = 10
# What a withheld cost (or another figure that would give a withheld count away) shows.
HIDDEN: Final = "—"

# Integer columns of a reach table that count subjects (the rest are ids, groups and costs).
_COUNT_PREFIXES: Final = ("eligible", "maybe", "newly", "no_longer", "shared")
# The columns of a reach row shown on the analyst console, and which count each cost is of.
_ROW_COUNTS: Final = (
    "eligible_before", "eligible_after", "maybe_after", "newly_eligible", "no_longer_eligible",
    "eligible_unreachable",
)  # fmt: skip
_ROW_COSTS: Final = {"cost_year_before": "eligible_before", "cost_year_after": "eligible_after"}
# The figures of a row from :func:`reach_rows`, in order (counts, then costs).
REACH_COLUMNS: Final = (*_ROW_COUNTS, *_ROW_COSTS)


def noised(values: Sequence[int], scale: float) -> list[int]:
    """Counts or sums (integer fen) as they may be released: each with independent discrete
    Laplace noise of ``scale`` (:func:`simulations.privacy.noisy`), never below zero (a count
    is not negative; the clamp is post-processing and costs no privacy).

    >>> noised([12, 0], 0.0)
    [12, 0]
    >>> all(v >= 0 for v in noised([0] * 50, 20.0))
    True
    """
    from simulations.privacy import noisy

    return [max(0, v) for v in noisy(values, scale)]


def is_small(count: int, k: int = K_ANONYMITY) -> bool:
    """Whether a count of subjects is withheld: positive and under ``k``.

    >>> is_small(1), is_small(9), is_small(10), is_small(0)
    (True, True, False, False)
    """
    return 0 < count < k


def suppress(count: int, k: int = K_ANONYMITY) -> int | str:
    """A count, or ``"<k"`` when it is withheld (positive and under ``k``).

    >>> suppress(3), suppress(3, k=2)
    ('<10', 3)
    """
    return f"<{k}" if is_small(count, k) else count


def is_withheld(value: object) -> TypeGuard[str]:
    """Whether a figure as shown stands in for a withheld number (``"<10"``, ``"—"``).

    >>> is_withheld("<10"), is_withheld(HIDDEN), is_withheld(12), is_withheld(0.5)
    (True, True, False, False)
    """
    return isinstance(value, str)


def money(value: Any) -> str:
    """Yuan as a decimal string to the fen (halves to even); nothing is zero.

    >>> money(1200), money(None), money(12.5), money(0.125)
    ('1200.00', '0.00', '12.50', '0.12')
    """
    return str(Decimal(str(value or 0)).quantize(Decimal("0.01")))


def _plain(value: Any) -> str:
    return str(value or 0)


def cost(
    value: Any, *, eligible: int, k: int = K_ANONYMITY, text: Callable[[Any], str] = _plain
) -> str:
    """A cost written by ``text``, or :data:`HIDDEN` when the count it is of is withheld.

    >>> cost(1200, eligible=12, text=money), cost(1200, eligible=5, text=money)
    ('1200.00', '—')
    """
    return HIDDEN if is_small(eligible, k) else text(value)


def reach_rows(rows: Iterable[Mapping[str, Any]], k: int = K_ANONYMITY) -> list[dict[str, Any]]:
    """Rows of a reach table as the analyst console shows them: counts under ``k`` withheld,
    and the yearly costs of a withheld eligible count hidden too.

    >>> reach_rows([{"dimension": "district", "group": "西城区", "eligible_before": 3,
    ...   "eligible_after": 40, "maybe_after": 0, "newly_eligible": 37, "no_longer_eligible": 0,
    ...   "eligible_unreachable": 2, "cost_year_before": 3600, "cost_year_after": 48000}])[0]
    ... # doctest: +NORMALIZE_WHITESPACE
    {'dimension': 'district', 'group': '西城区', 'eligible_before': '<10', 'eligible_after': 40,
     'maybe_after': 0, 'newly_eligible': 37, 'no_longer_eligible': 0,
     'eligible_unreachable': '<10', 'cost_year_before': '—', 'cost_year_after': '48000'}
    """
    out = []
    for row in rows:
        shown: dict[str, Any] = {"dimension": row.get("dimension"), "group": row.get("group")}
        for name in _ROW_COUNTS:
            shown[name] = suppress(int(row.get(name) or 0), k)
        for name, of in _ROW_COSTS.items():
            shown[name] = cost(row.get(name), eligible=int(row.get(of) or 0), k=k)
        out.append(shown)
    return out


def k_anonymous(frame: pl.DataFrame, k: int = K_ANONYMITY) -> pl.DataFrame:
    """A reach table as it may leave Zhida: subject counts under ``k`` (but not zero) as
    ``"<k"``, the costs of so few eligible as ``"—"``, other columns unchanged.

    A count column is an integer column named ``eligible…``, ``maybe…``, ``newly…``,
    ``no_longer…`` or ``shared…``; a cost column is named ``cost_…`` and is of the eligible
    before (``…_before``), after (``…_after``), or both.

    >>> k_anonymous(pl.DataFrame({"eligible_after": [3, 12, 0],
    ...                           "cost_year_after": [3600, 14400, 0]})).rows()
    [('<10', '—'), ('12', '14400'), ('0', '0')]
    """
    counts = [
        c
        for c, dtype in frame.schema.items()
        if c.startswith(_COUNT_PREFIXES) and dtype.is_integer()
    ]

    def small(column: str) -> pl.Expr:
        if column not in frame.columns:
            return pl.lit(False)
        return (pl.col(column) > 0) & (pl.col(column) < k)

    costs = []
    for c in frame.columns:
        if not c.startswith("cost_"):
            continue
        hide = (
            small("eligible_before") if c.endswith("_before")
            else small("eligible_after") if c.endswith("_after")
            else small("eligible_before") | small("eligible_after")
        )  # fmt: skip
        costs.append(
            pl.when(hide).then(pl.lit(HIDDEN)).otherwise(pl.col(c).cast(pl.String)).alias(c)
        )
    return frame.with_columns(
        *costs,
        *(
            pl.when(small(c)).then(pl.lit(f"<{k}")).otherwise(pl.col(c).cast(pl.String)).alias(c)
            for c in counts
        ),
    )
