"""The latest run's offers, indexed by subject, so "my offers" is a lookup and not a scan.

The run's pairs are read once per run (sorted by subject id, strings shared as categoricals)
and each request slices its subject's rows by binary search: a few microseconds where a
filtered scan of a province's pairs file costs milliseconds and scales with its size.  A new
run is picked up on the next request after it is recorded; while one request builds its index
(seconds for millions of pairs) the others scan the file instead of waiting.

>>> index = OfferIndex.from_frame(7, pl.DataFrame({"subject_id": ["b", "a", "b"],
...     "policy_id": ["x", "y", "z"], "status": ["maybe", "eligible", "eligible"],
...     "benefit": [None, 1.0, 2.0]}))
>>> index.rows("b")
[('z', 'eligible', 2.0), ('x', 'maybe', None)]
>>> index.rows("c")
[]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import polars as pl

__all__ = ["OfferCache", "OfferIndex", "offers_of", "scan_rows"]

Row = tuple[str, str, float | None]


@dataclass(frozen=True)
class OfferIndex:
    run_id: int
    subjects: pl.Series  # sorted subject ids, one per pair
    pairs: pl.DataFrame  # policy_id, status, benefit in the same order

    @classmethod
    def from_frame(cls, run_id: int, frame: pl.DataFrame) -> OfferIndex:
        ordered = frame.select(
            pl.col("subject_id").cast(pl.String),
            pl.col("policy_id").cast(pl.Categorical),
            pl.col("status").cast(pl.String).cast(pl.Categorical),
            "benefit",
        ).sort("subject_id", pl.col("status").cast(pl.String), pl.col("policy_id").cast(pl.String))
        return cls(run_id, ordered["subject_id"], ordered.drop("subject_id"))

    @classmethod
    def read(cls, run_id: int, path: Path) -> OfferIndex:
        return cls.from_frame(
            run_id, pl.read_parquet(path, columns=["subject_id", "policy_id", "status", "benefit"])
        )

    def rows(self, subject_id: str) -> list[Row]:
        """(policy_id, status, benefit) of ``subject_id``, eligible first, then by policy."""
        start = int(self.subjects.search_sorted(subject_id, side="left"))
        end = int(self.subjects.search_sorted(subject_id, side="right"))
        if start == end:
            return []
        return [
            (str(p), str(s), None if b is None else float(b))
            for p, s, b in self.pairs.slice(start, end - start).iter_rows()
        ]


def scan_rows(path: Path, subject_id: str) -> list[Row]:
    """The same rows as :meth:`OfferIndex.rows`, by a filtered scan of the pairs file."""
    return [
        (p, s, None if b is None else float(b))
        for p, s, b in pl.scan_parquet(path)
        .filter(pl.col("subject_id") == subject_id)
        .select("policy_id", pl.col("status").cast(pl.String), "benefit")
        .sort("status", "policy_id")
        .collect()
        .rows()
    ]


class OfferCache:
    """The index of the newest run seen, rebuilt (by one request at a time) when a newer one
    appears."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: OfferIndex | None = None

    def get(self, run_id: int, path: Path) -> OfferIndex | None:
        """The index of ``run_id``, or None while another request is building it."""
        index = self._index
        if index is not None and index.run_id == run_id:
            return index
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._index is None or self._index.run_id != run_id:
                self._index = OfferIndex.read(run_id, path)
            return self._index
        finally:
            self._lock.release()


def offers_of(cache: OfferCache, run_id: int, path: Path, subject_id: str) -> list[Row]:
    """A subject's offers in a run: from the index, or by a scan while it is being built."""
    index = cache.get(run_id, path)
    return index.rows(subject_id) if index is not None else scan_rows(path, subject_id)
