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

A linked population's households, employments and the residents' links (household, mother,
father) are held too, as row numbers by value (:class:`LinkedRows`): reading an event's
household, children and a firm's staff was a filtered scan of ``residents.parquet`` and
``households.parquet`` on every request (a scan's time grows with the file, and its threads
compete with the server's on a busy machine: the tail of ``POST /api/v1/events``).

>>> frame = pl.DataFrame({"person_id": ["b", "a", "b"], "x": [1, 2, 3]})
>>> index = SortedRows.of(frame, "person_id")
>>> [r["x"] for r in index.rows(["b"])["b"]], index.rows(["c"])
([1, 3], {})
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

__all__ = ["FileIndex", "FileIndexCache", "LinkedRows", "Positions", "SortedRows", "stamp_of"]

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


def _keys(values: pl.Series) -> np.ndarray[Any, np.dtype[np.bytes_]]:
    return np.array([k.encode() for k in values.to_list()], dtype=np.bytes_)


@dataclass(frozen=True)
class Positions:
    """The row numbers of a frame by the values of one column (rows without one left out).

    >>> at = Positions.of(pl.DataFrame({"h": ["x", None, "y", "x"]}), "h")
    >>> at.find(["x", "z"]).tolist(), at.find([]).tolist()
    ([0, 3], [])
    """

    keys: np.ndarray[Any, np.dtype[np.bytes_]]  # the values, sorted, as UTF-8 bytes
    rows: np.ndarray[Any, np.dtype[np.uint32]]  # each value's row number, in the keys' order

    @classmethod
    def of(cls, frame: pl.DataFrame, column: str) -> Positions:
        ordered = (
            frame.select(pl.col(column).cast(pl.String), pl.int_range(pl.len(), dtype=pl.UInt32))
            .drop_nulls(column)
            .sort(column, maintain_order=True)
        )
        return cls(_keys(ordered[column]), ordered.to_series(1).to_numpy())

    def find(self, ids: Collection[str]) -> np.ndarray[Any, np.dtype[np.uint32]]:
        """The row numbers whose value is one of ``ids`` (any order, perhaps repeated)."""
        if not ids or not len(self.keys):
            return np.empty(0, dtype=np.uint32)
        probe = np.array([s.encode() for s in sorted(set(ids))], dtype=np.bytes_)
        starts = np.searchsorted(self.keys, probe, side="left")
        ends = np.searchsorted(self.keys, probe, side="right")
        spans = [self.rows[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        return np.concatenate(spans) if spans else np.empty(0, dtype=np.uint32)


@dataclass(frozen=True)
class LinkedRows:
    """A frame and the row numbers of its rows by the values of some of its columns."""

    frame: pl.DataFrame
    by: dict[str, Positions]

    @classmethod
    def of(cls, frame: pl.DataFrame, columns: Collection[str]) -> LinkedRows:
        present = [c for c in columns if c in frame.columns]
        return cls(frame, {c: Positions.of(frame, c) for c in present})

    def where(self, wanted: Mapping[str, Collection[str]]) -> pl.DataFrame:
        """The rows whose column is one of its ids, for any (column, ids) of ``wanted``, each
        once and in the frame's order (a filter ``col in ids | …``, without a scan)."""
        found = [self.by[c].find(ids) for c, ids in wanted.items() if c in self.by and ids]
        rows = np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.uint32)
        return self.frame[rows.astype(np.int64)] if len(rows) else self.frame.clear()


@dataclass(frozen=True)
class FileIndex:
    """The entities' records by key and the events by subject, of one population directory,
    and the linked files' rows by the columns that link them (``linked``: file name → rows)."""

    entities: dict[str, SortedRows]  # entity name -> its records by key
    events: SortedRows | None  # None: the directory has no events.parquet
    stamp: tuple[object, ...] = ()  # the files' sizes and times when read
    linked: dict[str, LinkedRows] = field(default_factory=dict)

    @classmethod
    def build(
        cls, frames: dict[str, pl.LazyFrame], keys: dict[str, str], events: Path,
        links: Mapping[str, tuple[pl.LazyFrame | None, Collection[str]]] | None = None,
    ) -> FileIndex:  # fmt: skip
        """From the conformed lazy frames of each entity (``keys``: each one's key field).

        ``links``: name → (its lazy frame, the columns to look its rows up by); a frame of
        None is the entity's of the same name (the residents by household and parent)."""
        entities = {n: SortedRows.of(frame.collect(), keys[n]) for n, frame in frames.items()}
        log = SortedRows.of(pl.read_parquet(events), "subject_id") if events.is_file() else None
        linked = {
            name: LinkedRows.of(entities[name].frame if frame is None else frame.collect(), by)
            for name, (frame, by) in (links or {}).items()
            if frame is not None or name in entities
        }
        return cls(entities, log, stamp_of(events.parent), linked)

    def nbytes(self) -> int:
        """The bytes the index holds (its frames, keys and row numbers)."""
        frames = [s.frame for s in self.entities.values()]
        frames += [r.frame for n, r in self.linked.items() if n not in self.entities]
        arrays: list[np.ndarray[Any, Any]] = [s.keys for s in self.entities.values()]
        arrays += [p.keys for r in self.linked.values() for p in r.by.values()]
        arrays += [p.rows for r in self.linked.values() for p in r.by.values()]
        if self.events is not None:
            frames.append(self.events.frame)
            arrays.append(self.events.keys)
        return sum(int(f.estimated_size()) for f in frames) + sum(a.nbytes for a in arrays)


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
