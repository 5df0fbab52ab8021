"""``simulate_reach``: one pass over a population, batch by batch, and the report's tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from matcher.batch import (
    DEFAULT_BATCH_ROWS,
    GroupFrames,
    group_joiner,
    household_slice,
    linked_frames,
    plan_policies,
)
from matcher.diff import PolicyChange, catalog_changes
from matcher.needed_tags import event_tagger
from matcher.population import scan_population
from profiles.schema import Schema
from rules.loader import Catalog
from rules.parameter_use import parameters_of
from rules.parameters import Library, active, using
from simulations.reach._batch import (
    BatchRules,
    batch_sums,
    evaluate,
    group_columns,
    with_missing_fields,
)
from simulations.reach._overlap import Overlap
from simulations.reach._totals import (
    ALL,
    beijing_scale,
    measures,
    per_group,
    per_policy,
    periods,
)

__all__ = ["Reach", "simulate_reach"]


@dataclass(frozen=True)
class Reach:
    """What a reform does: per changed policy, in total, by group, overlaps, changes."""

    changes: tuple[PolicyChange, ...]
    policies: pl.DataFrame
    groups: pl.DataFrame
    overlap: pl.DataFrame
    as_of: date
    subjects: int
    # Per changed policy and in total, each measure in the sample and weighted to Beijing with
    # its 95 % sampling interval (policy_id, measure, sample, beijing, low, high); None when
    # the population carries no weights.  Exact figures: released tables go through
    # simulations.reach_release, which does not release these.
    beijing: pl.DataFrame | None = None
    # Each entity's mean weight (its Beijing total over the sample size; public once the
    # population is calibrated): what a released, noisy sample figure is scaled by.
    mean_weights: Mapping[str, float] = field(default_factory=dict)

    @property
    def total(self) -> dict[str, object]:
        row = self.policies.filter(pl.col("policy_id") == ALL)
        return row.row(0, named=True) if row.height else {}


def simulate_reach(
    population: Path,
    baseline: Catalog,
    reform: Catalog,
    schema: Schema,
    *,
    as_of: date,
    contacts: pl.DataFrame | None = None,
    tags: bool = True,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Callable[[int, int], None] | None = None,
    parameters: tuple[Library, Library] | None = None,
) -> Reach:
    """Reach, cost, groups and overlaps of ``reform`` against ``baseline`` on ``population``.

    ``progress(done, total)`` is called with the batches read so far and the batches to read:
    once before the first (``done`` 0), then after each batch.

    ``parameters`` (the baseline's library, the reform's) makes a parameter change a reform:
    each side's rules are compiled with its own library, and every policy in force that reads
    a parameter whose value on ``as_of`` differs is a changed policy.
    """
    libraries = parameters or (active(), active())
    changes = tuple(catalog_changes(baseline, reform))
    changes += parameter_changes(reform, changes, libraries, schema, as_of=as_of)
    changed = {c.policy_id for c in changes}
    # as matcher.batch.match_population: the links' aggregates replace the flat fields
    frames = linked_frames(scan_population(population, schema), as_of=as_of)
    linked = GroupFrames.of(frames, schema, as_of=as_of)
    new_policies = reform.in_force(as_of)
    old_policies = [p for p in baseline.in_force(as_of) if p.id in changed]
    with using(libraries[1]):
        new_plans = plan_policies(new_policies, schema, as_of=as_of)
    with using(libraries[0]):
        old_plans = plan_policies(old_policies, schema, as_of=as_of)
    evaluated = [*new_policies, *old_policies]
    tagger = event_tagger(population, schema, evaluated, as_of=as_of) if tags else None
    overlap = Overlap([p.policy_id for p in new_plans], changed)
    # whose benefit each policy is (matcher.units): a household's is counted once, with its
    # people; without household links every resident is a household of one
    units = {p.id: p.unit_kind for p in (*old_policies, *new_policies)}
    if "household" not in frames:
        units = {pid: "person" if u == "household" else u for pid, u in units.items()}
    # Rows per entity first (parquet metadata), so the number of batches is known up front.
    entities = []
    for name, frame in frames.items():
        entity = schema.entity(name)
        stored = with_missing_fields(frame, entity)
        total = int(stored.select(pl.len()).collect().item())
        rules = BatchRules.of(name, changes, old_plans, new_plans, units)
        # an entity none of whose policies changed is not read: no groups to prepare
        # (the employees' aggregates of every firm cost seconds at 100k firms)
        joiner = (
            group_joiner([*old_plans, *new_plans], entity, linked, as_of=as_of)
            if rules.changed
            else None
        )
        entities.append((name, entity, stored, total, rules, joiner))
    subjects = sum(e[3] for e in entities)
    # Nothing of an entity changed: no sums, no overlaps to count, so none of its batches.
    batches = sum(-(-e[3] // batch_rows) for e in entities if e[4].changed)
    done = 0
    if progress is not None:
        progress(done, batches)
    sums = []
    for name, entity, stored, total, rules, joiner in entities:
        if not rules.changed:
            continue
        # a rule over members reads whole households: each batch takes every member of the
        # households whose first member's row falls in it
        # (and a household's benefit is counted once from all its members)
        whole = name == "resident" and (
            any(a.group == "members" for p in [*old_plans, *new_plans] for a in p.aggregates)
            or bool(rules.households)
        )
        for offset in range(0, total, batch_rows):
            if whole:
                records = household_slice(stored, offset, batch_rows)
            else:
                records = stored.slice(offset, batch_rows)
            if tagger is not None:
                records = tagger(records.collect(), entity).lazy()
            batch = evaluate(records, entity, rules, contacts, as_of=as_of, with_groups=joiner)
            sums.append(batch_sums(batch, rules, list(group_columns(name))))
            overlap.add(batch, rules.in_force)
            done += 1
            if progress is not None:
                progress(done, batches)
    table = measures(sums, periods(baseline, reform))
    policies = per_policy(table, changes)
    groups = per_group(table, [g for e in frames for g in group_columns(e)])
    beijing = beijing_scale(table, policies)
    return Reach(
        changes, policies, groups, overlap.result(), as_of, subjects, beijing, _means(frames)
    )


def _means(frames: Mapping[str, pl.LazyFrame]) -> dict[str, float]:
    """Each entity's mean calibrated weight; an entity with an unknown weight has none."""
    out = {}
    for name, frame in frames.items():
        if "weight" not in frame.collect_schema().names():
            continue
        unknown, mean = (
            frame.select(
                pl.col("weight").is_null().any().alias("unknown"),
                pl.col("weight").cast(pl.Float64).mean().alias("mean"),
            )
            .collect()
            .row(0)
        )
        if not unknown and mean is not None:
            out[name] = float(mean)
    return out


def parameter_changes(
    reform: Catalog,
    changes: Sequence[PolicyChange],
    libraries: tuple[Library, Library],
    schema: Schema,
    *,
    as_of: date,
) -> tuple[PolicyChange, ...]:
    """The policies of ``reform`` in force on ``as_of`` (and not changed already) that read a
    parameter whose version differs between the two libraries: their texts are the same, so
    the new side carries the change as a comment (``# parameters.x: 1450 → 1500``), which
    keeps its benefit apart from the old one's wherever the report compares texts."""
    before, after = libraries
    if before is after:
        return ()
    already = {c.policy_id for c in changes}
    moved: dict[str, str] = {}
    for name in {p.name for p in after.parameters}:
        old, new = before.get(name), after.get(name)
        was = old.in_force(as_of) if old else None
        now = new.in_force(as_of) if new else None
        if (was and was.shown()) != (now and now.shown()):
            moved[name] = (
                f"parameters.{name}: {was.shown() if was else '—'} → {now.shown() if now else '—'}"
            )
    if not moved:
        return ()
    out = []
    with using(after):
        policies = [p for p in reform.in_force(as_of) if p.id not in already]
        for policy in policies:
            read = sorted(parameters_of(policy, schema) & set(moved))
            if not read:
                continue
            note = "  # " + "; ".join(moved[n] for n in read)
            in_benefit = bool(parameters_of(policy, schema, benefit_only=True) & set(read))
            new_benefit = f"{policy.benefit}{note}" if in_benefit else policy.benefit
            out.append(
                PolicyChange(
                    policy.id,
                    "changed",
                    policy.eligibility,
                    policy.eligibility + note,
                    policy.benefit,
                    new_benefit,
                )
            )
    return tuple(out)
