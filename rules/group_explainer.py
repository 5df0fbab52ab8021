"""Explaining rules over groups: which member's fact settles a ``maybe``, and what a group
clause says in plain words to whom.

A household's income is unknown when one member's is; the explanation then names the member
and the field (``MemberFact``), so the next question goes to the right person.  In plain words a
clause over the household reads with its figures for the household's recipient only
(「家庭人均月收入 1,100 元（3 人合计 3,300 元）低于 1,450 元 ✓」); any other member reads
whether the threshold is met, never a figure of the household's sensitive values, from which,
in a small household, their relatives' own values could be worked out.

>>> from datetime import date
>>> from profiles.schema import load_schema
>>> from rules.groups import HOUSEHOLD, MEMBERS
>>> from rules.language import parse_rule
>>> rule = parse_rule("家庭.人均月收入 < 1450", load_schema().resident)
>>> home = {"size": 3, "income_total": 3300.0, "income_per_capita": 1100.0}
>>> record = {"person_id": "a", HOUSEHOLD: home, MEMBERS: []}
>>> plain_group_clauses(rule, record, as_of=date(2026, 1, 1), lang="zh", recipient=True)
['家庭人均月收入 1,100 元（3 人合计 3,300 元）低于 1,450 元 ✓']
>>> plain_group_clauses(rule, record, as_of=date(2026, 1, 1), lang="zh", recipient=False)
['家庭人均月收入低于 1,450 元 ✓']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import rule_engine.ast as rast

from profiles.links import LINKED_FIGURES
from profiles.schema import Entity, load_schema
from rules.evaluator import evaluate_node, figure_bounds, group_rows
from rules.groups import AGGREGATES, HOUSEHOLD, MEMBERS
from rules.language import Rule, children, literal_value
from rules.plain_words import plain_clause

__all__ = ["MemberFact", "group_values", "member_facts", "plain_group_clauses"]

# household fields derived from members' incomes, and from their ages
_FROM_INCOME = frozenset(("income_total", "income_per_capita"))
_FROM_AGE = frozenset(("members_under_3", "members_over_80"))
_EARNS_UNDER = 16  # profiles.links.EARNS_BY_RULE_UNDER: under 16, no income unless recorded


@dataclass(frozen=True)
class MemberFact:
    """A member-level fact a ``maybe`` waits for: ``fields`` of ``subject_id`` (a member's
    person_id, or the household's own id for its stored fields), needed by ``clause``.
    ``alone``: the only fact that clause waits for, so knowing it settles the clause."""

    clause: str
    subject_id: str | None
    fields: tuple[str, ...]
    alone: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "clause": self.clause,
            "subject_id": self.subject_id,
            "fields": list(self.fields),
            "alone": self.alone,
        }


def _group_nodes(node: Any, entity: str = "") -> Iterator[Any]:
    """The group values in ``node``; with a resident rule's ``entity``, also its own copy of
    the household's figure (``household_income_per_capita``, ``profiles.links``)."""
    if isinstance(node, rast.GetAttributeExpression | rast.FunctionCallExpression):
        yield node
        return
    if entity == "resident" and isinstance(node, rast.SymbolExpression):
        if node.name in LINKED_FIGURES:
            yield node
        return
    for child in children(node):
        yield from _group_nodes(child, entity)


def _symbols(node: Any) -> list[str]:
    if isinstance(node, rast.SymbolExpression):
        return [] if node.scope == "built-in" else [node.name]
    return [n for child in children(node) for n in _symbols(child)]


def group_values(
    rule: Rule, atom: Any, record: Mapping[str, Any], *, as_of: date
) -> dict[str, Any]:
    """The group values ``atom`` reads: ``household.x`` and each aggregate by its text (in
    schema names, as a clause's other values are keyed)."""
    values = {}
    for node in _group_nodes(atom):
        start, end = rule.span(node)
        values[rule.text[start:end]] = evaluate_node(rule, node, record, as_of=as_of)
    return values


def _unknown_in(node: Any, row: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in _symbols(node) if row.get(n) is None))


def _facts_of(rule: Rule, node: Any, record: Mapping[str, Any], as_of: date) -> list[MemberFact]:
    text = rule.snippet(node)
    found: list[tuple[str | None, tuple[str, ...]]] = []
    missing: tuple[str, ...]
    if isinstance(node, rast.GetAttributeExpression | rast.SymbolExpression):
        home = record.get(HOUSEHOLD) or {}
        name = LINKED_FIGURES.get(node.name, node.name)  # a resident's copy of the figure
        for m in record.get(MEMBERS) or [] if name in _FROM_INCOME | _FROM_AGE else []:
            age = m.get("age")
            if name in _FROM_AGE:
                missing = ("birth_date",) if age is None else ()
            elif m.get("monthly_income") is not None or (age is not None and age < _EARNS_UNDER):
                missing = ()  # known, or none by rule (no income under 16 unless recorded)
            else:
                missing = (
                    ("monthly_income",) if age is not None else ("monthly_income", "birth_date")
                )
            if missing:
                found.append((m.get("person_id"), missing))
        if name not in _FROM_INCOME | _FROM_AGE:
            found.append((home.get("household_id"), (name,)))
    else:
        agg = AGGREGATES[node.function.name]
        args = list(node.arguments)
        value = args.pop(0) if agg.takes_value else None
        condition = args[0] if args else None
        for row in group_rows(record, agg, as_of) or []:
            c = True if condition is None else evaluate_node(rule, condition, row, as_of=as_of)
            missing = ()
            if c is None and condition is not None:
                missing = _unknown_in(condition, row)
            elif c and value is not None and evaluate_node(rule, value, row, as_of=as_of) is None:
                missing = _unknown_in(value, row)
            if missing:
                found.append((row.get("person_id"), missing))
    return [MemberFact(text, who, fields, len(found) == 1) for who, fields in found]


def member_facts(rule: Rule, record: Mapping[str, Any], *, as_of: date) -> tuple[MemberFact, ...]:
    """The member-level facts each unknown group value of ``rule`` waits for.

    >>> from profiles.schema import load_schema
    >>> from rules.groups import MEMBERS
    >>> from rules.language import parse_rule
    >>> rule = parse_rule("members_sum(monthly_income, age >= 16) < 3000",
    ...                   load_schema().entity("household"))
    >>> members = [{"person_id": "a", "age": 40, "monthly_income": 2000},
    ...            {"person_id": "b", "age": 41, "monthly_income": None},
    ...            {"person_id": "c", "age": 9, "monthly_income": None}]
    >>> [(f.subject_id, f.fields, f.alone)
    ...  for f in member_facts(rule, {MEMBERS: members}, as_of=date(2026, 1, 1))]
    [('b', ('monthly_income',), True)]
    """
    facts: list[MemberFact] = []
    for clause, nodes in _group_clauses(rule.expression, rule.entity):
        if evaluate_node(rule, clause, record, as_of=as_of) is not None:
            continue  # settled, though a count in it may be unknown (its bounds agree)
        for node in nodes:
            if evaluate_node(rule, node, record, as_of=as_of) is None:
                facts.extend(_facts_of(rule, node, record, as_of))
    return tuple(facts)


def _group_clauses(node: Any, entity: str = "") -> Iterator[tuple[Any, list[Any]]]:
    """Each clause reading a group (a comparison, or a group value read as true/false) with
    the group values in it."""
    if isinstance(node, rast.ComparisonExpression):
        nodes = list(_group_nodes(node, entity))
        if nodes:
            yield node, nodes
            return
    if isinstance(node, rast.GetAttributeExpression | rast.FunctionCallExpression):
        yield node, [node]
        return
    for child in children(node):
        yield from _group_clauses(child, entity)


# -- plain words ----------------------------------------------------------------------------

_OPS = {
    "zh": {"lt": "低于", "le": "不高于", "gt": "高于", "ge": "不低于", "eq": "等于",
           "ne": "不等于"},
    "en": {"lt": "below", "le": "at most", "gt": "above", "ge": "at least", "eq": "equal to",
           "ne": "not equal to"},
}  # fmt: skip
_FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}


def _amount(value: Any, unit: str | None, lang: str) -> str:
    """``1100.0`` as ``1,100 元`` (CNY) or ``1,100``."""
    number = Decimal(str(value))
    shown = f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,.2f}"
    if unit and unit.startswith("CNY"):
        return f"{shown} 元" if lang == "zh" else f"{shown} CNY"
    return shown


def _subject_words(rule: Rule, node: Any, lang: str) -> tuple[str, str | None, bool]:
    """What ``node`` is called, its unit, and whether it reads a sensitive value."""
    schema = load_schema()
    if isinstance(node, rast.GetAttributeExpression):
        f = schema.entity("household").field(node.name)
        if lang == "zh":
            zh = f.name_zh or f.name
            name = zh if zh.startswith("家庭") else f"家庭{zh}"
            return name, f.unit, f.sensitivity == "sensitive"
        return f"household {f.name.replace('_', ' ')}", f.unit, f.sensitivity == "sensitive"
    agg = AGGREGATES[node.function.name]
    members: Entity = schema.resident
    if agg.group == "employees":
        members = schema.entity("employment")
    read = {n for a in node.arguments for n in _symbols(a)}
    fields = [members.by_name.get(n) or schema.resident.by_name.get(n) for n in read]
    sensitive = any(f is not None and f.sensitivity == "sensitive" for f in fields)
    unit = None
    if agg.takes_value and node.arguments:
        valued = _symbols(node.arguments[0])
        first = schema.resident.by_name.get(valued[0]) if len(valued) == 1 else None
        unit = first.unit if first is not None else None
    parts = []
    for argument in node.arguments:
        a, b = rule.span(argument)
        parts.append(plain_clause(rule.text[a:b], schema.resident, lang))
    words = agg.zh_words if lang == "zh" else agg.en
    if agg.takes_value and parts:
        words = f"{words} {parts.pop(0)}"
    if parts:
        words = f"{words}（{parts[0]}）" if lang == "zh" else f"{words} ({parts[0]})"
    return words, unit, sensitive


def plain_group_clauses(
    rule: Rule, record: Mapping[str, Any], *, as_of: date, lang: str, recipient: bool
) -> list[str]:
    """Each clause of ``rule`` comparing a group value with a number, in plain words.

    ``recipient``: the reader is the household's recipient (its contact or head), who sees the
    figures; anyone else reads the threshold and whether it is met (✓, ✗, ? unknown), and a
    figure only where nothing sensitive is read.
    """
    out = []
    for node, other, op, comparison in _comparisons(rule.expression):
        value = evaluate_node(rule, node, record, as_of=as_of)
        met = evaluate_node(rule, comparison, record, as_of=as_of)
        mark = "?" if met is None else ("✓" if met else "✗")
        name, unit, sensitive = _subject_words(rule, node, lang)
        threshold = _amount(literal_value(other), unit, lang)
        verb = _OPS[lang][op]
        if sensitive and not recipient:
            joiner = "" if lang == "zh" else " "
            out.append(f"{name}{joiner}{verb} {threshold} {mark}")
            continue
        shown = "未知" if lang == "zh" else "unknown"
        if value is not None:
            shown = _amount(value, unit, lang)
        elif met is not None:  # unknown, but its known part settles it: say what is known
            shown = _known_part(rule, node, record, as_of, unit, lang) or shown
        detail = _household_total(node, record, lang) if value is not None else ""
        gap = "" if lang == "zh" and detail else " "
        out.append(f"{name} {shown}{detail}{gap}{verb} {threshold} {mark}")
    return out


def _known_part(
    rule: Rule, node: Any, record: Mapping[str, Any], as_of: date, unit: str | None, lang: str
) -> str:
    """「至少 1,500 元」 for an unknown figure whose bounds settle its clause."""
    low, high = figure_bounds(rule, node, record, as_of=as_of)
    words = []
    if low is not None:
        words.append(("至少 " if lang == "zh" else "at least ") + _amount(low, unit, lang))
    if high is not None:
        words.append(("至多 " if lang == "zh" else "at most ") + _amount(high, unit, lang))
    return ("，" if lang == "zh" else ", ").join(words)


def _household_total(node: Any, record: Mapping[str, Any], lang: str) -> str:
    """「（3 人合计 3,300 元）」 beside a household's income per head."""
    home = record.get(HOUSEHOLD) or {}
    if not isinstance(node, rast.GetAttributeExpression) or node.name != "income_per_capita":
        return ""
    size, total = home.get("size"), home.get("income_total")
    if size is None or total is None:
        return ""
    if lang == "zh":
        return f"（{size} 人合计 {_amount(total, 'CNY', lang)}）"
    return f" ({size} people, {_amount(total, 'CNY', lang)} in total)"


def _comparisons(node: Any) -> Iterator[tuple[Any, Any, str, Any]]:
    """(group node, literal, operator as read group-first, the comparison) in ``node``."""
    if isinstance(node, rast.ComparisonExpression) and node.type in _FLIP:
        left, right = node.left, node.right
        grouped = (rast.GetAttributeExpression, rast.FunctionCallExpression)
        if isinstance(left, grouped) and isinstance(right, rast.FloatExpression):
            yield left, right, node.type, node
            return
        if isinstance(right, grouped) and isinstance(left, rast.FloatExpression):
            yield right, left, _FLIP[node.type], node
            return
    for child in children(node):
        yield from _comparisons(child)
