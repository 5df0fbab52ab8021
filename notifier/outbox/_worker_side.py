"""The worker's side of the outbox: claim a row for one attempt and record how it ended.

Only the attempt that claimed a row may record its outcome; a row whose worker died keeps its
claim until the lease runs out, and its lost attempt is recorded (:func:`lost`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from notifier.outbox._row import LedgerRow, backoff, naive_utc
from notifier.tables import delivery_attempts, outbox


class WorkerSide:
    """Claiming and recording attempts; each is one short transaction (or joins the caller's)."""

    engine: Engine

    def claim(self, row_id: int, *, now: datetime, lease: float) -> LedgerRow | None:
        """Take row ``row_id`` for one attempt, counting it; ``None`` if it is not ours to take."""
        stamp = naive_utc(now)
        values = {
            "status": "sending",
            "attempts": outbox.c.attempts + 1,
            "lease_until": stamp + timedelta(seconds=lease),
        }
        due = outbox.c.next_attempt_at <= stamp
        with self.engine.begin() as conn:
            row = conn.execute(
                outbox.update()
                .where(outbox.c.id == row_id, outbox.c.status == "pending", due)
                .values(**values)
                .returning(*outbox.c)
            ).first()
            if row is not None:
                return LedgerRow.from_row(row._mapping)
            # A row left 'sending' by a worker that died: its attempt is lost (counted).
            row = conn.execute(
                outbox.update()
                .where(
                    outbox.c.id == row_id,
                    outbox.c.status == "sending",
                    outbox.c.lease_until < stamp,
                    outbox.c.attempts < outbox.c.max_attempts,
                )
                .values(**values, last_error=lost(outbox.c.attempts))
                .returning(*outbox.c)
            ).first()
            if row is None:
                return None
            taken = LedgerRow.from_row(row._mapping)
            conn.execute(
                delivery_attempts.insert().values(
                    outbox_id=row_id,
                    attempt=taken.attempts - 1,
                    finished_at=stamp,
                    outcome="lost",
                    error=taken.last_error,
                )
            )
            return taken

    def claim_many(
        self, ids: Sequence[int], *, now: datetime, lease: float, channels: Iterable[str]
    ) -> list[LedgerRow]:
        """Take the due ``pending`` rows among ``ids`` on ``channels`` in one statement.

        Each attempt is counted, as in :meth:`claim`.  A row another worker is claiming at
        this moment is skipped (PostgreSQL's ``SKIP LOCKED``; SQLite has one writer), and rows
        left ``sending`` by a dead worker are not taken here: they are in doubt and go through
        :meth:`claim` one by one.  Returns the rows taken, by id.
        """
        if not ids:
            return []
        stamp = naive_utc(now)
        locked = (
            sa.select(outbox.c.id)
            .where(
                _one_of(outbox.c.id, sorted(set(ids)), self.engine.dialect.name),
                outbox.c.status == "pending",
                outbox.c.next_attempt_at <= stamp,
                outbox.c.channel.in_(sorted(set(channels))),
            )
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            rows = conn.execute(
                outbox.update()
                .where(outbox.c.id.in_(locked.scalar_subquery()))
                .values(
                    status="sending",
                    attempts=outbox.c.attempts + 1,
                    lease_until=stamp + timedelta(seconds=lease),
                )
                .returning(*outbox.c)
            ).all()
        return sorted((LedgerRow.from_row(r._mapping) for r in rows), key=lambda r: r.id)

    @staticmethod
    def delivered_many(
        conn: Connection, rows: Sequence[LedgerRow], provider_ids: Mapping[int, str | None],
        *, now: datetime,
    ) -> set[int]:  # fmt: skip
        """Record the success of many claimed attempts in one statement, in ``conn``'s
        transaction; returns the ids recorded (a row whose claim was lost is not)."""
        if not rows:
            return set()
        if conn.dialect.name == "postgresql":
            # Three arrays instead of a CASE of every id: a short statement psycopg can cache.
            done = conn.execute(
                _DELIVERED_MANY,
                {
                    "now": naive_utc(now),
                    "ids": [r.id for r in rows],
                    "attempts": [r.attempts for r in rows],
                    "providers": [provider_ids.get(r.id) for r in rows],
                },
            )
            return {int(i) for i in done.scalars()}
        provider = sa.case(
            {r.id: provider_ids.get(r.id) for r in rows}, value=outbox.c.id, else_=sa.null()
        )
        done = conn.execute(
            outbox.update()
            .where(
                sa.tuple_(outbox.c.id, outbox.c.attempts).in_([(r.id, r.attempts) for r in rows]),
                outbox.c.status == "sending",
            )
            .values(
                status="delivered",
                delivered_at=naive_utc(now),
                provider_id=provider,
                lease_until=None,
                last_error=None,
            )
            .returning(outbox.c.id)
        )
        return {int(i) for i in done.scalars()}

    def renew(self, row: LedgerRow, *, now: datetime, lease: float) -> bool:
        """Extend the lease of the attempt ``row`` was claimed for to ``lease`` seconds from
        ``now``; False if that attempt no longer owns the row (its lease ran out and another
        worker took it over), and then it must not send."""
        with self.engine.begin() as conn:
            done = conn.execute(
                outbox.update()
                .where(*_mine(row))
                .values(lease_until=naive_utc(now) + timedelta(seconds=lease))
            ).rowcount
        return bool(done)

    def delivered(
        self, row: LedgerRow, *, provider_id: str | None, now: datetime,
        conn: Connection | None = None,
    ) -> bool:  # fmt: skip
        """Record success of the attempt ``row`` was claimed for; False if the claim was lost.

        With ``conn``, in the caller's transaction (a channel that lives in this database
        delivers and records in one commit).
        """
        if conn is None:
            with self.engine.begin() as own:
                return self.delivered(row, provider_id=provider_id, now=now, conn=own)
        # The success is on the row itself (attempts, delivered_at); delivery_attempts keeps the
        # attempts that failed or were lost — one statement less on the hot path.
        done = conn.execute(
            outbox.update()
            .where(*_mine(row))
            .values(
                status="delivered",
                delivered_at=naive_utc(now),
                provider_id=provider_id,
                lease_until=None,
                last_error=None,
            )
        ).rowcount
        return bool(done)

    def attempt_failed(
        self, row: LedgerRow, error: str, *, permanent: bool, now: datetime, base: float,
        at_least: float = 0.0,
    ) -> datetime | None:  # fmt: skip
        """Record a failed attempt: back off (returns when to retry) or park the row as failed.

        The retry waits ``backoff`` and at least ``at_least`` seconds (an attempt in doubt:
        until the far side has settled, so that asking it gives the true answer).
        """
        stamp = naive_utc(now)
        last = permanent or row.attempts >= row.max_attempts
        wait = max(backoff(row.attempts, base), at_least)
        retry_at = None if last else stamp + timedelta(seconds=wait)
        if last and not permanent:
            error = f"{error} (attempt {row.attempts} of {row.max_attempts}: parked)"
        with self.engine.begin() as conn:
            conn.execute(
                outbox.update()
                .where(*_mine(row))
                .values(
                    status="failed" if last else "pending",
                    next_attempt_at=retry_at or row.next_attempt_at,
                    enqueued_at=None,
                    lease_until=None,
                    last_error=error,
                )
            )
            conn.execute(
                delivery_attempts.insert().values(
                    outbox_id=row.id,
                    attempt=row.attempts,
                    finished_at=stamp,
                    outcome="permanent" if permanent else "transient",
                    error=error,
                )
            )
        return retry_at


def _one_of(
    column: sa.ColumnElement[Any], values: Sequence[int], dialect: str
) -> sa.ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter however many."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(sa.BigInteger)))
    return column.in_(list(values))


_DELIVERED_MANY = sa.text(
    """
    UPDATE outbox SET status = 'delivered', delivered_at = :now, provider_id = v.provider_id,
                      lease_until = NULL, last_error = NULL
    FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS integer[]), CAST(:providers AS text[]))
         AS v(id, attempts, provider_id)
    WHERE outbox.id = v.id AND outbox.attempts = v.attempts AND outbox.status = 'sending'
    RETURNING outbox.id
    """
)


def _mine(row: LedgerRow) -> tuple[sa.ColumnElement[bool], ...]:
    # Only the attempt that claimed the row may record its outcome.
    return (outbox.c.id == row.id, outbox.c.status == "sending", outbox.c.attempts == row.attempts)


def lost(attempts: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    return (
        sa.literal("attempt ")
        + sa.cast(attempts, sa.String)
        + sa.literal(" lost: its worker stopped before recording the outcome (lease expired)")
    )
