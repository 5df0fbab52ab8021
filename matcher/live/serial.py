"""One subject at a time: ingestion of one subject is serialised, so its changes are what a
sequential replay records.

Re-matching reads a subject's state (record, events, offers so far) and writes what changed
relative to it; two requests for one subject reading the same state would both record
"newly eligible" and plan the same notice.  :meth:`SubjectLocks.transaction` opens the
transaction a re-match writes in, holding the subject's lock until it commits or rolls back:

- within this process, a lock per subject (requests for other subjects run in parallel, and a
  waiting request holds no database connection);
- on PostgreSQL, also a transaction-scoped advisory lock on the subject's key, so that several
  server processes over one database take turns as well.  It is released by the commit, after
  which the next holder's reads (READ COMMITTED) see what the previous one wrote.

SQLite (the embedded default) is one process; its in-process lock is the whole story.

>>> subject_key("resident", "P1") == subject_key("resident", "P1")
True
>>> subject_key("resident", "P1") != subject_key("enterprise", "P1")
True
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = ["SubjectLocks", "subject_key"]

_ADVISORY_CLASS = "zhida.subject"  # names the keys' space in the hash


def subject_key(subject_type: str, subject_id: str) -> int:
    """A stable signed 64-bit key for the subject (PostgreSQL's advisory lock key type)."""
    digest = hashlib.blake2b(
        f"{_ADVISORY_CLASS}:{subject_type}:{subject_id}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


class SubjectLocks:
    """Per-subject locks of one process, and the database's across processes."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], tuple[threading.Lock, int]] = {}

    @contextmanager
    def _local(self, key: tuple[str, str]) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]  # no map of every subject ever seen
                else:
                    self._locks[key] = (lock, users - 1)

    @contextmanager
    def transaction(
        self, engine: Engine, subject_type: str, subject_id: str
    ) -> Iterator[Connection]:
        """A transaction that alone, among ingestions, may read and write this subject."""
        with self._local((subject_type, subject_id)), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                key = subject_key(subject_type, subject_id)
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
            yield conn

    @contextmanager
    def transaction_many(
        self, engine: Engine, subjects: Iterable[tuple[str, str]]
    ) -> Iterator[Connection]:
        """:meth:`transaction` for many subjects (``(subject_type, subject_id)`` pairs) at once:
        a batch's.  The locks are taken in one order — the in-process ones by subject, then the
        advisory ones by key, in one statement — so batches sharing subjects, and single
        requests among them, wait for each other and never deadlock."""
        wanted = sorted(set(subjects))
        with contextlib.ExitStack() as held:
            for key in wanted:
                held.enter_context(self._local(key))
            conn = held.enter_context(engine.begin())
            if conn.dialect.name == "postgresql" and wanted:
                keys = sorted({subject_key(t, s) for t, s in wanted})
                conn.execute(
                    sa.text(
                        # unnest returns the sorted array's elements in order, one lock each
                        "SELECT count(pg_advisory_xact_lock(k)) "
                        "FROM unnest(CAST(:keys AS BIGINT[])) AS k"
                    ),
                    {"keys": keys},
                )
            yield conn
