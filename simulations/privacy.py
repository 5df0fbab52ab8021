"""Aggregates that cannot single out a person: which rules may run for them, how much noise each
released figure carries, and what a release costs in privacy budget.

The privacy unit is one subject (a resident, or a firm): the guarantee bounds what anyone
learns about whether one subject is in the population and what its fields hold.  Three rules
make an aggregate answer private by construction:

1. **No identifying rule.**  A rule run for an aggregate-only answer (dry-run, reach and
   timeline simulations, exports, the analyst page, overlap lists) may not read a field the
   schema calls an ``identifier`` (``person_id``, name, phone, …) nor a ``quasi_identifier``
   (``birth_date``: only its coarsened derived field, ``age``): :func:`refuse_identifying`.
2. **Bounded contribution.**  A sum of benefits is clipped to the policy's own maximum benefit
   per subject: derived from the benefit rule's constants, tiers and the schema's bounds where
   possible (:func:`benefit_bound`), else :attr:`PrivacyParameters.benefit_cap`
   (:func:`bounded`).
3. **Noise before suppression.**  Every released count and sum gets discrete Laplace noise from
   OpenDP (:func:`noisy`) with scale ``1/ε`` per unit of contribution (a count) or
   ``bound/ε`` (a sum), so each figure is ε-differentially private for one subject; the
   small-count rule of :mod:`simulations.disclosure` then reads the noisy figure.  A release of
   many figures costs the sum of its columns' ε (each column's L1 sensitivity times ε), and
   the budget (:mod:`simulations.budget`) charges it once per user.

>>> p = PrivacyParameters()
>>> p.epsilon, p.count_scale, p.dry_run_epsilon
(0.05, 20.0, 0.75)
>>> round(p.interval95(p.count_scale))  # a count is within ± this of the truth 19 times in 20
60
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from typing import Any, Final

import rule_engine.ast as rast

from core.errors import ValidationError
from profiles.schema import Entity, Schema
from rules.language import Rule, parse_rule
from rules.loader import Catalog
from rules.parameters import is_parameter, parameter_interval
from rules.policy import Policy

__all__ = [
    "DRY_RUN_FAMILIES",
    "IdentifyingRuleError",
    "PrivacyParameters",
    "benefit_bound",
    "bounded",
    "identifying_reads",
    "noisy",
    "refuse_identifying",
]

# The figure families of a dry-run, each a count or a sum over disjoint groups (one subject
# adds at most one to each): eligible, maybe, cost; the same by two dimensions; gained and
# lost against the published version.  The overlap list is priced apart (see below).
DRY_RUN_FAMILIES: Final = 11
# The overlap list is one vector whose L1 sensitivity is the number of other policies (one
# subject may share all of them); it gets a fixed share of budget, this many figures' worth.
OVERLAP_SHARE: Final = 4


@dataclass(frozen=True)
class PrivacyParameters:
    """The published privacy parameters (README, "Privacy").

    ``epsilon`` is the privacy-loss parameter of one figure about one unit; ``daily_cap`` and
    ``lifetime_cap`` bound the ε one user spends per UTC day and ever; ``benefit_cap`` is the
    most one subject adds to a sum (CNY per benefit period) when the benefit rule does not
    bound itself.
    """

    unit: str = "subject"  # one resident or one firm (households once they land)
    epsilon: float = 0.05
    daily_cap: float = 30.0
    lifetime_cap: float = 1000.0
    benefit_cap: int = 5_000

    @property
    def fingerprint(self) -> str:
        """A stable short name of these parameters, part of every kept release's key.

        >>> PrivacyParameters().fingerprint == PrivacyParameters().fingerprint
        True
        """
        import hashlib

        return hashlib.sha256(repr(self).encode("utf-8")).hexdigest()[:12]

    @property
    def count_scale(self) -> float:
        """The noise scale of a count (one subject adds at most one)."""
        return 1.0 / self.epsilon

    def sum_scale(self, bound: Decimal | float) -> float:
        """The noise scale of a sum whose terms are each at most ``bound``.

        >>> PrivacyParameters().sum_scale(800)
        16000.0
        """
        return float(bound) / self.epsilon

    @property
    def dry_run_epsilon(self) -> float:
        """What one explicit dry-run costs: its figure families plus the overlap list."""
        return round((DRY_RUN_FAMILIES + OVERLAP_SHARE) * self.epsilon, 6)

    @staticmethod
    def interval95(scale: float) -> float:
        """Half-width of the interval holding a Laplace-noised figure 95 % of the time.

        >>> PrivacyParameters.interval95(20.0) > 59
        True
        """
        return scale * math.log(20)


DEFAULT: Final = PrivacyParameters()


class IdentifyingRuleError(ValidationError):
    """A rule run for an aggregate-only answer reads an identifier or a quasi-identifier."""


def identifying_reads(rule: Rule, entity: Entity) -> list[str]:
    """The fields ``rule`` reads that an aggregate-only answer may not, each with why.

    >>> from profiles.schema import load_schema
    >>> r = load_schema().resident
    >>> identifying_reads(parse_rule('person_id == "P1" and age >= 0', r), r)
    ['person_id is an identifier: it names one subject']
    >>> identifying_reads(parse_rule('birth_date < d"1950-01-01"', r), r)
    ['birth_date is a quasi-identifier: read it through age, its coarsened derived field']
    >>> identifying_reads(parse_rule("monthly_income < 3000", r), r)
    []
    >>> identifying_reads(parse_rule('household.any_member(person_id == "P1")', r), r)
    ['members.person_id is an identifier: it names one subject']
    """
    from profiles.schema import load_schema
    from rules.groups import group_field

    schema = load_schema()  # what a rule reads of its household, members or staff counts too
    reads = [(n, entity.by_name.get(n)) for n in sorted(rule.fields)]
    reads += [(n, group_field(schema, n)) for n in sorted(rule.groups)]
    out = []
    for name, f in reads:
        if f is None or f.aggregate_readable:
            continue
        if f.sensitivity == "identifier":
            out.append(f"{name} is an identifier: it names one subject")
        else:
            owner = schema.resident if "." in name else entity
            bare = name.rpartition(".")[2]
            coarse = [d.name for d in owner.derived_fields if d.derived_from == bare]
            via = (
                f"read it through {', '.join(coarse)}, its coarsened derived field"
                if coarse
                else "aggregate answers may not read it"
            )
            out.append(f"{name} is a quasi-identifier: {via}")
    return out


def refuse_identifying(policies: Iterable[Policy], schema: Schema, *, answer: str) -> None:
    """Raise :class:`IdentifyingRuleError` (a 422, exit 1) when a rule of ``policies`` reads an
    identifier or a quasi-identifier; ``answer`` names what was asked (e.g. "a dry-run").

    >>> from profiles.schema import load_schema
    >>> from datetime import date
    >>> p = Policy("x", "X", "d", "resident", "auto_grant", "age >= 0", date(2026, 1, 1),
    ...            benefit='person_id == "P000000002" ? monthly_income : 0')
    >>> try:
    ...     refuse_identifying([p], load_schema(), answer="a dry-run")
    ... except IdentifyingRuleError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    x: the benefit reads person_id, and person_id is an identifier: it names one subject; a
    dry-run is an aggregate answer and may not single out a person, so remove the condition
    on person_id
    """
    problems = []
    for policy in policies:
        entity = schema.entity(policy.audience)
        for key in ("eligibility", "benefit"):
            text = getattr(policy, key)
            if not text:
                continue
            rule = parse_rule(text, entity, kind=key)
            for why in identifying_reads(rule, entity):
                name = why.split(" ", 1)[0]
                problems.append(
                    f"{policy.id}: the {key} reads {name}, and {why}; {answer} is an aggregate "
                    f"answer and may not single out a person, so remove the condition on {name}"
                )
    if problems:
        raise IdentifyingRuleError(
            problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + problems[0],
            problems=problems,
            total=len(problems),
        )


_Interval = tuple[Decimal | None, Decimal | None]


def _interval(node: Any, entity: Entity) -> _Interval:
    """The smallest and largest value ``node`` can take (None: unbounded or not a number)."""
    if isinstance(node, rast.LiteralExpressionBase) and not isinstance(node, rast.ArrayExpression):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return None, None
        return Decimal(str(value)), Decimal(str(value))
    if isinstance(node, rast.SymbolExpression) and is_parameter(node.name):
        return parameter_interval(node.name)  # every amount it has had or has
    if isinstance(node, rast.GetItemExpression) and is_parameter(
        getattr(node.container, "name", "")
    ):
        return parameter_interval(node.container.name)
    if isinstance(node, rast.SymbolExpression):
        f = entity.by_name.get(node.name)
        if f is None:
            return None, None
        lo = Decimal(str(f.min)) if f.min is not None else None
        hi = Decimal(str(f.max)) if f.max is not None else None
        return lo, hi
    if isinstance(node, rast.TernaryExpression):
        (a_lo, a_hi), (b_lo, b_hi) = (
            _interval(node.case_true, entity),
            _interval(node.case_false, entity),
        )
        lo = min(a_lo, b_lo) if a_lo is not None and b_lo is not None else None
        hi = max(a_hi, b_hi) if a_hi is not None and b_hi is not None else None
        return lo, hi
    if isinstance(node, rast.UnaryExpression) and node.type == "uminus":
        lo, hi = _interval(node.right, entity)
        return (-hi if hi is not None else None), (-lo if lo is not None else None)
    if isinstance(node, rast.AddExpression | rast.SubtractExpression | rast.ArithmeticExpression):
        (a_lo, a_hi), (b_lo, b_hi) = _interval(node.left, entity), _interval(node.right, entity)
        if None in (a_lo, a_hi, b_lo, b_hi):
            return None, None
        assert a_lo is not None and a_hi is not None and b_lo is not None and b_hi is not None
        if node.type == "add":
            return a_lo + b_lo, a_hi + b_hi
        if node.type == "sub":
            return a_lo - b_hi, a_hi - b_lo
        if node.type == "mul":
            ends = [a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi]
            return min(ends), max(ends)
    return None, None


def benefit_bound(policy: Policy, schema: Schema) -> Decimal | None:
    """The most one subject's benefit can be in absolute value, from the benefit rule's
    constants, tiers and the schema's bounds of the fields it reads; None when the rule does
    not bound itself (it reads an unbounded field such as the income, or divides).

    >>> from profiles.schema import load_schema
    >>> from datetime import date
    >>> def bound(benefit):
    ...     p = Policy("x", "X", "d", "resident", "auto_grant", "age >= 80", date(2026, 1, 1),
    ...                benefit=benefit)
    ...     return benefit_bound(p, load_schema())
    >>> bound("age >= 100 ? 800 : (age >= 90 ? 500 : 100)"), bound("children_under_3 * 300")
    (Decimal('800'), Decimal('3000'))
    >>> bound("monthly_income * 0.1") is None
    True
    """
    if not policy.benefit:
        return Decimal(0)
    entity = schema.entity(policy.audience)
    lo, hi = _interval(parse_rule(policy.benefit, entity, kind="benefit").expression, entity)
    if lo is None or hi is None:
        return None
    return max(abs(lo), abs(hi))


def _clip(policy: Policy, cap: int) -> Policy:
    """``policy`` with its benefit clipped to [0, cap] (the text of the rule, so every
    evaluator clips alike)."""
    assert policy.benefit
    b = f"({policy.benefit})"
    return replace(policy, benefit=f"{b} > {cap} ? {cap} : ({b} < 0 ? 0 : {b})")


def bounded(
    catalog: Catalog, schema: Schema, params: PrivacyParameters = DEFAULT
) -> tuple[Catalog, dict[str, Decimal]]:
    """``catalog`` with every benefit that does not bound itself clipped to
    ``params.benefit_cap``, and each policy's bound (CNY per period, per subject).

    >>> from profiles.schema import load_schema
    >>> from datetime import date
    >>> p = Policy("x", "X", "d", "resident", "auto_grant", "age >= 0", date(2026, 1, 1),
    ...            benefit="monthly_income")
    >>> clipped, bounds = bounded(Catalog((p,), {}, {}), load_schema())
    >>> clipped.policies[0].benefit, bounds
    ('(monthly_income) > 5000 ? 5000 : ((monthly_income) < 0 ? 0 : (monthly_income))', \
{'x': Decimal('5000')})
    """
    policies, bounds = [], {}
    for policy in catalog.policies:
        bound = benefit_bound(policy, schema)
        if bound is None:
            bound = Decimal(params.benefit_cap)
            policies.append(_clip(policy, params.benefit_cap))
        else:
            policies.append(policy)
        bounds[policy.id] = bound
    return replace(catalog, policies=tuple(policies)), bounds


@cache
def _laplace(scale: float) -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=scale
    )


def noisy(values: Sequence[int], scale: float) -> list[int]:
    """``values`` each with independent discrete Laplace noise of ``scale`` (OpenDP's
    ``make_laplace`` over 64-bit integers); a scale of 0 adds none.

    >>> noisy([5, 0], 0.0)
    [5, 0]
    >>> len(noisy([1000, 20, 3], 20.0))
    3
    """
    if not values:
        return []
    if scale <= 0:
        return [int(v) for v in values]
    return [int(v) for v in _laplace(float(scale))([int(v) for v in values])]
