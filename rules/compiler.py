"""Compile a checked rule to a polars expression: whole populations at columnar speed.

An eligibility rule becomes a nullable boolean (null = unknown); a benefit rule an amount in
fen-exact ``Decimal(18, 2)`` (null = unknown).  Polars' ``&``, ``|`` and ``~`` on nullable
booleans are Kleene's three-valued logic, and comparisons, arithmetic, ``is_in`` and
``list.contains`` propagate null, which is exactly "unknown in, unknown out"; the ternary is the
one place that needs care (an unknown condition gives an unknown result).  The same
sub-expression compiles to an equal polars expression, so a catalog compiled into one query
shares it (polars' common-subexpression elimination).

>>> import polars as pl
>>> from datetime import date
>>> from profiles.schema import load_schema
>>> from rules.language import parse_rule
>>> rule = parse_rule("age >= 80 and is_veteran", load_schema().resident)
>>> frame = pl.DataFrame({"age": [80, 79, None, 90], "is_veteran": [True, True, False, None]})
>>> frame.select(compile_rule(rule, as_of=date(2026, 1, 1))).to_series().to_list()
[True, False, False, None]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import rule_engine.ast as rast

from profiles.schema import load_schema
from rules.groups import (
    AGGREGATES,
    HOUSEHOLD_PREFIX,
    AggregateOp,
    Group,
    bounded,
    bounded_figure,
    count_comparison,
    figure_comparison,
    greatest,
    least,
    value_range,
)
from rules.language import RType, Rule, literal_value
from rules.numbers import DECIMAL, MONEY, to_number
from rules.parameters import PREFIX, active, bracket_expr, is_parameter

__all__ = ["GroupAggregate", "compile_groups", "compile_rule"]

_CMP = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class _Value:
    expr: pl.Expr
    rtype: RType
    is_literal: bool = False
    literal: Any = None


@dataclass(frozen=True)
class GroupAggregate:
    """One aggregate a rule reads: the subject frame's column ``column`` is ``op`` over the
    group's rows of ``value`` where ``condition`` holds (``rules.group_frames`` computes it).

    ``value`` and ``condition`` are polars expressions over a member (or employment + employee)
    frame; ``None`` means none given (count/any/all; every row).  ``range``: the least and
    the most a sum's ``value`` may be where it is unknown (its field's declared ``min`` and
    ``max``; None where none is), for the sum's bounds.
    """

    column: str
    group: Group
    op: AggregateOp
    value: pl.Expr | None
    condition: pl.Expr | None
    range: tuple[float | None, float | None] = (None, None)


class _Compiler:
    def __init__(self, rule: Rule, as_of: date, *, bounds: bool = False) -> None:
        self.rule = rule
        self.as_of = as_of
        self.bounds = bounds  # the subject frame carries its figures' bounds (profiles.links)
        self.aggregates: dict[str, GroupAggregate] = {}

    def number(self, value: _Value) -> pl.Expr:
        """As a six-place decimal (integers are cast exactly)."""
        if value.is_literal:
            return pl.lit(to_number(value.literal), DECIMAL)
        return value.expr.cast(DECIMAL)

    def compile(self, node: Any) -> _Value:
        rtype = self.rule.type_of(node)
        if isinstance(node, rast.SymbolExpression):
            if is_parameter(node.name):  # before built-ins: the checker marks it one
                return self._parameter(node, rtype)
            if node.scope == "built-in":
                return _Value(pl.lit(self.as_of, pl.Date), rtype, True, self.as_of)
            return _Value(pl.col(node.name), rtype)
        if isinstance(node, rast.GetItemExpression):  # parameters.x[index]: a bracket
            return self._bracket(node, rtype)
        if isinstance(node, rast.GetAttributeExpression | rast.FunctionCallExpression):
            return _Value(self._group(node), rtype)
        if isinstance(node, rast.ArrayExpression):
            return _Value(pl.lit(None), rtype, True, literal_value(node))
        if isinstance(node, rast.LiteralExpressionBase):
            value = literal_value(node)
            if rtype.kind == "number":
                if rtype.integer:
                    return _Value(pl.lit(int(value), pl.Int64), rtype, True, int(value))
                return _Value(pl.lit(to_number(value), DECIMAL), rtype, True, value)
            if rtype.kind == "date":
                return _Value(pl.lit(value, pl.Date), rtype, True, value)
            return _Value(pl.lit(value), rtype, True, value)
        if isinstance(node, rast.LogicExpression):
            left, right = self.compile(node.left).expr, self.compile(node.right).expr
            return _Value(left & right if node.type == "and" else left | right, rtype)
        if isinstance(node, rast.UnaryExpression):
            inner = self.compile(node.right)
            return _Value(~inner.expr if node.type == "not" else -inner.expr, rtype)
        if isinstance(node, rast.FuzzyComparisonExpression):
            return _Value(self._regex(node), rtype)
        if isinstance(node, rast.ComparisonExpression):  # includes ordering comparisons
            return _Value(self._compare(node), rtype)
        if isinstance(
            node, rast.AddExpression | rast.SubtractExpression | rast.ArithmeticExpression
        ):
            return _Value(self._arithmetic(node, rtype), rtype)
        if isinstance(node, rast.ContainsExpression):
            return _Value(self._contains(node), rtype)
        if isinstance(node, rast.TernaryExpression):
            condition = self.compile(node.condition).expr
            a, b = self.compile(node.case_true), self.compile(node.case_false)
            if rtype.kind == "number" and not rtype.integer:
                then, otherwise = self.number(a), self.number(b)
            else:
                then, otherwise = a.expr, b.expr
            expr = pl.when(condition.is_null()).then(None).when(condition).then(then)
            return _Value(expr.otherwise(otherwise), rtype)
        raise AssertionError(f"the checker let through {type(node).__name__}")  # pragma: no cover

    def _parameter(self, node: Any, rtype: RType) -> _Value:
        """The amount in force on the as-of date, as a literal."""
        amount = active().amount(node.name.removeprefix(PREFIX), self.as_of)
        return _Value(pl.lit(amount, DECIMAL), rtype, True, amount)

    def _bracket(self, node: Any, rtype: RType) -> _Value:
        """A scale's or categories' amount for the index, from the version in force."""
        version = active().version(node.container.name.removeprefix(PREFIX), self.as_of)
        index = self.compile(node.item)
        numeric = index.rtype.kind == "number"
        expr = bracket_expr(version, self.number(index) if numeric else index.expr, numeric=numeric)
        return _Value(expr, rtype)

    def _side(self, value: _Value, other: _Value) -> pl.Expr:
        """One side of a comparison, converted so both sides have the same polars type."""
        if value.rtype.kind == "number":
            if value.rtype.integer and other.rtype.integer:
                return value.expr
            return self.number(value)
        if value.rtype.kind == "string" and value.rtype.values and not other.is_literal:
            return value.expr.cast(pl.String)  # enum vs another field: compare as text
        return value.expr

    def _compare(self, node: Any) -> pl.Expr:
        counted = count_comparison(node)
        if counted is not None:
            return self._count_compared(*counted)
        figure = figure_comparison(self.rule.entity, node)
        if figure is not None and (
            self.bounds or bounded_figure(self.rule.entity, figure[0]) is None
        ):
            return self._figure_compared(node, *figure)
        left, right = self.compile(node.left), self.compile(node.right)
        result: pl.Expr = _CMP[node.type](self._side(left, right), self._side(right, left))
        return result

    def _regex(self, node: Any) -> pl.Expr:
        subject = self.compile(node.left).expr.cast(pl.String)
        pattern = str(node.right.value)
        anchored = node.type.endswith("fzm")  # =~ and !~ match at the start, like re.match
        found = subject.str.contains(f"^(?:{pattern})" if anchored else pattern)
        return found if node.type.startswith("eq") else ~found

    def _arithmetic(self, node: Any, rtype: RType) -> pl.Expr:
        left, right = self.compile(node.left), self.compile(node.right)
        if rtype.kind == "string":
            return pl.concat_str(left.expr, right.expr)
        if rtype.kind == "date":  # a date moved by whole days
            days = pl.duration(days=right.literal if right.is_literal else right.expr)
            return left.expr + days if node.type == "add" else left.expr - days
        op = node.type
        if rtype.integer:
            a, b = left.expr, right.expr
        else:
            a, b = self.number(left), self.number(right)
        if op == "add":
            return a + b
        if op == "sub":
            return a - b
        if op == "mul":
            return a * b
        divisor = pl.when(b != 0).then(b)  # dividing by zero is unknown
        if op == "tdiv":
            return self.number(left) / pl.when(self.number(right) != 0).then(self.number(right))
        if op == "fdiv":
            return a // divisor
        return a % divisor

    def _contains(self, node: Any) -> pl.Expr:
        member, container = self.compile(node.member), self.compile(node.container)
        if container.rtype.kind == "tags":
            return container.expr.list.contains(member.expr)
        values = list(container.literal)
        if member.rtype.kind == "number":
            if member.rtype.integer and all(v == int(v) for v in values):
                return member.expr.is_in([int(v) for v in values])
            return self.number(member).is_in(
                pl.Series([to_number(v) for v in values], dtype=DECIMAL)
            )
        if member.rtype.kind == "date":
            return member.expr.is_in(pl.Series(values, dtype=pl.Date))
        return member.expr.is_in(values)

    # rules over groups: a household's field is a column of the subject frame, an aggregate a
    # column computed by a group-by over the members (rules.group_frames) and joined to it

    def _count_compared(self, count: Any, other: Any, op: str) -> pl.Expr:
        """``count OP other``, settled by the count's bounds where they agree."""
        column = self._group(count).meta.output_name()
        x = self.compile(other)
        low, high = pl.col(least(column)), pl.col(greatest(column))
        if x.rtype.integer:
            right = x.expr
        else:
            right, low, high = self.number(x), low.cast(DECIMAL), high.cast(DECIMAL)
        holds, fails = bounded(op, low, high, right)
        return pl.when(holds).then(True).when(fails).then(False).otherwise(None)

    def _figure_compared(self, node: Any, figure: Any, other: Any, op: str) -> pl.Expr:
        """``figure OP other`` as compared, else (the figure unknown) settled by its bounds
        where they settle it."""
        value = self.compile(figure)
        x = self.compile(other)
        plain: pl.Expr = _CMP[op](self._side(value, x), self._side(x, value))
        column = bounded_figure(self.rule.entity, figure) or value.expr.meta.output_name()
        low, high = pl.col(least(column)).cast(DECIMAL), pl.col(greatest(column)).cast(DECIMAL)
        holds, fails = bounded(op, low, high, self.number(x))
        settled = pl.when(holds).then(True).when(fails).then(False).otherwise(None)
        return pl.when(value.expr.is_not_null() | x.expr.is_null()).then(plain).otherwise(settled)

    def _group(self, node: Any) -> pl.Expr:
        if isinstance(node, rast.GetAttributeExpression):
            return pl.col(f"{HOUSEHOLD_PREFIX}.{node.name}")
        function = node.function
        agg = AGGREGATES[function.name]
        inner = _Compiler(self.rule, self.as_of)
        args = list(node.arguments)
        value = None
        span: tuple[float | None, float | None] = (None, None)
        if agg.takes_value:
            value_node = args.pop(0)
            compiled = inner.compile(value_node)
            integer = compiled.rtype.kind != "number" or compiled.rtype.integer
            value = compiled.expr if integer else inner.number(compiled)
            if agg.op == "sum":
                span = value_range(load_schema(), agg.group, value_node)
        condition = inner.compile(args[0]).expr if args else None
        start, end = self.rule.span(node)
        column = f"__{agg.group}:{self.rule.text[start:end]}"
        self.aggregates[column] = GroupAggregate(column, agg.group, agg.op, value, condition, span)
        return pl.col(column)


def compile_groups(rule: Rule, *, as_of: date) -> tuple[GroupAggregate, ...]:
    """The aggregates ``rule`` reads, each named by the column its compiled expression reads.

    >>> from profiles.schema import load_schema
    >>> from rules.language import parse_rule
    >>> rule = parse_rule("members_count(age < 3) >= 1", load_schema().entity("household"))
    >>> [(a.column, a.group, a.op) for a in compile_groups(rule, as_of=date(2026, 1, 1))]
    [('__members:members_count(age < 3)', 'members', 'count')]
    """
    if not rule.groups:
        return ()
    compiler = _Compiler(rule, as_of)
    compiler.compile(rule.expression)
    return tuple(compiler.aggregates.values())


def compile_rule(rule: Rule, *, as_of: date, bounds: bool = False) -> pl.Expr:
    """The polars expression of ``rule`` evaluated at ``as_of`` (``$today``).

    ``bounds``: the frame carries the bounds of the figures the links derive (a household's
    ``income_total:least``… from ``profiles.links``, a resident's
    ``household_income_per_capita:least``… from ``rules.group_frames.with_figure_bounds``), and
    a comparison of such a figure that is unknown is settled by them where they settle it.
    A sum aggregate's bounds are always read (``rules.group_frames`` computes them).

    >>> from profiles.schema import load_schema
    >>> from rules.language import parse_rule
    >>> rule = parse_rule("income_per_capita < 1450", load_schema().entity("household"))
    >>> frame = pl.DataFrame({"income_per_capita": [None, None, 900.0],
    ...     "income_per_capita:least": [1500.0, 1000.0, 900.0],
    ...     "income_per_capita:greatest": [None, None, 900.0]})
    >>> frame.select(compile_rule(rule, as_of=date(2026, 1, 1), bounds=True)).to_series().to_list()
    [False, None, True]
    """
    value = _Compiler(rule, as_of, bounds=bounds).compile(rule.expression)
    if rule.kind == "benefit":
        amount = _Compiler(rule, as_of).number(value)
        return amount.round(2, mode="half_away_from_zero").cast(MONEY)
    return value.expr
