"""Overlaps: the other policies a changed policy's eligible are also eligible for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

__all__ = ["Overlap"]


class Overlap:
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
