"""What changes between two catalogs: policies added, removed or changed, and on a population
who gains, who loses, and how the cost per period moves.

>>> import polars as pl
>>> from decimal import Decimal
>>> def pairs(ids, amount):
...     return pl.DataFrame({"subject_id": ids, "policy_id": ["p"] * 2,
...                          "status": ["eligible"] * 2, "benefit": [Decimal(amount)] * 2})
>>> old, new = pairs(["a", "b"], 100), pairs(["b", "c"], 150)
>>> reach_diff(old, new).select("policy_id", "gained", "lost", "cost_delta").row(0)
('p', 1, 1, Decimal('100.00'))
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rules.loader import Catalog

__all__ = ["PolicyChange", "catalog_changes", "reach_diff", "subject_changes"]


@dataclass(frozen=True)
class PolicyChange:
    policy_id: str
    change: str  # added | removed | changed
    old_eligibility: str | None
    new_eligibility: str | None
    old_benefit: str | None
    new_benefit: str | None


def catalog_changes(old: Catalog, new: Catalog) -> list[PolicyChange]:
    """Policies whose rule content differs between ``old`` and ``new`` (by content hash)."""
    a, b = old.by_id, new.by_id
    out = []
    for pid in sorted(set(a) | set(b)):
        pa, pb = a.get(pid), b.get(pid)
        if pa is not None and pb is not None and pa.content_hash == pb.content_hash:
            continue
        change = "added" if pa is None else "removed" if pb is None else "changed"
        out.append(
            PolicyChange(
                pid,
                change,
                pa.eligibility if pa else None,
                pb.eligibility if pb else None,
                pa.benefit if pa else None,
                pb.benefit if pb else None,
            )
        )
    return out


def _eligible(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.filter(pl.col("status").cast(pl.String) == "eligible").select(
        "subject_id", "policy_id", pl.col("benefit").cast(pl.Decimal(18, 2))
    )


def subject_changes(old_pairs: pl.DataFrame, new_pairs: pl.DataFrame) -> pl.DataFrame:
    """One row per (subject, policy) that was gained, lost, or whose benefit changed."""
    before = _eligible(old_pairs).with_columns(pl.lit(True).alias("was"))
    after = _eligible(new_pairs).with_columns(pl.lit(True).alias("is"))
    joined = before.join(
        after, on=["subject_id", "policy_id"], how="full", coalesce=True, suffix="_new"
    ).with_columns(pl.col("was").fill_null(False), pl.col("is").fill_null(False))
    change = (
        pl.when(pl.col("is") & ~pl.col("was"))
        .then(pl.lit("gained"))
        .when(pl.col("was") & ~pl.col("is"))
        .then(pl.lit("lost"))
        .when(pl.col("benefit").ne_missing(pl.col("benefit_new")))
        .then(pl.lit("benefit_changed"))
    )
    return (
        joined.with_columns(change.alias("change"))
        .drop_nulls("change")
        .select(
            "subject_id",
            "policy_id",
            "change",
            pl.col("benefit").alias("old_benefit"),
            pl.col("benefit_new").alias("new_benefit"),
        )
        .sort("policy_id", "subject_id")
    )


def reach_diff(old_pairs: pl.DataFrame, new_pairs: pl.DataFrame) -> pl.DataFrame:
    """Per policy: eligible before and after, gained, lost, and cost per period before/after."""
    changes = subject_changes(old_pairs, new_pairs)
    counts = changes.group_by("policy_id").agg(
        (pl.col("change") == "gained").sum().alias("gained"),
        (pl.col("change") == "lost").sum().alias("lost"),
        (pl.col("change") == "benefit_changed").sum().alias("benefit_changed"),
    )

    def totals(pairs: pl.DataFrame, suffix: str) -> pl.DataFrame:
        return (
            _eligible(pairs)
            .group_by("policy_id")
            .agg(
                pl.len().alias(f"eligible_{suffix}"),
                pl.col("benefit").sum().fill_null(0).alias(f"cost_{suffix}"),
            )
        )

    out = (
        totals(old_pairs, "old")
        .join(totals(new_pairs, "new"), on="policy_id", how="full", coalesce=True)
        .join(counts, on="policy_id", how="left")
        .with_columns(pl.col(pl.UInt32).fill_null(0), pl.col(pl.Decimal).fill_null(0))
    )
    return out.with_columns(
        (pl.col("cost_new") - pl.col("cost_old")).alias("cost_delta")
    ).select("policy_id", "eligible_old", "eligible_new", "gained", "lost", "benefit_changed",
             "cost_old", "cost_new", "cost_delta").sort("policy_id")  # fmt: skip
