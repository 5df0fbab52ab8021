"""The rule language: rule-engine's expression syntax over the profile schema, type-checked.

``parse_rule`` maps Chinese field names to schema names, parses with rule-engine, gives every
AST node its span in the officer's text, and checks the whole expression against the schema's
types and allowed values before anything runs.  Errors point at line and column of what the
officer wrote and suggest the nearest field name, allowed value or tag.

A tag may be named by its Chinese name and an enum value by its label (``rules.aliases``): the
rule is then read again with each rewritten to the id or value, so everything downstream (the
compiler, the evaluator, the explainer, the tags a run computes) sees only ids and values.

>>> from profiles.schema import load_schema
>>> rule = parse_rule('年龄 >= 80 and hukou_city == "北京市"', load_schema().resident)
>>> sorted(rule.fields), rule.text
(['age', 'hukou_city'], 'age >= 80 and hukou_city == "北京市"')
>>> try:
...     parse_rule('employment_status == "retird"', load_schema().resident)
... except RuleTypeError as err:
...     print(err.line, err.col, err.detail.split(" (")[0])
1 22 employment_status has no value "retird"; did you mean "retired"?
>>> parse_rule('"新生儿父母" in 标签 and 性别 == "女"', load_schema().resident).text
'"new_parent" in tags and gender == "female"'
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any, Literal

import rule_engine
import rule_engine.ast as rast
import rule_engine.errors as rerr
from rule_engine.builtins import Builtins
from rule_engine.types import DataType

from profiles.schema import Entity, Schema
from profiles.schema import Field as SchemaField
from rules.aliases import tag_audience, tag_id, unknown_tag_hint
from rules.errors import RuleSyntaxError, RuleTypeError
from rules.groups import AGGREGATES, GROUP_WORDS, HOUSEHOLD_PREFIX, Aggregate
from rules.limits import check_length, check_size
from rules.parameters import is_parameter, parameter_named, unknown_parameters
from rules.regex import pattern_problem
from rules.source import Source, Token
from rules.suggest import nearest

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
    # what it reads of its groups: "household.size", "members.age", "employees.hired_on"
    groups: frozenset[str] = frozenset()

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
    if isinstance(node, rast.GetItemExpression):  # parameters.x[index]
        return (node.container, node.item)
    if isinstance(node, rast.BinaryExpressionBase):
        return (node.left, node.right)
    return ()


def _is_parameter_node(node: Any) -> bool:
    return isinstance(node, rast.SymbolExpression) and is_parameter(node.name)


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
        if isinstance(node, rast.GetAttributeExpression | rast.FunctionCallExpression):
            return self._group(node)
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

    def _group(self, node: Any) -> tuple[int, int] | None:
        """``household.x`` spans the object to the attribute's name; ``f(a, b)`` the name to
        its closing parenthesis."""
        if isinstance(node, rast.GetAttributeExpression):
            first = self.walk(node.object)
            if first is None:
                return None
            for i in range(self.cursor, len(self.tokens)):
                token = self.tokens[i]
                if token.kind == "symbol" and token.text == node.name:
                    self.cursor = i + 1
                    self.spans[id(node)] = (first[0], token.end)
                    return self.spans[id(node)]
            return None
        head = self.walk(node.function)
        if head is None:
            return None
        close = len(self.tokens)
        depth = 0
        for i in range(self.cursor, len(self.tokens)):
            text = self.tokens[i].text
            depth += (text == "(") - (text == ")")
            if text == ")" and depth == 0:
                close = i
                break
        for argument in node.arguments:
            self.walk(argument)
        end = self.tokens[close].end if close < len(self.tokens) else head[1]
        self.cursor = max(self.cursor, close + 1)
        self.spans[id(node)] = (head[0], end)
        return head[0], end

    def _operator_before(self, start: int) -> int:
        before = [t for t in self.tokens if t.end <= start]
        return before[-1].start if before else start

    def _brackets(self, start: int, end: int) -> tuple[int, int]:
        opening = [t for t in self.tokens if t.end <= start and t.text == "["]
        closing = [t for t in self.tokens if t.start >= end and t.text == "]"]
        return (opening[-1].start if opening else start, closing[0].end if closing else end)


@dataclass(frozen=True)
class _Scope:
    """The groups a rule of one audience may read (``rules.groups``)."""

    household: Entity | None = None  # read as household.x (resident rules)
    members: Entity | None = None  # aggregated over by members_* (resident, household rules)
    employees: Entity | None = None  # aggregated over by employees_* (enterprise rules)
    prefixed: bool = False  # members aggregates are written household.members_*(…)


def _employee_entity(schema: Schema) -> Entity | None:
    """An employment's fields with its employee's resident fields (the employment's win)."""
    if "employment" not in schema.entities:
        return None
    employment = schema.entity("employment")
    own = set(employment.field_names)
    fields = (*employment.fields, *(f for f in schema.resident.fields if f.name not in own))
    return Entity(
        name="employee",
        key=None,
        zh="员工",
        en="employee",
        fields=fields,
        by_name={f.name: f for f in fields},
        by_name_zh={f.name_zh: f for f in reversed(fields) if f.name_zh},
    )


def _scope(entity: Entity, schema: Schema) -> _Scope:
    if entity.name == "resident" and "household" in schema.entities:
        return _Scope(household=schema.entity("household"), members=entity, prefixed=True)
    if entity.name == "household":
        return _Scope(members=schema.resident)
    if entity.name == "enterprise":
        return _Scope(employees=_employee_entity(schema))
    return _Scope()


def _words(scope: _Scope) -> dict[str, str]:
    """The Chinese words a rule of ``scope`` may use beyond its own fields' names."""
    if scope == _Scope():
        return {}
    words = dict(GROUP_WORDS)
    for entity in (scope.household, scope.members, scope.employees):
        if entity is not None:
            words.update({f.name_zh: f.name for f in entity.fields if f.name_zh} | words)
    return words


class _Checker:
    def __init__(
        self,
        entity: Entity,
        source: Source,
        spans: dict[int, tuple[int, int]],
        scope: _Scope | None = None,
        parent: _Checker | None = None,
    ) -> None:
        self.entity = entity
        self.source = source
        self.spans = spans
        self.scope = scope or _Scope()
        # a member condition's checker shares its rule's types and aliases
        self.types: dict[int, RType] = parent.types if parent else {}
        self.fields: set[str] = set()
        self.groups: set[str] = parent.groups if parent else set()
        self.aliases: dict[int, str] = parent.aliases if parent else {}

    def fail(self, node: Any, message: str) -> RuleTypeError:
        start = self.spans.get(id(node), (0, 0))[0]
        line, col = self.source.position(start)
        return RuleTypeError(message, line=line, col=col)

    def fail_with(self, node: Any, code: str, params: dict[str, Any]) -> RuleTypeError:
        start = self.spans.get(id(node), (0, 0))[0]
        line, col = self.source.position(start)
        return RuleTypeError.of(code, params, line=line, col=col)

    def alias(self, literal: Any, value: str) -> None:
        """Read the string ``literal`` as ``value`` (an id or enum value it names)."""
        self.aliases[self.spans[id(literal)][0]] = value

    def check(self, node: Any) -> RType:
        rtype = self._check(node)
        self.types[id(node)] = rtype
        return rtype

    def _field_type(self, f: SchemaField) -> RType:
        return RType(
            _SCHEMA_KIND[f.type], values=f.values, field=f.name, integer=f.type == "integer"
        )

    def _symbol(self, node: Any) -> RType:
        if is_parameter(node.name):
            return self._parameter(node)
        if node.scope == "built-in":
            if node.name == "today":
                return RType("date", field="$today")
            raise self.fail(node, f"${node.name} is not available; the only built-in is $today")
        f = self.entity.by_name.get(node.name)
        if f is None:
            raise self.fail_with(node, "unknown_field", _unknown_field(node.name, self.entity))
        self.fields.add(f.name)
        return self._field_type(f)

    def _parameter(self, node: Any, index: Any = None) -> RType:
        """``parameters.x`` (an amount) or ``parameters.x[index]`` (a scale, categories)."""
        parameter = parameter_named(node.name)
        # A constant of the run like $today, not a subject's field: every walker that skips
        # built-ins (fields read, the explainer's settling values, the analysis) skips it.
        node.scope = "built-in"
        if parameter.kind == "amount":
            if index is not None:
                raise self.fail(index, f"{parameter.name} is one amount; write it without [...]")
            return RType("number", field=f"parameters.{parameter.name}")
        if index is None:
            by = parameter.by or ("age" if parameter.kind == "scale" else "subsistence_status")
            raise self.fail(
                node,
                f"{parameter.name} ({parameter.name_zh}) is a {parameter.kind}: say which bracket, "
                f"e.g. parameters.{parameter.name}[{by}]",
            )
        self.types[id(node)] = RType("number", field=f"parameters.{parameter.name}")
        wanted = "number" if parameter.kind == "scale" else "string"
        self._expect(index, self.check(index), (wanted,), f"{parameter.name}[...]")
        return RType("number", field=f"parameters.{parameter.name}[]")

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

    def _field_named(self, name: str | None) -> SchemaField | None:
        """The schema field an expression reads directly (``household.x`` too)."""
        if name and name.startswith(HOUSEHOLD_PREFIX + ".") and self.scope.household:
            return self.scope.household.by_name.get(name.split(".", 1)[1])
        return self.entity.by_name.get(name or "")

    def _words(self, rtype: RType) -> dict[str, str]:
        """``rtype`` described in both languages (a field by its Chinese name in Chinese)."""
        zh = _KIND_ZH[rtype.kind]
        if rtype.kind == "array" and rtype.item is not None:
            zh = f"{_KIND_ZH[rtype.item.kind]}列表"
        f = self._field_named(rtype.field)
        if f is not None:
            zh = f"{f.name_zh or f.name}（{zh}）"
        return {"zh": zh, "en": rtype.describe()}

    def _expect(self, node: Any, rtype: RType, kinds: tuple[str, ...], what: str) -> None:
        if rtype.kind not in kinds:
            params = {
                "what": {"en": what, "zh": _WHAT_ZH.get(what, what)},
                "kinds": {"en": " or ".join(kinds), "zh": "或".join(_KIND_ZH[k] for k in kinds)},
                "found": self._words(rtype),
            }
            raise self.fail_with(node, "expects", params)

    def _enum_value(self, field_type: RType, literal: Any) -> None:
        """Check a string literal compared with an enum field is one of its values (or names
        one by its label, read as the value)."""
        if not field_type.values or not isinstance(literal, rast.StringExpression):
            return
        if literal.value in field_type.values:
            return
        f = self._field_named(field_type.field)
        named = f.value_named(literal.value) if f is not None else None
        if named is not None:
            self.alias(literal, named)
            return
        labels = {v: f.label(v, "zh") for v in field_type.values} if f else {}
        near = difflib.get_close_matches(literal.value, field_type.values, n=1, cutoff=0.5)
        near_zh = nearest(literal.value, [*labels.values(), *field_type.values])
        field_zh = (f.name_zh if f else None) or field_type.field
        shown_zh = [labels[v] if labels[v] == v else f"{labels[v]}（{v}）" for v in labels]
        params = {
            "field": {"zh": field_zh, "en": field_type.field},
            "value": literal.value,
            "hint": {
                "en": f'; did you mean "{near[0]}"?' if near else "",
                "zh": f"；您是否要写“{near_zh}”？" if near_zh else "",
            },
            "allowed": {"en": ", ".join(field_type.values), "zh": "、".join(shown_zh)},
        }
        raise self.fail_with(literal, "unknown_value", params)

    def _tag(self, literal: Any) -> None:
        """Check a tag named in ``"…" in tags`` is one of the library's for this audience."""
        if not isinstance(literal, rast.StringExpression):
            return  # a field as the member: any tag may be read
        audience = "resident" if self.entity.name == "employee" else self.entity.name
        found = tag_id(literal.value, audience)
        if found is not None:
            if found != literal.value:
                self.alias(literal, found)
            return
        other = tag_audience(literal.value)
        if other is not None:
            raise self.fail_with(
                literal,
                "tag_audience",
                {
                    "tag": literal.value,
                    "other": {"zh": _AUDIENCE_ZH.get(other, other), "en": other},
                    "audience": {"zh": _AUDIENCE_ZH.get(audience, audience), "en": audience},
                },
            )
        hint = {lang: unknown_tag_hint(literal.value, audience, lang) for lang in ("zh", "en")}
        raise self.fail_with(literal, "unknown_tag", {"tag": literal.value, "hint": hint})

    def _comparable(self, node: Any, left: RType, right: RType, op: str) -> None:
        if left.kind != right.kind:
            params = {"left": self._words(left), "right": self._words(right), "op": op}
            raise self.fail_with(node.right if left.field else node.left, "cannot_compare", params)
        self._enum_value(left, node.right)
        self._enum_value(right, node.left)

    def _check(self, node: Any) -> RType:
        if isinstance(node, rast.SymbolExpression):
            return self._symbol(node)
        if isinstance(node, rast.GetItemExpression) and _is_parameter_node(node.container):
            return self._parameter(node.container, node.item)
        if isinstance(node, rast.FunctionCallExpression):
            return self._aggregate(node)
        if isinstance(node, rast.GetAttributeExpression):
            return self._attribute(node)
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
            if left.kind == "date" and right.kind == "number":  # $today - 365: days
                if not right.integer:
                    raise self.fail(node.right, "a date moves by a whole number of days")
                return RType("date")
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
                self._tag(node.member)
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

    # rules over groups (rules.groups): kept apart from the rest of the checker

    def _attribute(self, node: Any) -> RType:
        """``household.x``: a field of the resident's household."""
        obj = node.object
        if not (isinstance(obj, rast.SymbolExpression) and obj.name == HOUSEHOLD_PREFIX):
            raise self.fail(
                node,
                f"'.{node.name}' reads a field of a group; only household.x (家庭.x) can be "
                "read this way, in a resident rule",
            )
        household = self.scope.household
        if household is None:
            where = (
                f"a household rule reads its own fields directly: write {node.name}"
                if self.entity.name == "household"
                else "household.x is read only by resident rules (audience resident)"
            )
            raise self.fail(
                node, f"{self.entity.name} rules cannot read household.{node.name}; {where}"
            )
        f = household.by_name.get(node.name)
        if f is None:
            params = _unknown_field(node.name, household)
            raise self.fail_with(node, "unknown_field", params)
        self.groups.add(f"{HOUSEHOLD_PREFIX}.{f.name}")
        return replace(self._field_type(f), field=f"{HOUSEHOLD_PREFIX}.{f.name}")

    def _aggregate(self, node: Any) -> RType:
        """``members_count(cond)``, ``household.members_sum(x, cond)``, ``any_employee(cond)``…"""
        function, prefixed = node.function, False
        if isinstance(function, rast.GetAttributeExpression) and isinstance(
            function.object, rast.SymbolExpression
        ):
            prefixed = function.object.name == HOUSEHOLD_PREFIX
            name = function.name if prefixed else ""
        elif isinstance(function, rast.SymbolExpression) and function.scope != "built-in":
            name = function.name
        else:
            name = ""
        agg = AGGREGATES.get(name)
        if agg is None:
            names = sorted({a.name for a in AGGREGATES.values()})
            near = nearest(name, names) if name else None
            hint = f"did you mean {near}(…)?" if near else "the functions are " + ", ".join(names)
            raise self.fail(
                node, f"{name or 'this'}(…) is not a function of the rule language; {hint}"
            )
        members = self.scope.members if agg.group == "members" else self.scope.employees
        if members is None:
            where = {
                "members": "resident rules (as household.{n}) and household rules",
                "employees": "enterprise rules with employments in the schema",
            }[agg.group].format(n=agg.name)
            raise self.fail(node, f"{agg.name}(…) ({agg.zh}) can be used only in {where}")
        if agg.group == "members" and prefixed != self.scope.prefixed:
            fix = (
                f"write household.{agg.name}(…) (家庭.{agg.zh}(…)): a resident rule counts "
                "the members of its household"
                if self.scope.prefixed
                else f"write {agg.name}(…) without household.: a household rule's members "
                "are its own"
            )
            raise self.fail(node, fix)
        return self._aggregate_arguments(node, agg, members)

    def _aggregate_arguments(self, node: Any, agg: Aggregate, members: Entity) -> RType:
        args = node.arguments
        lowest, highest = (1, 2) if agg.takes_value else ((0, 1) if agg.op == "count" else (1, 1))
        if not lowest <= len(args) <= highest:
            takes = (
                "a value and an optional condition"
                if agg.takes_value
                else ("an optional condition" if agg.op == "count" else "one condition")
            )
            raise self.fail(
                node, f"{agg.name} takes {takes}, as {agg.usage}; found {len(args)} argument(s)"
            )
        inner = _Checker(members, self.source, self.spans, parent=self)
        value: RType | None = None
        if agg.takes_value:
            value = inner.check(args[0])
            kinds = ("number", "date") if agg.op in ("min", "max") else ("number",)
            inner._expect(args[0], value, kinds, f"{agg.name}'s value")
        condition = args[-1] if len(args) == (2 if agg.takes_value else 1) else None
        if condition is not None:
            inner._expect(
                condition, inner.check(condition), ("boolean",), f"{agg.name}'s condition"
            )
        self.groups.add(agg.group)
        self.groups.update(f"{agg.group}.{name}" for name in inner.fields)
        if agg.op in ("any", "all"):
            return RType("boolean")
        if agg.op == "count":
            return RType("number", integer=True)
        assert value is not None
        return RType(value.kind, integer=value.integer)


def _syntax_error(exc: rerr.RuleSyntaxError, source: Source) -> RuleSyntaxError:
    token = getattr(exc, "token", None)
    if token is None:
        line, col = source.position(len(source.text))
        return RuleSyntaxError.of("syntax_end", {}, line=line, col=col)
    line, col = source.position(token.lexpos)
    return RuleSyntaxError.of("syntax_unexpected", {"token": token.value}, line=line, col=col)


def _unsupported_tokens(source: Source) -> Iterator[RuleSyntaxError]:
    for token in source.tokens:
        if token.kind == "other" or token.text in ("&&", "||", "!"):
            hint = {"&&": "and", "||": "or", "!": "not"}.get(token.text)
            line, col = source.position(token.start)
            advice = {"en": f"; write {hint!r}", "zh": f"；请写 {hint!r}"} if hint else ""
            params = {"token": token.text, "advice": advice}
            yield RuleSyntaxError.of("unsupported_token", params, line=line, col=col)


_AUDIENCE_ZH = {"resident": "居民", "enterprise": "企业", "event": "办件记录"}
_KIND_ZH = {
    "number": "数字", "string": "文字", "boolean": "是/否", "date": "日期", "tags": "标签集合",
    "null": "空值", "array": "列表",
}  # fmt: skip
_WHAT_ZH = {"unary minus": "负号", "'not'": "not", "'?'": "条件 ?:", "'in tags'": "in 标签"}


def _unknown_field(name: str, entity: Entity) -> dict[str, Any]:
    """The parameters of an unknown field's message: the nearest field in both languages.

    >>> from profiles.schema import load_schema
    >>> _unknown_field("年纪", load_schema().resident)["hint"]
    {'zh': '您是否要写“年龄”（age）？', 'en': "did you mean '年龄'?"}
    """
    chinese = not name.isascii()
    names = list(entity.by_name_zh) if chinese else list(entity.field_names)
    near = nearest(name, names)
    if near is None:
        en = f"the {'Chinese names' if chinese else 'fields'} are {', '.join(names)}"
        shown = "、".join(f"{f.name_zh or ''}（{f.name}）" for f in entity.fields)
        zh = f"{_AUDIENCE_ZH.get(entity.name, entity.name)}的字段有：{shown}"
    else:
        f = entity.by_name_zh[near] if chinese else entity.by_name[near]
        en = f"did you mean {near!r}?"
        zh = f"您是否要写“{f.name_zh or f.name}”（{f.name}）？"
    return {
        "name": name,
        "entity": {"zh": _AUDIENCE_ZH.get(entity.name, entity.name), "en": entity.name},
        "hint": {"zh": zh, "en": en},
    }


def _unknown_chinese_names(source: Source, entity: Entity) -> Iterator[RuleTypeError]:
    for token in source.tokens:
        if token.kind == "symbol" and not token.text.isascii():
            line, col = source.position(token.start)
            params = _unknown_field(token.text, entity)
            yield RuleTypeError.of("unknown_field", params, line=line, col=col)


def _quoted(value: str) -> str:
    r"""``value`` as a rule-engine string literal.

    >>> print(_quoted('a"b\\c'))
    "a\"b\\c"
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _with_literals(origin: Source, literals: dict[int, str]) -> Source:
    """``origin`` with the string tokens starting at the offsets of ``literals`` rewritten to
    their values (quoted); positions still point into the officer's text."""
    text: list[str] = []
    offsets: list[int] = []
    ends: list[int] = []
    tokens: list[Token] = []
    at = 0  # offset in origin.text copied up to
    for token in origin.tokens:
        value = literals.get(token.start)
        if value is None or token.kind != "string":
            continue
        piece = _quoted(value)
        text.append(origin.text[at : token.start])
        offsets.extend(origin.offsets[at : token.start])
        ends.extend(origin.ends[at : token.start])
        first, last = origin.offsets[token.start], origin.ends[token.end - 1]
        text.append(piece)
        offsets.extend([first] * len(piece))
        ends.extend([last] * len(piece))
        at = token.end
    text.append(origin.text[at:])
    offsets.extend(origin.offsets[at:])
    ends.extend(origin.ends[at:])
    new_text = "".join(text)
    shift = 0
    for token in origin.tokens:
        value = literals.get(token.start)
        start = token.start + shift
        if value is not None and token.kind == "string":
            width = len(_quoted(value))
            tokens.append(Token("string", new_text[start : start + width], start, start + width))
            shift += width - (token.end - token.start)
        else:
            tokens.append(Token(token.kind, token.text, start, start + token.end - token.start))
    return Source(origin.original, new_text, tuple(tokens), tuple(offsets), tuple(ends))


@cache
def _context() -> rule_engine.Context:
    # One context for every parse: building one (its builtins) costs as much as the parse.
    # $today is left untyped for rule-engine, so `$today - 365` (a date minus days) parses;
    # the checker types it (a date moved by whole days), not rule-engine.
    context = rule_engine.Context()
    context.builtins = Builtins.from_defaults(
        value_types={"today": DataType.UNDEFINED}, timezone=context.builtins.timezone
    )
    return context


def parse_rule(
    source: str, entity: Entity, *, kind: RuleKind = "eligibility", schema: Schema | None = None
) -> Rule:
    """Parse and check ``source`` against ``entity``'s fields; raise a positioned error.

    ``schema`` (default :func:`~profiles.schema.load_schema`) gives the groups the rule may
    read: a resident's household, a household's members, a firm's employments.
    """
    if not source or not source.strip():
        words = {"zh": "资格条件" if kind == "eligibility" else "待遇金额", "en": kind}
        raise RuleSyntaxError.of("empty", {"kind": words})
    check_length(source)
    if schema is None:
        from profiles.schema import load_schema

        schema = load_schema()
    scope = _scope(entity, schema)
    origin = Source.of(source, entity, _words(scope))
    check_size(origin)  # before anything walks the expression recursively
    for problem in _unsupported_tokens(origin):
        raise problem
    for unknown in (*unknown_parameters(origin), *_unknown_chinese_names(origin, entity)):
        raise unknown
    rule, aliases = _read(origin, entity, kind, scope)
    if aliases:  # read again with every alias written as the id or value it names
        rule, _ = _read(_with_literals(origin, aliases), entity, kind, scope)
    return rule


def _read(
    origin: Source, entity: Entity, kind: RuleKind, scope: _Scope
) -> tuple[Rule, dict[int, str]]:
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
    checker = _Checker(entity, origin, spans.spans, scope)
    result = checker.check(expression)
    wanted = "boolean" if kind == "eligibility" else "number"
    if result.kind != wanted:
        what = {
            "en": "a condition (true/false)" if kind == "eligibility" else "an amount (a number)",
            "zh": "条件（是/否）" if kind == "eligibility" else "金额（数字）",
        }
        words = {"zh": "资格条件" if kind == "eligibility" else "待遇金额", "en": kind}
        raise checker.fail_with(
            expression, "wrong_kind", {"kind": words, "what": what, "found": result.describe()}
        )
    rule = Rule(
        source=origin.original,
        text=origin.text,
        entity=entity.name,
        kind=kind,
        fields=frozenset(checker.fields),
        expression=expression,
        spans=spans.spans,
        types=checker.types,
        origin=origin,
        groups=frozenset(checker.groups),
    )
    return rule, checker.aliases


def literal_value(node: Any) -> Any:
    """The Python value of a literal node (dates as ``date``, numbers as ``Decimal``)."""
    value = node.value
    if isinstance(node, rast.DatetimeExpression) and isinstance(value, datetime):
        return value.date()
    if isinstance(node, rast.ArrayExpression):
        return tuple(literal_value(item) for item in value)
    return value
