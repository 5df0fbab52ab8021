"""A population directory held in memory, sorted by subject, so one subject is a lookup.

Ingestion reads each event's subject from the population file the server was started with
(:class:`~matcher.live.source.FileSource`).  A filtered scan of ``residents.parquet`` and
``events.parquet`` costs 10–15 ms each for 50,000 residents and grows with the file, because
nothing in a Parquet file is sorted by subject; it was a third of what one ``POST
/api/v1/events`` took.  :class:`FileIndex` reads each file once, sorted by its key, and answers
by binary search (tens of microseconds, many ids at once).  It holds the files' rows in memory
(about 40 MB for 50,000 residents with their 225,000 events), as the offer index holds a run's
pairs; while one request builds it (a second for 1M residents) the others scan instead of
waiting (:class:`FileIndexCache`).  A file replaced on disk (its size or modification time
changed) is read again on the next request.

>>> frame = pl.DataFrame({"person_id": ["b", "a", "b"], "x": [1, 2, 3]})
>>> index = SortedRows.of(frame, "person_id")
>>> [r["x"] for r in index.rows(["b"])["b"]], index.rows(["c"])
([1, 3], {})
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

__all__ = ["FileIndex", "FileIndexCache", "SortedRows", "stamp_of"]

Record = dict[str, Any]


@dataclass(frozen=True)
class SortedRows:
    """A frame's rows sorted by ``key`` (stable: rows of one key keep the file's order)."""

    # The sorted keys as UTF-8 bytes of one width (polars sorts strings by their bytes): a
    # numpy search costs microseconds where a polars one costs about a millisecond, in a
    # fifth of the memory of a list of Python strings (18 bytes a key for 4.5M events).
    keys: np.ndarray[Any, np.dtype[np.bytes_]]
    frame: pl.DataFrame

    @classmethod
    def of(cls, frame: pl.DataFrame, key: str) -> SortedRows:
        ordered = frame.with_columns(pl.col(key).cast(pl.String)).sort(key, maintain_order=True)
        keys = np.array([k.encode() for k in ordered[key].to_list()], dtype=np.bytes_)
        return cls(keys, ordered)

    def rows(self, ids: Collection[str]) -> dict[str, list[Record]]:
        """The rows of each of ``ids`` that has any, in the file's order."""
        wanted = sorted(set(ids))
        if not wanted or not len(self.keys):
            return {}
        probe = np.array([s.encode() for s in wanted], dtype=np.bytes_)
        starts = np.searchsorted(self.keys, probe, side="left").tolist()
        ends = np.searchsorted(self.keys, probe, side="right").tolist()
        return {
            sid: self.frame.slice(start, end - start).to_dicts()
            for sid, start, end in zip(wanted, starts, ends, strict=True)
            if end > start
        }


@dataclass(frozen=True)
class FileIndex:
    """The entities' records by key and the events by subject, of one population directory."""

    entities: dict[str, SortedRows]  # entity name -> its records by key
    events: SortedRows | None  # None: the directory has no events.parquet
    stamp: tuple[object, ...] = ()  # the files' sizes and times when read

    @classmethod
    def build(
        cls, frames: dict[str, pl.LazyFrame], keys: dict[str, str], events: Path
    ) -> FileIndex:
        """From the conformed lazy frames of each entity (``keys``: each one's key field)."""
        entities = {n: SortedRows.of(frame.collect(), keys[n]) for n, frame in frames.items()}
        log = SortedRows.of(pl.read_parquet(events), "subject_id") if events.is_file() else None
        return cls(entities, log, stamp_of(events.parent))


def stamp_of(directory: Path) -> tuple[object, ...]:
    """The population files' names, sizes and modification times: what a rebuild watches."""
    return tuple(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(directory.glob("*.parquet"))
    )


class FileIndexCache:
    """The index of one directory, built by the first request that needs it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: FileIndex | None = None

    def get(self, directory: Path, build: Callable[[], FileIndex]) -> FileIndex | None:
        """The index of ``directory`` (``build`` makes it), or None while another request is
        building it (that one scans)."""
        stamp = stamp_of(directory)
        if self._index is not None and self._index.stamp == stamp:
            return self._index
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._index is None or self._index.stamp != stamp:
                self._index = build()
            return self._index
        finally:
            self._lock.release()
