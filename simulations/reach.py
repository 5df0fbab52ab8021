"""Reach and cost of a reform before it is issued (政策推演, seed 003 §五).

A reform is a catalog compared with a baseline catalog.  For every policy whose rule differs
(added, removed, changed) the simulation reports, on a population as of a date: the eligible
and maybe counts before and after, who becomes eligible and who stops, the cost per benefit
period and per year, the overlap with the other policies in force, the same by group
(district, age band, gender, hukou, household type; firms: size class, industry, district),
and how many of the eligible cannot be reached (no phone or e-mail on file, or opted out).

One pass over the population, batch by batch (tags computed once per batch): each batch gets
the old and the new rule of every changed policy as two status columns beside the subject's
groups and reachability, so before and after are read off the same row — no join of two
match results.  Each changed policy's matched rows are then summed by (group combination,
before/after status, reachable) with costs as integer fen; only these small sums leave the
batch.  Policies that did not change are evaluated once, and only for the overlaps.  Costs
are exact: a year is twelve months of a monthly benefit, one yearly benefit, or one one-off
payment, each side at its own catalog's period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from matcher.batch import BENEFIT_DTYPE, DEFAULT_BATCH_ROWS, PolicyPlan, plan_policies
from matcher.diff import PolicyChange, catalog_changes
from matcher.fairness import GROUPS
from matcher.population import EventTagger, scan_population
from profiles.derive import with_derived
from profiles.schema import Entity, Schema
from rules.loader import Catalog
from rules.policy import Policy

__all__ = ["ALL", "Reach", "group_columns", "reachability", "simulate_reach", "tags_read"]

ALL = "(all changed)"
_PER_YEAR = {"month": 12, "year": 1, "once": 1}
_COST = pl.Decimal(20, 2)
# A subject's status under one rule: no row, maybe, eligible.
_NONE, _MAYBE, _ELIGIBLE = 0, 1, 2
_G = "__g:"  # group columns of a batch, apart from the fields the rules read
_COUNTS = ("eligible_before", "eligible_after", "maybe_before", "maybe_after",
           "newly_eligible", "no_longer_eligible")  # fmt: skip
_COSTS = ("cost_period_before", "cost_period_after", "cost_year_before", "cost_year_after")
MEASURES = (*_COUNTS, *_COSTS, "eligible_unreachable")

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


@dataclass(frozen=True)
class _Rules:
    """The compiled rules one entity's batches evaluate."""

    changed: tuple[tuple[str, PolicyPlan | None, PolicyPlan | None], ...]  # id, old, new
    unchanged: tuple[PolicyPlan, ...]  # in force in the reform, for the overlaps only
    same_benefit: frozenset[str]  # changed policies whose benefit rule did not change
    # A benefit formula several changed policies share is computed once per batch, as a
    # column: ("old" | "new", policy id) -> column, and column -> its fen expression.
    benefit_columns: Mapping[tuple[str, str], str]
    shared_benefits: Mapping[str, pl.Expr]

    @classmethod
    def of(
        cls,
        entity: str,
        changes: Sequence[PolicyChange],
        old: Sequence[PolicyPlan],
        new: Sequence[PolicyPlan],
    ) -> _Rules:
        """``entity``'s rules: a changed policy's old or new side counts where its audience is."""
        old_by_id = {p.policy_id: p for p in old if p.audience == entity}
        new_by_id = {p.policy_id: p for p in new if p.audience == entity}
        ids = {c.policy_id for c in changes}
        changed = tuple(
            (pid, old_by_id.get(pid), new_by_id.get(pid))
            for pid in sorted(ids)
            if pid in old_by_id or pid in new_by_id
        )
        texts = {("old", c.policy_id): c.old_benefit for c in changes}
        texts |= {("new", c.policy_id): c.new_benefit for c in changes}
        users: dict[str, set[str]] = {}
        plans: dict[str, PolicyPlan] = {}
        for pid, *sides in changed:
            for side, plan in zip(("old", "new"), sides, strict=True):
                text = texts[side, pid]
                if plan is not None and text and plan.benefit_fields:  # constants cost nothing
                    users.setdefault(text, set()).add(pid)
                    plans.setdefault(text, plan)
        shared = {
            text: f"__b{i}" for i, text in enumerate(t for t, u in users.items() if len(u) > 1)
        }
        return cls(
            changed,
            tuple(p for p in new_by_id.values() if p.policy_id not in ids),
            frozenset(
                c.policy_id for c in changes
                if c.change == "changed" and c.old_benefit == c.new_benefit
            ),
            {key: shared[text] for key, text in texts.items() if text in shared},
            {column: _fen_of(plans[text]) for text, column in shared.items()},
        )  # fmt: skip

    @property
    def in_force(self) -> dict[str, str]:
        """The reform's policies evaluated in a batch: id -> status column."""
        ids = [pid for pid, _, new in self.changed if new is not None]
        ids += [p.policy_id for p in self.unchanged]
        return {pid: f"__n{pid}" for pid in ids}


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
) -> Reach:
    """Reach, cost, groups and overlaps of ``reform`` against ``baseline`` on ``population``."""
    changes = tuple(catalog_changes(baseline, reform))
    changed = {c.policy_id for c in changes}
    frames = scan_population(population, schema)
    new_plans = plan_policies(reform.in_force(as_of), schema, as_of=as_of)
    old_plans = plan_policies(
        [p for p in baseline.in_force(as_of) if p.id in changed], schema, as_of=as_of
    )
    evaluated = [*reform.in_force(as_of), *(p for p in baseline.in_force(as_of) if p.id in changed)]
    tagger = _tagger(population, schema, evaluated, as_of=as_of) if tags else None
    overlap = _Overlap([p.policy_id for p in new_plans], changed)
    sums, subjects = [], 0
    for name, frame in frames.items():
        entity = schema.entity(name)
        rules = _Rules.of(name, changes, old_plans, new_plans)
        stored = _with_missing_fields(frame, entity)
        total = int(stored.select(pl.len()).collect().item())
        subjects += total
        if not rules.changed and not rules.unchanged:
            continue
        for offset in range(0, total, batch_rows):
            records = stored.slice(offset, batch_rows)
            if tagger is not None:
                records = tagger(records.collect(), entity).lazy()
            batch = _evaluate(records, entity, rules, contacts, as_of=as_of)
            sums.append(_batch_sums(batch, rules, list(group_columns(name))))
            overlap.add(batch, rules.in_force)
    table = _measures(sums, _periods(baseline, reform))
    policies = _per_policy(table, changes)
    groups = _per_group(table, [g for e in frames for g in group_columns(e)])
    return Reach(changes, policies, groups, overlap.result(), as_of, subjects)


def _with_missing_fields(frame: pl.LazyFrame, entity: Entity) -> pl.LazyFrame:
    """``frame`` with a null column for every stored field it lacks (unknown for everyone)."""
    present = frame.collect_schema()
    missing = [
        pl.lit(None, dtype=f.polars_dtype).alias(f.name)
        for f in entity.stored_fields
        if f.name not in present
    ]
    return frame.with_columns(missing) if missing else frame


def _evaluate(
    records: pl.LazyFrame,
    entity: Entity,
    rules: _Rules,
    contacts: pl.DataFrame | None,
    *,
    as_of: date,
) -> pl.DataFrame:
    """One batch: its groups, reachability and every rule's status column in one query."""
    assert entity.key is not None
    if contacts is not None:
        records = records.join(
            contacts.lazy().select(
                pl.col("subject_id").alias(entity.key),
                pl.col("reachable").alias("__contact_reachable"),
            ),
            on=entity.key,
            how="left",
        )
    columns = [
        reachability(records, entity.name, contacts).fill_null(False).alias("__reachable"),
        *(e.cast(pl.String).alias(_G + k) for k, e in group_columns(entity.name).items()),
    ]
    for pid, old, new in rules.changed:
        if old is not None:
            columns.append(old.eligible.alias(f"__o{pid}"))
        if new is not None:
            columns.append(new.eligible.alias(f"__n{pid}"))
    columns += [p.eligible.alias(f"__n{p.policy_id}") for p in rules.unchanged]
    columns += [fen.alias(column) for column, fen in rules.shared_benefits.items()]
    # Shared sub-expressions of the old and new rules are computed once (polars CSE).
    return with_derived(records, entity, as_of=as_of).with_columns(columns).collect()


def _status(column: str) -> pl.Expr:
    c = pl.col(column)
    return (
        pl.when(c)
        .then(pl.lit(_ELIGIBLE, pl.UInt8))
        .when(c.is_null())
        .then(pl.lit(_MAYBE, pl.UInt8))
        .otherwise(pl.lit(_NONE, pl.UInt8))
    )


def _fen_of(plan: PolicyPlan) -> pl.Expr:
    """The benefit in integer fen (the rounded decimal's own integer)."""
    return plan.benefit.cast(BENEFIT_DTYPE).to_physical().cast(pl.Int64)


def _fen(plan: PolicyPlan | None, column: str, shared: str | None) -> pl.Expr:
    """The benefit in integer fen where ``column`` is eligible (null elsewhere).

    ``shared`` names the batch's column of a benefit formula computed once for many policies.
    """
    if plan is None:
        return pl.lit(None, pl.Int64)
    return pl.when(pl.col(column)).then(pl.col(shared) if shared else _fen_of(plan))


def _batch_sums(batch: pl.DataFrame, rules: _Rules, dimensions: list[str]) -> pl.DataFrame:
    """Per changed policy: subjects and fen by (groups, status before, status after, reachable).

    The group combinations are numbered once per batch; each policy sums its matched rows by
    one integer key, and the key is turned back into groups on the small result.
    """
    columns = [_G + d for d in dimensions]
    combos = batch.select(columns).unique().with_row_index("__combo")
    base = (
        batch.select(*columns, "__reachable")
        .join(combos, on=columns, how="left", nulls_equal=True, maintain_order="left")
        .select(pl.col("__combo").cast(pl.UInt32) * 2 + pl.col("__reachable").cast(pl.UInt32))
        .to_series()
    )
    keyed = batch.with_columns(base.alias("__base"))
    parts = []
    for pid, old, new in rules.changed:
        o, n = f"__o{pid}", f"__n{pid}"
        before = _status(o) if old else pl.lit(_NONE, pl.UInt8)
        after = _status(n) if new else pl.lit(_NONE, pl.UInt8)
        matched = [pl.col(c).fill_null(True) for c, p in ((o, old), (n, new)) if p is not None]
        rows = keyed.lazy().filter(pl.any_horizontal(matched))
        fen_before = _fen(old, o, rules.benefit_columns.get(("old", pid)))
        fen_after = _fen(new, n, rules.benefit_columns.get(("new", pid)))
        if old and new and pid in rules.same_benefit and ("new", pid) not in rules.benefit_columns:
            # One benefit computed for both sides (Decimal arithmetic is the costly part).
            rows = rows.with_columns(_fen_of(new).alias("__fen"))
            fen_before = pl.when(pl.col(o)).then(pl.col("__fen"))
            fen_after = pl.when(pl.col(n)).then(pl.col("__fen"))
        parts.append(
            rows.select(
                (pl.col("__base") * 9 + before.cast(pl.UInt32) * 3 + after).alias("__key"),
                fen_before.alias("fen_before"),
                fen_after.alias("fen_after"),
            )
            .group_by("__key")
            .agg(pl.len().alias("n"), pl.col("fen_before").sum(), pl.col("fen_after").sum())
            .with_columns(pl.lit(pid).alias("policy_id"))
        )
    if not parts:
        return pl.DataFrame()
    summed = pl.concat(pl.collect_all(parts))
    return (
        summed.with_columns(
            (pl.col("__key") // 18).alias("__combo"),
            (pl.col("__key") // 9 % 2 == 1).alias("reachable"),
            (pl.col("__key") // 3 % 3).cast(pl.UInt8).alias("before"),
            (pl.col("__key") % 3).cast(pl.UInt8).alias("after"),
        )
        .join(combos.with_columns(pl.col("__combo").cast(pl.UInt32)), on="__combo", how="left")
        .drop("__key", "__combo")
        .rename({_G + d: d for d in dimensions})
    )


def _periods(baseline: Catalog, reform: Catalog) -> pl.DataFrame:
    """Payments per year of each policy, before (baseline) and after (reform)."""

    def per_year(catalog: Catalog) -> dict[str, int]:
        return {p.id: _PER_YEAR.get(p.benefit_period or "", 0) for p in catalog.policies}

    old, new = per_year(baseline), per_year(reform)
    ids = sorted(set(old) | set(new))
    return pl.DataFrame(
        {"policy_id": ids, "year_before": [old.get(i, 0) for i in ids],
         "year_after": [new.get(i, 0) for i in ids]},
        schema={"policy_id": pl.String, "year_before": pl.Int64, "year_after": pl.Int64},
    )  # fmt: skip


def _measures(sums: Sequence[pl.DataFrame], periods: pl.DataFrame) -> pl.DataFrame:
    """Every measure as a column of the summed rows, so any grouping of them is a plain sum."""
    parts = [s for s in sums if s.height]
    if not parts:
        return pl.DataFrame(schema={"policy_id": pl.String, **{m: pl.Int64 for m in MEASURES}})
    rows = pl.concat(parts, how="diagonal_relaxed").join(periods, on="policy_id", how="left")
    n = pl.col("n").cast(pl.Int64)
    was, now = pl.col("before") == _ELIGIBLE, pl.col("after") == _ELIGIBLE

    def count(condition: pl.Expr) -> pl.Expr:
        return pl.when(condition).then(n).otherwise(0)

    fen_before, fen_after = pl.col("fen_before").fill_null(0), pl.col("fen_after").fill_null(0)
    return rows.select(
        pl.exclude("n", "before", "after", "reachable", "^fen_.*$", "^year_.*$"),
        count(was).alias("eligible_before"),
        count(now).alias("eligible_after"),
        count(pl.col("before") == _MAYBE).alias("maybe_before"),
        count(pl.col("after") == _MAYBE).alias("maybe_after"),
        count(now & ~was).alias("newly_eligible"),
        count(was & ~now).alias("no_longer_eligible"),
        fen_before.alias("cost_period_before"),
        fen_after.alias("cost_period_after"),
        (fen_before * pl.col("year_before").fill_null(0)).alias("cost_year_before"),
        (fen_after * pl.col("year_after").fill_null(0)).alias("cost_year_after"),
        count(now & ~pl.col("reachable")).alias("eligible_unreachable"),
    )


def _published(frame: pl.DataFrame) -> pl.DataFrame:
    """Counts as UInt32 and costs as exact decimals of CNY (the sums are in fen)."""
    cent = pl.lit(Decimal("0.01"))
    return frame.with_columns(
        pl.col(_COUNTS).cast(pl.UInt32),
        pl.col("eligible_unreachable").cast(pl.UInt32),
        *((pl.col(c).cast(pl.Decimal(38, 2)) * cent).cast(_COST).alias(c) for c in _COSTS),
    )


def _per_policy(table: pl.DataFrame, changes: Sequence[PolicyChange]) -> pl.DataFrame:
    kinds = pl.DataFrame(
        {"policy_id": [c.policy_id for c in changes], "change": [c.change for c in changes]},
        schema={"policy_id": pl.String, "change": pl.String},
    )
    per = kinds.join(
        table.group_by("policy_id").agg(pl.col(MEASURES).sum()), on="policy_id", how="left"
    ).with_columns(pl.col(MEASURES).fill_null(0))
    # The total adds up the changed policies' pairs: a subject gaining two counts twice.
    total = per.select(
        pl.lit(ALL).alias("policy_id"), pl.lit("total").alias("change"), pl.col(MEASURES).sum()
    )
    out = _published(pl.concat([per, total], how="vertical_relaxed"))
    return out.with_columns(
        (pl.col("cost_year_after") - pl.col("cost_year_before"))
        .cast(_COST)
        .alias("cost_year_delta")
    )


def _per_group(table: pl.DataFrame, dimensions: Sequence[str]) -> pl.DataFrame:
    parts = []
    for dimension in dict.fromkeys(dimensions):
        if dimension not in table.columns:
            continue
        per_policy = (
            table.group_by("policy_id", pl.col(dimension).alias("group"))
            .agg(pl.col(MEASURES).sum())
            .drop_nulls("group")
        )
        # Every measure is a sum, so the all-policies rows add up the per-policy ones.
        overall = per_policy.group_by("group").agg(pl.col(MEASURES).sum())
        for frame in (per_policy, overall.with_columns(pl.lit(ALL).alias("policy_id"))):
            parts.append(
                frame.select(pl.lit(dimension).alias("dimension"), "policy_id", "group", *MEASURES)
            )
    if not parts:
        return pl.DataFrame()
    return _published(pl.concat(parts, how="vertical_relaxed")).sort(
        "policy_id", "dimension", "group"
    )


def _tagger(
    population: Path, schema: Schema, policies: Sequence[Policy], *, as_of: date
) -> EventTagger | None:
    """A tagger computing only the tags the rules can read (none: no tagger at all).

    It reads only the events of the items those tags look at: a tag's conditions count, or
    look for the absence or the first, of its own items' events, so the others cannot change
    it.
    """
    from profiles.tagging import Condition, load_tags

    wanted = tags_read(policies, schema)
    events = population / "events.parquet"
    if (wanted is not None and not wanted) or not events.is_file():
        return None
    library = load_tags(schema=schema)
    if wanted is None:
        return EventTagger(population, schema, as_of=as_of, tags=library)
    library = [t for t in library if t.id in wanted]

    def items(condition: Condition) -> set[str]:
        return set(condition.items).union(*(items(c) for c in condition.parts))

    tagger = EventTagger(population, schema, as_of=as_of, tags=library)
    read = sorted(set().union(*(items(t.when) for t in library)))
    tagger.events = pl.scan_parquet(events).filter(pl.col("item_code").cast(pl.String).is_in(read))
    return tagger


def tags_read(policies: Sequence[Policy], schema: Schema) -> set[str] | None:
    """The tag ids the rules of ``policies`` can read; ``None`` when that cannot be told.

    A rule reads tags only as ``"id" in tags``; any other use of the field (a string field
    as the member) could read any tag.

    >>> from rules.policy import Policy
    >>> from profiles.schema import load_schema
    >>> p = Policy(id="p", title="t", department="d", audience="resident", mode="auto_grant",
    ...            eligibility='"new_parent" in 标签 and age < 40', valid_from=date(2026, 1, 1))
    >>> tags_read([p], load_schema())
    {'new_parent'}
    """
    import rule_engine.ast as rast

    from rules.language import Rule, RuleKind, children, parse_rule

    wanted: set[str] = set()
    for policy in policies:
        entity = schema.entity(policy.audience)
        names = {n for f in entity.fields if f.type == "tags" for n in (f.name, f.name_zh) if n}
        texts: list[tuple[str, RuleKind]] = [(policy.eligibility, "eligibility")]
        if policy.benefit:
            texts.append((policy.benefit, "benefit"))
        for text, kind in texts:
            if not any(name in text for name in names):
                continue  # the field is not named: the rule cannot read tags
            rule = parse_rule(text, entity, kind=kind)

            def is_tags(node: object, rule: Rule = rule) -> bool:
                kind = rule.types.get(id(node))
                return (
                    isinstance(node, rast.SymbolExpression)
                    and kind is not None
                    and (kind.kind == "tags")
                )

            stack = [rule.expression]
            while stack:
                node = stack.pop()
                if isinstance(node, rast.ContainsExpression) and is_tags(node.container):
                    if not isinstance(node.member, rast.StringExpression):
                        return None
                    wanted.add(node.member.value)
                elif is_tags(node):
                    return None
                else:
                    stack.extend(children(node))
    return wanted


class _Overlap:
    """For each changed policy, how many of its eligible are eligible for each other policy.

    A batch's subjects are reduced to their distinct eligibility patterns (the statuses packed
    into 64-bit words and grouped: a few thousand patterns for a million subjects), and the
    co-occurrence counts are ``AᵀWA`` of the sparse patterns × policies matrix weighted by how
    many subjects share each pattern.  A self-join of the eligible pairs would grow with the
    square of policies per subject.
    """

    def __init__(self, policies: Sequence[str], changed: set[str]) -> None:
        self.policies = list(policies)
        self.changed = [p for p in self.policies if p in changed]
        self.shared = np.zeros((len(self.changed), len(self.policies)), dtype=np.int64)

    def add(self, batch: pl.DataFrame, columns: Mapping[str, str]) -> None:
        """Count one batch; ``columns`` maps policy ids to the batch's status columns."""
        from scipy import sparse

        ids = list(columns)
        wanted = [k for k, pid in enumerate(ids) if pid in self.changed]
        if not wanted:
            return
        bits = [pl.col(c).fill_null(False) for c in columns.values()]
        words = [
            pl.sum_horizontal(
                bits[k].cast(pl.UInt64) * pl.lit(1 << (k % 64), pl.UInt64)
                for k in range(w, min(w + 64, len(bits)))
            ).alias(f"w{w // 64}")
            for w in range(0, len(bits), 64)
        ]
        patterns = (
            batch.lazy()
            .filter(pl.any_horizontal(bits[k] for k in wanted))
            .select(words)
            .group_by(pl.all())
            .agg(pl.len().alias("subjects"))
            .collect()
        )
        if not patterns.height:
            return
        pairs = pl.concat(
            [
                patterns.lazy().select(
                    ((pl.col(f"w{k // 64}") // (1 << (k % 64))) % 2 == 1).arg_true().alias("row"),
                    pl.lit(k, pl.UInt32).alias("policy"),
                )
                for k in range(len(ids))
            ]
        ).collect()
        rows, cols = pairs["row"].to_numpy(), pairs["policy"].to_numpy()
        shape = (patterns.height, len(ids))
        subjects = patterns["subjects"].to_numpy().astype(np.int64)
        matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=shape)
        weighted = sparse.csr_matrix((subjects[rows], (rows, cols)), shape=shape)
        counts = (matrix[:, wanted].T @ weighted).toarray()
        at = {pid: i for i, pid in enumerate(self.policies)}
        here = [at[pid] for pid in ids]
        for k, w in enumerate(wanted):
            self.shared[self.changed.index(ids[w]), here] += counts[k]

    def result(self) -> pl.DataFrame:
        """``policy_id, other_policy, shared, eligible, share``, most shared first."""
        at = {pid: i for i, pid in enumerate(self.policies)}
        rows = [
            (pid, other, int(self.shared[i, j]), int(self.shared[i, at[pid]]))
            for i, pid in enumerate(self.changed)
            for j, other in enumerate(self.policies)
            if other != pid and self.shared[i, j] > 0
        ]
        frame = pl.DataFrame(
            rows,
            schema={"policy_id": pl.String, "other_policy": pl.String, "shared": pl.UInt32,
                    "eligible": pl.UInt32},
            orient="row",
        )  # fmt: skip
        return frame.with_columns(
            (pl.col("shared") / pl.col("eligible")).round(4).alias("share")
        ).sort(["policy_id", "shared", "other_policy"], descending=[False, True, False])
