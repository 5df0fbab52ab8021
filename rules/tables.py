"""Decision tables: an amount in tiers, rows of conditions → amount, the first row that matches.

An officer writes 高龄津贴 as three rows (年龄 不低于 100 → 800, 不低于 90 → 500, 不低于 80 → 100)
instead of ``age >= 100 ? 800 : age >= 90 ? 500 : 100``; :func:`table_text` writes the chain,
:func:`read_table` reads a chain back, and :func:`check_table` says, per row, what is wrong: a
row nobody eligible reaches, rows that overlap where the order decides (``rules.checks``, the
same proofs as the YAML's), and a gap — people eligible who meet no row and get nothing when
the table has no "otherwise" amount.  Amounts may be parameters (``parameters.x``).

>>> from profiles.schema import load_schema
>>> from rules.conditions import Condition, Conditions
>>> age = lambda n: Conditions("all", (Condition("age", "ge", Decimal(n)),))
>>> table = DecisionTable((Tier(age(100), Decimal(800)), Tier(age(90), Decimal(500))), None)
>>> table_text(table, "resident")
'age >= 100 ? 800 : (age >= 90 ? 500 : 0)'
>>> [(f.tier, f.code) for f in check_table(table, "age >= 80", load_schema().resident)]
[(None, 'table_gap')]
>>> print(check_table(table, "age >= 80", load_schema().resident)[0].message("zh")[:34])
有符合资格的人不落在任何一档（例如 年龄 = 80），将得到 0 元
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import rule_engine.ast as rast

from profiles.schema import Entity
from rules.checks import check_benefit, shown_values
from rules.conditions import (
    Conditions,
    ParameterRef,
    conditions_text,
    number_text,
    read_conditions,
    read_parameter,
)
from rules.errors import FormError, PositionedRuleError
from rules.formula import all_of, example, formula, negate, satisfiable
from rules.language import parse_rule
from rules.messages import render

__all__ = [
    "AmountValue",
    "DecisionTable",
    "TableFinding",
    "Tier",
    "amount_text",
    "check_table",
    "read_amount_value",
    "read_table",
    "table_text",
]

AmountValue = Decimal | ParameterRef


@dataclass(frozen=True)
class Tier:
    when: Conditions
    amount: AmountValue


@dataclass(frozen=True)
class DecisionTable:
    tiers: tuple[Tier, ...]
    otherwise: AmountValue | None  # None: nothing (0) for whoever meets no row


@dataclass(frozen=True)
class TableFinding:
    """A problem of a table: ``tier`` is the 1-based row (None: the table as a whole)."""

    tier: int | None
    severity: str
    code: str
    params: dict[str, Any]

    def message(self, lang: str) -> str:
        return render(self.code, self.params, lang)


def amount_text(value: AmountValue) -> str:
    if isinstance(value, ParameterRef):
        return value.text
    if not isinstance(value, Decimal):
        raise FormError(f"an amount is a number or a parameter, found {value!r}")
    return number_text(value)


def table_text(table: DecisionTable, audience: str) -> str:
    """The chain ``c1 ? a1 : (c2 ? a2 : otherwise)`` of the rule language."""
    if not table.tiers:
        raise FormError(
            "a decision table needs at least one row: conditions → amount",
            zh="决策表至少需要一档：条件 → 金额",
            section="amount",
        )
    text = amount_text(table.otherwise) if table.otherwise is not None else "0"
    for number, tier in reversed(list(enumerate(table.tiers, 1))):
        if not tier.when.rows:
            raise FormError(
                f"row {number} of the table has no condition; add one or delete it",
                zh=f"第 {number} 档没有条件：请添加条件或删除这一档",
                section="amount",
            )
        condition = conditions_text(tier.when, audience, nested=True)
        text = f"{condition} ? {amount_text(tier.amount)} : " + (
            f"({text})" if number < len(table.tiers) else text
        )
    return text


def read_amount_value(node: Any) -> AmountValue | None:
    """A number or a parameter reference, else None."""
    if isinstance(node, rast.FloatExpression):
        return Decimal(node.value)
    return read_parameter(node)


def read_table(node: Any, audience: str) -> DecisionTable | None:
    """A ``?:`` chain whose conditions are rows and whose amounts are numbers or parameters
    as a table (a trailing 0 is "otherwise nothing"), else None."""
    tiers: list[Tier] = []
    while isinstance(node, rast.TernaryExpression):
        amount = read_amount_value(node.case_true)
        if amount is None:
            return None
        try:
            when = read_conditions(node.condition, audience)
        except FormError:
            return None
        tiers.append(Tier(when, amount))
        node = node.case_false
    if not tiers:
        return None
    otherwise = read_amount_value(node)
    if otherwise is None:
        return None
    return DecisionTable(tuple(tiers), None if otherwise == 0 else otherwise)


def check_table(table: DecisionTable, eligibility: str, entity: Entity) -> list[TableFinding]:
    """Each row's problems for the people ``eligibility`` admits: a row nobody reaches, rows
    that overlap where the order decides, and a gap when there is no otherwise amount."""
    text = table_text(table, entity.name)
    benefit = parse_rule(text, entity, kind="benefit")
    admitted = parse_rule(eligibility, entity)
    starts = _tier_starts(table, entity.name)
    found = [
        TableFinding(
            _tier_at(starts, finding), finding.severity, finding.code or "", dict(finding.params)
        )
        for finding in check_benefit(benefit, admitted, entity)
    ]
    if table.otherwise is None:
        rest = formula(admitted)
        for tier in table.tiers:
            own = formula(parse_rule(conditions_text(tier.when, entity.name), entity))
            rest = all_of(rest, negate(own))
        if satisfiable(rest, entity):
            values = example(rest, entity) or {}
            shown = {lang: shown_values(entity, values, lang) for lang in ("zh", "en")}
            found.append(TableFinding(None, "warning", "table_gap", {"example": shown}))
    return found


def _tier_starts(table: DecisionTable, audience: str) -> list[int]:
    """Where each row's condition starts in :func:`table_text`'s text."""
    starts, offset = [], 0
    for tier in table.tiers:
        starts.append(offset)
        condition = conditions_text(tier.when, audience, nested=True)
        offset += len(condition) + len(f" ? {amount_text(tier.amount)} : (")
    return starts


def _tier_at(starts: list[int], finding: PositionedRuleError) -> int | None:
    offset = finding.col - 1 if finding.line == 1 else None
    if offset is None:
        return None
    return max(n for n, start in enumerate(starts, 1) if start <= offset)
