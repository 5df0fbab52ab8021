"""An independent per-row evaluator of rule-engine ASTs, written only to test the real ones.

It shares no code with ``rules.compiler`` or ``rules.evaluator``: truth tables are spelled
out, every number is a ``Decimal`` (integers included), and the rules of ``rules.numbers`` are
restated from its documentation: six places, ``*`` and ``/`` rounded half-to-even, ``//`` and
``%`` floored, division by zero unknown, benefits rounded to fen half away from zero.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

import rule_engine
import rule_engine.ast as rast
import rule_engine.builtins

U = "unknown"
AND = {
    (True, True): True, (True, False): False, (True, U): U,
    (False, True): False, (False, False): False, (False, U): False,
    (U, True): U, (U, False): False, (U, U): U,
}  # fmt: skip
OR = {
    (True, True): True, (True, False): True, (True, U): True,
    (False, True): True, (False, False): False, (False, U): U,
    (U, True): True, (U, False): U, (U, U): U,
}  # fmt: skip
NOT = {True: False, False: True, U: U}
SIX = Decimal("0.000001")


def _num(v: Any) -> Decimal:
    return Decimal(v).quantize(SIX, rounding=ROUND_HALF_EVEN)


def _context() -> rule_engine.Context:
    # $today untyped, so `$today - 365` (days) parses as the rule language reads it
    context = rule_engine.Context()
    context.builtins = rule_engine.builtins.Builtins.from_defaults(
        value_types={"today": rule_engine.DataType.UNDEFINED}, timezone=context.builtins.timezone
    )
    return context


CONTEXT = _context()


def reference(text: str, row: dict[str, Any], today: date) -> Any:
    """The value of ``text`` (schema names only) for ``row``; ``"unknown"`` for unknown."""
    return _eval(rule_engine.Rule(text, context=CONTEXT).statement.expression, row, today)


def reference_money(text: str, row: dict[str, Any], today: date) -> Any:
    value = reference(text, row, today)
    if value == U:
        return U
    q = abs(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return q if value >= 0 else -q


def _value(v: Any) -> Any:
    if v is None:
        return U
    if isinstance(v, bool | str | date | tuple | list):
        return tuple(v) if isinstance(v, list) else v
    return _num(v)


# Rules over groups, restated from the documentation of rules.groups and rules.group_frames: a
# row carries "@household" (a dict), "@members" or "@employees" (lists of dicts); an employment
# counts while hired_on <= today and left_on is null (still employed) or after today.
GROUP_OPS = {
    "members_count": ("@members", "count"), "members_sum": ("@members", "sum"),
    "members_min": ("@members", "min"), "members_max": ("@members", "max"),
    "any_member": ("@members", "any"), "all_members": ("@members", "all"),
    "employees_count": ("@employees", "count"), "employees_sum": ("@employees", "sum"),
    "employees_min": ("@employees", "min"), "employees_max": ("@employees", "max"),
    "any_employee": ("@employees", "any"), "all_employees": ("@employees", "all"),
}  # fmt: skip


def _rows(key: str, row: dict[str, Any], today: date) -> list[dict[str, Any]] | None:
    """The rows an aggregate ranges over: members, or employments held today; a member under
    16 with no income recorded earns 0 (profiles.links.EARNS_BY_RULE_UNDER)."""
    rows = row.get(key)
    if rows is None:
        return None
    if key == "@employees":
        rows = [
            r for r in rows
            if (r.get("hired_on") is not None and r["hired_on"] <= today)
            and (r.get("left_on") is None or r["left_on"] > today)
        ]  # fmt: skip
    return [
        {**r, "monthly_income": 0}
        if r.get("monthly_income") is None and r.get("age") is not None and r["age"] < 16
        else r
        for r in rows
    ]


def _conditions(node: Any, rows: list[dict[str, Any]], today: date) -> list[Any]:
    op = GROUP_OPS[node.function.name][1]
    args = node.arguments[1:] if op in ("sum", "min", "max") else node.arguments
    return [_eval(args[0], r, today) if args else True for r in rows]


def _group(node: Any, row: dict[str, Any], today: date) -> Any:
    if isinstance(node, rast.GetAttributeExpression):
        household = row.get("@household")
        return U if household is None else _value(household.get(node.name))
    key, op = GROUP_OPS[node.function.name]
    rows = _rows(key, row, today)
    if rows is None:
        return U
    conds = _conditions(node, rows, today)
    if op == "any":
        return True if True in conds else (U if U in conds else False)
    if op == "all":
        return False if False in conds else (U if U in conds else True)
    if U in conds:
        return U
    if op == "count":
        return Decimal(conds.count(True))
    counted = [r for r, c in zip(rows, conds, strict=True) if c is True]
    chosen = [_eval(node.arguments[0], r, today) for r in counted]
    if any(isinstance(v, str) and v == U for v in chosen):
        return U
    if op == "sum":
        return sum(chosen, Decimal(0))
    if not chosen:
        return U
    return min(chosen) if op == "min" else max(chosen)


def _is_count(node: Any) -> bool:
    name = getattr(getattr(node, "function", None), "name", "")
    return isinstance(node, rast.FunctionCallExpression) and GROUP_OPS.get(name, ("", ""))[1] == (
        "count"
    )


def _count_bounds(node: Any, row: dict[str, Any], today: date) -> Any:
    """A count compared with a value: every count its unknown rows allow is tried; the answer
    where all agree, else unknown.  None: not a comparison with a count."""
    if _is_count(node.left):
        count, other, flip = node.left, node.right, False
    elif _is_count(node.right):
        count, other, flip = node.right, node.left, True
    else:
        return None
    x = _eval(other, row, today)
    rows = _rows(GROUP_OPS[count.function.name][0], row, today)
    if rows is None or (isinstance(x, str) and x == U):
        return U
    conds = _conditions(count, rows, today)
    answers = set()
    for extra in range(conds.count(U) + 1):
        n = Decimal(conds.count(True) + extra)
        a, b = (x, n) if flip else (n, x)
        answers.add({"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b,
                     "ge": a >= b}[node.type])  # fmt: skip
    return answers.pop() if len(answers) == 1 else U


def _is_sum(node: Any) -> bool:
    name = getattr(getattr(node, "function", None), "name", "")
    return isinstance(node, rast.FunctionCallExpression) and GROUP_OPS.get(name, ("", ""))[1] == (
        "sum"
    )


def _field_range(key: str, name: str) -> tuple[Decimal | None, Decimal | None]:
    """The schema's declared min and max of a group row's field (None: not declared)."""
    from profiles.schema import load_schema

    schema = load_schema()
    entities = [schema.entity("employment"), schema.resident] if key == "@employees" else [
        schema.resident]  # fmt: skip
    for entity in entities:
        f = entity.by_name.get(name)
        if f is not None:
            if f.type not in ("number", "integer"):
                return None, None
            return (None if f.min is None else Decimal(str(f.min)),
                    None if f.max is None else Decimal(str(f.max)))  # fmt: skip
    return None, None


def _sum_interval(node: Any, row: dict[str, Any], today: date) -> tuple[Any, Any] | None:
    """The least and greatest a sum may be (rules.group_frames' documentation): a row whose
    condition is true adds its value, false nothing, unknown nothing or its value; an unknown
    value, when the value is one field, lies in the field's declared range.  None: no rows."""
    key, _ = GROUP_OPS[node.function.name]
    rows = _rows(key, row, today)
    if rows is None:
        return None
    conds = _conditions(node, rows, today)
    value = node.arguments[0]
    span: tuple[Decimal | None, Decimal | None] = (None, None)
    if isinstance(value, rast.SymbolExpression) and value.scope != "built-in":
        span = _field_range(key, value.name)
    low: Any = Decimal(0)
    high: Any = Decimal(0)
    for r, c in zip(rows, conds, strict=True):
        if c is False:
            continue
        v = _eval(value, r, today)
        lo, hi = (span[0], span[1]) if isinstance(v, str) and v == U else (v, v)
        if c == U:
            lo = None if lo is None else min(Decimal(0), lo)
            hi = None if hi is None else max(Decimal(0), hi)
        low = None if low is None or lo is None else low + lo
        high = None if high is None or hi is None else high + hi
    return low, high


def _interval_settles(op: str, low: Any, high: Any, x: Decimal) -> Any:
    """True, False or unknown for ``s OP x`` knowing only low <= s <= high (None: unbounded)."""
    lo = Decimal("-Infinity") if low is None else _num(low)
    hi = Decimal("Infinity") if high is None else _num(high)
    truth = {
        "lt": (hi < x, lo >= x), "le": (hi <= x, lo > x), "gt": (lo > x, hi <= x),
        "ge": (lo >= x, hi < x), "eq": (lo == hi == x, x < lo or x > hi),
        "ne": (x < lo or x > hi, lo == hi == x),
    }[op]  # fmt: skip
    return True if truth[0] else (False if truth[1] else U)


FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}


def _carried(record: dict[str, Any], name: str) -> tuple[Any, Any] | None:
    """The bounds ``record`` carries beside its figure ``name`` (profiles.links), if any."""
    if f"{name}:least" not in record:
        return None
    return record.get(f"{name}:least"), record.get(f"{name}:greatest")


def _bounded_compare(node: Any, row: dict[str, Any], today: date) -> Any:
    """A sum (or a figure carrying ``:least``/``:greatest`` beside it in its record) that is
    unknown, compared with a known value: settled where its bounds settle it; None: not
    such a comparison."""
    if node.type not in FLIP:
        return None
    for figure, other, op in ((node.left, node.right, node.type),
                              (node.right, node.left, FLIP[node.type])):  # fmt: skip
        interval = None
        if _is_sum(figure):
            interval = _sum_interval(figure, row, today)
        elif isinstance(figure, rast.GetAttributeExpression) and row.get("@household"):
            interval = _carried(row["@household"], figure.name)
        elif isinstance(figure, rast.SymbolExpression) and figure.scope != "built-in":
            interval = _carried(row, figure.name)
            if interval is None and figure.name == "household_income_per_capita":
                interval = _carried(row.get("@household") or {}, "income_per_capita")
        if interval is None:
            continue
        if not (isinstance(_eval(figure, row, today), str)):
            return None  # known: compared as it is
        x = _eval(other, row, today)
        if isinstance(x, str) and x == U:
            return U
        return _interval_settles(op, interval[0], interval[1], x)
    return None


def _eval(node: Any, row: dict[str, Any], today: date) -> Any:
    if isinstance(node, rast.SymbolExpression):
        if node.scope == "built-in":
            return today
        return _value(row.get(node.name))
    if isinstance(node, rast.GetAttributeExpression | rast.FunctionCallExpression):
        return _group(node, row, today)
    if isinstance(node, rast.ComparisonExpression):
        bounded = _count_bounds(node, row, today)
        if bounded is not None:
            return bounded
        bounded = _bounded_compare(node, row, today)
        if bounded is not None:
            return bounded
    if isinstance(node, rast.ArrayExpression):
        return [_eval(i, row, today) for i in node.value]
    if isinstance(node, rast.DatetimeExpression):
        return node.value.date() if isinstance(node.value, datetime) else node.value
    if isinstance(node, rast.FloatExpression):
        return _num(node.value)
    if isinstance(node, rast.LiteralExpressionBase):
        return node.value
    if isinstance(node, rast.LogicExpression):
        a, b = _eval(node.left, row, today), _eval(node.right, row, today)
        return (AND if node.type == "and" else OR)[(a, b)]
    if isinstance(node, rast.UnaryExpression):
        a = _eval(node.right, row, today)
        if node.type == "not":
            return NOT[a]
        return U if a == U else -a
    if isinstance(node, rast.TernaryExpression):
        c = _eval(node.condition, row, today)
        if c == U:
            return U
        v = _eval(node.case_true if c else node.case_false, row, today)
        return v
    a = _eval(node.left if hasattr(node, "left") else node.member, row, today)
    b = _eval(node.right if hasattr(node, "right") else node.container, row, today)
    if (isinstance(a, str) and a == U) or (isinstance(b, str) and b == U):
        return U
    if isinstance(node, rast.ContainsExpression):
        if isinstance(a, Decimal):
            return any(x == a for x in b)
        return a in b
    if isinstance(node, rast.FuzzyComparisonExpression):
        hit = (re.match if node.type.endswith("fzm") else re.search)(b, a) is not None
        return hit if node.type.startswith("eq") else not hit
    if isinstance(node, rast.ComparisonExpression):
        return {
            "eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b,
        }[node.type]  # fmt: skip
    op = node.type
    if isinstance(a, date):  # a date moved by days
        return date.fromordinal(a.toordinal() + (int(b) if op == "add" else -int(b)))
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return _num(a * b)
    if b == 0:
        return U
    if op == "tdiv":
        return _num(a / b)
    floor = (a / b).to_integral_value(rounding=ROUND_FLOOR)
    return _num(floor) if op == "fdiv" else _num(a - floor * b)
