"""Reach and cost of a reform before it is issued (政策推演, seed 003 §五).

A reform is a catalog compared with a baseline catalog.  For every policy whose rule differs
(added, removed, changed) the simulation reports, on a population as of a date: the eligible
and maybe counts before and after, who becomes eligible and who stops, the cost per benefit
period and per year, the overlap with the other policies in force, the same by group
(district, age band, gender, hukou, household type; firms: size class, industry, district),
and how many of the eligible cannot be reached (no phone or e-mail on file, or opted out).

Both catalogs are matched in one pass over the population (tags computed once per batch):
the baseline's changed policies enter under a prefixed id.  Costs are exact decimals; a year
is twelve months of a monthly benefit, one yearly benefit, or one one-off payment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from matcher.batch import match_population
from matcher.diff import PolicyChange, catalog_changes
from matcher.fairness import GROUPS
from matcher.population import EventTagger, scan_population
from profiles.derive import with_derived
from profiles.schema import Schema
from rules.loader import Catalog
from rules.policy import Policy

__all__ = ["ALL", "Reach", "group_columns", "reachability", "simulate_reach"]

ALL = "(all changed)"
_OLD = "__baseline__:"
_PER_YEAR = {"month": 12, "year": 1, "once": 1}
_COST = pl.Decimal(20, 2)

# Reach groups: the fairness report's, plus household type for residents.
_HOUSEHOLD = (
    pl.when(pl.col("household_size") == 1)
    .then(pl.lit("独居 living alone"))
    .when(pl.col("children_under_3") > 0)
    .then(pl.lit("有3岁以下儿童 with a child under 3"))
    .when(pl.col("age") >= 60)
    .then(pl.lit("老年家庭 older household"))
    .when(pl.col("household_size").is_not_null())
    .then(pl.lit("其他家庭 other household"))
)


def group_columns(entity: str) -> dict[str, pl.Expr]:
    """The grouping expressions for ``entity``'s subjects (over stored and derived fields)."""
    groups = dict(GROUPS[entity])
    if entity == "resident":
        groups["household_type"] = _HOUSEHOLD
    return groups


@dataclass(frozen=True)
class Reach:
    """What a reform does: per changed policy, in total, by group, overlaps, changes."""

    changes: tuple[PolicyChange, ...]
    policies: pl.DataFrame
    groups: pl.DataFrame
    overlap: pl.DataFrame
    as_of: date
    subjects: int

    @property
    def total(self) -> dict[str, object]:
        row = self.policies.filter(pl.col("policy_id") == ALL)
        return row.row(0, named=True) if row.height else {}


def _renamed(policy: Policy) -> Policy:
    from dataclasses import replace

    return replace(policy, id=_OLD + policy.id)


def reachability(subjects: pl.LazyFrame, entity: str, contacts: pl.DataFrame | None) -> pl.Expr:
    """Whether a subject can be reached: a phone or e-mail on file and not opted out of both.

    ``contacts`` (``subject_id``, ``reachable``) — from the delivery contact points, opt-outs
    applied — overrides the profile's own phone and e-mail fields where it has a row.
    """
    names = subjects.collect_schema().names()
    fields = ("phone", "email") if entity == "resident" else ("contact_phone", "contact_email")
    present = [pl.col(f).is_not_null() & (pl.col(f) != "") for f in fields if f in names]
    on_file = pl.any_horizontal(present) if present else pl.lit(None, pl.Boolean)
    if contacts is None:
        return on_file
    return pl.coalesce(pl.col("__contact_reachable"), on_file)


def _people(
    frames: dict[str, pl.LazyFrame], schema: Schema, as_of: date, contacts: pl.DataFrame | None
) -> pl.DataFrame:
    parts = []
    for name, frame in frames.items():
        entity = schema.entity(name)
        assert entity.key is not None
        groups = group_columns(name)
        lazy = frame
        if contacts is not None:
            lazy = lazy.join(
                contacts.lazy().select(
                    pl.col("subject_id").alias(entity.key),
                    pl.col("reachable").alias("__contact_reachable"),
                ),
                on=entity.key,
                how="left",
            )
        parts.append(
            with_derived(lazy, entity, as_of=as_of)
            .select(
                pl.col(entity.key).alias("subject_id"),
                reachability(frame, name, contacts).alias("reachable"),
                *(e.cast(pl.String).cast(pl.Categorical).alias(k) for k, e in groups.items()),
            )
            .collect()
        )
    return pl.concat(parts, how="diagonal_relaxed")


def simulate_reach(
    population: Path,
    baseline: Catalog,
    reform: Catalog,
    schema: Schema,
    *,
    as_of: date,
    contacts: pl.DataFrame | None = None,
    tags: bool = True,
) -> Reach:
    """Reach, cost, groups and overlaps of ``reform`` against ``baseline`` on ``population``."""
    changes = tuple(catalog_changes(baseline, reform))
    changed = {c.policy_id for c in changes}
    frames = scan_population(population, schema)
    new_policies = reform.in_force(as_of)
    old_policies = [_renamed(p) for p in baseline.in_force(as_of) if p.id in changed]
    tagger = EventTagger.for_population(population, schema, as_of=as_of) if tags else None
    batches = list(
        match_population(frames, [*new_policies, *old_policies], schema, as_of=as_of, tagger=tagger)
    )
    pairs = (
        pl.concat(batches)
        if batches
        else pl.DataFrame(
            schema={
                "subject_id": pl.String,
                "subject_type": pl.String,
                "policy_id": pl.String,
                "status": pl.String,
                "benefit": _COST,
            }
        )
    ).with_columns(pl.col("status").cast(pl.String), pl.col("subject_type").cast(pl.String))
    subjects = sum(int(f.select(pl.len()).collect().item()) for f in frames.values())
    people = _people(frames, schema, as_of, contacts)
    periods = {p.id: p.benefit_period for p in (*baseline.policies, *reform.policies)}

    old = pairs.filter(pl.col("policy_id").str.starts_with(_OLD)).with_columns(
        pl.col("policy_id").str.strip_prefix(_OLD)
    )
    new = pairs.filter(~pl.col("policy_id").str.starts_with(_OLD))
    both = _side_by_side(old, new.filter(pl.col("policy_id").is_in(list(changed))), periods)
    both = both.join(people, on="subject_id", how="left")
    policies = _per_policy(both, changes)
    groups = _per_group(both, [g for e in frames for g in group_columns(e)])
    overlap = _overlap(new, changed)
    return Reach(changes, policies, groups, overlap, as_of, subjects)


def _side_by_side(
    old: pl.DataFrame, new: pl.DataFrame, periods: Mapping[str, str | None]
) -> pl.DataFrame:
    """One row per (subject, changed policy) matched before or after, with both statuses."""
    keys = ["subject_id", "policy_id"]
    per_year = pl.col("policy_id").replace_strict(
        {pid: _PER_YEAR.get(period or "", 0) for pid, period in periods.items()},
        default=0,
        return_dtype=pl.Int64,
    )
    joined = old.select(
        *keys, pl.col("status").alias("status_old"), pl.col("benefit").alias("benefit_old")
    ).join(
        new.select(
            *keys,
            "subject_type",
            pl.col("status").alias("status_new"),
            pl.col("benefit").alias("benefit_new"),
        ),
        on=keys,
        how="full",
        coalesce=True,
    )
    eligible_old = pl.col("status_old") == "eligible"
    eligible_new = pl.col("status_new") == "eligible"
    return joined.with_columns(
        eligible_old.fill_null(False).alias("eligible_old"),
        eligible_new.fill_null(False).alias("eligible_new"),
        (pl.col("status_old") == "maybe").fill_null(False).alias("maybe_old"),
        (pl.col("status_new") == "maybe").fill_null(False).alias("maybe_new"),
        pl.when(eligible_old).then(pl.col("benefit_old")).cast(_COST).alias("cost_old"),
        pl.when(eligible_new).then(pl.col("benefit_new")).cast(_COST).alias("cost_new"),
        per_year.alias("per_year"),
    )


def _measures() -> list[pl.Expr]:
    e_old, e_new = pl.col("eligible_old"), pl.col("eligible_new")
    return [
        e_old.sum().alias("eligible_before"),
        e_new.sum().alias("eligible_after"),
        pl.col("maybe_old").sum().alias("maybe_before"),
        pl.col("maybe_new").sum().alias("maybe_after"),
        (e_new & ~e_old).sum().alias("newly_eligible"),
        (e_old & ~e_new).sum().alias("no_longer_eligible"),
        pl.col("cost_old").sum().fill_null(0).alias("cost_period_before"),
        pl.col("cost_new").sum().fill_null(0).alias("cost_period_after"),
        (pl.col("cost_old") * pl.col("per_year")).sum().fill_null(0).alias("cost_year_before"),
        (pl.col("cost_new") * pl.col("per_year")).sum().fill_null(0).alias("cost_year_after"),
        (e_new & ~pl.col("reachable").fill_null(False)).sum().alias("eligible_unreachable"),
    ]


def _per_policy(both: pl.DataFrame, changes: Sequence[PolicyChange]) -> pl.DataFrame:
    kinds = pl.DataFrame(
        {"policy_id": [c.policy_id for c in changes], "change": [c.change for c in changes]},
        schema={"policy_id": pl.String, "change": pl.String},
    )
    per = kinds.join(both.group_by("policy_id").agg(_measures()), on="policy_id", how="left")
    # The total adds up the changed policies' pairs: a subject gaining two counts twice.
    total = both.select(_measures()).with_columns(
        pl.lit(ALL).alias("policy_id"), pl.lit("total").alias("change")
    )
    out = pl.concat([per, total.select(per.columns)], how="vertical_relaxed")
    return out.with_columns(
        pl.col(pl.UInt32, pl.Int64, pl.UInt64).fill_null(0),
        pl.col(pl.Decimal).fill_null(0).cast(_COST),
        (pl.col("cost_year_after") - pl.col("cost_year_before"))
        .cast(_COST)
        .alias("cost_year_delta"),
    )


def _per_group(both: pl.DataFrame, dimensions: Sequence[str]) -> pl.DataFrame:
    parts = []
    for dimension in dict.fromkeys(dimensions):
        if dimension not in both.columns:
            continue
        per_policy = (
            both.group_by("policy_id", pl.col(dimension).cast(pl.String).alias("group"))
            .agg(_measures())
            .drop_nulls("group")
        )
        # Every measure is a sum, so the all-policies rows add up the per-policy ones.
        measures = [c for c in per_policy.columns if c not in ("policy_id", "group")]
        overall = per_policy.group_by("group").agg(pl.col(measures).sum())
        for frame in (per_policy, overall.with_columns(pl.lit(ALL).alias("policy_id"))):
            parts.append(
                frame.select(pl.lit(dimension).alias("dimension"), "policy_id", "group", *measures)
            )
    if not parts:
        return pl.DataFrame()
    return (
        pl.concat(parts, how="vertical_relaxed")
        .with_columns(pl.col(pl.Decimal).cast(_COST))
        .sort("policy_id", "dimension", "group")
    )


def _overlap(new: pl.DataFrame, changed: set[str]) -> pl.DataFrame:
    """For each changed policy, the other policies its eligible are also eligible for.

    Co-occurrence counts come from a sparse subjects × policies matrix (``AᵀA``): a join of
    the eligible pairs with themselves would grow with the square of policies per subject.
    """
    from scipy import sparse

    eligible = new.filter(pl.col("status") == "eligible").select("subject_id", "policy_id")
    empty = pl.DataFrame(
        schema={"policy_id": pl.String, "other_policy": pl.String, "shared": pl.UInt32,
                "eligible": pl.UInt32, "share": pl.Float64}
    )  # fmt: skip
    if not eligible.height:
        return empty
    codes = eligible.select(
        # Dense codes: rank the categorical's physical integers, not the strings.
        (pl.col("subject_id").cast(pl.Categorical).to_physical().rank("dense") - 1).alias("s"),
        (pl.col("policy_id").cast(pl.Categorical).to_physical().rank("dense") - 1).alias("p"),
        pl.col("policy_id"),
    )
    names = codes.select("p", "policy_id").unique("p").sort("p")["policy_id"].to_list()
    rows, cols = codes["s"].to_numpy(), codes["p"].to_numpy()
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)),
        shape=(int(rows.max()) + 1, len(names)),
    )
    both = (matrix.T @ matrix).tocoo()
    pairs = pl.DataFrame({"i": both.row, "j": both.col, "shared": both.data})
    sizes = np.asarray(matrix.sum(axis=0)).ravel()
    wanted = [i for i, name in enumerate(names) if name in changed]
    out = pairs.filter(pl.col("i").is_in(wanted) & (pl.col("i") != pl.col("j"))).with_columns(
        pl.col("i").replace_strict(list(range(len(names))), names).alias("policy_id"),
        pl.col("j").replace_strict(list(range(len(names))), names).alias("other_policy"),
        pl.col("shared").cast(pl.UInt32),
        pl.col("i").replace_strict(list(range(len(names))), sizes.tolist()).cast(pl.UInt32)
        .alias("eligible"),
    )  # fmt: skip
    return (
        out.with_columns((pl.col("shared") / pl.col("eligible")).round(4).alias("share"))
        .select(empty.columns)
        .sort(["policy_id", "shared"], descending=[False, True])
    )
