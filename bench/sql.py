"""The same rules as SQL, for the DuckDB baseline of ``bench_match`` (not used by Zhida itself).

SQL's NULL logic is Kleene's, so ``WHERE e IS NOT FALSE`` keeps the eligible and the maybe.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import rule_engine.ast as rast

from profiles.schema import load_schema
from rules.language import Rule, literal_value, parse_rule
from rules.policy import Policy

_OPS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_ARITH = {"add": "+", "sub": "-", "mul": "*", "tdiv": "/", "fdiv": "//", "mod": "%"}


def _lit(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return f"CAST({value} AS DECIMAL(38,6))"


def to_sql(rule: Rule, node: Any, as_of: date) -> str:
    if isinstance(node, rast.SymbolExpression):
        return f"DATE '{as_of.isoformat()}'" if node.scope == "built-in" else f'"{node.name}"'
    if isinstance(node, rast.ArrayExpression):
        return "(" + ", ".join(_lit(v) for v in literal_value(node)) + ")"
    if isinstance(node, rast.LiteralExpressionBase):
        return _lit(literal_value(node))
    if isinstance(node, rast.LogicExpression):
        op = node.type.upper()
        return f"({to_sql(rule, node.left, as_of)} {op} {to_sql(rule, node.right, as_of)})"
    if isinstance(node, rast.UnaryExpression):
        inner = to_sql(rule, node.right, as_of)
        return f"(NOT {inner})" if node.type == "not" else f"(-{inner})"
    if isinstance(node, rast.ContainsExpression):
        member = to_sql(rule, node.member, as_of)
        if rule.type_of(node.container).kind == "tags":
            return f"list_contains(tags, {member})"
        return f"({member} IN {to_sql(rule, node.container, as_of)})"
    if isinstance(node, rast.FuzzyComparisonExpression):
        pattern = node.right.value if node.type.endswith("fzs") else f"^(?:{node.right.value})"
        found = f"regexp_matches({to_sql(rule, node.left, as_of)}, {_lit(pattern)})"
        return found if node.type.startswith("eq") else f"(NOT {found})"
    if isinstance(node, rast.ComparisonExpression):
        left, right = to_sql(rule, node.left, as_of), to_sql(rule, node.right, as_of)
        return f"({left} {_OPS[node.type]} {right})"
    if isinstance(node, rast.TernaryExpression):
        c = to_sql(rule, node.condition, as_of)
        a, b = to_sql(rule, node.case_true, as_of), to_sql(rule, node.case_false, as_of)
        return f"(CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN {a} ELSE {b} END)"
    left, right = to_sql(rule, node.left, as_of), to_sql(rule, node.right, as_of)
    return f"({left} {_ARITH[node.type]} {right})"


def catalog_sql(policies: Sequence[Policy], parquet: str, as_of: date) -> str:
    resident = load_schema().resident
    md = as_of.month * 100 + as_of.day
    base = (
        f"WITH base AS (SELECT *, (year(DATE '{as_of}') - year(birth_date) - "
        f"CASE WHEN month(birth_date) * 100 + day(birth_date) > {md} THEN 1 ELSE 0 END) AS age "
        f"FROM read_parquet('{parquet}'))"
    )
    parts = []
    for p in policies:
        rule = parse_rule(p.eligibility, resident)
        e = to_sql(rule, rule.expression, as_of)
        if p.benefit:
            b_rule = parse_rule(p.benefit, resident, kind="benefit")
            benefit = f"CAST(ROUND({to_sql(b_rule, b_rule.expression, as_of)}, 2) AS DECIMAL(18,2))"
        else:
            benefit = "CAST(NULL AS DECIMAL(18,2))"
        parts.append(
            f"SELECT person_id AS subject_id, 'resident' AS subject_type, '{p.id}' AS policy_id, "
            f"CASE WHEN {e} THEN 'eligible' ELSE 'maybe' END AS status, {benefit} AS benefit "
            f"FROM base WHERE ({e}) IS NOT FALSE"
        )
    return base + "\n" + "\nUNION ALL\n".join(parts)
