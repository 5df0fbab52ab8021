"""The rule language: rule-engine's expression syntax over the profile schema, type-checked.

``parse_rule`` maps Chinese field names to schema names, parses with rule-engine, gives every
AST node its span in the officer's text, and checks the whole expression against the schema's
types and allowed values before anything runs.  Errors point at line and column of what the
officer wrote and suggest the nearest field name or allowed value.

>>> from profiles.schema import load_schema
>>> rule = parse_rule('年龄 >= 80 and hukou_city == "北京市"', load_schema().resident)
>>> sorted(rule.fields), rule.text
(['age', 'hukou_city'], 'age >= 80 and hukou_city == "北京市"')
>>> try:
...     parse_rule('employment_status == "retird"', load_schema().resident)
... except RuleTypeError as err:
...     print(err.line, err.col, err.detail.split(" (")[0])
1 22 employment_status has no value "retird"; did you mean "retired"?
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal

import rule_engine
import rule_engine.ast as rast
import rule_engine.errors as rerr

from profiles.schema import Entity
from profiles.schema import Field as SchemaField
from rules.errors import RuleSyntaxError, RuleTypeError
from rules.limits import check_length, check_size
from rules.regex import pattern_problem
from rules.source import Source, Token

__all__ = ["RType", "Rule", "RuleKind", "children", "literal_value", "parse_rule"]

RuleKind = Literal["eligibility", "benefit"]

_ORDERING = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_EQUALITY = {"eq": "==", "ne": "!="}
_REGEX = {"eq_fzm": "=~", "eq_fzs": "=~~", "ne_fzm": "!~", "ne_fzs": "!~~"}
_ARITHMETIC = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "tdiv": "/",
    "fdiv": "//",
    "mod": "%",
    "pow": "**",
}


@dataclass(frozen=True)
class RType:
    """The type of an expression: number, string, boolean, date, tags, array or null.

    ``values`` holds the allowed values of an enum field (a string); ``field`` the schema field
    an expression reads directly, so messages can name it.
    """

    kind: str
    values: tuple[str, ...] = ()
    item: RType | None = None
    field: str | None = None
    integer: bool = False

    def describe(self) -> str:
        if self.kind == "array" and self.item is not None:
            return f"a list of {self.item.describe()}s"
        noun = {
            "number": "a number",
            "string": "a string",
            "boolean": "true/false",
            "date": "a date",
            "tags": "a set of tags",
            "null": "null",
            "array": "a list",
        }[self.kind]
        return f"{self.field} ({noun})" if self.field else noun


_SCHEMA_KIND = {
    "string": "string",
    "enum": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "date",
    "tags": "tags",
}


@dataclass(frozen=True)
class Rule:
    """A checked rule, ready to compile (``rules.compiler``) or explain (``rules.explainer``)."""

    source: str
    text: str
    entity: str
    kind: RuleKind
    fields: frozenset[str]
    expression: Any = field(repr=False, compare=False)  # rule-engine AST root
    spans: dict[int, tuple[int, int]] = field(repr=False, compare=False)  # id(node) -> span
    types: dict[int, RType] = field(repr=False, compare=False)  # id(node) -> type
    origin: Source = field(repr=False, compare=False)

    def span(self, node: Any) -> tuple[int, int]:
        return self.spans.get(id(node), (0, len(self.text)))

    def snippet(self, node: Any) -> str:
        """The officer's text of ``node``."""
        return self.origin.snippet(*self.span(node))

    def type_of(self, node: Any) -> RType:
        return self.types[id(node)]


def children(node: Any) -> tuple[Any, ...]:
    """The sub-expressions of ``node`` in source order."""
    if isinstance(node, rast.TernaryExpression):
        return (node.condition, node.case_true, node.case_false)
    if isinstance(node, rast.ContainsExpression):
        return (node.member, node.container)
    if isinstance(node, rast.UnaryExpression):
        return (node.right,)
    if isinstance(node, rast.ArrayExpression):
        return tuple(node.value)
    if isinstance(node, rast.BinaryExpressionBase):
        return (node.left, node.right)
    return ()


def _is_leaf(node: Any) -> bool:
    return isinstance(node, rast.SymbolExpression | rast.LiteralExpressionBase) and not isinstance(
        node, rast.ArrayExpression | rast.SetExpression
    )


def _leaf_matches(node: Any, token: Token) -> bool:
    if isinstance(node, rast.SymbolExpression):
        name = f"${node.name}" if node.scope == "built-in" else node.name
        return token.kind == "symbol" and token.text == name
    if isinstance(node, rast.BooleanExpression | rast.NullExpression):
        return token.kind == "keyword"
    if isinstance(node, rast.FloatExpression):
        return token.kind == "number"
    return token.kind == "string"


class _Spans:
    """Give each AST node its span by walking leaves in source order against the tokens."""

    def __init__(self, source: Source) -> None:
        self.tokens = source.tokens
        self.cursor = 0
        self.spans: dict[int, tuple[int, int]] = {}

    def walk(self, node: Any) -> tuple[int, int] | None:
        if _is_leaf(node):
            for i in range(self.cursor, len(self.tokens)):
                token = self.tokens[i]
                if _leaf_matches(node, token):
                    self.cursor = i + 1
                    self.spans[id(node)] = (token.start, token.end)
                    return token.start, token.end
            return None  # folded constants (e.g. 5 ** 6) have no token of their own
        parts = [s for s in (self.walk(c) for c in children(node)) if s is not None]
        if not parts:
            return None
        start, end = min(s for s, _ in parts), max(e for _, e in parts)
        if isinstance(node, rast.UnaryExpression):
            start = self._operator_before(start)
        if isinstance(node, rast.ArrayExpression):
            start, end = self._brackets(start, end)
        self.spans[id(node)] = (start, end)
        return start, end

    def _operator_before(self, start: int) -> int:
        before = [t for t in self.tokens if t.end <= start]
        return before[-1].start if before else start

    def _brackets(self, start: int, end: int) -> tuple[int, int]:
        opening = [t for t in self.tokens if t.end <= start and t.text == "["]
        closing = [t for t in self.tokens if t.start >= end and t.text == "]"]
        return (opening[-1].start if opening else start, closing[0].end if closing else end)


class _Checker:
    def __init__(self, entity: Entity, source: Source, spans: dict[int, tuple[int, int]]) -> None:
        self.entity = entity
        self.source = source
        self.spans = spans
        self.types: dict[int, RType] = {}
        self.fields: set[str] = set()

    def fail(self, node: Any, message: str) -> RuleTypeError:
        start = self.spans.get(id(node), (0, 0))[0]
        line, col = self.source.position(start)
        return RuleTypeError(message, line=line, col=col)

    def check(self, node: Any) -> RType:
        rtype = self._check(node)
        self.types[id(node)] = rtype
        return rtype

    def _field_type(self, f: SchemaField) -> RType:
        return RType(
            _SCHEMA_KIND[f.type], values=f.values, field=f.name, integer=f.type == "integer"
        )

    def _symbol(self, node: Any) -> RType:
        if node.scope == "built-in":
            if node.name == "today":
                return RType("date", field="$today")
            raise self.fail(node, f"${node.name} is not available; the only built-in is $today")
        f = self.entity.by_name.get(node.name)
        if f is None:
            names = list(self.entity.field_names)
            near = difflib.get_close_matches(node.name, names, n=1, cutoff=0.6)
            hint = f"did you mean {near[0]!r}?" if near else f"the fields are {', '.join(names)}"
            raise self.fail(node, f"unknown field {node.name!r} for {self.entity.name}s; {hint}")
        self.fields.add(f.name)
        return self._field_type(f)

    def _literal(self, node: Any) -> RType:
        if isinstance(node, rast.FloatExpression):
            value = node.value
            return RType("number", integer=value == value.to_integral_value())
        if isinstance(node, rast.StringExpression):
            return RType("string")
        if isinstance(node, rast.BooleanExpression):
            return RType("boolean")
        if isinstance(node, rast.DatetimeExpression):
            return RType("date")
        if isinstance(node, rast.NullExpression):
            raise self.fail(
                node,
                "null cannot be compared: a missing value is unknown, and any comparison with "
                "unknown is unknown; the match becomes 'maybe' by itself when a field is missing",
            )
        if isinstance(node, rast.ArrayExpression):
            items = [self.check(item) for item in node.value]
            kinds = {t.kind for t in items}
            if len(kinds) > 1:
                raise self.fail(node, "a list must hold values of one type (all strings, ...)")
            if any(not isinstance(i, rast.LiteralExpressionBase) for i in node.value):
                raise self.fail(node, "a list may hold only literal values, not fields")
            return RType("array", item=items[0] if items else RType("string"))
        if isinstance(node, rast.TimedeltaExpression):
            raise self.fail(
                node, 'durations (t"...") are not supported; compare age or age_years instead'
            )
        raise self.fail(node, f"{type(node).__name__} literals are not supported in policies")

    def _expect(self, node: Any, rtype: RType, kinds: tuple[str, ...], what: str) -> None:
        if rtype.kind not in kinds:
            raise self.fail(node, f"{what} expects {' or '.join(kinds)}, found {rtype.describe()}")

    def _enum_value(self, field_type: RType, literal: Any) -> None:
        """Check a string literal compared with an enum field is one of its values."""
        if not field_type.values or not isinstance(literal, rast.StringExpression):
            return
        if literal.value in field_type.values:
            return
        near = difflib.get_close_matches(literal.value, field_type.values, n=1, cutoff=0.5)
        hint = f"; did you mean {near[0]!r}?".replace("'", '"') if near else ""
        raise self.fail(
            literal,
            f'{field_type.field} has no value "{literal.value}"{hint} '
            f"(allowed: {', '.join(field_type.values)})",
        )

    def _comparable(self, node: Any, left: RType, right: RType, op: str) -> None:
        if left.kind != right.kind:
            raise self.fail(
                node.right if left.field else node.left,
                f"cannot compare {left.describe()} with {right.describe()} using {op}; "
                "both sides must have the same type",
            )
        self._enum_value(left, node.right)
        self._enum_value(right, node.left)

    def _check(self, node: Any) -> RType:
        if isinstance(node, rast.SymbolExpression):
            return self._symbol(node)
        if isinstance(node, rast.LiteralExpressionBase):
            return self._literal(node)
        if isinstance(node, rast.LogicExpression):
            for side in (node.left, node.right):
                self._expect(side, self.check(side), ("boolean",), f"'{node.type}'")
            return RType("boolean")
        if isinstance(node, rast.UnaryExpression):
            inner = self.check(node.right)
            if node.type == "not":
                self._expect(node.right, inner, ("boolean",), "'not'")
                return RType("boolean")
            self._expect(node.right, inner, ("number",), "unary minus")
            return RType("number", integer=inner.integer)
        if isinstance(node, rast.FuzzyComparisonExpression):
            left = self.check(node.left)
            self._expect(node.left, left, ("string",), _REGEX[node.type])
            self.check(node.right)
            if not isinstance(node.right, rast.StringExpression):
                raise self.fail(node.right, "a regular expression must be a string literal")
            problem = pattern_problem(node.right.value)
            if problem is not None:
                raise self.fail(node.right, f"regular expression {node.right.value!r}: {problem}")
            return RType("boolean")
        if isinstance(node, rast.ArithmeticComparisonExpression):
            left, right = self.check(node.left), self.check(node.right)
            op = _ORDERING[node.type]
            self._comparable(node, left, right, op)
            self._expect(node.left, left, ("number", "date"), op)
            return RType("boolean")
        if isinstance(node, rast.ComparisonExpression):
            left, right = self.check(node.left), self.check(node.right)
            self._comparable(node, left, right, _EQUALITY[node.type])
            self._expect(node.left, left, ("number", "string", "boolean", "date"), "==")
            return RType("boolean")
        if isinstance(node, rast.AddExpression | rast.SubtractExpression):
            left, right = self.check(node.left), self.check(node.right)
            if left.kind == "string" and right.kind == "string" and node.type == "add":
                return RType("string")
            for side, t in ((node.left, left), (node.right, right)):
                self._expect(side, t, ("number",), _ARITHMETIC[node.type])
            return RType("number", integer=left.integer and right.integer)
        if isinstance(node, rast.ArithmeticExpression):
            left, right = self.check(node.left), self.check(node.right)
            for side, t in ((node.left, left), (node.right, right)):
                self._expect(side, t, ("number",), _ARITHMETIC[node.type])
            if node.type == "pow":
                raise self.fail(node, "** is not supported; multiply instead (e.g. x * x)")
            exact = node.type in ("mul", "fdiv", "mod") and left.integer and right.integer
            return RType("number", integer=exact)
        if isinstance(node, rast.ContainsExpression):
            member, container = self.check(node.member), self.check(node.container)
            if container.kind == "tags":
                self._expect(node.member, member, ("string",), "'in tags'")
                return RType("boolean")
            if container.kind != "array" or container.item is None:
                raise self.fail(
                    node.container,
                    f'\'in\' expects a list literal like ["a", "b"] or the field tags, '
                    f"found {container.describe()}",
                )
            if container.item.kind != member.kind:
                raise self.fail(
                    node,
                    f"cannot look for {member.describe()} in {container.describe()}",
                )
            for item in node.container.value:
                self._enum_value(member, item)
            return RType("boolean")
        if isinstance(node, rast.TernaryExpression):
            self._expect(node.condition, self.check(node.condition), ("boolean",), "'?'")
            a, b = self.check(node.case_true), self.check(node.case_false)
            if a.kind != b.kind:
                raise self.fail(
                    node,
                    f"both branches of '?:' must have one type: {a.describe()} vs {b.describe()}",
                )
            return RType(a.kind, integer=a.integer and b.integer)
        raise self.fail(
            node,
            f"{type(node).__name__.removesuffix('Expression').lower()} expressions are not "
            "supported in policies (use comparisons, and/or/not, arithmetic, in, =~, ?:)",
        )


def _syntax_error(exc: rerr.RuleSyntaxError, source: Source) -> RuleSyntaxError:
    token = getattr(exc, "token", None)
    if token is None:
        line, col = source.position(len(source.text))
        return RuleSyntaxError(
            "the expression ends too early; something is missing at the end (an operand, "
            "a closing bracket or quote?)",
            line=line,
            col=col,
        )
    line, col = source.position(token.lexpos)
    return RuleSyntaxError(
        f"unexpected {token.value!r}; check the operator or value here", line=line, col=col
    )


def _unsupported_tokens(source: Source) -> Iterator[RuleSyntaxError]:
    for token in source.tokens:
        if token.kind == "other" or token.text in ("&&", "||", "!"):
            hint = {"&&": "and", "||": "or", "!": "not"}.get(token.text)
            line, col = source.position(token.start)
            advice = f"; write {hint!r}" if hint else ""
            yield RuleSyntaxError(f"unexpected {token.text!r}{advice}", line=line, col=col)


def _unknown_chinese_names(source: Source, entity: Entity) -> Iterator[RuleTypeError]:
    for token in source.tokens:
        if token.kind == "symbol" and not token.text.isascii():
            names = list(entity.by_name_zh)
            near = difflib.get_close_matches(token.text, names, n=1, cutoff=0.3)
            hint = (
                f"did you mean {near[0]!r}?"
                if near
                else f"the Chinese names are {', '.join(names)}"
            )
            line, col = source.position(token.start)
            yield RuleTypeError(
                f"unknown field {token.text!r} for {entity.name}s; {hint}", line=line, col=col
            )


@cache
def _context() -> rule_engine.Context:
    # One context for every parse: building one (its builtins) costs as much as the parse.
    return rule_engine.Context()


def parse_rule(source: str, entity: Entity, *, kind: RuleKind = "eligibility") -> Rule:
    """Parse and check ``source`` against ``entity``'s fields; raise a positioned error."""
    if not source or not source.strip():
        raise RuleSyntaxError(
            f"the {kind} expression is empty; write a condition such as age >= 80"
        )
    check_length(source)
    origin = Source.of(source, entity)
    check_size(origin)  # before anything walks the expression recursively
    for problem in _unsupported_tokens(origin):
        raise problem
    for unknown in _unknown_chinese_names(origin, entity):
        raise unknown
    try:
        with warnings.catch_warnings():
            # rule-engine compiles each regex with Python's re, which warns of nested sets
            # ("[a[b]]"); the checker refuses those with a message of its own
            warnings.simplefilter("ignore", FutureWarning)
            statement = rule_engine.Rule(origin.text, context=_context()).statement
    except rerr.RuleSyntaxError as exc:
        raise _syntax_error(exc, origin) from None
    except (rerr.EvaluationError, rerr.RegexSyntaxError, rerr.DatetimeSyntaxError) as exc:
        line, col = origin.position(0)
        detail = str(getattr(exc, "message", exc))
        if "arithmetic" in detail:
            detail = (
                f"a part made only of numbers cannot be computed ({detail}); "
                "check divisions by zero"
            )
        raise RuleTypeError(detail, line=line, col=col) from None
    except rerr.EngineError as exc:
        raise RuleSyntaxError(str(getattr(exc, "message", exc)), line=1, col=1) from None
    except RecursionError:  # check_size keeps rules far from this; a last guard, not a path
        raise RuleSyntaxError(
            "the expression nests too deeply to be read; simplify it", line=1, col=1
        ) from None
    expression = statement.expression
    spans = _Spans(origin)
    spans.walk(expression)
    checker = _Checker(entity, origin, spans.spans)
    result = checker.check(expression)
    wanted = "boolean" if kind == "eligibility" else "number"
    if result.kind != wanted:
        what = "a condition (true/false)" if kind == "eligibility" else "an amount (a number)"
        raise checker.fail(expression, f"{kind} must be {what}, found {result.describe()}")
    return Rule(
        source=source,
        text=origin.text,
        entity=entity.name,
        kind=kind,
        fields=frozenset(checker.fields),
        expression=expression,
        spans=spans.spans,
        types=checker.types,
        origin=origin,
    )


def literal_value(node: Any) -> Any:
    """The Python value of a literal node (dates as ``date``, numbers as ``Decimal``)."""
    value = node.value
    if isinstance(node, rast.DatetimeExpression) and isinstance(value, datetime):
        return value.date()
    if isinstance(node, rast.ArrayExpression):
        return tuple(literal_value(item) for item in value)
    return value
