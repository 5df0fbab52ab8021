"""Whole-population matching: every policy of a catalog in one columnar query per batch.

The population is read in batches of subjects.  Each batch gets its derived fields (``age``,
``age_years``) at the as-of date and every policy's status as one column of a single query —
eligibility is a nullable boolean (null = unknown, Kleene logic) and polars computes shared
sub-expressions once.  Each policy's matched rows (eligible or maybe) then get their benefit,
an exact decimal, computed on those rows only.  Subjects for whom a policy is false for certain
produce no row; memory is bounded by the batch, not by the population or the number of pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import polars as pl

from profiles.derive import with_derived
from profiles.schema import Entity, Schema

__all__ = [
    "BENEFIT_DTYPE",
    "DEFAULT_BATCH_ROWS",
    "MATCH_SCHEMA",
    "MatchablePolicy",
    "PolicyPlan",
    "Tagger",
    "in_force",
    "match_batches",
    "match_frame",
    "match_population",
    "plan_policies",
    "write_pairs",
]

# A million subjects: 1M x 200 policies peaks near 1 GB; fewer batches mean fewer per-policy
# parts to plan (1.8 s -> 1.5 s for 1M x 200 against two batches of 500k).
DEFAULT_BATCH_ROWS = 1_000_000

# Given one collected batch of stored records, returns it with its ``tags`` computed.
Tagger = Callable[[pl.DataFrame, Entity], pl.DataFrame]

BENEFIT_DTYPE = pl.Decimal(18, 2)
STATUS_DTYPE = pl.Enum(["eligible", "maybe"])
MATCH_SCHEMA = pl.Schema(
    {
        "subject_id": pl.String(),
        "subject_type": pl.Enum(["resident", "enterprise", "household"]),
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
    benefit_fields: frozenset[str] = frozenset()


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
        fields: frozenset[str] = frozenset()
        if policy.benefit:
            rule = parse_rule(policy.benefit, entity, kind="benefit")
            benefit = compile_rule(rule, as_of=as_of).cast(BENEFIT_DTYPE)
            fields = rule.fields
        else:
            benefit = pl.lit(None, dtype=BENEFIT_DTYPE)
        plans.append(PolicyPlan(policy.id, policy.audience, eligible, benefit, fields))
    return tuple(plans)


def match_batches(
    frame: pl.LazyFrame,
    entity: Entity,
    plans: Sequence[PolicyPlan],
    *,
    as_of: date,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    tagger: Tagger | None = None,
) -> Iterator[pl.DataFrame]:
    """Pairs (subject, policy) that are eligible or maybe, one batch of subjects at a time.

    Each batch is one query computing every policy's status as a column (shared
    sub-expressions computed once); then each policy's benefit is computed only on the rows it
    matched.  Memory is bounded by ``batch_rows`` × policies, not by the population.  With a
    ``tagger``, each batch's tags are computed from its own subjects' events first.
    """
    mine = [p for p in plans if p.audience == entity.name]
    if not mine:
        return
    assert entity.key is not None
    present = frame.collect_schema()
    missing = [
        pl.lit(None, dtype=f.polars_dtype).alias(f.name)
        for f in entity.stored_fields
        if f.name not in present
    ]
    stored = frame.with_columns(missing) if missing else frame
    total = stored.select(pl.len()).collect().item()
    eligible = [p.eligible.alias(f"__e{i}") for i, p in enumerate(mine)]
    statuses = [pl.col(f"__e{i}") for i in range(len(mine))]
    read = sorted({c for p in mine for c in p.benefit.meta.root_names()} - {entity.key})
    subject_type = pl.lit(entity.name, MATCH_SCHEMA["subject_type"])
    for offset in range(0, total, batch_rows):
        records = stored.slice(offset, batch_rows)
        if tagger is not None:
            records = tagger(records.collect(), entity).lazy()
        # Only the key, the benefits' fields and the statuses are collected: polars then
        # reads only the columns the rules name (a third of the time for 20 rules on 1M).
        batch = (
            with_derived(records, entity, as_of=as_of)
            .with_columns(eligible)
            .select(pl.col(entity.key), *(pl.col(c) for c in read), *statuses)
            .collect()
        )
        # eligible or maybe: anything but false for certain
        matched = [pl.col(f"__e{i}").fill_null(True) for i in range(len(mine))]
        any_matched = batch.select(m.any().alias(str(i)) for i, m in enumerate(matched)).row(0)
        parts = []
        for i, plan in enumerate(mine):
            if not any_matched[i]:
                continue
            status = pl.col(f"__e{i}")
            # The benefit is computed on the policy's matched rows only; polars runs the
            # parts of one batch in parallel.
            parts.append(
                batch.lazy()
                .filter(matched[i])
                .select(
                    pl.col(entity.key).alias("subject_id"),
                    subject_type.alias("subject_type"),
                    pl.lit(plan.policy_id, pl.String).alias("policy_id"),
                    pl.when(status)
                    .then(pl.lit("eligible", STATUS_DTYPE))
                    .otherwise(pl.lit("maybe", STATUS_DTYPE))
                    .alias("status"),
                    plan.benefit.alias("benefit"),
                )
            )
        if parts:
            yield pl.concat(parts).collect()


def match_population(
    frames: dict[str, pl.LazyFrame],
    policies: Sequence[MatchablePolicy],
    schema: Schema,
    *,
    as_of: date,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    tagger: Tagger | None = None,
) -> Iterator[pl.DataFrame]:
    """All pairs for every kind of subject in ``frames``, batch by batch."""
    plans = plan_policies(policies, schema, as_of=as_of)
    for name, frame in frames.items():
        yield from match_batches(
            frame, schema.entity(name), plans, as_of=as_of, batch_rows=batch_rows, tagger=tagger
        )


def match_frame(
    frames: dict[str, pl.LazyFrame],
    policies: Sequence[MatchablePolicy],
    schema: Schema,
    *,
    as_of: date,
) -> pl.DataFrame:
    """All pairs in one frame (for tests and small populations)."""
    batches = list(match_population(frames, policies, schema, as_of=as_of))
    return pl.concat(batches) if batches else MATCH_SCHEMA.to_frame()


def write_pairs(
    batches: Iterable[pl.DataFrame], path: Path, *, schema: pl.Schema = MATCH_SCHEMA
) -> int:
    """Stream ``batches`` into one Parquet file (atomically); returns the number of pairs.

    The batches feed a lazy frame (a polars IO source) that polars sinks to Parquet, so the
    file is written by polars' own multi-threaded writer without holding all pairs at once.
    ``schema``: the batches' columns (``matcher.units.PAIRS_SCHEMA`` for pairs with their unit
    and recipient).
    The file is written as ``OUT.tmp`` and renamed into place (:mod:`matcher.pairs_file`): an
    error computing the batches is raised as it is; one writing the file (unwritable, full)
    is an :class:`~matcher.pairs_file.OutputError`, and no ``OUT.tmp`` stays either way.
    """
    from polars.io.plugins import register_io_source

    from matcher.pairs_file import cannot_write, claimed

    counted = [0]
    failed: list[BaseException] = []

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        _batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        try:
            for batch in batches:
                counted[0] += batch.height
                out = batch if predicate is None else batch.filter(predicate)
                yield out if with_columns is None else out.select(with_columns)
        except BaseException as exc:
            failed.append(exc)
            raise

    with claimed(path) as tmp:
        try:
            register_io_source(source, schema=schema).sink_parquet(tmp)
            tmp.replace(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            if exc in failed:
                raise  # computing the pairs failed, not writing them
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise cannot_write(path, reason.splitlines()[0]) from exc
    return counted[0]
