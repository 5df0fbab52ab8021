"""Conditions as rows: the 政策要素 form's view of an eligibility rule.

An officer states who is eligible as rows — a field or a tag, an operator in words (不低于,
属于, 含标签, …), a value — in groups whose rows must all hold (全部满足) or any one of which
suffices (任一满足), and rows over a household's members or a firm's staff (有成员满足…,
符合条件员工数 不低于 1).  :func:`conditions_text` writes them in the rule language, which
stays the source of truth; :func:`read_conditions` reads a checked rule back into rows, or says
which part the rows cannot show (the form then opens the YAML editor with that note).

>>> from profiles.schema import load_schema
>>> from rules.language import parse_rule
>>> rule = parse_rule('年龄 >= 80 and 户籍城市 == "北京市"', load_schema().resident)
>>> rows = read_conditions(rule.expression, "resident")
>>> [(r.subject, r.operator, r.value) for r in rows.rows]
[('age', 'ge', Decimal('80')), ('hukou_city', 'eq', '北京市')]
>>> conditions_text(rows, "resident")
'age >= 80 and hukou_city == "北京市"'
>>> OPERATORS["ge"].zh, OPERATORS["has_tag"].zh
('不低于', '含标签')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, Literal

import rule_engine.ast as rast

from rules.errors import FormError
from rules.groups import AGGREGATES, HOUSEHOLD_PREFIX
from rules.parameters import PREFIX, is_parameter

__all__ = [
    "JOINS",
    "OPERATORS",
    "Condition",
    "Conditions",
    "GroupRow",
    "Operator",
    "ParameterRef",
    "Row",
    "Value",
    "conditions_text",
    "number_text",
    "read_conditions",
    "read_parameter",
    "value_text",
]


@dataclass(frozen=True)
class Operator:
    code: str
    zh: str
    en: str
    zh_date: str = ""  # the words for dates (不早于 …), where they differ
    symbol: str = ""


OPERATORS: Final[dict[str, Operator]] = {
    o.code: o
    for o in (
        Operator("ge", "不低于", "at least", "不早于", ">="),
        Operator("gt", "高于", "above", "晚于", ">"),
        Operator("le", "不高于", "at most", "不晚于", "<="),
        Operator("lt", "低于", "below", "早于", "<"),
        Operator("eq", "等于", "equals", "", "=="),
        Operator("ne", "不等于", "is not", "", "!="),
        Operator("in", "属于", "is one of", "", "in"),
        Operator("not_in", "不属于", "is none of", "", "not in"),
        Operator("has_tag", "含标签", "has the tag"),
        Operator("lacks_tag", "不含标签", "lacks the tag"),
        Operator("is_true", "是", "is true"),
        Operator("is_false", "否", "is false"),
        Operator("within_days", "在最近…天内", "within the last … days"),
    )
}
_COMPARISON: Final = {"ge", "gt", "le", "lt", "eq", "ne"}
JOINS: Final = {"all": ("全部满足", "all of"), "any": ("任一满足", "any of")}


@dataclass(frozen=True)
class ParameterRef:
    """A value read from the parameter library: ``[times *] parameters.name[[index]]``.

    >>> ParameterRef("dibao_standard", times=Decimal(2)).text
    '2 * parameters.dibao_standard'
    >>> ParameterRef("elderly_allowance", index="100").text
    'parameters.elderly_allowance[100]'
    """

    name: str
    index: str | None = None  # a scale's or categories' bracket: a field, a number or "key"
    times: Decimal | None = None

    @property
    def text(self) -> str:
        ref = f"parameters.{self.name}" + (f"[{self.index}]" if self.index else "")
        return f"{number_text(self.times)} * {ref}" if self.times is not None else ref


Value = Decimal | str | bool | date | tuple[Any, ...] | ParameterRef | None


@dataclass(frozen=True)
class Condition:
    """One row: ``subject`` (a field, ``household.x`` or ``tags``), an operator, a value."""

    subject: str
    operator: str
    value: Value = None


@dataclass(frozen=True)
class GroupRow:
    """A row over a group: ``any_member(where)``, ``employees_count(where) >= 1``…"""

    aggregate: str  # an AGGREGATES name of op any, all or count
    where: Conditions | None = None
    operator: str | None = None  # count only: how the count compares
    value: Decimal | None = None


@dataclass(frozen=True)
class Conditions:
    join: Literal["all", "any"]
    rows: tuple[Row, ...]


Row = Condition | GroupRow | Conditions


class _Unshowable(Exception):  # noqa: N818 - internal signal, never escapes this module
    """A part of a rule the rows cannot show; ``reason`` says which."""

    def __init__(self, node: Any, reason: str, zh: str) -> None:
        super().__init__(reason)
        self.node = node
        self.reason = reason
        self.zh = zh


# ---------------------------------------------------------------- writing


def number_text(value: Decimal | int | float) -> str:
    """A number as the rule language writes it: ``80``, ``0.055``.

    >>> number_text(Decimal("80.0")), number_text(Decimal("0.0550"))
    ('80', '0.055')
    """
    d = Decimal(str(value))
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def value_text(value: Value) -> str:
    """A row's value in the rule language."""
    if isinstance(value, ParameterRef):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int | float):
        return number_text(value)
    if isinstance(value, date):
        return f'd"{value.isoformat()}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise FormError(f"a condition needs a value here, found {value!r}")


def _subject(subject: str, audience: str) -> str:
    if subject.startswith(HOUSEHOLD_PREFIX + ".") and audience != "resident":
        raise FormError(
            f"{subject}: only a resident policy reads its household's fields (家庭.x); "
            "pick a field of the audience instead"
        )
    return subject


def _condition_text(c: Condition, audience: str) -> str:
    op = OPERATORS.get(c.operator)
    if op is None:
        raise FormError(
            f"operator {c.operator!r} is not one of {', '.join(OPERATORS)} "
            "(不低于 ge, 低于 lt, 等于 eq, 属于 in, 含标签 has_tag, …)"
        )
    subject = _subject(c.subject, audience)
    if op.code in ("has_tag", "lacks_tag"):
        if not isinstance(c.value, str) or not c.value:
            raise FormError(
                f"{op.en}: pick a tag from the tag library (标签库)",
                zh=f"{op.zh}：请从标签库中选择一个标签",
                section="conditions",
            )
        has = f"{value_text(c.value)} in tags"
        return has if op.code == "has_tag" else f"not ({has})"
    if op.code == "is_true":
        return subject
    if op.code == "is_false":
        return f"not {subject}"
    if op.code == "within_days":
        if not isinstance(c.value, Decimal) or c.value < 0:
            raise FormError(
                f"{subject} {op.en}: give a number of days, e.g. 365",
                zh=f"{subject} {op.zh}：请填写天数，例如 365",
                section="conditions",
            )
        return f"{subject} >= $today - {number_text(c.value)}"
    if op.code in ("in", "not_in"):
        if not isinstance(c.value, tuple) or not c.value:
            raise FormError(
                f"{subject} {op.en}: pick one or more values",
                zh=f"{subject} {op.zh}：请至少选择一个取值",
                section="conditions",
            )
        return f"{subject} {op.symbol} {value_text(c.value)}"
    if c.value is None or c.value == "":
        raise FormError(
            f"{subject} {op.en}: a value is missing; type or pick one",
            zh=f"{subject} {op.zh}：缺少取值，请填写或选择",
            section="conditions",
        )
    return f"{subject} {op.symbol} {value_text(c.value)}"


def _group_text(g: GroupRow, audience: str) -> str:
    agg = AGGREGATES.get(g.aggregate)
    if agg is None or agg.op not in ("any", "all", "count"):
        raise FormError(
            f"{g.aggregate!r} is not a group row; use any_member, all_members, members_count, "
            "any_employee, all_employees or employees_count"
        )
    prefix = f"{HOUSEHOLD_PREFIX}." if agg.group == "members" and audience == "resident" else ""
    inner = conditions_text(g.where, agg.group) if g.where and g.where.rows else ""
    call = f"{prefix}{agg.name}({inner})"
    if agg.op != "count":
        if not inner:
            raise FormError(
                f"{agg.name} needs at least one condition on the member",
                zh=f"{agg.zh_words}：请至少添加一条对成员（员工）的条件",
                section="conditions",
            )
        return call
    op = OPERATORS.get(g.operator or "")
    if op is None or op.code not in _COMPARISON or g.value is None:
        raise FormError(
            f"{agg.name}: say how the count compares, e.g. at least 1",
            zh=f"{agg.zh_words}：请填写人数的比较，例如 不低于 1",
            section="conditions",
        )
    return f"{call} {op.symbol} {number_text(g.value)}"


def conditions_text(conditions: Conditions, audience: str, *, nested: bool = False) -> str:
    """The rows in the rule language (``audience``: resident, enterprise, household,
    or the group a member row is read in: members, employees)."""
    parts = []
    for row in conditions.rows:
        if isinstance(row, Conditions):
            parts.append(conditions_text(row, audience, nested=True))
        elif isinstance(row, GroupRow):
            parts.append(_group_text(row, audience))
        else:
            parts.append(_condition_text(row, audience))
    if not parts:
        return "true"
    text = (" and " if conditions.join == "all" else " or ").join(parts)
    return f"({text})" if nested and len(parts) > 1 else text


# ---------------------------------------------------------------- reading


def read_conditions(node: Any, audience: str) -> Conditions:
    """The rows of a checked rule's expression; raises FormError naming what they cannot show.

    >>> from profiles.schema import load_schema
    >>> from rules.language import parse_rule
    >>> r = parse_rule("industry_code !~ '^C'", load_schema().enterprise)
    >>> try:
    ...     read_conditions(r.expression, "enterprise")
    ... except FormError as err:
    ...     print(err.message[:46])
    the form has no row for a pattern match (=~, !
    """
    try:
        found = _row(node)
    except _Unshowable as signal:
        raise FormError(signal.reason, zh=signal.zh, section="conditions") from None
    return found if isinstance(found, Conditions) else Conditions("all", (found,))


def _flatten(node: Any, kind: str) -> list[Any]:
    if isinstance(node, rast.LogicExpression) and node.type == kind:
        return _flatten(node.left, kind) + _flatten(node.right, kind)
    return [node]


def _row(node: Any) -> Row:
    if isinstance(node, rast.LogicExpression):
        join: Literal["all", "any"] = "all" if node.type == "and" else "any"
        return Conditions(join, tuple(_row(n) for n in _flatten(node, node.type)))
    if isinstance(node, rast.UnaryExpression) and node.type == "not":
        inner = node.right
        if isinstance(inner, rast.SymbolExpression):
            return Condition(_symbol(inner), "is_false")
        if isinstance(inner, rast.ContainsExpression):
            row = _contains(inner)
            negated = {"has_tag": "lacks_tag", "in": "not_in"}[row.operator]
            return Condition(row.subject, negated, row.value)
        raise _Unshowable(
            node,
            "the form has no row for not (…) around a group; write it as rows",
            "表单没有“不满足（一组条件）”这种行，请改写为逐条条件",
        )
    if isinstance(node, rast.SymbolExpression | rast.GetAttributeExpression):
        return Condition(_subject_of(node), "is_true")
    if isinstance(node, rast.ContainsExpression):
        return _contains(node)
    if isinstance(node, rast.FunctionCallExpression):
        return _aggregate(node, None, None)
    if isinstance(node, rast.ComparisonExpression) and node.type in ("eq", "ne", *_ORDER):
        return _comparison(node)
    if isinstance(node, rast.ComparisonExpression):  # =~, !~ and the like
        raise _Unshowable(
            node,
            "the form has no row for a pattern match (=~, !~); keep the YAML",
            "表单没有正则匹配（=~、!~）这种行",
        )
    raise _Unshowable(
        node,
        f"the form has no row for {type(node).__name__}; keep the YAML",
        "表单没有这种条件行",
    )


_ORDER: Final = ("ge", "gt", "le", "lt")


def _symbol(node: Any) -> str:
    if not isinstance(node, rast.SymbolExpression) or node.scope == "built-in":
        raise _Unshowable(
            node,
            "a row compares one field with a value (here: arithmetic or a built-in)",
            "表单的一条条件只能把一个字段与一个取值比较（这里是运算或内置值）",
        )
    return str(node.name)


def _subject_of(node: Any) -> str:
    if isinstance(node, rast.GetAttributeExpression):
        obj = node.object
        if isinstance(obj, rast.SymbolExpression) and obj.name == HOUSEHOLD_PREFIX:
            return f"{HOUSEHOLD_PREFIX}.{node.name}"
        raise _Unshowable(
            node,
            "a row reads a field, or a household's field (家庭.x)",
            "表单的一条条件读取一个字段或家庭字段（家庭.x）",
        )
    return _symbol(node)


def _contains(node: Any) -> Condition:
    member, container = node.member, node.container
    if isinstance(container, rast.SymbolExpression) and container.name == "tags":
        if isinstance(member, rast.StringExpression):
            return Condition("tags", "has_tag", str(member.value))
        raise _Unshowable(node, "a tag row names one tag", "标签条件只能写一个标签")
    if isinstance(container, rast.ArrayExpression):
        return Condition(_subject_of(member), "in", _literal(container))
    raise _Unshowable(node, "a row tests membership in a list of values", "“属于”只能对一组取值")


def _literal(node: Any) -> Value:
    if isinstance(node, rast.ArrayExpression):
        return tuple(_literal(item) for item in node.value)
    if isinstance(node, rast.DatetimeExpression):
        value = node.value
        return value.date() if isinstance(value, datetime) else value
    if isinstance(node, rast.FloatExpression):
        return Decimal(node.value)
    if isinstance(node, rast.StringExpression | rast.BooleanExpression):
        return node.value  # type: ignore[no-any-return]
    parameter = read_parameter(node)
    if parameter is not None:
        return parameter
    raise _Unshowable(
        node,
        "a row's value is a number, a date, a text or a parameter",
        "条件的取值须是数字、日期、文字或参数（这里是计算出的值）",
    )


def read_parameter(node: Any) -> ParameterRef | None:
    """``[n *] parameters.x[[index]]`` as a :class:`ParameterRef`, else None."""
    times = None
    if isinstance(node, rast.ArithmeticExpression) and node.type == "mul":
        if isinstance(node.left, rast.FloatExpression):
            times, node = Decimal(node.left.value), node.right
        else:
            return None
    index = None
    if isinstance(node, rast.GetItemExpression):
        item = node.item
        if isinstance(item, rast.SymbolExpression) and item.scope != "built-in":
            index = str(item.name)
        elif isinstance(item, rast.FloatExpression):
            index = number_text(item.value)
        elif isinstance(item, rast.StringExpression):
            index = json.dumps(item.value, ensure_ascii=False)
        else:
            return None
        node = node.container
    if isinstance(node, rast.SymbolExpression) and is_parameter(node.name):
        return ParameterRef(str(node.name).removeprefix(PREFIX), index, times)
    return None


def _comparison(node: Any) -> Row:
    left, right = node.left, node.right
    if isinstance(left, rast.FunctionCallExpression):
        if not isinstance(right, rast.FloatExpression):
            raise _Unshowable(
                node,
                "a count row compares the count with a number",
                "人数条件只能与一个数字比较（这里是计算出的值）",
            )
        return _aggregate(left, node.type, Decimal(right.value))
    subject = _subject_of(left)
    if (
        node.type == "ge"
        and isinstance(right, rast.SubtractExpression)
        and isinstance(right.left, rast.SymbolExpression)
        and right.left.name == "today"
        and isinstance(right.right, rast.FloatExpression)
    ):
        return Condition(subject, "within_days", Decimal(right.right.value))
    if isinstance(right, rast.BooleanExpression) and node.type in ("eq", "ne"):
        return Condition(subject, "is_true" if right.value == (node.type == "eq") else "is_false")
    if isinstance(right, rast.SymbolExpression | rast.GetAttributeExpression) and not (
        isinstance(right, rast.SymbolExpression) and is_parameter(right.name)
    ):
        raise _Unshowable(
            node,
            "the form compares a field with a value, not with another field",
            "表单只能把字段与取值比较，不能与另一个字段比较",
        )
    return Condition(subject, node.type, _literal(right))


def _aggregate(node: Any, operator: str | None, value: Decimal | None) -> GroupRow:
    function = node.function
    name = getattr(function, "name", "")
    agg = AGGREGATES.get(name)
    if agg is None or agg.op not in ("any", "all", "count"):
        raise _Unshowable(
            node,
            f"the form has no row for {name or 'this'}(…); keep the YAML",
            f"表单没有 {name or '此函数'}(…) 这种行",
        )
    if (agg.op == "count") != (operator is not None):
        raise _Unshowable(
            node,
            f"{agg.name}(…) is used here in a way the form cannot show",
            f"{agg.zh_words}(…) 的这种写法表单无法显示",
        )
    where = read_conditions(node.arguments[0], agg.group) if node.arguments else None
    return GroupRow(agg.name, where, operator, value)
