"""A rule's logic as propositions over fields, and whether a set of them can hold together.

The checks (``rules.checks``) ask whether a rule can ever be true, whether it always is, and
whether a tier of a benefit can be reached.  Each clause of a rule becomes an :class:`Atom`:
a numeric or date comparison with literals (an interval or a set of points of the field's
domain, bounded by the schema's ``min``/``max``, whole numbers for integer fields), an enum or
string compared with or looked up among literals (a set of values), a true/false field, a tag,
or anything else (arithmetic, regular expressions, two fields compared) as an opaque
proposition that may be true or false.  A formula is put into disjunctive normal form and each
conjunction is checked field by field: interval reasoning for numbers and dates, set reasoning
for enums, strings and tags.  Opaque propositions make the answer "can hold" rather than a
wrong "never", so a "never" is always a proof.

These are classical truths about known values.  Kleene's logic over unknowns is monotone (an
unknown that becomes known never turns true into false), so "true for some known values" is
the same question with or without unknowns; "always true" is not, and :func:`kleene_true`
answers it with every field that may be unknown left unknown.

>>> from profiles.schema import load_schema
>>> from rules.language import parse_rule
>>> r = load_schema().resident
>>> satisfiable(formula(parse_rule("年龄 >= 80 and 年龄 < 80", r)))
False
>>> example(formula(parse_rule('年龄 > 89 and 性别 == "女" and not ("new_parent" in tags)', r)))
{'age': 90, 'gender': 'female'}
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import rule_engine.ast as rast

from profiles.schema import Entity, Field
from rules.language import Rule, children, literal_value

__all__ = [
    "FALSE",
    "TRUE",
    "Atom",
    "Formula",
    "all_of",
    "any_of",
    "example",
    "fields_read",
    "formula",
    "kleene_true",
    "negate",
    "normal_form",
    "satisfiable",
    "witness",
]

MAX_TERMS = 4096  # conjunctions of the normal form past which nothing is claimed


@dataclass(frozen=True)
class Atom:
    """One clause: ``field`` ``op`` ``values`` (``op`` of ``num``: == != < <= > >= in; of
    ``set``: in; of ``bool``: is; of ``tag``: has); ``kind`` ``opaque`` for anything else."""

    kind: str  # num | set | bool | tag | opaque
    field: str | None
    op: str
    values: tuple[Any, ...]
    key: str  # the clause's text: two equal opaque clauses are one proposition
    node: Any = dataclasses.field(compare=False, hash=False, repr=False)
    fields: frozenset[str] = frozenset()  # every field the clause reads


@dataclass(frozen=True)
class Formula:
    op: str  # and | or | not | atom | const
    parts: tuple[Formula, ...] = ()
    atom: Atom | None = None
    value: bool | None = None


TRUE = Formula("const", value=True)
FALSE = Formula("const", value=False)
_UNKNOWN = Formula("const", value=None)
_FLIP = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge", "eq": "eq", "ne": "ne"}
_OPS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_NEGATED = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def all_of(*parts: Formula) -> Formula:
    return Formula("and", tuple(parts))


def any_of(*parts: Formula) -> Formula:
    return Formula("or", tuple(parts))


def negate(f: Formula) -> Formula:
    return Formula("not", (f,))


def _number(value: Any) -> Decimal:
    if isinstance(value, datetime):
        return Decimal(value.toordinal())
    if isinstance(value, date):
        return Decimal(value.toordinal())
    return Decimal(str(value))


def formula(rule: Rule, node: Any = None) -> Formula:
    """The formula of ``rule`` (or of its sub-expression ``node``, a condition)."""
    return _Builder(rule).build(rule.expression if node is None else node)


class _Builder:
    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    def opaque(self, node: Any) -> Formula:
        text = self.rule.snippet(node)
        reads = frozenset(_fields(node))
        return Formula("atom", atom=Atom("opaque", None, "", (), text, node, reads))

    def atom(self, kind: str, name: str, op: str, values: Iterable[Any], node: Any) -> Formula:
        key = self.rule.snippet(node)
        atom = Atom(kind, name, op, tuple(values), key, node, frozenset((name,)))
        return Formula("atom", atom=atom)

    def build(self, node: Any) -> Formula:
        if isinstance(node, rast.LogicExpression):
            parts = (self.build(node.left), self.build(node.right))
            return Formula("and" if node.type == "and" else "or", parts)
        if isinstance(node, rast.UnaryExpression) and node.type == "not":
            return negate(self.build(node.right))
        if isinstance(node, rast.BooleanExpression):
            return TRUE if node.value else FALSE
        if isinstance(node, rast.TernaryExpression):
            c = self.build(node.condition)
            whether = any_of(c, negate(c))  # an unknown condition makes the whole unknown
            chosen = any_of(
                all_of(c, self.build(node.case_true)),
                all_of(negate(c), self.build(node.case_false)),
            )
            return all_of(whether, chosen)
        if isinstance(node, rast.SymbolExpression) and node.scope != "built-in":
            return self.atom("bool", node.name, "is", (True,), node)
        built = self._comparison(node) if isinstance(node, rast.ComparisonExpression) else None
        if isinstance(node, rast.ContainsExpression):
            built = self._contains(node)
        return built if built is not None else self.opaque(node)

    def _field(self, node: Any) -> str | None:
        if isinstance(node, rast.SymbolExpression) and node.scope != "built-in":
            return str(node.name)
        return None

    def _comparison(self, node: Any) -> Formula | None:
        if isinstance(node, rast.FuzzyComparisonExpression) or node.type not in _OPS:
            return None
        left, right, op = node.left, node.right, node.type
        if self._field(left) is None:
            left, right, op = right, left, _FLIP[op]
        name = self._field(left)
        if name is None or not isinstance(right, rast.LiteralExpressionBase):
            return None
        kind = self.rule.type_of(left).kind
        value = literal_value(right)
        if kind in ("number", "date"):
            return self.atom("num", name, _OPS[op], (_number(value),), node)
        if kind == "string" and op in ("eq", "ne"):
            atom = self.atom("set", name, "in", (value,), node)
            return atom if op == "eq" else negate(atom)
        if kind == "boolean" and op in ("eq", "ne"):
            return self.atom("bool", name, "is", (bool(value) == (op == "eq"),), node)
        return None

    def _contains(self, node: Any) -> Formula | None:
        member, container = node.member, node.container
        name = self._field(container)
        if name is not None and self.rule.type_of(container).kind == "tags":
            if isinstance(member, rast.StringExpression):
                return self.atom("tag", name, "has", (member.value,), node)
            return None
        name = self._field(member)
        if name is None or not isinstance(container, rast.ArrayExpression):
            return None
        values = literal_value(container)
        if self.rule.type_of(member).kind in ("number", "date"):
            return self.atom("num", name, "in", tuple(_number(v) for v in values), node)
        return self.atom("set", name, "in", values, node)


def _fields(node: Any) -> set[str]:
    if isinstance(node, rast.SymbolExpression):
        return set() if node.scope == "built-in" else {str(node.name)}
    return set().union(*(_fields(c) for c in children(node)))


# -- normal form ---------------------------------------------------------------------------

Literal = tuple[Atom, bool]  # the atom and whether it holds (False: its negation)


def _nnf(f: Formula, positive: bool = True) -> Formula:
    if f.op == "not":
        return _nnf(f.parts[0], not positive)
    if f.op == "const":
        return f if positive or f.value is None else Formula("const", value=not f.value)
    if f.op == "atom":
        return f if positive else Formula("not", (f,))
    op = f.op if positive else ("or" if f.op == "and" else "and")
    return Formula(op, tuple(_nnf(p, positive) for p in f.parts))


def _dnf(f: Formula) -> list[list[Literal]] | None:
    """Conjunctions of literals whose disjunction is ``f`` (NNF); None past MAX_TERMS."""
    if f.op == "const":
        return [[]] if f.value else []
    if f.op == "atom":
        assert f.atom is not None
        return [[(f.atom, True)]]
    if f.op == "not":
        inner = f.parts[0].atom
        assert inner is not None
        return [[(inner, False)]]
    parts = [_dnf(p) for p in f.parts]
    if any(p is None for p in parts):
        return None
    terms: list[list[Literal]] = []
    if f.op == "or":
        for p in parts:
            terms.extend(p or [])
    else:
        terms = [[]]
        for p in parts:
            assert p is not None
            if len(terms) * len(p) > MAX_TERMS:
                return None
            terms = [a + b for a, b in itertools.product(terms, p)]
    return terms if len(terms) <= MAX_TERMS else None


# -- one field's constraints -----------------------------------------------------------------


@dataclass
class _Numbers:
    integer: bool
    low: Decimal | None = None
    low_strict: bool = False
    high: Decimal | None = None
    high_strict: bool = False
    points: set[Decimal] | None = None
    excluded: set[Decimal] = field(default_factory=set)

    def bound_below(self, value: Decimal, strict: bool) -> None:
        if self.low is None or value > self.low or (value == self.low and strict):
            self.low, self.low_strict = value, strict

    def bound_above(self, value: Decimal, strict: bool) -> None:
        if self.high is None or value < self.high or (value == self.high and strict):
            self.high, self.high_strict = value, strict

    def add(self, op: str, values: tuple[Any, ...], holds: bool) -> None:
        if op == "in":
            if holds:
                self.points = set(values) if self.points is None else self.points & set(values)
            else:
                self.excluded |= set(values)
            return
        op = op if holds else _NEGATED[op]
        (value,) = values
        if op == "==":
            self.points = {value} if self.points is None else self.points & {value}
        elif op == "!=":
            self.excluded.add(value)
        elif op in (">", ">="):
            self.bound_below(value, op == ">")
        else:
            self.bound_above(value, op == "<")

    def _fits(self, v: Decimal) -> bool:
        if self.integer and v != v.to_integral_value():
            return False
        if self.low is not None and (v < self.low or (v == self.low and self.low_strict)):
            return False
        if self.high is not None and (v > self.high or (v == self.high and self.high_strict)):
            return False
        return v not in self.excluded

    def sample(self) -> Decimal | None:
        """A value meeting every constraint, or None when there is none."""
        if self.points is not None:
            return next((v for v in sorted(self.points) if self._fits(v)), None)
        tries = len(self.excluded) + 2
        if self.integer:
            low = None if self.low is None else Decimal(math.floor(self.low) + 1)
            if self.low is not None and not self.low_strict and self.low == int(self.low):
                low = self.low
            high = None if self.high is None else Decimal(math.ceil(self.high) - 1)
            if self.high is not None and not self.high_strict and self.high == int(self.high):
                high = self.high
            if low is not None:
                start, step = low, 1
            elif high is not None:
                start, step = high, -1
            else:
                start, step = Decimal(0), 1
            candidates = [start + step * k for k in range(tries)]
        elif self.low is not None and self.high is not None:
            width = self.high - self.low
            candidates = [self.low, self.high]
            candidates += [self.low + width * k / (tries + 1) for k in range(1, tries + 1)]
        else:
            anchor = self.low if self.low is not None else self.high
            step = 1 if self.low is not None else -1
            base = anchor if anchor is not None else Decimal(0)
            candidates = [base + step * k for k in range(tries)]
        return next((v for v in candidates if self._fits(v)), None)


@dataclass
class _Values:
    domain: tuple[str, ...] | None  # an enum's values; None: any string
    allowed: set[Any] | None = None
    excluded: set[Any] = field(default_factory=set)

    def add(self, values: tuple[Any, ...], holds: bool) -> None:
        if holds:
            self.allowed = set(values) if self.allowed is None else self.allowed & set(values)
        else:
            self.excluded |= set(values)

    def sample(self) -> Any:
        if self.allowed is not None:
            pool: list[Any] = sorted(self.allowed, key=str)
        elif self.domain is not None:
            pool = list(self.domain)
        else:
            return next(f"其他{k}" for k in itertools.count() if f"其他{k}" not in self.excluded)
        if self.domain is not None:
            pool = [v for v in pool if v in self.domain]
        return next((v for v in pool if v not in self.excluded), None)


_NONE = object()


def witness(term: list[Literal], entity: Entity) -> dict[str, Any] | None:
    """Values of the fields ``term`` constrains that meet all of it, or None if none do."""
    numbers: dict[str, _Numbers] = {}
    values: dict[str, _Values] = {}
    flags: dict[str, set[bool]] = {}
    tags: dict[str, tuple[set[str], set[str]]] = {}
    opaque: dict[str, set[bool]] = {}
    for atom, holds in term:
        name = atom.field or ""
        if atom.kind == "opaque":
            opaque.setdefault(atom.key, set()).add(holds)
        elif atom.kind == "num":
            f = entity.by_name[name]
            if name not in numbers:
                numbers[name] = _domain(f)
            numbers[name].add(atom.op, atom.values, holds)
        elif atom.kind == "set":
            f = entity.by_name[name]
            values.setdefault(name, _Values(f.values or None)).add(atom.values, holds)
        elif atom.kind == "bool":
            flags.setdefault(name, set()).add(atom.values[0] == holds)
        else:
            has, lacks = tags.setdefault(name, (set(), set()))
            (has if holds else lacks).add(atom.values[0])
    if any(len(p) > 1 for p in opaque.values()) or any(len(v) > 1 for v in flags.values()):
        return None
    if any(has & lacks for has, lacks in tags.values()):
        return None
    found: dict[str, Any] = {}
    for name, n in numbers.items():
        point = n.sample()
        if point is None:
            return None
        found[name] = _shown(entity.by_name[name], point)
    for name, v in values.items():
        value = v.sample()
        if value is None:
            return None
        found[name] = value
    for name, flag in flags.items():
        found[name] = next(iter(flag))
    for name, (has, _) in tags.items():
        if has:
            found[name] = sorted(has)
    return found


def _domain(f: Field) -> _Numbers:
    n = _Numbers(integer=f.type in ("integer", "date"))
    if f.type in ("date", "datetime"):  # days as ordinals: the calendar's own bounds
        n.bound_below(Decimal(date.min.toordinal()), False)
        n.bound_above(Decimal(date.max.toordinal()), False)
    if f.min is not None:
        n.bound_below(Decimal(str(f.min)), False)
    if f.max is not None:
        n.bound_above(Decimal(str(f.max)), False)
    return n


def _shown(f: Field, point: Decimal) -> Any:
    if f.type in ("date", "datetime"):
        return date.fromordinal(math.floor(point))
    if point == point.to_integral_value():
        return int(point)
    return float(point)


def normal_form(f: Formula) -> list[list[Literal]] | None:
    """The conjunctions of literals whose disjunction is ``f``; None past ``MAX_TERMS``."""
    return _dnf(_nnf(f))


def satisfiable(f: Formula, entity: Entity | None = None) -> bool:
    """Whether some known values make ``f`` true; True when that cannot be decided."""
    terms = normal_form(f)
    if terms is None:
        return True
    entity = entity or _entity_of(f)
    return any(witness(t, entity) is not None for t in terms)


def example(f: Formula, entity: Entity | None = None) -> dict[str, Any] | None:
    """Values making ``f`` true (the fields it constrains), or None (none, or undecided)."""
    terms = normal_form(f)
    entity = entity or _entity_of(f)
    for term in terms or []:
        found = witness(term, entity)
        if found is not None:
            return found
    return None


def _entity_of(f: Formula) -> Entity:
    from profiles.schema import load_schema

    names = set(_atoms_fields(f))
    for candidate in (load_schema().resident, load_schema().enterprise):
        if names <= set(candidate.by_name):
            return candidate
    return load_schema().resident


def _atoms_fields(f: Formula) -> Iterator[str]:
    if f.atom is not None:
        yield from f.atom.fields
    for p in f.parts:
        yield from _atoms_fields(p)


def kleene_true(f: Formula, entity: Entity) -> bool:
    """Whether ``f`` is true for every subject, whatever of it is unknown: true with every
    clause unknown that reads a field which may be unknown (all but required ones), for
    every value of the required fields.

    >>> from profiles.schema import load_schema
    >>> from rules.language import parse_rule
    >>> r = load_schema().resident
    >>> kleene_true(formula(parse_rule("年龄 >= 0 or 年龄 < 0", r)), r)
    False
    >>> kleene_true(formula(parse_rule('person_id != "" or person_id == ""', r)), r)
    True
    """

    def known(atom: Atom) -> bool:
        return bool(atom.fields) and all(entity.by_name[n].required for n in atom.fields)

    def fold(g: Formula) -> Formula:  # on the negation normal form: not only over atoms
        if g.op in ("atom", "not"):
            atom = g.atom if g.op == "atom" else g.parts[0].atom
            assert atom is not None
            return g if known(atom) else _UNKNOWN
        if g.op == "const":
            return g
        parts = [fold(p) for p in g.parts]
        if g.op == "and":
            if any(p.op == "const" and p.value is not True for p in parts):
                return next(p for p in parts if p.op == "const" and p.value is not True)
            rest = [p for p in parts if p.op != "const"]
            return Formula("and", tuple(rest)) if rest else TRUE
        if any(p.op == "const" and p.value is True for p in parts):
            return TRUE
        rest = [p for p in parts if p.op != "const"]  # an unknown part cannot make it true
        if rest:
            return Formula("or", tuple(rest))
        return _UNKNOWN if any(p.value is None for p in parts) else FALSE

    folded = fold(_nnf(f))
    if folded.op == "const":
        return folded.value is True
    return not satisfiable(negate(folded), entity)


def fields_read(f: Formula) -> list[str]:
    """The fields ``f`` reads, in order of first mention."""
    return list(dict.fromkeys(_atoms_fields(f)))
