"""Tools for officers (seed 003 §五 查重): rules that can never or always hold, and overlaps.

A rule's atoms compare fields with literals, so each field's domain splits into a few intervals
(or values) at those literals.  Evaluating the rule on one representative of every interval —
the cross product over the fields it reads, plus "unknown" — decides exactly whether it can be
true, whether it always is, and whether one rule implies another, as long as the atoms compare
a field with a literal.  Rules that combine fields arithmetically are checked on the same
candidates, which is then a strong test rather than a proof (``Finding.exact`` says which).

>>> from profiles.schema import load_schema
>>> from rules.language import parse_rule
>>> r = load_schema().resident
>>> never_true(parse_rule("age > 80 and age < 70", r))
True
>>> implies(parse_rule("age >= 90", r), parse_rule("age >= 80", r))
True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import rule_engine.ast as rast

from profiles.schema import Entity, load_schema
from rules.compiler import compile_rule
from rules.formula import formula, satisfiable
from rules.language import Rule, children, literal_value

__all__ = [
    "Finding",
    "always_true",
    "candidate_values",
    "implies",
    "is_exact",
    "never_true",
    "overlaps",
]

_AS_OF = date(2026, 1, 1)
_MAX_ROWS = 200_000


@dataclass(frozen=True)
class Finding:
    kind: str  # never_true | always_true | equivalent | contained | similar_reach
    policies: tuple[str, ...]
    detail: str
    exact: bool = True


def _literals(rule: Rule, name: str) -> list[Any]:
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, rast.LiteralExpressionBase):
            value = literal_value(node)
            found.extend(value if isinstance(value, tuple) else [value])
        for child in children(node):
            walk(child)

    walk(rule.expression)
    return found


def _has_regex(node: Any) -> bool:
    if isinstance(node, rast.FuzzyComparisonExpression):
        return True
    return any(_has_regex(c) for c in children(node))


def is_exact(rule: Rule) -> bool:
    """Whether every atom compares one field with literals (the analysis is then a proof)."""

    def fields_in(node: Any) -> set[str]:
        if isinstance(node, rast.SymbolExpression):
            return set() if node.scope == "built-in" else {node.name}
        return set().union(*(fields_in(c) for c in children(node))) if children(node) else set()

    def ok(node: Any) -> bool:
        if isinstance(node, rast.FuzzyComparisonExpression):
            return False  # a regex's matches cannot be enumerated from literals
        if isinstance(node, rast.LogicExpression):
            return ok(node.left) and ok(node.right)
        if isinstance(node, rast.UnaryExpression) and node.type == "not":
            return ok(node.right)
        if isinstance(
            node, rast.AddExpression | rast.SubtractExpression | rast.ArithmeticExpression
        ):
            return False
        return len(fields_in(node)) <= 1 and all(
            not isinstance(
                c, rast.AddExpression | rast.SubtractExpression | rast.ArithmeticExpression
            )
            for c in children(node)
        )

    return ok(rule.expression)


def candidate_values(entity: Entity, name: str, rules: Sequence[Rule]) -> list[Any]:
    """One representative per interval of ``name``'s domain cut at the rules' literals."""
    f = entity.field(name)
    literals = [v for rule in rules for v in _literals(rule, name)]
    if f.type == "enum":
        return [*f.values, None]
    if f.type == "boolean":
        return [True, False, None]
    if f.type == "tags":
        tags = sorted({v for v in literals if isinstance(v, str)})
        return [[], *[[t] for t in tags], tags, None]
    if f.type in ("date", "datetime"):
        days = sorted({v for v in literals if isinstance(v, date)})
        out: list[Any] = [date(1900, 1, 1), date(2100, 1, 1)]
        out += [d + timedelta(days=k) for d in days for k in (-1, 0, 1)]
        return [*sorted(set(out)), None]
    if f.type in ("integer", "number"):
        cuts = sorted({Decimal(str(v)) for v in literals if isinstance(v, int | float | Decimal)})
        step = Decimal(1) if f.type == "integer" else Decimal("0.000001")
        points = {Decimal(str(f.min)) if f.min is not None else Decimal(-(10**9))}
        points.add(Decimal(str(f.max)) if f.max is not None else Decimal(10**9))
        for c in cuts:
            points.update((c - step, c, c + step))
        low = Decimal(str(f.min)) if f.min is not None else None
        high = Decimal(str(f.max)) if f.max is not None else None
        kept = [p for p in points if (low is None or p >= low) and (high is None or p <= high)]
        cast = int if f.type == "integer" else float
        return [*sorted({cast(p) for p in kept}), None]
    return [*sorted({v for v in literals if isinstance(v, str)}), "", None]


def _grid(entity: Entity, rules: Sequence[Rule]) -> pl.DataFrame:
    names = sorted(set().union(*(r.fields for r in rules)))
    values = [candidate_values(entity, n, rules) for n in names]
    rows = list(itertools.islice(itertools.product(*values), _MAX_ROWS))
    schema = entity.polars_schema(include_derived=True)
    return pl.DataFrame(rows, schema={n: schema[n] for n in names}, orient="row")


def _truth(rules: Sequence[Rule]) -> tuple[pl.DataFrame, list[str]]:
    entity = load_schema().entity(rules[0].entity)
    grid = _grid(entity, rules)
    out = grid.with_columns(
        compile_rule(r, as_of=_AS_OF).alias(f"__r{i}") for i, r in enumerate(rules)
    )
    return out, [f"__r{i}" for i in range(len(rules))]


def _complete(rules: Sequence[Rule]) -> bool:
    """Whether the grid of ``rules`` holds every combination (none cut at ``_MAX_ROWS``)."""
    entity = load_schema().entity(rules[0].entity)
    names = sorted(set().union(*(r.fields for r in rules)))
    return math.prod(len(candidate_values(entity, n, rules)) for n in names) <= _MAX_ROWS


def never_true(rule: Rule) -> bool:
    """No combination of values makes the rule true: proved by ``rules.formula``'s reasoning,
    or found on the grid of candidates when the grid is whole (a cut grid proves nothing)."""
    if not rule.fields:
        return False
    entity = load_schema().entity(rule.entity)
    if not satisfiable(formula(rule), entity):
        return True
    if rule.groups or not _complete([rule]):
        return False  # a group's aggregates have no grid of candidates here
    frame, (col,) = _truth([rule])
    return not bool(frame[col].fill_null(False).any())


def always_true(rule: Rule) -> bool:
    """Every combination of known values makes the rule true."""
    if not rule.fields or rule.groups or not _complete([rule]):
        return False  # a cut grid proves nothing; a group's aggregates have no grid
    frame, (col,) = _truth([rule])
    known = frame.drop_nulls(subset=sorted(rule.fields))
    return known.height > 0 and bool(known[col].fill_null(False).all())


def implies(a: Rule, b: Rule) -> bool:
    """Wherever ``a`` is true, ``b`` is true too (on the combined candidates; False when they
    are too many to try every one)."""
    if a.groups or b.groups or not _complete([a, b]):
        return False
    frame, (ca, cb) = _truth([a, b])
    hits = frame.filter(pl.col(ca).fill_null(False))
    return hits.height > 0 and bool(hits[cb].fill_null(False).all())


def overlaps(
    named: Iterable[tuple[str, Rule]], *, population: pl.DataFrame | None = None,
    threshold: float = 0.8, as_of: date = _AS_OF,
) -> list[Finding]:  # fmt: skip
    """Never/always-true rules, equivalent and contained pairs, and pairs reaching nearly the
    same people on ``population`` (Jaccard ≥ ``threshold``), for rules of one audience."""
    items = list(named)
    findings: list[Finding] = []
    for pid, rule in items:
        if _has_regex(rule.expression):
            continue  # nothing sound can be said from candidate values
        if never_true(rule):
            findings.append(Finding("never_true", (pid,), "no values make it true", is_exact(rule)))
        elif always_true(rule):
            findings.append(
                Finding("always_true", (pid,), "true for everyone known", is_exact(rule))
            )
    for (pa, ra), (pb, rb) in itertools.combinations(items, 2):
        if ra.entity != rb.entity or not (ra.fields & rb.fields):
            continue
        if _has_regex(ra.expression) or _has_regex(rb.expression):
            continue
        exact = is_exact(ra) and is_exact(rb)
        ab, ba = implies(ra, rb), implies(rb, ra)
        if ab and ba:
            findings.append(Finding("equivalent", (pa, pb), "the same people in every case", exact))
        elif ab:
            findings.append(
                Finding("contained", (pa, pb), f"everyone {pa} reaches, {pb} reaches", exact)
            )
        elif ba:
            findings.append(
                Finding("contained", (pb, pa), f"everyone {pb} reaches, {pa} reaches", exact)
            )
    flat = [(pid, r) for pid, r in items if not r.groups]  # groups need their links
    if population is not None and flat:
        eligible = population.select(
            compile_rule(r, as_of=as_of).fill_null(False).alias(pid) for pid, r in flat
        )
        for (pa, _), (pb, _) in itertools.combinations(flat, 2):
            both = int((eligible[pa] & eligible[pb]).sum())
            either = int((eligible[pa] | eligible[pb]).sum())
            if either and both / either >= threshold:
                findings.append(
                    Finding(
                        "similar_reach", (pa, pb),
                        f"Jaccard {both / either:.2f} on the population ({both} of {either})",
                        exact=False,
                    )
                )  # fmt: skip
    return findings
