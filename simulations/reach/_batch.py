"""One batch of subjects: every changed policy's old and new status, groups, reachability.

The old and the new rule of each changed policy are two status columns of the same query, so
before and after are read off the same row.  Each policy's matched rows are then summed by one
integer key — (group combination, reachable, status before, status after) — with benefits as
integer fen; only those small sums leave the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from matcher.batch import BENEFIT_DTYPE, PolicyPlan
from matcher.diff import PolicyChange
from matcher.fairness import GROUPS
from profiles.derive import with_derived
from profiles.schema import Entity

__all__ = [
    "ELIGIBLE",
    "MAYBE",
    "NONE",
    "BatchRules",
    "batch_sums",
    "evaluate",
    "group_columns",
    "reachability",
    "with_missing_fields",
]

# A subject's status under one rule: no row, maybe, eligible.
NONE, MAYBE, ELIGIBLE = 0, 1, 2
_G = "__g:"  # group columns of a batch, apart from the fields the rules read

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
    groups = dict(GROUPS.get(entity, {}))  # households: no reach groups of their own yet
    if entity == "resident":
        groups["household_type"] = _HOUSEHOLD
    return groups


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
class BatchRules:
    """The compiled rules one entity's batches evaluate."""

    changed: tuple[tuple[str, PolicyPlan | None, PolicyPlan | None], ...]  # id, old, new
    unchanged: tuple[PolicyPlan, ...]  # in force in the reform, for the overlaps only
    same_benefit: frozenset[str]  # changed policies whose benefit rule did not change
    # A benefit formula several changed policies share is computed once per batch, as a
    # column: ("old" | "new", policy id) -> column, and column -> its fen expression.
    benefit_columns: Mapping[tuple[str, str], str]
    shared_benefits: Mapping[str, pl.Expr]
    # Changed resident policies whose benefit is the household's (``unit: household``):
    # counted once per household, with the people living in it (``matcher.units``).
    households: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        entity: str,
        changes: Sequence[PolicyChange],
        old: Sequence[PolicyPlan],
        new: Sequence[PolicyPlan],
        units: Mapping[str, str] | None = None,
    ) -> BatchRules:
        """``entity``'s rules: a changed policy's old or new side counts where its audience is.
        ``units``: policy id -> its unit (``person``, ``household``, ``enterprise``)."""
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
            frozenset(
                pid for pid, *_ in changed
                if entity == "resident" and (units or {}).get(pid) == "household"
            ),
        )  # fmt: skip

    @property
    def in_force(self) -> dict[str, str]:
        """The reform's policies evaluated in a batch: id -> status column."""
        ids = [pid for pid, _, new in self.changed if new is not None]
        ids += [p.policy_id for p in self.unchanged]
        return {pid: f"__n{pid}" for pid in ids}


def with_missing_fields(frame: pl.LazyFrame, entity: Entity) -> pl.LazyFrame:
    """``frame`` with a null column for every stored field it lacks (unknown for everyone)."""
    present = frame.collect_schema()
    missing = [
        pl.lit(None, dtype=f.polars_dtype).alias(f.name)
        for f in entity.stored_fields
        if f.name not in present
    ]
    return frame.with_columns(missing) if missing else frame


def evaluate(
    records: pl.LazyFrame,
    entity: Entity,
    rules: BatchRules,
    contacts: pl.DataFrame | None,
    *,
    as_of: date,
    with_groups: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
) -> pl.DataFrame:
    """One batch: its groups, reachability and every rule's status column in one query.

    ``with_groups`` (``matcher.batch.group_joiner``) joins the columns rules over households
    and employees read to the derived batch first."""
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
    derived = with_derived(records, entity, as_of=as_of)
    if with_groups is not None:
        derived = with_groups(derived)
    return derived.with_columns(columns).collect()


def _status(column: str) -> pl.Expr:
    c = pl.col(column)
    return (
        pl.when(c)
        .then(pl.lit(ELIGIBLE, pl.UInt8))
        .when(c.is_null())
        .then(pl.lit(MAYBE, pl.UInt8))
        .otherwise(pl.lit(NONE, pl.UInt8))
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


# A generated population's calibrated weight (how many Beijing subjects a row stands for);
# a population without weights has none, and its weighted sums stay unknown (null).
_WEIGHT = pl.col("weight").cast(pl.Float64).alias("__w")


def _weighted_sums() -> list[pl.Expr]:
    """Per key: Σw, and for the sampling variance Σw(w-1) (Poisson-sampling approximation,
    Särndal, Swensson & Wretman 1992, §3.3: Var(Σ w y) ≈ Σ w(w-1) y²); costs the same in fen,
    with the cross term the variance of a cost change needs.  A household's row stands for
    its ``__n`` people and its one household: y is the people (or 1 household), so the
    variance is the cluster's, not the members' as if drawn one by one."""
    w = pl.col("__w")
    extra = w * (w - 1)
    people, homes = pl.col("__n").cast(pl.Float64), pl.col("__h").cast(pl.Float64)
    fb, fa = pl.col("fen_before").cast(pl.Float64), pl.col("fen_after").cast(pl.Float64)
    fb, fa = fb.fill_null(0.0), fa.fill_null(0.0)
    return [
        w.null_count().alias("w_nulls"),
        (w * people).sum().alias("w"),
        (extra * people * people).sum().alias("w_var"),
        (w * homes).sum().alias("wh"),
        (extra * homes).sum().alias("wh_var"),
        (w * fb).sum().alias("w_fen_before"),
        (w * fa).sum().alias("w_fen_after"),
        (extra * fb * fb).sum().alias("w_var_before"),
        (extra * fa * fa).sum().alias("w_var_after"),
        (extra * fa * fb).sum().alias("w_var_cross"),
    ]


def _per_household(
    keyed: pl.LazyFrame, before: pl.Expr, after: pl.Expr, fen_before: pl.Expr, fen_after: pl.Expr
) -> pl.LazyFrame:
    """One row per household of the batch for a policy whose unit is the household, as
    ``matcher.units`` attributes it: eligible if any member is (else maybe if any is), its
    benefit the largest of its eligible members', counted once; ``__n`` the people living in
    it, its groups, reachability and weight its recipient's (the head, else its first member).
    A resident without a household is a household of one.  ``keyed`` holds whole households
    (``__home``: the household, or the person's own)."""
    head = (pl.col("relation_to_head").cast(pl.String) != "head").fill_null(True)
    return (
        keyed.with_columns(
            before.alias("__b"),
            after.alias("__a"),
            fen_before.alias("__fb"),
            fen_after.alias("__fa"),
            head.alias("__not_head"),
        )
        .sort("__home", "__not_head", maintain_order=True)
        .group_by("__home", maintain_order=True)
        .agg(
            pl.col("__base").first(),
            pl.col("__b").max(),
            pl.col("__a").max(),
            pl.col("__fb").max().alias("fen_before"),
            pl.col("__fa").max().alias("fen_after"),
            _WEIGHT.first(),
            pl.len().cast(pl.UInt32).alias("__n"),
        )
        .filter((pl.col("__b") != NONE) | (pl.col("__a") != NONE))
        .select(
            (pl.col("__base") * 9 + pl.col("__b").cast(pl.UInt32) * 3 + pl.col("__a")).alias(
                "__key"
            ),
            "fen_before",
            "fen_after",
            "__w",
            "__n",
            pl.lit(1, pl.UInt32).alias("__h"),
        )
    )


def batch_sums(batch: pl.DataFrame, rules: BatchRules, dimensions: list[str]) -> pl.DataFrame:
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
        before = _status(o) if old else pl.lit(NONE, pl.UInt8)
        after = _status(n) if new else pl.lit(NONE, pl.UInt8)
        matched = [pl.col(c).fill_null(True) for c, p in ((o, old), (n, new)) if p is not None]
        per_household = pid in rules.households
        if per_household:
            # every member of a household with a matched member: its people are counted too
            home = pl.coalesce(pl.col("household_id"), pl.lit("\x00") + pl.col("person_id"))
            rows = (
                keyed.lazy()
                .with_columns(home.alias("__home"))
                .filter(pl.any_horizontal(matched).any().over("__home"))
            )
        else:
            rows = keyed.lazy().filter(pl.any_horizontal(matched))
        fen_before = _fen(old, o, rules.benefit_columns.get(("old", pid)))
        fen_after = _fen(new, n, rules.benefit_columns.get(("new", pid)))
        if old and new and pid in rules.same_benefit and ("new", pid) not in rules.benefit_columns:
            # One benefit computed for both sides (Decimal arithmetic is the costly part).
            rows = rows.with_columns(_fen_of(new).alias("__fen"))
            fen_before = pl.when(pl.col(o)).then(pl.col("__fen"))
            fen_after = pl.when(pl.col(n)).then(pl.col("__fen"))
        if per_household:
            selected = _per_household(rows, before, after, fen_before, fen_after)
        else:
            selected = rows.select(
                (pl.col("__base") * 9 + before.cast(pl.UInt32) * 3 + after).alias("__key"),
                fen_before.alias("fen_before"),
                fen_after.alias("fen_after"),
                _WEIGHT,
                pl.lit(1, pl.UInt32).alias("__n"),
                pl.lit(0, pl.UInt32).alias("__h"),
            )
        parts.append(
            selected.group_by("__key")
            .agg(
                pl.col("__n").sum().cast(pl.UInt32).alias("n"),
                pl.col("__h").sum().cast(pl.UInt32).alias("h"),
                pl.col("fen_before").sum(),
                pl.col("fen_after").sum(),
                *_weighted_sums(),
            )
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
