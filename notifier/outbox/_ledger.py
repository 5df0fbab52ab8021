"""The outbox: writing planned rows (the planner's edge) and the sweeper's side, on top of the
worker's and the operator's sides — one :class:`Outbox` over the ``outbox`` table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from notifier.outbox._operator_side import OperatorSide
from notifier.outbox._row import naive_utc
from notifier.outbox._worker_side import WorkerSide, lost
from notifier.tables import outbox


class Outbox(WorkerSide, OperatorSide):
    """The ledger's operations; each is one short transaction (or joins the caller's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writing (the planner's edge) ---------------------------------------------------------
    @staticmethod
    def write(
        conn: Connection, rows: Sequence[Mapping[str, Any]], *, now: datetime, max_attempts: int
    ) -> dict[str, int]:
        """Insert ``rows`` (outbox columns, ``payload`` a dict) in the caller's transaction.

        Rows whose idempotency key is already in the ledger are skipped; returns key → id of
        every row in ``rows``.
        """
        keys = [r["idempotency_key"] for r in rows]
        existing = _ids(conn, keys)
        stamp = naive_utc(now)
        fresh = []
        for r in rows:
            if r["idempotency_key"] in existing:
                continue
            due = naive_utc(r["not_before"]) if r.get("not_before") else stamp
            fresh.append(
                {
                    **{k: r[k] for k in ("idempotency_key", "subject_id", "subject_type")},
                    **{k: r[k] for k in ("channel", "address", "locale", "purpose")},
                    "plan_id": r.get("plan_id"),
                    "payload": json.dumps(r["payload"], ensure_ascii=False, default=str),
                    "status": "pending",
                    "attempts": 0,
                    "max_attempts": max_attempts,
                    "not_before": due,
                    "next_attempt_at": due,
                    "created_at": stamp,
                }
            )
        if fresh:
            conn.execute(outbox.insert(), fresh)
        return {**existing, **_ids(conn, [f["idempotency_key"] for f in fresh])}

    # -- the sweeper's side ------------------------------------------------------------------
    def due(self, *, now: datetime, stale: float, limit: int = 10_000) -> list[int]:
        """Rows to hand (again) to the broker, marked as enqueued now.

        Due ``pending`` rows never enqueued or enqueued more than ``stale`` seconds ago (the
        queue message was lost: Redis flushed, a worker killed before acking), and ``sending``
        rows whose lease ran out.
        """
        stamp = naive_utc(now)
        old = stamp - timedelta(seconds=stale)
        waiting = sa.and_(
            outbox.c.status == "pending",
            outbox.c.next_attempt_at <= stamp,
            sa.or_(outbox.c.enqueued_at.is_(None), outbox.c.enqueued_at < old),
        )
        abandoned = sa.and_(
            outbox.c.status == "sending",
            outbox.c.lease_until < stamp,
            sa.or_(outbox.c.enqueued_at.is_(None), outbox.c.enqueued_at < old),
        )
        with self.engine.begin() as conn:
            ids = list(
                conn.execute(
                    sa.select(outbox.c.id)
                    .where(sa.or_(waiting, abandoned))
                    .order_by(outbox.c.next_attempt_at, outbox.c.id)
                    .limit(limit)
                ).scalars()
            )
            for start in range(0, len(ids), 5000):
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(ids[start : start + 5000]))
                    .values(enqueued_at=stamp)
                )
        return [int(i) for i in ids]

    def forget_enqueued(self, ids: Sequence[int]) -> None:
        """Rows :meth:`due` marked that never reached the broker (it was down): the next sweep
        hands them over again at once instead of after ``stale`` seconds."""
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 5000):
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(ids[start : start + 5000]))
                    .values(enqueued_at=None)
                )

    def mark_enqueued(self, ids: Sequence[int], *, now: datetime) -> None:
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 5000):
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(ids[start : start + 5000]))
                    .values(enqueued_at=naive_utc(now))
                )

    def park_lost(self, *, now: datetime) -> int:
        """Park rows whose last attempt was lost with a dead worker and no attempts are left."""
        stamp = naive_utc(now)
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    outbox.update()
                    .where(
                        outbox.c.status == "sending",
                        outbox.c.lease_until < stamp,
                        outbox.c.attempts >= outbox.c.max_attempts,
                    )
                    .values(
                        status="failed",
                        lease_until=None,
                        last_error=lost(outbox.c.attempts) + " (no attempts left: parked)",
                    )
                ).rowcount
            )


def _ids(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(keys), 5000):
        chunk = keys[start : start + 5000]
        rows = conn.execute(
            sa.select(outbox.c.idempotency_key, outbox.c.id).where(
                outbox.c.idempotency_key.in_(chunk)
            )
        )
        out.update((k, int(i)) for k, i in rows)
    return out
