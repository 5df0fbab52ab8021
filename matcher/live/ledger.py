"""The offers ingestion changed since a run: the ``subject_match_changes`` ledger.

Each row is one offer changed by an ingested profile or event (its ``cause``), named as in a
run diff, with the run that was the latest when it was ingested (the run it lays over) and the
date it was evaluated on.  Rows are written in the transaction that stores the record or event
that caused them, and read laid over the run (:mod:`matcher.live.offers`).  The table's
migration is ``0011_ingest_simulations``.

>>> from decimal import Decimal
>>> rows = change_rows([Change("P9", "a", "newly_eligible", None, ("eligible", Decimal("9")))],
...                    "resident")
>>> plain_changes(rows)[0]["new_benefit"], rows[0]["old_status"]
('9', None)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from matcher.events import Change

__all__ = [
    "change_rows",
    "changes_of_cause",
    "changes_since",
    "plain_changes",
    "since_run",
    "store_changes",
    "store_many_changes",
    "subject_match_changes",
]

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids (as the migration).
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_metadata = sa.MetaData()
subject_match_changes = sa.Table(
    "subject_match_changes",
    _metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("policy_id", sa.String(128), nullable=False),
    sa.Column("change", sa.String(32), nullable=False),
    sa.Column("old_status", sa.String(16)),
    sa.Column("new_status", sa.String(16)),
    sa.Column("old_benefit", sa.Numeric(18, 2)),
    sa.Column("new_benefit", sa.Numeric(18, 2)),
    sa.Column("cause", sa.String(160), nullable=False),
    sa.Column("run_id", sa.Integer),  # the match run the change is on top of
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_subject_match_changes_subject", "subject_id"),
    sa.Index("ix_subject_match_changes_cause", "cause"),
)


def change_rows(changes: list[Change], subject_type: str) -> list[dict[str, Any]]:
    """The ledger's rows (without cause, run and date) of ``changes``."""
    return [
        {
            "subject_id": c.subject_id, "subject_type": subject_type, "policy_id": c.policy_id,
            "change": c.change, "old_status": c.old[0] if c.old else None,
            "new_status": c.new[0] if c.new else None, "old_benefit": c.old[1] if c.old else None,
            "new_benefit": c.new[1] if c.new else None,
        }
        for c in changes
    ]  # fmt: skip


def store_changes(
    conn: Connection, rows: list[dict[str, Any]], cause: str, run_id: int | None, as_of: date
) -> None:
    """Write ``rows`` in the caller's transaction (the one storing their cause)."""
    if rows:
        now = datetime.now(UTC).replace(tzinfo=None)
        conn.execute(
            subject_match_changes.insert(),
            [
                {**r, "cause": cause, "run_id": run_id, "as_of": as_of, "created_at": now}
                for r in rows
            ],
        )


def store_many_changes(
    conn: Connection, batches: list[tuple[list[dict[str, Any]], str]], run_id: int | None,
    as_of: date,
) -> None:  # fmt: skip
    """:func:`store_changes` of many causes (each ``(rows, cause)``) in one statement, in order."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {**r, "cause": cause, "run_id": run_id, "as_of": as_of, "created_at": now}
        for changes, cause in batches
        for r in changes
    ]
    if rows:
        conn.execute(subject_match_changes.insert(), rows)


def since_run(run_id: int | None) -> sa.ColumnElement[bool]:
    """The changes ingested since run ``run_id`` (None: before any run), which lay over its
    offers: each change names the run that was the latest when it was ingested."""
    t = subject_match_changes
    return t.c.run_id.is_(None) if run_id is None else t.c.run_id == run_id


def changes_since(engine: Engine, subject_id: str, run_id: int | None) -> list[dict[str, Any]]:
    """Changes recorded for ``subject_id`` since run ``run_id`` (None: before any run)."""
    t = subject_match_changes
    query = sa.select(t).where(t.c.subject_id == subject_id, since_run(run_id)).order_by(t.c.id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def changes_of_cause(
    bind: Engine | Connection, subject_id: str, cause: str
) -> list[dict[str, Any]]:
    """The changes one ingested profile or event (``cause``) of ``subject_id`` recorded, read
    through a connection of ``bind`` (or ``bind`` itself, a caller's transaction): its own and
    those of its household's offers (recorded as the household's, ``subject_type`` household)."""
    t = subject_match_changes
    mine = (t.c.subject_id == subject_id) | (t.c.subject_type == "household")
    query = sa.select(t).where(t.c.cause == cause, mine).order_by(t.c.id)
    if isinstance(bind, Connection):
        return [dict(r) for r in bind.execute(query).mappings()]
    with bind.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def plain_changes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as an answer shows them: benefits as decimal strings."""
    return [
        {
            "policy_id": r["policy_id"], "change": r["change"], "old_status": r["old_status"],
            "new_status": r["new_status"],
            "old_benefit": None if r["old_benefit"] is None else str(r["old_benefit"]),
            "new_benefit": None if r["new_benefit"] is None else str(r["new_benefit"]),
        }
        for r in rows
    ]  # fmt: skip
