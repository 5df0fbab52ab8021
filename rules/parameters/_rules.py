"""Parameters inside rules: ``parameters.dibao_standard`` / ``参数.低保标准``, scales by ``[...]``.

The officer's ``parameters.<name>`` (or ``参数.<中文名>``) is read as one symbol,
``parameters__<name>``, so rule-engine parses it like a field and positions stay the officer's
(:mod:`rules.source`).  A scale or categories parameter is indexed by what decides the bracket:
``parameters.elderly_allowance[age]``, ``参数.困难老年人养老服务补贴[subsistence_status]``.
The checker types a reference (a number; an index a number for a scale, a string for
categories); the compiler and the evaluator read the value in force on the as-of date from the
library in place (:func:`rules.parameters.active`), the compiler as a literal or a
``when/then`` chain, so both agree exactly.

>>> parameter_symbol("参数.低保标准"), parameter_symbol("parameters . dibao_standard")
('parameters__dibao_standard', 'parameters__dibao_standard')
>>> from datetime import date
>>> from rules.parameters._model import Bracket, Version
>>> tiers = Version(date(2020, 1, 1), None, brackets=(Bracket(Decimal(100), Decimal(80)),
...                                                   Bracket(Decimal(500), Decimal(90))))
>>> [bracket_amount(tiers, age) for age in (79, 80, 95, None)]
[Decimal('0'), Decimal('100'), Decimal('500'), None]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import polars as pl
import rule_engine.ast as rast

from rules.errors import RuleTypeError
from rules.numbers import DECIMAL, to_number
from rules.parameters._active import active
from rules.parameters._library import UnknownParameterError
from rules.parameters._model import Parameter, Version


class _Token(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def start(self) -> int: ...


class _Source(Protocol):  # rules.source.Source, which imports this module
    @property
    def tokens(self) -> Sequence[_Token]: ...

    def position(self, offset: int) -> tuple[int, int]: ...


__all__ = [
    "PREFIX",
    "REFERENCE",
    "bracket_amount",
    "bracket_expr",
    "is_parameter",
    "parameter_interval",
    "parameter_named",
    "parameter_symbol",
    "parameter_values",
    "parameters_read",
    "unknown_parameters",
]

PREFIX = "parameters__"
# The officer's reference, as one token of rules.source (before the symbol pattern).
REFERENCE = r"(?:parameters|参数)\s*\.\s*[A-Za-z_\u3400-\u9fff][A-Za-z0-9_\u3400-\u9fff]*"
_SPLIT = re.compile(r"\s*\.\s*")


def parameter_symbol(reference: str) -> str:
    """The symbol rule-engine reads for the officer's ``parameters.x`` / ``参数.x``.

    A Chinese name becomes its parameter's English one; an unknown name stays as written and
    :func:`unknown_parameters` reports it.
    """
    name = _SPLIT.split(reference, maxsplit=1)[1]
    found = active().get(name)
    return PREFIX + (found.name if found is not None else name)


def is_parameter(symbol: str) -> bool:
    return symbol.startswith(PREFIX)


def parameter_named(symbol: str) -> Parameter:
    """The parameter a ``parameters__x`` symbol names (in the library in place)."""
    return active().resolve(symbol.removeprefix(PREFIX))


def unknown_parameters(origin: _Source) -> Iterator[RuleTypeError]:
    """An error at each reference to a parameter the library does not have."""
    for token in origin.tokens:
        if token.kind == "symbol" and is_parameter(token.text):
            try:
                parameter_named(token.text)
            except UnknownParameterError as err:
                line, col = origin.position(token.start)
                yield RuleTypeError(str(err), line=line, col=col)


def parameters_read(expression: Any) -> frozenset[str]:
    """The names of the parameters a rule's expression reads."""
    found: set[str] = set()
    stack = [expression]
    while stack:
        node = stack.pop()
        if isinstance(node, rast.SymbolExpression) and is_parameter(node.name):
            found.add(node.name.removeprefix(PREFIX))
        for name in ("left", "right", "condition", "case_true", "case_false", "member",
                     "container", "item", "object"):  # fmt: skip
            child = getattr(node, name, None)
            if child is not None and isinstance(child, rast.ExpressionBase):
                stack.append(child)
        if isinstance(node, rast.ArrayExpression):
            stack.extend(node.value)
    return frozenset(found)


def parameter_values(expression: Any, on: date) -> dict[str, Any]:
    """``parameters.x`` → the value in force on ``on`` (an amount, or a scale's brackets as
    text) for each parameter ``expression`` reads: what an explanation shows beside a clause.

    >>> import rule_engine
    >>> node = rule_engine.Rule("age < parameters__dibao_standard").statement.expression
    >>> parameter_values(node, date(2026, 1, 1))
    {'parameters.dibao_standard': Decimal('1450')}
    """
    out: dict[str, Any] = {}
    for name in sorted(parameters_read(expression)):
        version = active().version(name, on)
        shown = version.amount if version.amount is not None else version.shown()
        out[f"parameters.{name}"] = shown
    return out


def parameter_interval(symbol: str) -> tuple[Decimal, Decimal]:
    """The smallest and largest amount a ``parameters__x`` symbol (or a bracket of it) can
    read, over every version (a scale's or categories' 0 outside its brackets included)."""
    parameter = parameter_named(symbol)
    amounts = parameter.amounts() | ({Decimal(0)} if parameter.kind != "amount" else set())
    return min(amounts), max(amounts)


def bracket_amount(version: Version, index: Any) -> Decimal | None:
    """A scale's amount for a number, or categories' amount for a key (None: unknown)."""
    if index is None:
        return None
    if version.brackets and version.brackets[0].threshold is not None:
        amount = Decimal(0)
        for b in version.brackets:  # sorted by threshold
            assert b.threshold is not None
            if to_number(index) >= b.threshold:
                amount = b.amount
        return amount
    for b in version.brackets:
        if b.key == str(index):
            return b.amount
    return Decimal(0)


def bracket_expr(version: Version, index: pl.Expr, *, numeric: bool) -> pl.Expr:
    """:func:`bracket_amount` as a polars expression of ``index`` (null stays null)."""
    chain: Any = pl.when(index.is_null()).then(pl.lit(None, DECIMAL))
    if numeric:
        for b in reversed(version.brackets):  # the highest threshold first
            assert b.threshold is not None
            chain = chain.when(index >= pl.lit(b.threshold, DECIMAL)).then(
                pl.lit(b.amount, DECIMAL)
            )
    else:
        text = index.cast(pl.String)
        for b in version.brackets:
            chain = chain.when(text == pl.lit(b.key)).then(pl.lit(b.amount, DECIMAL))
    result: pl.Expr = chain.otherwise(pl.lit(Decimal(0), DECIMAL))
    return result
