"""Whole-population matching: every policy of a catalog in one lazy, columnar query.

The population frame gets its derived fields (``age``, ``age_years``) at the as-of date; each
policy's eligibility becomes a nullable boolean expression (null = unknown, Kleene logic), and
its benefit an exact decimal.  All of them are computed in one ``select`` — polars shares common
sub-expressions between policies — and the wide result is unpivoted into one row per
(subject, policy) that is ``eligible`` or ``maybe``.  Subjects for whom a policy is false for
certain produce no row, so memory follows the number of pairs, not subjects × policies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import polars as pl

from profiles.derive import with_derived
from profiles.schema import Entity, Schema

__all__ = [
    "BENEFIT_DTYPE",
    "MATCH_SCHEMA",
    "MatchablePolicy",
    "PolicyPlan",
    "match_entity",
    "match_population",
    "plan_policies",
]

BENEFIT_DTYPE = pl.Decimal(18, 2)
STATUS_DTYPE = pl.Enum(["eligible", "maybe"])
MATCH_SCHEMA = pl.Schema(
    {
        "subject_id": pl.String(),
        "subject_type": pl.Enum(["resident", "enterprise"]),
        "policy_id": pl.String(),
        "status": STATUS_DTYPE,
        "benefit": BENEFIT_DTYPE,
    }
)


class MatchablePolicy(Protocol):
    """What matching needs of a policy (``rules.policy.Policy`` has all of it)."""

    @property
    def id(self) -> str: ...
    @property
    def audience(self) -> str: ...
    @property
    def eligibility(self) -> str: ...
    @property
    def benefit(self) -> str | None: ...
    @property
    def valid_from(self) -> date | None: ...
    @property
    def valid_until(self) -> date | None: ...


@dataclass(frozen=True)
class PolicyPlan:
    """One policy compiled for one as-of date."""

    policy_id: str
    audience: str
    eligible: pl.Expr
    benefit: pl.Expr


def in_force(policy: MatchablePolicy, as_of: date) -> bool:
    """Whether ``policy`` is valid on ``as_of`` (both ends inclusive)."""
    starts, ends = policy.valid_from, policy.valid_until
    return (starts is None or starts <= as_of) and (ends is None or as_of <= ends)


def plan_policies(
    policies: Sequence[MatchablePolicy], schema: Schema, *, as_of: date
) -> tuple[PolicyPlan, ...]:
    """Parse and compile the policies in force on ``as_of``; the rest are left out."""
    from rules.compiler import compile_rule
    from rules.language import parse_rule

    plans = []
    for policy in policies:
        if not in_force(policy, as_of):
            continue
        entity = schema.entity(policy.audience)
        eligible = compile_rule(parse_rule(policy.eligibility, entity), as_of=as_of)
        if policy.benefit:
            rule = parse_rule(policy.benefit, entity, kind="benefit")
            benefit = compile_rule(rule, as_of=as_of).cast(BENEFIT_DTYPE)
        else:
            benefit = pl.lit(None, dtype=BENEFIT_DTYPE)
        plans.append(PolicyPlan(policy.id, policy.audience, eligible, benefit))
    return tuple(plans)


def match_entity(
    frame: pl.LazyFrame, entity: Entity, plans: Sequence[PolicyPlan], *, as_of: date
) -> pl.LazyFrame:
    """Pairs (subject, policy) that are eligible or maybe, for one kind of subject.

    ``frame`` has the entity's stored columns (missing ones are unknown for everyone).
    """
    mine = [p for p in plans if p.audience == entity.name]
    if not mine:
        return pl.LazyFrame(schema=MATCH_SCHEMA)
    assert entity.key is not None
    present = frame.collect_schema()
    missing = [
        pl.lit(None, dtype=f.polars_dtype).alias(f.name)
        for f in entity.stored_fields
        if f.name not in present
    ]
    frame = with_derived(frame.with_columns(missing) if missing else frame, entity, as_of=as_of)
    cells = []
    for plan in mine:
        status = (
            pl.when(plan.eligible)
            .then(pl.lit("eligible", STATUS_DTYPE))
            .when(plan.eligible.is_null())
            .then(pl.lit("maybe", STATUS_DTYPE))
        )
        cells.append(
            pl.when(status.is_not_null())
            .then(pl.struct(status.alias("status"), plan.benefit.alias("benefit")))
            .alias(plan.policy_id)
        )
    # Cells are named by policy id (ids never contain "_", so they cannot clash with
    # "subject_id"); the unpivot turns each non-null cell into one pair.
    return (
        frame.select(pl.col(entity.key).alias("subject_id"), *cells)
        .unpivot(index="subject_id", variable_name="policy_id", value_name="cell")
        .drop_nulls("cell")
        .select(
            "subject_id",
            pl.lit(entity.name, MATCH_SCHEMA["subject_type"]).alias("subject_type"),
            "policy_id",
            pl.col("cell").struct.field("status"),
            pl.col("cell").struct.field("benefit"),
        )
    )


def match_population(
    frames: dict[str, pl.LazyFrame],
    policies: Sequence[MatchablePolicy],
    schema: Schema,
    *,
    as_of: date,
) -> pl.LazyFrame:
    """All pairs for every kind of subject in ``frames`` (``resident`` and/or ``enterprise``)."""
    plans = plan_policies(policies, schema, as_of=as_of)
    parts = [
        match_entity(frame, schema.entity(name), plans, as_of=as_of)
        for name, frame in frames.items()
    ]
    return pl.concat(parts) if parts else pl.LazyFrame(schema=MATCH_SCHEMA)
