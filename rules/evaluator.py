"""Evaluate a checked rule for one record, with the compiler's semantics (``rules.numbers``).

``None`` is unknown.  Logic is Kleene's: ``and`` is false if either side is false, unknown if
either is unknown, else true; ``or`` dually; ``not`` of unknown is unknown; every comparison,
arithmetic operation, ``in`` and regex match with an unknown operand is unknown; a ternary with
an unknown condition is unknown.  Regular expressions run on RE2 (``rules.regex``), in time
linear in the text, as the compiler's do on Rust's engine; and one evaluation stops with
:class:`~rules.errors.EvaluationTimeLimitError` past its deadline (``EVALUATION_SECONDS`` by
default), so no rule stalls the thread that evaluates it.

>>> from datetime import date
>>> from profiles.schema import load_schema
>>> from rules.language import parse_rule
>>> rule = parse_rule("age >= 80 or monthly_income < 3000", load_schema().resident)
>>> evaluate(rule, {"age": 85, "monthly_income": None}, as_of=date(2026, 1, 1))
True
>>> evaluate(rule, {"age": 70, "monthly_income": None}, as_of=date(2026, 1, 1)) is None
True
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import rule_engine.ast as rast

from rules.errors import EvaluationTimeLimitError
from rules.groups import (
    AGGREGATES,
    EMPLOYEES,
    HOUSEHOLD,
    HOUSEHOLD_PREFIX,
    MEMBERS,
    Aggregate,
    bounded,
    bounded_figure,
    count_comparison,
    figure_comparison,
    greatest,
    is_current_employment,
    least,
    row_known_by_rule,
    value_range,
)
from rules.language import Rule, literal_value
from rules.numbers import divide, floor_divide, modulo, money, multiply, to_number
from rules.parameters import PREFIX, active, bracket_amount, is_parameter
from rules.regex import matches

__all__ = [
    "EVALUATION_SECONDS",
    "deadline_after",
    "evaluate",
    "evaluate_benefit",
    "evaluate_node",
    "figure_bounds",
    "group_rows",
    "kleene_aggregate",
]

EVALUATION_SECONDS = 1.0  # one rule for one subject takes microseconds; this is a guard
_CHECK_EVERY = 64  # nodes between looks at the clock

_ARITHMETIC_NODES = (rast.AddExpression, rast.SubtractExpression, rast.ArithmeticExpression)


def _kleene_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _kleene_or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _as_date(value: Any) -> Any:
    return value.date() if isinstance(value, datetime) else value


def deadline_after(seconds: float) -> float:
    """The ``time.monotonic()`` reading ``seconds`` from now, for ``deadline=``."""
    return time.monotonic() + seconds


class _Evaluator:
    def __init__(self, rule: Rule, record: Mapping[str, Any], as_of: date, deadline: float) -> None:
        self.rule = rule
        self.record = record
        self.as_of = as_of
        self.deadline = deadline
        self.steps = 0

    def _tick(self) -> None:
        self.steps += 1
        if self.steps % _CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            text = self.rule.text if len(self.rule.text) <= 60 else self.rule.text[:57] + "..."
            raise EvaluationTimeLimitError(
                f"evaluating the {self.rule.kind} rule {text!r} for one subject ran past its "
                "time limit; simplify the rule (fewer terms, shorter lists)"
            )

    def number(self, node: Any, value: Any) -> Any:
        """Integers stay integers only where the checker typed the node as integer."""
        if value is None:
            return None
        if self.rule.type_of(node).integer:
            return int(value)
        return to_number(value)

    def value(self, node: Any) -> Any:
        self._tick()
        rtype = self.rule.type_of(node)
        if isinstance(node, rast.SymbolExpression):
            if is_parameter(node.name):  # the amount in force on the as-of date
                return active().amount(node.name.removeprefix(PREFIX), self.as_of)
            if node.scope == "built-in":
                return self.as_of
            return self._read(node, self.record.get(node.name))
        if isinstance(node, rast.GetAttributeExpression | rast.FunctionCallExpression):
            return self._group(node)
        if isinstance(node, rast.GetItemExpression):  # parameters.x[index]: a bracket
            version = active().version(node.container.name.removeprefix(PREFIX), self.as_of)
            return bracket_amount(version, self.value(node.item))
        if isinstance(node, rast.LiteralExpressionBase):
            literal = literal_value(node)
            return self.number(node, literal) if rtype.kind == "number" else literal
        if isinstance(node, rast.LogicExpression):
            left, right = self.value(node.left), self.value(node.right)
            return _kleene_and(left, right) if node.type == "and" else _kleene_or(left, right)
        if isinstance(node, rast.UnaryExpression):
            inner = self.value(node.right)
            if inner is None:
                return None
            return (not inner) if node.type == "not" else -inner
        if isinstance(node, rast.FuzzyComparisonExpression):
            subject = self.value(node.left)
            if subject is None:
                return None
            anchored = node.type.endswith("fzm")  # =~ and !~ match at the start
            found = matches(str(node.right.value), str(subject), anchored=anchored)
            return found == node.type.startswith("eq")
        if isinstance(node, rast.ComparisonExpression):
            return self._compare(node)
        if isinstance(node, _ARITHMETIC_NODES):
            return self._arithmetic(node)
        if isinstance(node, rast.ContainsExpression):
            member = self.value(node.member)
            container = self.value(node.container)
            if member is None or container is None:
                return None
            if isinstance(member, int | Decimal) and not isinstance(member, bool):
                return to_number(member) in {to_number(v) for v in container}
            return member in container
        if isinstance(node, rast.TernaryExpression):
            condition = self.value(node.condition)
            if condition is None:
                return None
            chosen = node.case_true if condition else node.case_false
            result = self.value(chosen)
            if rtype.kind == "number" and not rtype.integer and result is not None:
                return to_number(result)
            return result
        raise AssertionError(f"the checker let through {type(node).__name__}")  # pragma: no cover

    def _read(self, node: Any, raw: Any) -> Any:
        """A field's stored value as the rule's type reads it."""
        rtype = self.rule.type_of(node)
        if raw is None:
            return None
        if rtype.kind == "number":
            return self.number(node, raw)
        if rtype.kind == "date":
            return _as_date(raw)
        if rtype.kind == "tags":
            return tuple(raw)
        return raw

    def _compare(self, node: Any) -> bool | None:
        counted = count_comparison(node)
        if counted is not None:
            return self._count_compared(*counted)
        left, right = self.value(node.left), self.value(node.right)
        if left is None or right is None:
            figure = figure_comparison(self.rule.entity, node)
            if figure is not None and (right is not None or left is not None):
                return self._figure_compared(*figure)
            return None
        if isinstance(left, int | Decimal) and not isinstance(left, bool):
            left, right = Decimal(left), Decimal(right)
        match node.type:
            case "eq":
                return bool(left == right)
            case "ne":
                return bool(left != right)
            case "gt":
                return bool(left > right)
            case "ge":
                return bool(left >= right)
            case "lt":
                return bool(left < right)
            case _:
                return bool(left <= right)

    def _arithmetic(self, node: Any) -> Any:
        left, right = self.value(node.left), self.value(node.right)
        if left is None or right is None:
            return None
        op = node.type
        if isinstance(left, str):
            return left + right
        if isinstance(left, date):  # a date moved by whole days
            days = timedelta(days=int(right))
            return left + days if op == "add" else left - days
        integer = self.rule.type_of(node).integer
        if not integer or op == "tdiv":
            left, right = to_number(left), to_number(right)
        if op == "add":
            return left + right
        if op == "sub":
            return left - right
        if op == "mul":
            return left * right if integer else multiply(left, right)
        if op == "tdiv":
            return divide(left, right)
        if right == 0:
            return None
        if integer:
            return left // right if op == "fdiv" else left % right
        return floor_divide(left, right) if op == "fdiv" else modulo(left, right)

    # rules over groups (rules.groups): the record carries its household and members, or its
    # employments, under reserved keys; an absent one is unknown

    def _count_compared(self, count: Any, other: Any, op: str) -> bool | None:
        """``count OP other``, settled by the count's bounds where they agree."""
        conditions = self._conditions(count)
        x = self.value(other)
        if conditions is None or x is None:
            return None
        low = sum(1 for c in conditions if c is True)
        high = low + sum(1 for c in conditions if c is None)
        holds, fails = bounded(op, Decimal(low), Decimal(high), Decimal(x))
        return True if holds else (False if fails else None)

    def _figure_compared(self, figure: Any, other: Any, op: str) -> bool | None:
        """``figure OP other`` with the figure unknown: settled by its bounds where they
        settle it (``rules.groups.bounded``; no bound is infinite)."""
        x = self.value(other)
        if x is None:
            return None
        low, high = self._bounds(figure)
        if low is None and high is None:
            return None
        lo = Decimal("-Infinity") if low is None else to_number(low)
        hi = Decimal("Infinity") if high is None else to_number(high)
        holds, fails = bounded(op, lo, hi, Decimal(x))
        return True if holds else (False if fails else None)

    def _bounds(self, figure: Any) -> tuple[Any, Any]:
        """The least and greatest values an unknown figure may have (None: no bound)."""
        from profiles.links import LINKED_FIGURES

        column = bounded_figure(self.rule.entity, figure)
        if column is None:
            return self._sum_bounds(figure)
        if column.startswith(f"{HOUSEHOLD_PREFIX}."):
            home, name = self.record.get(HOUSEHOLD), column.split(".", 1)[1]
        elif least(column) in self.record or column not in LINKED_FIGURES:
            home, name = self.record, column
        else:  # a resident's figure is its household's (profiles.links)
            home, name = self.record.get(HOUSEHOLD), LINKED_FIGURES[column]
        if home is None:
            return None, None
        return home.get(least(name)), home.get(greatest(name))

    def _sum_bounds(self, node: Any) -> tuple[Any, Any]:
        """A sum's bounds over its rows: a row whose condition is unknown adds between 0 and
        its value; an unknown value counts as its field's declared min and max."""
        from profiles.schema import load_schema

        agg = AGGREGATES[node.function.name]
        rows = group_rows(self.record, agg, self.as_of)
        if rows is None:
            return None, None
        value_node, *rest = node.arguments
        span = value_range(load_schema(), agg.group, value_node)
        totals: list[Any] = [Decimal(0), Decimal(0)]
        for row in rows:
            inner = _Evaluator(self.rule, row, self.as_of, self.deadline)
            inner.steps = self.steps
            c = True if not rest else inner.value(rest[0])
            v = inner.value(value_node) if c is not False else 0
            self.steps = inner.steps
            for side, pick in ((0, min), (1, max)):
                if totals[side] is None:
                    continue
                w = v if v is not None else span[side]
                if w is None:
                    totals[side] = None
                    continue
                w = to_number(w)
                totals[side] += pick(Decimal(0), w) if c is None else w
        return totals[0], totals[1]

    def _conditions(self, node: Any) -> list[bool | None] | None:
        """Each row's condition of the aggregate ``node`` (None: its rows are unknown)."""
        agg = AGGREGATES[node.function.name]
        rows = group_rows(self.record, agg, self.as_of)
        if rows is None:
            return None
        condition = node.arguments[-1] if node.arguments and not agg.takes_value else None
        out: list[bool | None] = []
        for row in rows:
            inner = _Evaluator(self.rule, row, self.as_of, self.deadline)
            inner.steps = self.steps
            c = True if condition is None else inner.value(condition)
            out.append(None if c is None else bool(c))
            self.steps = inner.steps
        return out

    def _group(self, node: Any) -> Any:
        if isinstance(node, rast.GetAttributeExpression):
            household = self.record.get(HOUSEHOLD)
            return None if household is None else self._read(node, household.get(node.name))
        agg = AGGREGATES[node.function.name]
        rows = group_rows(self.record, agg, self.as_of)
        if rows is None:
            return None
        args = list(node.arguments)
        value_node = args.pop(0) if agg.takes_value else None
        condition_node = args[0] if args else None
        conditions: list[bool | None] = []
        values: list[Any] = []
        for row in rows:
            inner = _Evaluator(self.rule, row, self.as_of, self.deadline)
            inner.steps = self.steps
            c = True if condition_node is None else inner.value(condition_node)
            conditions.append(None if c is None else bool(c))
            if value_node is not None and c:
                values.append(inner.value(value_node))
            self.steps = inner.steps
        return kleene_aggregate(agg, conditions, values)


def group_rows(
    record: Mapping[str, Any], agg: Aggregate, as_of: date
) -> Sequence[Mapping[str, Any]] | None:
    """The rows ``agg`` ranges over for ``record``: its household's members, or its current
    employments (``rules.groups.is_current_employment``), with what each knows by rule
    (``rules.groups.row_known_by_rule``); None when unknown."""
    if agg.group == "members":
        members: Sequence[Mapping[str, Any]] | None = record.get(MEMBERS)
        return None if members is None else [row_known_by_rule(m) for m in members]
    employments = record.get(EMPLOYEES)
    if employments is None:
        return None
    return [row_known_by_rule(r) for r in employments if is_current_employment(r, as_of)]


def kleene_aggregate(
    agg: Aggregate, conditions: Sequence[bool | None], values: Sequence[Any]
) -> Any:
    """``agg`` over rows whose conditions are ``conditions`` and whose values (of the rows
    whose condition holds) are ``values``; the same rules as ``rules.group_frames``.

    >>> count = AGGREGATES["members_count"]
    >>> kleene_aggregate(count, [True, False, True], []), kleene_aggregate(count, [True, None], [])
    (2, None)
    >>> kleene_aggregate(AGGREGATES["any_member"], [None, True], [])
    True
    """
    unknown = any(c is None for c in conditions)
    if agg.op == "count":
        return None if unknown else sum(1 for c in conditions if c)
    if agg.op == "any":
        return True if any(c is True for c in conditions) else (None if unknown else False)
    if agg.op == "all":
        return False if any(c is False for c in conditions) else (None if unknown else True)
    if unknown or any(v is None for v in values):
        return None
    if agg.op == "sum":
        return sum(values[1:], start=values[0]) if values else 0
    if not values:
        return None
    return min(values) if agg.op == "min" else max(values)


def evaluate_node(
    rule: Rule,
    node: Any,
    record: Mapping[str, Any],
    *,
    as_of: date,
    deadline: float | None = None,
) -> Any:
    """The value of one sub-expression of ``rule`` for ``record``.

    ``deadline`` is a ``time.monotonic()`` reading (see :func:`deadline_after`); by default
    ``EVALUATION_SECONDS`` from now.
    """
    if deadline is None:
        deadline = deadline_after(EVALUATION_SECONDS)
    return _Evaluator(rule, record, as_of, deadline).value(node)


def figure_bounds(
    rule: Rule, node: Any, record: Mapping[str, Any], *, as_of: date
) -> tuple[Any, Any]:
    """The least and greatest an unknown figure ``node`` of ``rule`` may be for ``record``
    (``rules.groups.bounded_figure``, or a sum over members or staff); None where unbounded.

    >>> from profiles.schema import load_schema
    >>> from rules.language import parse_rule
    >>> rule = parse_rule("income_per_capita < 1450", load_schema().entity("household"))
    >>> home = {"income_per_capita": None, "income_per_capita:least": 1500.0}
    >>> figure_bounds(rule, rule.expression.left, home, as_of=date(2026, 1, 1))
    (1500.0, None)
    """
    return _Evaluator(rule, record, as_of, deadline_after(EVALUATION_SECONDS))._bounds(node)


def evaluate(
    rule: Rule, record: Mapping[str, Any], *, as_of: date, deadline: float | None = None
) -> bool | None:
    """True, False, or None (unknown) for an eligibility rule."""
    result = evaluate_node(rule, rule.expression, record, as_of=as_of, deadline=deadline)
    return None if result is None else bool(result)


def evaluate_benefit(
    rule: Rule, record: Mapping[str, Any], *, as_of: date, deadline: float | None = None
) -> Decimal | None:
    """The amount of a benefit rule in CNY, exact to the fen, or None when unknown."""
    result = evaluate_node(rule, rule.expression, record, as_of=as_of, deadline=deadline)
    return None if result is None else money(to_number(result))
