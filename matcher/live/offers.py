"""The latest run's offers, indexed by subject, so "my offers" is a lookup and not a scan.

The run's pairs are read once per run (sorted by subject id, strings shared as categoricals)
and each request slices its subject's rows by binary search: a few microseconds where a
filtered scan of a province's pairs file costs milliseconds and scales with its size.  A new
run is picked up on the next request after it is recorded; while one request builds its index
(seconds for millions of pairs) the others scan the file instead of waiting.

"My offers" (:func:`current_offers`) is the run's rows with the changes ingested since it was
recorded laid over them (the ledger of :mod:`matcher.live.ledger`): an ingested event or
profile that makes a subject newly eligible adds its offer, one that ends an eligibility
removes it, without waiting for the next run.

>>> index = OfferIndex.from_frame(7, pl.DataFrame({"subject_id": ["b", "a", "b"],
...     "policy_id": ["x", "y", "z"], "status": ["maybe", "eligible", "eligible"],
...     "benefit": [None, 1.0, 2.0]}))
>>> index.rows("b")
[('z', 'eligible', 2.0), ('x', 'maybe', None)]
>>> index.rows("c")
[]
>>> index.rows_of(["c", "a"])
{'a': [('y', 'eligible', 1.0)], 'c': []}
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import sqlalchemy as sa

from matcher.live.ledger import since_run
from matcher.live.ledger import subject_match_changes as ledger

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from matcher.runs import Run, RunStore

__all__ = [
    "CurrentOffer",
    "OfferCache",
    "OfferIndex",
    "current_offers",
    "offers_now",
    "offers_of",
    "overlay",
    "scan_rows",
    "scan_told_for",
]

Row = tuple[str, str, float | None]


@dataclass(frozen=True)
class OfferIndex:
    run_id: int
    subjects: pl.Series  # sorted subject ids, one per pair
    pairs: pl.DataFrame  # policy_id, status, benefit in the same order
    # Pairs told to another than their subject (a household's head, a child's guardian):
    # recipient_id, subject_id, policy_id, sorted by recipient.
    told: pl.DataFrame | None = None

    @classmethod
    def from_frame(cls, run_id: int, frame: pl.DataFrame) -> OfferIndex:
        ordered = frame.select(
            pl.col("subject_id").cast(pl.String),
            pl.col("policy_id").cast(pl.Categorical),
            pl.col("status").cast(pl.String).cast(pl.Categorical),
            "benefit",
        ).sort("subject_id", pl.col("status").cast(pl.String), pl.col("policy_id").cast(pl.String))
        told = None
        if "recipient_id" in frame.columns:
            told = (
                frame.filter(pl.col("recipient_id") != pl.col("subject_id"))
                .select(
                    pl.col("recipient_id").cast(pl.String),
                    pl.col("subject_id").cast(pl.String),
                    pl.col("policy_id").cast(pl.String),
                )
                .sort("recipient_id", "subject_id", "policy_id")
            )
        return cls(run_id, ordered["subject_id"], ordered.drop("subject_id"), told)

    @classmethod
    def read(cls, run_id: int, path: Path) -> OfferIndex:
        columns = ["subject_id", "policy_id", "status", "benefit"]
        if "recipient_id" in pl.read_parquet_schema(path):
            columns.append("recipient_id")
        return cls.from_frame(run_id, pl.read_parquet(path, columns=columns))

    def told_for(self, person: str) -> list[tuple[str, str]]:
        """(subject, policy) of the pairs ``person`` is told of for another subject.

        >>> index = OfferIndex.from_frame(1, pl.DataFrame({"subject_id": ["h1", "kid", "mum"],
        ...     "policy_id": ["dibao", "childcare", "card"], "status": ["eligible"] * 3,
        ...     "benefit": [None] * 3, "recipient_id": ["mum", "mum", "mum"]}))
        >>> index.told_for("mum"), index.told_for("kid")
        ([('h1', 'dibao'), ('kid', 'childcare')], [])
        """
        if self.told is None:
            return []
        recipients = self.told["recipient_id"]
        start = int(recipients.search_sorted(person, side="left"))
        end = int(recipients.search_sorted(person, side="right"))
        return [(str(s), str(p)) for _, s, p in self.told.slice(start, end - start).iter_rows()]

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

    def rows_of(self, subject_ids: Collection[str]) -> dict[str, list[Row]]:
        """:meth:`rows` of many subjects, with two searches for all of them."""
        wanted = pl.Series(sorted(set(subject_ids)), dtype=pl.String)
        if wanted.is_empty():
            return {}
        starts = self.subjects.search_sorted(wanted, side="left").to_list()
        ends = self.subjects.search_sorted(wanted, side="right").to_list()
        return {
            sid: [
                (str(p), str(s), None if b is None else float(b))
                for p, s, b in self.pairs.slice(start, end - start).iter_rows()
            ]
            for sid, start, end in zip(wanted.to_list(), starts, ends, strict=True)
        }


def scan_told_for(path: Path, person: str) -> list[tuple[str, str]]:
    """:meth:`OfferIndex.told_for` by a filtered scan of the pairs file."""
    frame = pl.scan_parquet(path)
    if "recipient_id" not in frame.collect_schema().names():
        return []
    return [
        (str(s), str(p))
        for s, p in frame.filter(
            (pl.col("recipient_id") == person) & (pl.col("subject_id") != person)
        )
        .select("subject_id", "policy_id")
        .sort("subject_id", "policy_id")
        .collect()
        .rows()
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


@dataclass(frozen=True)
class CurrentOffer:
    policy_id: str
    status: str  # eligible | maybe
    benefit: Decimal | None
    as_of: date | None  # the run's date, or the day the change was ingested
    cause: str | None  # None: from the run; else the ingested profile or event that set it
    # Whose offer it is when the person is told of it for another: their household's (低保,
    # to the head), their child's (育儿补贴, to the guardian); None: their own.
    for_subject: str | None = None


def overlay(
    rows: Iterable[Row], changes: Iterable[Mapping[str, Any]], run_as_of: date | None
) -> list[CurrentOffer]:
    """The run's ``rows`` with ``changes`` (oldest first) applied: eligible first, then by policy.

    A change with no new status ends the offer; any other sets it.

    >>> run = [("a", "eligible", 1.0), ("b", "maybe", None)]
    >>> later = [{"policy_id": "b", "new_status": None, "new_benefit": None,
    ...           "as_of": date(2026, 3, 5), "cause": "event 7"},
    ...          {"policy_id": "c", "new_status": "eligible", "new_benefit": Decimal("9.50"),
    ...           "as_of": date(2026, 3, 5), "cause": "event 7"}]
    >>> [(o.policy_id, o.status, o.benefit, o.cause) for o in overlay(run, later, None)]
    [('a', 'eligible', Decimal('1.0'), None), ('c', 'eligible', Decimal('9.50'), 'event 7')]
    """
    offers = {
        pid: CurrentOffer(pid, status, None if b is None else Decimal(str(b)), run_as_of, None)
        for pid, status, b in rows
    }
    for c in changes:
        pid = str(c["policy_id"])
        if c["new_status"] is None:
            offers.pop(pid, None)
        else:
            benefit = c["new_benefit"]
            offers[pid] = CurrentOffer(
                pid, str(c["new_status"]), None if benefit is None else Decimal(str(benefit)),
                c["as_of"], str(c["cause"]),
            )  # fmt: skip
    return sorted(offers.values(), key=lambda o: (o.status, o.policy_id))


def current_offers(
    engine: Engine, runs: RunStore, cache: OfferCache, subject_id: str
) -> tuple[Run | None, list[CurrentOffer]]:
    """The latest run and ``subject_id``'s offers now: that run's, and what was ingested since;
    then the offers the run told them of for another subject (their household's, their
    child's), as those stand now, each naming its ``for_subject``."""
    with engine.connect() as conn:
        run, offers = offers_now(conn, runs, cache, [subject_id])
        told = _told_for(run, cache, subject_id)
        if not told:
            return run, offers[subject_id]
        _, theirs = offers_now(conn, runs, cache, {s for s, _ in told}, run)
    wanted = set(told)
    extra = [
        dataclasses.replace(o, for_subject=unit)
        for unit in sorted({s for s, _ in told})
        for o in theirs[unit]
        if (unit, o.policy_id) in wanted
    ]
    return run, offers[subject_id] + extra


def _told_for(run: Run | None, cache: OfferCache, person: str) -> list[tuple[str, str]]:
    if run is None or not run.pairs_file.is_file():
        return []
    index = cache.get(run.run_id, run.pairs_file)
    return index.told_for(person) if index is not None else scan_told_for(run.pairs_file, person)


_CHUNK = 500  # subject ids per IN (...)


def offers_now(
    conn: Connection, runs: RunStore, cache: OfferCache, subject_ids: Collection[str],
    run: Run | None = None,
) -> tuple[Run | None, dict[str, list[CurrentOffer]]]:  # fmt: skip
    """:func:`current_offers` of many subjects, the ledger read through ``conn`` in one query
    per 500 subjects (``run``: the latest run, if the caller has read it already)."""
    run = run if run is not None else runs.latest()
    ids = sorted(set(subject_ids))
    has_pairs = run is not None and run.pairs_file.is_file()
    t = ledger
    changes: dict[str, list[dict[str, Any]]] = {s: [] for s in ids}
    for start in range(0, len(ids), _CHUNK):
        query = (
            sa.select(t.c.subject_id, t.c.policy_id, t.c.new_status, t.c.new_benefit, t.c.as_of,
                      t.c.cause)
            .where(t.c.subject_id.in_(ids[start : start + _CHUNK]),
                   since_run(run.run_id if run else None))
            .order_by(t.c.id)
        )  # fmt: skip
        for r in conn.execute(query).mappings():
            changes[r["subject_id"]].append(dict(r))
    rows: dict[str, list[Row]] = {}
    if run is not None and has_pairs:
        index = cache.get(run.run_id, run.pairs_file)
        if index is not None:
            rows = index.rows_of(ids)
        else:  # being built by another request
            rows = {sid: scan_rows(run.pairs_file, sid) for sid in ids}
    as_of = run.as_of if run else None
    return run, {sid: overlay(rows.get(sid, []), changes[sid], as_of) for sid in ids}
