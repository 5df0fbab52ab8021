"""Which parameters policies read, and amounts written as literals that are parameters.

``policies validate`` warns on a literal amount that equals a parameter's value in force while
the policy is (``literal_warnings``): a changed standard should be one edit of the parameter,
not a search through policies.  A literal is an amount when a benefit yields it (not a
threshold compared in a condition), or when it is compared or computed with a money field
(unit CNY).  A run records which version of each parameter its policies read
(``versions_read``).

>>> from datetime import date
>>> from profiles.schema import load_schema
>>> from rules.language import parse_rule
>>> rule = parse_rule("household_income_per_capita < 1450", load_schema().resident)
>>> [w.detail.split(";")[0] for w in literal_warnings(rule, date(2024, 7, 1), None)]
['the amount 1450 is the parameter dibao_standard (低保标准) in force from 2024-07-01']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

import rule_engine.ast as rast

from profiles.schema import Schema, load_schema
from rules.errors import RuleCheckError, RuleCheckWarning
from rules.language import Rule, children, parse_rule
from rules.parameters import (
    PREFIX,
    Library,
    Parameter,
    Version,
    active,
    is_parameter,
    parameters_read,
)

__all__ = [
    "Readable",
    "coverage_errors",
    "literal_warnings",
    "parameters_of",
    "readers",
    "run_record",
    "versions_read",
]


class Readable(Protocol):
    """What is read of a policy here (a :class:`~rules.policy.Policy`, a run's stored one)."""

    @property
    def id(self) -> str: ...
    @property
    def audience(self) -> str: ...
    @property
    def eligibility(self) -> str: ...
    @property
    def benefit(self) -> str | None: ...


_ARITHMETIC = (rast.AddExpression, rast.SubtractExpression, rast.ArithmeticExpression)


def parameters_of(
    policy: Readable, schema: Schema | None = None, *, benefit_only: bool = False
) -> frozenset[str]:
    """The names of the parameters ``policy``'s eligibility and benefit (or only its benefit)
    read."""
    schema = schema or load_schema()
    entity = schema.entity(policy.audience)
    names: frozenset[str] = frozenset()
    if not benefit_only:
        names = parameters_read(parse_rule(policy.eligibility, entity).expression)
    if policy.benefit:
        names |= parameters_read(parse_rule(policy.benefit, entity, kind="benefit").expression)
    return names


def readers(policies: Iterable[Readable], schema: Schema | None = None) -> dict[str, list[str]]:
    """Parameter name → the ids of the policies that read it."""
    out: dict[str, list[str]] = {}
    for policy in policies:
        for name in sorted(parameters_of(policy, schema)):
            out.setdefault(name, []).append(policy.id)
    return out


def versions_read(
    policies: Iterable[Readable], on: date, schema: Schema | None = None
) -> dict[str, str]:
    """Parameter name → the version (its first day) in force on ``on``, for every parameter
    ``policies`` read: what a run on ``on`` used."""
    names: set[str] = set()
    for policy in policies:
        names |= parameters_of(policy, schema)
    return active().used(names, on)


def _fields(node: Any) -> frozenset[str]:
    if isinstance(node, rast.SymbolExpression):
        return frozenset() if node.scope == "built-in" else frozenset((node.name,))
    return frozenset().union(*(_fields(c) for c in children(node)))


def run_record(
    policies: Iterable[Readable], on: date, schema: Schema | None = None
) -> dict[str, tuple[str, str]]:
    """Parameter name → (the version's first day, its value) for every parameter ``policies``
    read, on ``on``: what a match run records (``matcher.runs.RunStore.record``)."""
    names: set[str] = set()
    for policy in policies:
        names |= parameters_of(policy, schema)
    library = active()
    out: dict[str, tuple[str, str]] = {}
    for name in sorted(names):
        version = library.resolve(name).in_force(on)
        out[name] = (version.label(), version.shown()) if version else ("none", "")
    return out


def _amount_literals(
    rule: Rule, node: Any, in_condition: bool, deciding: frozenset[str] = frozenset()
) -> Iterator[tuple[Any, frozenset[str]]]:
    """The number literals of ``rule`` that stand for amounts of money, each with the fields
    of the conditions (``?:``) that choose it."""
    if isinstance(node, rast.FloatExpression):
        if rule.kind == "benefit" and not in_condition:
            yield node, deciding
        return
    if isinstance(node, (rast.ComparisonExpression, *_ARITHMETIC)):
        sides = (node.left, node.right)
        for side, other in (sides, sides[::-1]):
            if isinstance(side, rast.FloatExpression) and _is_money(rule, other):
                yield side, deciding
                continue
            condition = in_condition or isinstance(node, rast.ComparisonExpression)
            yield from _amount_literals(rule, side, condition, deciding)
        return
    if isinstance(node, rast.GetItemExpression):
        return  # parameters.x[100]: the bracket's key, not an amount written out
    if isinstance(node, rast.TernaryExpression):
        chosen = deciding | _fields(node.condition)
        yield from _amount_literals(rule, node.condition, True, deciding)
        yield from _amount_literals(rule, node.case_true, in_condition, chosen)
        yield from _amount_literals(rule, node.case_false, in_condition, chosen)
        return
    for child in children(node):
        yield from _amount_literals(rule, child, in_condition, deciding)


def _is_money(rule: Rule, node: Any) -> bool:
    """Whether ``node`` is a field whose unit is money (CNY...)."""
    if not isinstance(node, rast.SymbolExpression) or node.scope == "built-in":
        return False
    f = load_schema().entity(rule.entity).by_name.get(node.name)
    return f is not None and (f.unit or "").startswith("CNY")


def _overlaps(version: Version, start: date, end: date | None) -> bool:
    return (end is None or version.start <= end) and (version.end is None or start <= version.end)


def _matching(
    library: Library, value: Decimal, start: date, end: date | None, deciding: frozenset[str]
) -> tuple[Parameter, Version, str] | None:
    """The parameter (and version, and how to write it) one of whose amounts is ``value``; a
    bracket's amount only where a condition on the bracket's field (``by``) chooses it, so
    a round 100 elsewhere is not taken for the allowance's first tier."""
    for parameter in library.parameters:
        if not parameter.unit.startswith("CNY"):
            continue
        for version in parameter.versions:
            if not _overlaps(version, start, end):
                continue
            if version.amount == value:
                return parameter, version, f"parameters.{parameter.name}"
            if parameter.by is None or parameter.by not in deciding:
                continue
            if any(b.amount == value for b in version.brackets):
                return parameter, version, f"parameters.{parameter.name}[{parameter.by}]"
    return None


def coverage_errors(
    rule: Rule, start: date, end: date | None, library: Library | None = None
) -> list[RuleCheckError]:
    """An error at the first reference to each parameter ``rule`` reads that has no value on
    some day the policy is in force (``start`` to ``end``, open-ended when None): a match on
    that day could not be computed.

    >>> from profiles.schema import load_schema
    >>> from rules.language import parse_rule
    >>> rule = parse_rule("household_income_per_capita < 参数.低保标准", load_schema().resident)
    >>> [e.detail.split(" while")[0] for e in coverage_errors(rule, date(2020, 1, 1), None)]
    ['parameter dibao_standard (低保标准) has no value from 2020-01-01 to 2023-06-30']
    """
    library = library or active()
    found: list[RuleCheckError] = []
    seen: set[str] = set()
    for node in _parameter_nodes(rule.expression):
        name = node.name.removeprefix(PREFIX)
        if name in seen:
            continue
        seen.add(name)
        parameter = library.resolve(name)
        gap = _first_gap(parameter.versions, start, end)
        if gap is None:
            continue
        line, col = rule.origin.position(rule.span(node)[0])
        until = gap[1].isoformat() if gap[1] else "on"
        found.append(
            RuleCheckError(
                f"parameter {parameter.name} ({parameter.name_zh}) has no value from {gap[0]} "
                f"to {until} while the policy is in force; add a value for those days to "
                f"{parameter.file}, or let the policy start or end within its "
                f"values (`zhida parameters history {parameter.name}`)",
                line=line,
                col=col,
            )
        )
    return found


def _parameter_nodes(node: Any) -> Iterator[Any]:
    if isinstance(node, rast.SymbolExpression) and is_parameter(node.name):
        yield node
    for child in children(node):
        yield from _parameter_nodes(child)


def _first_gap(
    versions: Iterable[Version], start: date, end: date | None
) -> tuple[date, date | None] | None:
    """The first span of days from ``start`` to ``end`` no version covers (None: covered).

    >>> v = [Version(date(2023, 7, 1), date(2024, 6, 30)), Version(date(2024, 7, 1), None)]
    >>> _first_gap(v, date(2024, 1, 1), None) is None
    True
    >>> _first_gap(v, date(2023, 1, 1), date(2023, 12, 31))
    (datetime.date(2023, 1, 1), datetime.date(2023, 6, 30))
    >>> _first_gap(v[:1], date(2024, 1, 1), None)
    (datetime.date(2024, 7, 1), None)
    """
    day: date | None = start
    for v in sorted(versions, key=lambda v: v.start):
        if day is None or (end is not None and day > end):
            return None
        if v.end is not None and v.end < day:
            continue
        if v.start > day:
            last = v.start - timedelta(days=1)
            return day, last if end is None else min(last, end)
        day = None if v.end is None else v.end + timedelta(days=1)
    if day is None or (end is not None and day > end):
        return None
    return day, end


def literal_warnings(
    rule: Rule, start: date, end: date | None, library: Library | None = None
) -> list[RuleCheckWarning]:
    """A warning at each amount literal of ``rule`` equal to a parameter's value in force
    between ``start`` and ``end`` (the policy's validity), naming the parameter as the fix."""
    library = library or active()
    found: list[RuleCheckWarning] = []
    for node, deciding in _amount_literals(rule, rule.expression, False):
        value = Decimal(node.value)
        hit = _matching(library, value, start, end, deciding)
        if hit is None:
            continue
        parameter, version, written = hit
        line, col = rule.origin.position(rule.span(node)[0])
        shown = format(value.normalize(), "f")
        found.append(
            RuleCheckWarning(
                f"the amount {shown} is the parameter {parameter.name} ({parameter.name_zh}) "
                f"in force from {version.start}; write {written} (参数.{parameter.name_zh}) "
                "so a change of it is one edit of the parameter",
                line=line,
                col=col,
            )
        )
    return found
