"""Checks that catch wrong rules before anyone sees them: never-true and always-true
eligibility, unreachable and overlapping tiers of a benefit.

Each finding is an error (the rule cannot be what the officer meant: nobody can be eligible,
a tier nobody reaches) or a warning (probably not meant: a rule that restricts nobody, tiers
whose order silently decides), at the line and column of the clause or tier in the officer's
text, in Chinese or English (``rules.messages``), with the fix.  The logic is
``rules.formula``'s: a finding is a proof, never a guess.

>>> from profiles.schema import load_schema
>>> from rules.language import parse_rule
>>> r = load_schema().resident
>>> [(e.severity, e.code, e.col) for e in check_eligibility(parse_rule("年龄>=80 and 年龄<80", r))]
[('error', 'never_true', 12)]
>>> found = check_benefit(
...     parse_rule("年龄 >= 90 ? 500 : 年龄 >= 100 ? 800 : 100", r, kind="benefit"),
...     parse_rule("年龄 >= 80", r))
>>> [(e.severity, e.code, e.col) for e in found]
[('error', 'unreachable_tier', 18)]
>>> for sentence in found[0].in_language("zh").split("。"):
...     print(sentence)
这一档（800）永远用不到：符合它的人都已满足前面的第 1 档（年龄 >= 90 → 500）
请把它移到第 1 档之前（条件更严的档放在前面）
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import rule_engine.ast as rast

from profiles.schema import Entity, Field, load_schema
from rules.aliases import tag_library
from rules.errors import PositionedRuleError, RuleCheckError, RuleCheckWarning
from rules.formula import (
    FALSE,
    TRUE,
    Formula,
    all_of,
    any_of,
    example,
    fields_read,
    formula,
    kleene_true,
    negate,
    normal_form,
    satisfiable,
    witness,
)
from rules.language import Rule, children

__all__ = ["check_benefit", "check_eligibility", "shown_values"]


def _entity(rule: Rule, entity: Entity | None) -> Entity:
    # the schema is read from the settings on each call: callers with the entity pass it
    return entity if entity is not None else load_schema().entity(rule.entity)


def _at(rule: Rule, node: Any) -> tuple[int, int]:
    return rule.origin.position(rule.span(node)[0])


def _finding(
    cls: type[PositionedRuleError], rule: Rule, node: Any, code: str, params: dict[str, Any]
) -> PositionedRuleError:
    line, col = _at(rule, node)
    return cls.of(code, params, line=line, col=col)


def _field_words(entity: Entity, names: list[str]) -> dict[str, str]:
    zh = "、".join(entity.by_name[n].name_zh or n for n in names)
    return {"zh": zh, "en": ", ".join(names)}


def _conflict(rule: Rule, f: Formula, entity: Entity) -> tuple[Any, dict[str, str]]:
    """The clause where the rule stops being satisfiable, and why, for the first conjunction
    of its normal form: the clauses of one field that cannot hold together."""
    terms = normal_form(f) or []
    if not terms:
        return rule.expression, {"zh": "它等于“否”", "en": "it is false"}
    term = terms[0]
    for end in range(1, len(term) + 1):
        if witness(term[:end], entity) is None:
            atom, _ = term[end - 1]
            same = [a for a, _ in term[:end] if a.field == atom.field and a.field is not None]
            texts = list(dict.fromkeys(a.key for a in same)) or [atom.key]
            if len(texts) > 1:
                return atom.node, {
                    "zh": "、".join(texts) + " 不能同时成立",
                    "en": " and ".join(texts) + " cannot both hold",
                }
            known = entity.by_name.get(atom.field or "")
            if known is not None and (known.min is not None or known.max is not None):
                low, high = ("" if v is None else f"{v:g}" for v in (known.min, known.max))
                zh_name = known.name_zh or known.name
                return atom.node, {
                    "zh": f"{texts[0]} 不成立（{zh_name}的取值范围是 {low}–{high}）",
                    "en": f"{texts[0]} cannot hold ({known.name} ranges over {low}–{high})",
                }
            return atom.node, {"zh": f"{texts[0]} 不成立", "en": f"{texts[0]} cannot hold"}
    return rule.expression, {"zh": "没有取值能使它成立", "en": "no values make it true"}


def check_eligibility(rule: Rule, entity: Entity | None = None) -> list[PositionedRuleError]:
    """Errors and warnings of an eligibility rule: never true, always true (``entity``: the
    rule's, by default from the schema)."""
    entity = _entity(rule, entity)
    f = formula(rule)
    if not satisfiable(f, entity):
        node, why = _conflict(rule, f, entity)
        fix = {
            "zh": "请检查比较的方向和界限，或把互斥的条件改用 or 连接",
            "en": "check the comparisons' directions and bounds, or join exclusive conditions "
            "with or",
        }
        return [_finding(RuleCheckError, rule, node, "never_true", {"why": why, "fix": fix})]
    if kleene_true(f, entity):
        fix = {
            "zh": "若政策确实面向所有人，可忽略此提示；否则请补上限定条件",
            "en": "if the policy is for everyone, ignore this; otherwise add the missing condition",
        }
        return [_finding(RuleCheckWarning, rule, rule.expression, "always_true", {"fix": fix})]
    if not satisfiable(negate(f), entity):
        names = [n for n in fields_read(f) if not entity.by_name[n].required]
        fix = {
            "zh": "请检查比较方向和界限；若只想要求信息已知，这样写并不能做到",
            "en": "check the comparisons' directions and bounds",
        }
        params = {"fields": _field_words(entity, names), "fix": fix}
        return [_finding(RuleCheckWarning, rule, rule.expression, "true_when_known", params)]
    return list(_idle_clauses(rule, f, entity))


_MAX_IDLE = 3  # clauses reported as never deciding, at most
_MAX_CLAUSES = 24  # past this many clauses the (quadratic) search for idle ones is skipped


def _clauses(f: Formula) -> Iterator[Formula]:
    if f.op == "atom":
        yield f
    for part in f.parts:
        yield from _clauses(part)


def _with(f: Formula, clause: Formula, value: Formula) -> Formula:
    """``f`` with ``clause`` (that very occurrence) replaced by ``value``."""
    if f is clause:
        return value
    if not f.parts:
        return f
    return Formula(f.op, tuple(_with(p, clause, value) for p in f.parts), f.atom, f.value)


def _same(a: Formula, b: Formula, entity: Entity) -> bool:
    """Whether ``a`` and ``b`` hold for the same known values."""
    return not satisfiable(any_of(all_of(a, negate(b)), all_of(b, negate(a))), entity)


def _idle_clauses(rule: Rule, f: Formula, entity: Entity) -> Iterator[PositionedRuleError]:
    """Clauses that never change who is eligible when the values are known: the rule holds
    for the same known values with the clause dropped (taken as false or as true).  In
    ``年龄 >= 80 and (户籍区 == "东城区" or 年龄 < 60)`` the ``年龄 < 60`` is written the wrong
    way round, or left over.  (With unknowns it may still make a match ``maybe``.)"""
    clauses = list(_clauses(f))
    if len(clauses) > _MAX_CLAUSES or normal_form(negate(f)) is None:
        return  # too large to decide in the time a keystroke allows; nothing is claimed
    found = 0
    for clause in clauses:
        assert clause.atom is not None
        if found >= _MAX_IDLE:
            break
        if not any(_same(f, _with(f, clause, v), entity) for v in (FALSE, TRUE)):
            continue
        found += 1
        fix = {
            "zh": "请检查它的比较方向和界限，或删去它",
            "en": "check its direction and bounds, or delete it",
        }
        params = {"clause": clause.atom.key, "fix": fix}
        yield _finding(RuleCheckWarning, rule, clause.atom.node, "idle_clause", params)


@dataclass(frozen=True)
class _Tier:
    number: int  # 1-based within its chain
    condition: Any  # the AST node of its condition; None for the last (otherwise) tier
    amount: Any
    before: Formula  # what must hold to reach the tier: the earlier conditions false


def _chains(node: Any, context: Formula, rule: Rule) -> Iterator[tuple[list[_Tier], Formula]]:
    """Each chain of tiers ``c1 ? a1 : c2 ? a2 : … : an`` in the rule, with the condition under
    which the chain is evaluated at all (inside an outer tier, its condition holds)."""
    if isinstance(node, rast.TernaryExpression):
        tiers: list[_Tier] = []
        before = TRUE
        current = node
        while isinstance(current, rast.TernaryExpression):
            tiers.append(_Tier(len(tiers) + 1, current.condition, current.case_true, before))
            before = all_of(before, negate(formula(rule, current.condition)))
            current = current.case_false
        tiers.append(_Tier(len(tiers) + 1, None, current, before))
        yield tiers, context
        for tier in tiers:
            inside = all_of(context, tier.before)
            if tier.condition is not None:
                inside = all_of(inside, formula(rule, tier.condition))
            yield from _chains(tier.amount, inside, rule)
        return
    for child in children(node):
        yield from _chains(child, context, rule)


def _amount(rule: Rule, tier: _Tier) -> str:
    return rule.snippet(tier.amount)


def shown_values(entity: Entity, values: dict[str, Any], lang: str) -> str:
    """Example values as an officer reads them: ``年龄 = 80、性别 = 女``."""
    parts = []
    for name, value in values.items():
        f = entity.by_name[name]
        label = f.name_zh or name if lang == "zh" else name
        parts.append(f"{label} = {_value_words(f, value, lang)}")
    return ("、" if lang == "zh" else ", ").join(parts)


def _value_words(f: Field, value: Any, lang: str) -> str:
    if isinstance(value, str) and f.values:
        return f.label(value, lang)
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else str(value).lower()
    if isinstance(value, list):  # tags: by their names in Chinese
        names = {t.id: t.name_zh for t in tag_library()} if lang == "zh" else {}
        return ("、" if lang == "zh" else ", ").join(str(names.get(v, v)) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def check_benefit(
    benefit: Rule, eligibility: Rule | None = None, entity: Entity | None = None
) -> list[PositionedRuleError]:
    """Errors and warnings of a benefit's tiers (``?:``), for the people ``eligibility``
    admits: a tier nobody reaches, and tiers that overlap where the order decides."""
    entity = _entity(benefit, entity)
    admitted = formula(eligibility) if eligibility is not None else TRUE
    found: list[PositionedRuleError] = []
    if not satisfiable(admitted, entity):
        return found  # nobody is eligible: that is the error, not every tier
    for tiers, context in _chains(benefit.expression, admitted, benefit):
        scope = all_of(admitted, context)
        reached = []
        for tier in tiers:
            if tier.condition is None:
                continue  # the last tier is the default: nobody reaching it is not an error
            own = formula(benefit, tier.condition)
            if satisfiable(all_of(scope, tier.before, own), entity):
                reached.append(tier)
                continue
            why = _why_unreachable(benefit, tiers, tier, scope, entity)
            fix = _fix_unreachable(tiers, tier, scope, benefit, entity)
            params = {"amount": _amount(benefit, tier), "why": why, "fix": fix}
            found.append(
                _finding(RuleCheckError, benefit, tier.condition, "unreachable_tier", params)
            )
        found.extend(_overlaps(benefit, reached, scope, entity))
    return found


def _covering(
    tiers: list[_Tier], tier: _Tier, scope: Formula, rule: Rule, entity: Entity
) -> _Tier | None:
    """An earlier tier whose condition holds for everyone ``tier``'s condition admits."""
    own = formula(rule, tier.condition)
    for earlier in tiers[: tier.number - 1]:
        if earlier.condition is None:
            continue
        if not satisfiable(all_of(scope, own, negate(formula(rule, earlier.condition))), entity):
            return earlier
    return None


def _why_unreachable(
    rule: Rule, tiers: list[_Tier], tier: _Tier, scope: Formula, entity: Entity
) -> dict[str, str]:
    own = formula(rule, tier.condition)
    earlier = _covering(tiers, tier, scope, rule, entity)
    if earlier is not None:
        what = f"{rule.snippet(earlier.condition)} → {_amount(rule, earlier)}"
        return {
            "zh": f"符合它的人都已满足前面的第 {earlier.number} 档（{what}）",
            "en": f"everyone it admits meets tier {earlier.number} first ({what})",
        }
    if not satisfiable(all_of(scope, own), entity):
        return {
            "zh": f"符合资格条件的人没有谁满足 {rule.snippet(tier.condition)}",
            "en": f"nobody eligible meets {rule.snippet(tier.condition)}",
        }
    return {
        "zh": "符合它的人都已被前面几档取走",
        "en": "the earlier tiers together take everyone it admits",
    }


def _fix_unreachable(
    tiers: list[_Tier], tier: _Tier, scope: Formula, rule: Rule, entity: Entity
) -> dict[str, str]:
    earlier = _covering(tiers, tier, scope, rule, entity)
    if earlier is not None:
        n = earlier.number
        return {
            "zh": f"请把它移到第 {n} 档之前（条件更严的档放在前面）",
            "en": f"move it before tier {n} (the narrowest condition first)",
        }
    return {
        "zh": "请检查这一档的条件，或删去这一档",
        "en": "check this tier's condition, or delete the tier",
    }


def _overlaps(
    rule: Rule, reached: list[_Tier], scope: Formula, entity: Entity
) -> Iterator[PositionedRuleError]:
    """Tiers i < j where some people meet both (they get tier i) though tier i is not a
    narrower case of tier j, with different amounts: the order decides silently."""
    for j, later in enumerate(reached):
        for earlier in reached[:j]:
            if _amount(rule, earlier) == _amount(rule, later):
                continue
            a, b = formula(rule, earlier.condition), formula(rule, later.condition)
            both = all_of(scope, earlier.before, a, b)
            if not satisfiable(both, entity):
                continue
            if not satisfiable(all_of(scope, earlier.before, a, negate(b)), entity):
                continue  # tier i is a narrower case of tier j: the usual order of tiers
            values = example(both, entity) or {}
            params = {
                "first": earlier.number,
                "second": later.number,
                "amount": _amount(rule, earlier),
                "example": {lang: shown_values(entity, values, lang) for lang in ("zh", "en")},
            }
            yield _finding(RuleCheckWarning, rule, later.condition, "overlapping_tiers", params)
            break
