"""The offers ingestion changed since a run: the ``subject_match_changes`` table, written in the
transaction that stores the record or event that caused them, and read laid over the run."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.app.services import Services
from matcher.events import Change

__all__ = [
    "change_rows",
    "changes_of",
    "plain_changes",
    "since_run",
    "store_changes",
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
    if rows:
        now = datetime.now(UTC).replace(tzinfo=None)
        conn.execute(
            subject_match_changes.insert(),
            [
                {**r, "cause": cause, "run_id": run_id, "as_of": as_of, "created_at": now}
                for r in rows
            ],
        )


def since_run(run_id: int | None) -> sa.ColumnElement[bool]:
    """The changes ingested since run ``run_id`` (None: before any run), which lay over its
    offers: each change names the run that was the latest when it was ingested."""
    t = subject_match_changes
    return t.c.run_id.is_(None) if run_id is None else t.c.run_id == run_id


def changes_of(svc: Services, subject_id: str, *, cause: str | None = None) -> list[dict[str, Any]]:
    """Changes recorded for ``subject_id`` since the latest run (of one ``cause``, if given)."""
    t = subject_match_changes
    query = sa.select(t).where(t.c.subject_id == subject_id).order_by(t.c.id)
    if cause is not None:
        query = query.where(t.c.cause == cause)
    else:
        run = svc.runs.latest()
        query = query.where(since_run(run.run_id if run else None))
    with svc.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def plain_changes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "policy_id": r["policy_id"], "change": r["change"], "old_status": r["old_status"],
            "new_status": r["new_status"],
            "old_benefit": None if r["old_benefit"] is None else str(r["old_benefit"]),
            "new_benefit": None if r["new_benefit"] is None else str(r["new_benefit"]),
        }
        for r in rows
    ]  # fmt: skip
