"""The words of rules over groups: a household's fields, and aggregates over members or staff.

A resident rule reads its household's fields as ``household.x`` (家庭.x) and aggregates over the
household's members as ``household.members_count(cond)`` (家庭.成员数(…)); a household rule
(audience ``household``) writes the same without the prefix; an enterprise rule aggregates over
its current employments, each read together with the employee's resident fields
(``employees_count(hired_on >= $today - 365 and age <= 24)``).  One table of aggregates serves
the checker, the compiler, the evaluator and the explainer, so the words mean one thing.

>>> AGGREGATES["成员数"].name, AGGREGATES["members_count"].op
('members_count', 'count')
>>> [a.name for a in aggregates_of("employees")][:3]
['employees_count', 'employees_sum', 'employees_min']

A subject's groups travel with its record (the per-subject path) under reserved keys, so nothing
collides with a field name: ``record[HOUSEHOLD]`` the household's fields, ``record[MEMBERS]`` the
members' records (the subject among them), ``record[EMPLOYEES]`` the firm's employments, each
merged with its employee's resident record.  A key that is absent is unknown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import polars as pl
import rule_engine.ast as rast

from profiles.schema import Field, Schema

__all__ = [
    "AGGREGATES",
    "EMPLOYEES",
    "GROUP_WORDS",
    "HOUSEHOLD",
    "HOUSEHOLD_PREFIX",
    "MEMBERS",
    "Aggregate",
    "AggregateOp",
    "Group",
    "aggregates_of",
    "bounded",
    "bounded_figure",
    "count_comparison",
    "current_employment",
    "figure_comparison",
    "greatest",
    "group_field",
    "is_current_employment",
    "known_by_rule",
    "least",
    "row_known_by_rule",
    "value_range",
]

Group = Literal["members", "employees"]
AggregateOp = Literal["count", "sum", "min", "max", "any", "all"]

HOUSEHOLD = "@household"
MEMBERS = "@members"
EMPLOYEES = "@employees"
HOUSEHOLD_PREFIX = "household"  # ``household.income_per_capita`` in a resident rule


@dataclass(frozen=True)
class Aggregate:
    """One aggregate function of the rule language.

    ``takes_value``: sum/min/max take a member expression first, then an optional condition;
    count/any/all take only the condition (count's is optional: all members).
    """

    name: str
    zh: str
    group: Group
    op: AggregateOp
    en: str
    zh_words: str

    @property
    def takes_value(self) -> bool:
        return self.op in ("sum", "min", "max")

    @property
    def result(self) -> str:
        """The kind of value it gives: number (count/sum/min/max) or boolean (any/all)."""
        return "boolean" if self.op in ("any", "all") else "number"

    @property
    def usage(self) -> str:
        if self.takes_value:
            return f"{self.name}(value, condition)"
        return f"{self.name}(condition)"


def _table() -> dict[str, Aggregate]:
    rows = [
        ("members_count", "成员数", "members", "count", "members counted", "符合条件的成员人数"),
        ("members_sum", "成员合计", "members", "sum", "the members' total of", "成员合计"),
        ("members_min", "成员最小", "members", "min", "members' least", "成员最小"),
        ("members_max", "成员最大", "members", "max", "members' greatest", "成员最大"),
        ("any_member", "任一成员", "members", "any", "some member", "有成员"),
        ("all_members", "全体成员", "members", "all", "every member", "全体成员"),
        ("employees_count", "员工数", "employees", "count", "employees counted", "符合条件员工数"),
        ("employees_sum", "员工合计", "employees", "sum", "the employees' total of", "员工合计"),
        ("employees_min", "员工最小", "employees", "min", "employees' least", "员工最小"),
        ("employees_max", "员工最大", "employees", "max", "employees' greatest", "员工最大"),
        ("any_employee", "任一员工", "employees", "any", "some employee", "有员工"),
        ("all_employees", "全体员工", "employees", "all", "every employee", "全体员工"),
    ]  # fmt: skip
    table: dict[str, Aggregate] = {}
    for name, zh, group, op, en, words in rows:
        agg = Aggregate(name, zh, group, op, en, words)  # type: ignore[arg-type]
        table[name] = agg
        table[zh] = agg
    return table


AGGREGATES: Mapping[str, Aggregate] = _table()
# Chinese words for the group vocabulary, rewritten to their names before parsing
GROUP_WORDS: Mapping[str, str] = {"家庭": HOUSEHOLD_PREFIX} | {
    a.zh: a.name for a in AGGREGATES.values()
}


def aggregates_of(group: Group) -> list[Aggregate]:
    """The aggregates over ``group``, each once, in the table's order."""
    seen: dict[str, Aggregate] = {}
    for agg in AGGREGATES.values():
        if agg.group == group:
            seen.setdefault(agg.name, agg)
    return list(seen.values())


def current_employment(as_of: date) -> pl.Expr:
    """Whether an employment row is current on ``as_of``: hired on or before it and not yet
    left (``left_on`` is null while employed), as ``profiles.links.current_employments``
    counts a firm's ``employees``.  Employee aggregates range over these rows only; the same
    rule as :func:`is_current_employment`."""
    hired = pl.col("hired_on")
    left = pl.col("left_on")
    return (hired <= as_of).fill_null(False) & (left.is_null() | (left > as_of))


def is_current_employment(row: Mapping[str, Any], as_of: date) -> bool:
    """:func:`current_employment` for one row.

    >>> is_current_employment({"hired_on": date(2025, 1, 1), "left_on": None}, date(2026, 1, 1))
    True
    >>> is_current_employment({"hired_on": date(2025, 1, 1), "left_on": date(2026, 1, 1)},
    ...                       date(2026, 1, 1))
    False
    """
    hired, left = row.get("hired_on"), row.get("left_on")
    return hired is not None and hired <= as_of and (left is None or left > as_of)


def known_by_rule(columns: Collection[str]) -> list[pl.Expr]:
    """What a group's row knows by rule though nothing is recorded: a member under 16 with no
    income recorded earns 0 (``profiles.links.EARNS_BY_RULE_UNDER``, as a household's income
    counts it), so ``members_sum(monthly_income)`` agrees with ``household.income_total``.
    The expressions for a frame of rows with ``columns``; :func:`row_known_by_rule` for one."""
    from profiles.links import EARNS_BY_RULE_UNDER

    if not {"monthly_income", "age"} <= set(columns):
        return []
    income = pl.col("monthly_income")
    young = (pl.col("age") < EARNS_BY_RULE_UNDER).fill_null(False)
    return [pl.when(income.is_null() & young).then(0.0).otherwise(income).alias("monthly_income")]


def row_known_by_rule(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """:func:`known_by_rule` for one row.

    >>> row_known_by_rule({"age": 9, "monthly_income": None})["monthly_income"]
    0.0
    >>> row_known_by_rule({"age": None, "monthly_income": None})["monthly_income"] is None
    True
    """
    from profiles.links import EARNS_BY_RULE_UNDER

    age = row.get("age")
    if row.get("monthly_income") is None and age is not None and age < EARNS_BY_RULE_UNDER:
        return {**row, "monthly_income": 0.0}
    return row


# -- a count's bounds ------------------------------------------------------------------------
# A count over rows some of whose conditions are unknown is unknown, but it lies between its
# true rows (least) and its true and unknown rows (greatest); a comparison of it with a number
# is settled when both bounds settle it alike (a household with a known baby has at least one
# member under 3, whatever its other members' ages).

_FLIP = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge", "eq": "eq", "ne": "ne"}


def least(column: str) -> str:
    """The column of a count's least value (its true rows), or a bounded figure's
    (``profiles.links.lower_bound``: one naming for both)."""
    from profiles.links import lower_bound

    return lower_bound(column)


def greatest(column: str) -> str:
    """The column of a count's greatest value (its true and unknown rows), or a bounded
    figure's (``profiles.links.upper_bound``)."""
    from profiles.links import upper_bound

    return upper_bound(column)


def count_comparison(node: Any) -> tuple[Any, Any, str] | None:
    """``(count, other, op)`` when ``node`` compares a count aggregate with something, read
    count-first (``1 <= members_count(c)`` is ``members_count(c) >= 1``); else None."""
    if not isinstance(node, rast.ComparisonExpression) or node.type not in _FLIP:
        return None
    for count, other, op in ((node.left, node.right, node.type),
                             (node.right, node.left, _FLIP[node.type])):  # fmt: skip
        if isinstance(count, rast.FunctionCallExpression):
            name = getattr(count.function, "name", "")
            if name in AGGREGATES and AGGREGATES[name].op == "count":
                return count, other, op
    return None


# -- a figure's bounds -----------------------------------------------------------------------
# The same holds for a sum over members of a field with a declared range (``min``/``max`` in the
# schema): an unknown income is at least 0, so a household whose known incomes already reach
# the threshold is over it whatever the others earn.  The links carry these bounds beside a
# household's income_total and income_per_capita and (through LINKED_FIGURES) a resident's
# household_income_per_capita; a sum aggregate's are computed with it (rules.group_frames).


def _is_sum(node: Any) -> bool:
    if not isinstance(node, rast.FunctionCallExpression):
        return False
    name = getattr(node.function, "name", "")
    return name in AGGREGATES and AGGREGATES[name].op == "sum"


def bounded_figure(entity: str, node: Any) -> str | None:
    """The column whose bounds a figure read by a rule of ``entity`` carries: a resident's
    ``household_income_per_capita``, a household's ``income_total`` or ``income_per_capita``
    (as ``household.x`` in a resident rule); else None.

    >>> import rule_engine
    >>> expr = rule_engine.Rule("household.income_per_capita < 1").statement.expression
    >>> bounded_figure("resident", expr.left), bounded_figure("resident", expr.right)
    ('household.income_per_capita', None)
    """
    from profiles.links import BOUNDED_AGGREGATES, LINKED_FIGURES

    if isinstance(node, rast.SymbolExpression) and node.scope != "built-in":
        if entity == "resident" and node.name in LINKED_FIGURES:
            return str(node.name)
        if entity == "household" and node.name in BOUNDED_AGGREGATES:
            return str(node.name)
    named = isinstance(node, rast.GetAttributeExpression) and node.name in BOUNDED_AGGREGATES
    if named and entity == "resident":
        return f"{HOUSEHOLD_PREFIX}.{node.name}"
    return None


def figure_comparison(entity: str, node: Any) -> tuple[Any, Any, str] | None:
    """``(figure, other, op)`` when ``node`` compares a bounded figure (:func:`bounded_figure`)
    or a sum aggregate with something, read figure-first; else None."""
    if not isinstance(node, rast.ComparisonExpression) or node.type not in _FLIP:
        return None
    for figure, other, op in ((node.left, node.right, node.type),
                              (node.right, node.left, _FLIP[node.type])):  # fmt: skip
        if _is_sum(figure) or bounded_figure(entity, figure) is not None:
            return figure, other, op
    return None


def value_range(schema: Schema, group: Group, value: Any) -> tuple[float | None, float | None]:
    """The declared (min, max) of a sum's value when it is one number field of the group's
    rows; (None, None) when unbounded or not a bare field.

    >>> import rule_engine
    >>> from profiles.schema import load_schema
    >>> field = rule_engine.Rule("monthly_income").statement.expression
    >>> value_range(load_schema(), "members", field)
    (0.0, None)
    """
    if not isinstance(value, rast.SymbolExpression) or value.scope == "built-in":
        return None, None
    found = group_field(schema, f"{group}.{value.name}")
    if found is None or found.type not in ("number", "integer"):
        return None, None
    low = None if found.min is None else float(found.min)
    high = None if found.max is None else float(found.max)
    return low, high


def bounded(op: str, low: Any, high: Any, x: Any) -> tuple[Any, Any]:
    """(holds for certain, fails for certain) of ``count OP x`` with ``low <= count <= high``;
    for numbers or polars expressions alike.

    >>> bounded("ge", 1, 3, 1), bounded("ge", 0, 3, 1), bounded("eq", 2, 2, 2)
    ((True, False), (False, False), (True, False))
    """
    return {
        "ge": (low >= x, high < x),
        "gt": (low > x, high <= x),
        "le": (high <= x, low > x),
        "lt": (high < x, low >= x),
        "eq": ((low == x) & (high == x), (x < low) | (x > high)),
        "ne": ((x < low) | (x > high), (low == x) & (high == x)),
    }[op]


def group_field(schema: Schema, read: str) -> Field | None:
    """The schema field one of ``Rule.groups`` names: ``household.x`` a household's field,
    ``members.x`` a resident's, ``employees.x`` an employment's or else the employee's
    (``members`` alone, an aggregate with no field, names none).

    >>> from profiles.schema import load_schema
    >>> [group_field(load_schema(), r).sensitivity for r in ("household.head_id", "members.age")]
    ['identifier', 'protected']
    """
    group, _, name = read.partition(".")
    if not name:
        return None
    if group == HOUSEHOLD_PREFIX:
        return schema.entity("household").by_name.get(name)
    if group == "employees" and "employment" in schema.entities:
        found = schema.entity("employment").by_name.get(name)
        if found is not None:
            return found
    return schema.resident.by_name.get(name)
