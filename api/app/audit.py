"""The append-only audit log: who did what, when, from where, to which entity — hash-chained.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own fields in a
canonical form, so editing, deleting or reordering any entry breaks every link after it;
``verify`` walks the chain and names the first entries that do not add up.  ``prev_hash`` is
unique, so two writers racing on the same predecessor cannot fork the chain (one retries).
A chain alone does not show its newest entries deleted, nor a chain rewritten with every hash
recomputed: a log given :class:`~api.app.checkpoints.Checkpoints` also checkpoints each entry
it appends outside the database, and ``verify`` holds the chain to those checkpoints.

>>> h = entry_hash(GENESIS, {"at": "2026-01-01T00:00:00", "actor": "li", "role": "officer",
...     "action": "policy.draft", "entity_type": "policy", "entity_id": "bj-x",
...     "source": "127.0.0.1", "details": "{}"})
>>> len(h), h == entry_hash(GENESIS, {"at": "2026-01-01T00:00:00", "actor": "li",
...     "role": "officer", "action": "policy.draft", "entity_type": "policy",
...     "entity_id": "bj-x", "source": "127.0.0.1", "details": '{"x": 1}'})
(64, False)
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.app.checkpoints import Checkpoint, Checkpoints
from core.errors import DatabaseError, ZhidaError

__all__ = [
    "FIELDS",
    "GENESIS",
    "AuditChainError",
    "AuditEntry",
    "AuditLog",
    "Broken",
    "entry_hash",
]

GENESIS: Final = "0" * 64
FIELDS: Final = (
    "at", "actor", "role", "action", "entity_type", "entity_id", "source", "details",
)  # fmt: skip
_RETRIES = 20
_LOCK = 0x7A68_6964_6100  # the advisory lock key of the audit chain ("zhida" in ASCII, ish)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids (as the migration).
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
audit_log = sa.Table(
    "audit_log",
    sa.MetaData(),
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("entity_type", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.String(128), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    # unique: two writers racing on the same predecessor cannot fork the chain; one retries.
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_audit_entity", "entity_type", "entity_id"),
)


class AuditChainError(ZhidaError, ValueError):
    """The audit log's chain does not hold: an entry was changed, removed or reordered."""

    http_status = 500


def entry_hash(prev_hash: str, fields: Mapping[str, str]) -> str:
    """SHA-256 of the previous hash and the entry's fields (strings), canonically encoded."""
    canonical = json.dumps(
        [prev_hash, *(fields[name] for name in FIELDS)], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime  # UTC, naive
    actor: str
    role: str
    action: str
    entity_type: str
    entity_id: str
    source: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Broken:
    """An entry whose link does not hold, and why."""

    id: int
    reason: str


def _fields(m: Mapping[Any, Any]) -> dict[str, str]:
    at = m["at"]
    return {
        "at": at.isoformat(timespec="microseconds") if isinstance(at, datetime) else str(at),
        **{name: str(m[name]) for name in FIELDS if name != "at"},
    }


def _entry(m: Mapping[Any, Any]) -> AuditEntry:
    return AuditEntry(
        id=int(m["id"]), at=m["at"], actor=m["actor"], role=m["role"], action=m["action"],
        entity_type=m["entity_type"], entity_id=m["entity_id"], source=m["source"],
        details=json.loads(m["details"]), prev_hash=m["prev_hash"], hash=m["hash"],
    )  # fmt: skip


class AuditLog:
    """The log over ``engine``; with ``checkpoints``, every entry appended is checkpointed."""

    def __init__(self, engine: Engine, checkpoints: Checkpoints | None = None) -> None:
        self.engine = engine
        self.checkpoints = checkpoints

    def append(
        self, *, actor: str, role: str, action: str, entity_type: str, entity_id: str,
        source: str, details: Mapping[str, Any] | None = None, at: datetime | None = None,
    ) -> AuditEntry:  # fmt: skip
        """Add one entry at the head of the chain."""
        when = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        row: dict[str, Any] = {
            "at": when,
            "actor": actor,
            "role": role,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "source": source or "-",
            "details": json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str),
        }
        for _ in range(_RETRIES):
            try:
                with self.engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        # One appender at a time across processes, held until commit.
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
                    prev = conn.execute(
                        sa.select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
                    ).scalar_one_or_none()
                    prev = prev or GENESIS
                    digest = entry_hash(prev, _fields(row))
                    new = conn.execute(
                        audit_log.insert().values(**row, prev_hash=prev, hash=digest)
                    ).inserted_primary_key
                assert new is not None
                if self.checkpoints is not None:  # after the commit: only entries that exist
                    self.checkpoints.write(int(new[0]), digest)
                return _entry({**row, "id": new[0], "prev_hash": prev, "hash": digest})
            except sa.exc.IntegrityError:
                # Another writer took this predecessor (SQLite: no advisory lock): chain onto
                # theirs after a short random pause.
                time.sleep(random.uniform(0.001, 0.02))
        raise DatabaseError(
            f"could not append to the audit log after {_RETRIES} attempts (busy writers); retry"
        )

    def entries(
        self, *, entity_type: str | None = None, entity_id: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Newest first."""
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if entity_type is not None:
            query = query.where(audit_log.c.entity_type == entity_type)
        if entity_id is not None:
            query = query.where(audit_log.c.entity_id == entity_id)
        with self.engine.connect() as conn:
            return [_entry(m) for m in conn.execute(query).mappings()]

    def _walk(self) -> Iterator[Mapping[Any, Any]]:
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=5000).execute(
                sa.select(audit_log).order_by(audit_log.c.id)
            )
            yield from result.mappings()

    def head(self) -> tuple[int, str] | None:
        """The newest entry's id and hash (None: the log is empty)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
            ).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def verify(self, checkpoints: Iterable[Checkpoint] = ()) -> tuple[int, str, list[Broken]]:
        """Walk the chain: (entries checked, head hash, entries whose link is broken), each
        entry also held to the newest of ``checkpoints`` naming it; a checkpointed entry that
        is gone is broken too."""
        expected = {p.id: p for p in sorted(checkpoints, key=lambda p: p.at)}
        prev, count, broken, last = GENESIS, 0, [], 0
        for m in self._walk():
            last = int(m["id"])
            point = expected.pop(last, None)
            if point is not None and point.hash != m["hash"]:
                broken.append(
                    Broken(int(m["id"]), f"differs from its checkpoint of {point.at}: the chain "
                           "was rewritten and its hashes recomputed")
                )  # fmt: skip
            count += 1
            if m["prev_hash"] != prev:
                broken.append(
                    Broken(int(m["id"]), "does not follow the entry before it (one was removed "
                           "or reordered)")
                )  # fmt: skip
            if entry_hash(m["prev_hash"], _fields(m)) != m["hash"]:
                broken.append(Broken(int(m["id"]), "its content was changed after it was written"))
            prev = m["hash"]
        for point in sorted(expected.values(), key=lambda p: p.id):
            how = "it was deleted" if point.id < last else (
                "the newest entries were deleted or the log truncated"
            )  # fmt: skip
            broken.append(
                Broken(point.id, f"is gone, yet its checkpoint of {point.at} recorded it: {how}")
            )
        return count, prev, broken
