"""Explain one subject's result clause by clause — the "why" behind every match.

A clause is an atom of the rule's and/or tree (a comparison, an ``in``, a regex match, a
field read as true/false).  For each, the explanation gives the officer's text, the values it
read and its own true/false/unknown; for a failed or unknown comparison of a field with a
value, the counterfactual ("eligible if monthly_income < 3000; it is 3200").  For a ``maybe``
it names the unknown fields and, where one field alone would settle the result, the values or
conditions that would make the subject eligible — the next best question to ask.

>>> from datetime import date
>>> from profiles.schema import load_schema
>>> from rules.language import parse_rule
>>> rule = parse_rule("age >= 60 and monthly_income < 3000", load_schema().resident)
>>> e = explain(rule, {"age": 66, "monthly_income": None}, as_of=date(2026, 1, 1))
>>> e.status, e.unknown_fields
('maybe', ('monthly_income',))
>>> e.settle[0].eligible_if
('monthly_income < 3000',)

Settling a ``maybe`` evaluates the rule once per candidate value of each unknown field, so one
explanation has one deadline for all of it (``EXPLAIN_SECONDS``), past which it stops with
:class:`~rules.errors.EvaluationTimeLimitError` rather than hold the thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import rule_engine.ast as rast

from profiles.schema import Schema, load_schema
from rules.evaluator import deadline_after, evaluate, evaluate_node
from rules.group_explainer import MemberFact, group_values, member_facts
from rules.groups import MEMBERS
from rules.language import Rule, children, literal_value
from rules.parameters import parameter_values

__all__ = ["EXPLAIN_SECONDS", "Clause", "Explanation", "Settle", "explain"]

EXPLAIN_SECONDS = 3.0  # a catalog rule explains in milliseconds; this is a guard

_OPS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FLIP = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge", "eq": "eq", "ne": "ne"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list | frozenset | set):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Clause:
    text: str  # the officer's text of the clause
    result: bool | None
    values: Mapping[str, Any]  # field -> value read (None = unknown)
    counterfactual: str | None = None  # "eligible if X; it is Y" for failed/unknown clauses

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "result": self.result,
            "values": {k: _jsonable(v) for k, v in self.values.items()},
            "counterfactual": self.counterfactual,
        }


@dataclass(frozen=True)
class Settle:
    """What one unknown field would do to a ``maybe``."""

    field: str
    alone: bool  # knowing this field alone settles the result
    eligible_if: tuple[str, ...] = ()  # conditions on the field that make the subject eligible
    eligible_values: tuple[Any, ...] = ()  # for enums and booleans: the values that do

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "alone": self.alone,
            "eligible_if": list(self.eligible_if),
            "eligible_values": _jsonable(self.eligible_values),
        }


@dataclass(frozen=True)
class Explanation:
    rule: str  # the officer's text
    result: bool | None
    clauses: tuple[Clause, ...]
    unknown_fields: tuple[str, ...] = ()
    settle: tuple[Settle, ...] = field(default=())
    # rules over groups: the members' facts an unknown group value waits for
    member_facts: tuple[MemberFact, ...] = field(default=())

    @property
    def status(self) -> str:
        return {True: "eligible", None: "maybe", False: "not_eligible"}[self.result]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "status": self.status,
            "result": self.result,
            "clauses": [c.to_dict() for c in self.clauses],
            "unknown_fields": list(self.unknown_fields),
            "settle": [s.to_dict() for s in self.settle],
        } | (
            {"member_facts": [f.to_dict() for f in self.member_facts]} if self.member_facts else {}
        )


def _atoms(node: Any) -> list[Any]:
    if isinstance(node, rast.LogicExpression):
        return _atoms(node.left) + _atoms(node.right)
    if isinstance(node, rast.UnaryExpression) and node.type == "not":
        inner = node.right
        if isinstance(inner, rast.LogicExpression):
            return _atoms(inner)
    return [node]


def _fields(node: Any) -> list[str]:
    if isinstance(node, rast.SymbolExpression):
        return [] if node.scope == "built-in" else [node.name]
    out: list[str] = []
    for child in children(node):
        out.extend(f for f in _fields(child) if f not in out)
    return out


def _field_vs_literal(node: Any) -> tuple[str, str, Any] | None:
    """``(field, op, literal)`` for ``field OP literal`` or ``literal OP field``."""
    if not isinstance(node, rast.ComparisonExpression) or node.type not in _OPS:
        return None
    left, right = node.left, node.right
    if isinstance(left, rast.SymbolExpression) and isinstance(right, rast.LiteralExpressionBase):
        return left.name, node.type, literal_value(right)
    if isinstance(right, rast.SymbolExpression) and isinstance(left, rast.LiteralExpressionBase):
        return right.name, _FLIP[node.type], literal_value(left)
    return None


def _show(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _counterfactual(node: Any, result: bool | None, record: Mapping[str, Any]) -> str | None:
    if result is True:
        return None
    parts = _field_vs_literal(node)
    if parts is None:
        return None
    name, op, literal = parts
    wanted = f"{name} {_OPS[op]} {_show(literal)}"
    have = record.get(name)
    if have is None:
        return f"eligible if {wanted}; it is unknown"
    return f"eligible if {wanted}; it is {_show(have)}"


def _candidates(rule: Rule, name: str, schema: Schema) -> list[Any]:
    """Values worth trying for an unknown field: the thresholds the rule compares it with."""
    f = schema.entity(rule.entity).field(name)
    if f.type == "enum":
        return list(f.values)
    if f.type == "boolean":
        return [True, False]
    literals: list[Any] = []

    def collect(node: Any) -> None:
        parts = _field_vs_literal(node)
        if parts is not None and parts[0] == name:
            literals.append(parts[2])
        if isinstance(node, rast.ContainsExpression):
            if isinstance(node.member, rast.SymbolExpression) and node.member.name == name:
                literals.extend(literal_value(node.container))
            if isinstance(node.container, rast.SymbolExpression) and node.container.name == name:
                literals.append(literal_value(node.member))
        for child in children(node):
            collect(child)

    collect(rule.expression)
    if f.type == "tags":
        return [(), *[(t,) for t in literals], tuple(literals)]
    if f.type in ("date", "datetime"):
        return [d + timedelta(days=k) for d in literals for k in (-1, 0, 1)]
    if f.type in ("integer", "number"):
        step = Decimal(1) if f.type == "integer" else Decimal("0.000001")
        out = [Decimal(v) + k * step for v in literals for k in (-1, 0, 1)]
        if f.min is not None:
            out.append(Decimal(str(f.min)))
        return [int(v) if f.type == "integer" else v for v in out]
    return literals


def _settle(
    rule: Rule,
    record: Mapping[str, Any],
    name: str,
    as_of: date,
    schema: Schema,
    deadline: float,
) -> Settle:
    def at(node: Any, value: Any) -> Any:
        return evaluate_node(rule, node, {**record, name: value}, as_of=as_of, deadline=deadline)

    outcomes = []
    # thresholds overlap (age == 1 or age == 2 tries 0, 1, 2 twice): each value once
    for value in dict.fromkeys(_candidates(rule, name, schema)):
        result = at(rule.expression, value)
        outcomes.append((value, None if result is None else bool(result)))
    alone = bool(outcomes) and all(r is not None for _, r in outcomes)
    good = [v for v, r in outcomes if r is True]
    conditions = []
    for atom in _atoms(rule.expression):
        if _fields(atom) != [name] or not good:
            continue
        bad = [v for v, r in outcomes if r is False]
        at_good = [at(atom, v) for v in good]
        at_bad = [at(atom, v) for v in bad]
        if all(r is True for r in at_good) and any(r is False for r in at_bad):
            conditions.append(rule.snippet(atom))
    f = schema.entity(rule.entity).field(name)
    enumerable = f.type in ("enum", "boolean")
    return Settle(name, alone, tuple(conditions), tuple(good) if enumerable else ())


def explain(
    rule: Rule,
    record: Mapping[str, Any],
    *,
    as_of: date,
    schema: Schema | None = None,
    time_limit: float = EXPLAIN_SECONDS,
) -> Explanation:
    """The clause-by-clause explanation of ``rule`` for ``record`` at ``as_of``.

    Raises :class:`~rules.errors.EvaluationTimeLimitError` after ``time_limit`` seconds.
    """
    schema = schema or load_schema()
    deadline = deadline_after(time_limit)
    clauses = []
    for atom in _atoms(rule.expression):
        result = evaluate_node(rule, atom, record, as_of=as_of, deadline=deadline)
        result = None if result is None else bool(result)
        values = {name: record.get(name) for name in _fields(atom)}
        if rule.groups:  # household.x and aggregates, by their text
            values |= group_values(rule, atom, record, as_of=as_of)
        values |= parameter_values(atom, as_of)  # parameters.x: the amount in force
        clauses.append(
            Clause(rule.snippet(atom), result, values, _counterfactual(atom, result, record))
        )
    result = evaluate(rule, record, as_of=as_of, deadline=deadline)
    own = schema.entity(rule.entity).by_name  # a group's unknowns are its members' facts
    unknown = tuple(
        dict.fromkeys(
            n
            for c in clauses
            if c.result is None
            for n, v in c.values.items()
            if v is None and n in own
        )
    )
    settle = (
        tuple(_settle(rule, record, name, as_of, schema, deadline) for name in unknown)
        if result is None
        else ()
    )
    # a group's facts, and a resident's household figure's (its members' incomes)
    grouped = rule.groups or MEMBERS in record
    facts = member_facts(rule, record, as_of=as_of) if grouped and result is None else ()
    return Explanation(rule.source, result, tuple(clauses), unknown, settle, facts)
