"""The outbox ledger: every planned message is a row; workers claim, attempt and record.

The life of a row::

    pending ──claim──▶ sending ──delivered──▶ delivered
       ▲                  │ transient error, attempts left: back off
       └──────────────────┤
                          │ permanent error, or the last attempt failed
                          ▼
                       failed (parked until an operator replays or cancels it)

A claim is one conditional ``UPDATE``: only a due ``pending`` row (or a ``sending`` row whose
lease ran out — its worker died) can be claimed, by one worker, and the attempt is counted in
the same statement, before anything is sent.  The queue carries only the row's id, so a
duplicate or a lost queue message changes nothing: a duplicate finds nothing to claim, a lost
one is re-enqueued by the sweeper.

>>> [round(backoff(n, 30.0)) for n in (1, 2, 3, 10)]
[30, 60, 120, 3600]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import NotFoundError, ValidationError
from notifier.tables import delivery_attempts, outbox

__all__ = ["STATUSES", "LedgerRow", "Outbox", "backoff", "in_doubt", "naive_utc"]

STATUSES = ("pending", "sending", "delivered", "failed", "cancelled")
_MAX_BACKOFF = 3600.0


def backoff(attempt: int, base: float, cap: float = _MAX_BACKOFF) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): doubling, capped."""
    return float(min(cap, base * 2.0 ** max(0, attempt - 1)))


def in_doubt(row: LedgerRow) -> bool:
    """Whether ``row``'s previous attempt was cut off with its worker (a lost lease), so the
    far side may or may not have the message.  A replayed row is not: the operator decided."""
    error = row.last_error or ""
    return error.startswith("attempt ") and " lost: " in error


def naive_utc(moment: datetime) -> datetime:
    """The ledger stores UTC without a zone (SQLite has none); aware times are converted."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass(frozen=True)
class LedgerRow:
    id: int
    idempotency_key: str
    subject_id: str
    subject_type: str
    channel: str
    address: str | None
    locale: str
    purpose: str
    payload: Mapping[str, Any]
    status: str
    attempts: int
    max_attempts: int
    not_before: datetime
    next_attempt_at: datetime
    last_error: str | None
    provider_id: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, m: Mapping[Any, Any]) -> LedgerRow:
        return cls(
            id=int(m["id"]), idempotency_key=m["idempotency_key"], subject_id=m["subject_id"],
            subject_type=m["subject_type"], channel=m["channel"], address=m["address"],
            locale=m["locale"], purpose=m["purpose"], payload=json.loads(m["payload"]),
            status=m["status"], attempts=int(m["attempts"]), max_attempts=int(m["max_attempts"]),
            not_before=m["not_before"], next_attempt_at=m["next_attempt_at"],
            last_error=m["last_error"], provider_id=m["provider_id"],
            created_at=m["created_at"], delivered_at=m["delivered_at"],
        )  # fmt: skip


class Outbox:
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

    # -- the worker's side -------------------------------------------------------------------
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
                .values(**values, last_error=_lost(outbox.c.attempts))
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
        self, row: LedgerRow, error: str, *, permanent: bool, now: datetime, base: float
    ) -> datetime | None:
        """Record a failed attempt: back off (returns when to retry) or park the row as failed."""
        stamp = naive_utc(now)
        last = permanent or row.attempts >= row.max_attempts
        retry_at = None if last else stamp + timedelta(seconds=backoff(row.attempts, base))
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
                        last_error=_lost(outbox.c.attempts) + " (no attempts left: parked)",
                    )
                ).rowcount
            )

    # -- the operator's side -----------------------------------------------------------------
    def get(self, row_id: int) -> LedgerRow:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(outbox).where(outbox.c.id == row_id)).first()
        if row is None:
            raise NotFoundError(f"no outbox row {row_id}; see `zhida deliveries failed`")
        return LedgerRow.from_row(row._mapping)

    def rows(self, status: str | None = None, *, limit: int = 100) -> list[LedgerRow]:
        if status is not None and status not in STATUSES:
            raise ValidationError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        query = sa.select(outbox).order_by(outbox.c.id).limit(limit)
        if status is not None:
            query = query.where(outbox.c.status == status)
        with self.engine.connect() as conn:
            return [LedgerRow.from_row(r._mapping) for r in conn.execute(query)]

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows by channel and status."""
        query = sa.select(outbox.c.channel, outbox.c.status, sa.func.count()).group_by(
            outbox.c.channel, outbox.c.status
        )
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for channel, status, n in conn.execute(query):
                out.setdefault(channel, {})[status] = int(n)
        return out

    def replay(self, ids: Iterable[int] | None, *, now: datetime, attempts: int) -> list[int]:
        """Give parked rows (``None``: every one) ``attempts`` more attempts, due now."""
        stamp = naive_utc(now)
        where = [outbox.c.status == "failed"]
        wanted = None if ids is None else sorted(set(ids))
        if wanted is not None:
            where.append(outbox.c.id.in_(wanted))
        with self.engine.begin() as conn:
            found = [int(i) for i in conn.execute(sa.select(outbox.c.id).where(*where)).scalars()]
            if wanted is not None and (missing := sorted(set(wanted) - set(found))):
                raise NotFoundError(
                    f"outbox row(s) {', '.join(map(str, missing))} are not parked as failed; "
                    "see `zhida deliveries failed`"
                )
            if found:
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(found))
                    .values(
                        status="pending",
                        next_attempt_at=stamp,
                        enqueued_at=None,
                        max_attempts=outbox.c.attempts + attempts,
                        # the operator's decision settles a doubt: the next attempt sends
                        last_error=sa.literal("replayed; before: ")
                        + sa.func.coalesce(outbox.c.last_error, ""),
                    )
                )
        return found

    def cancel(self, ids: Iterable[int]) -> int:
        """Cancel parked rows an operator decided not to deliver (they stay in the ledger)."""
        wanted = sorted(set(ids))
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(wanted), outbox.c.status == "failed")
                    .values(status="cancelled")
                ).rowcount
            )


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


def _mine(row: LedgerRow) -> tuple[sa.ColumnElement[bool], ...]:
    # Only the attempt that claimed the row may record its outcome.
    return (outbox.c.id == row.id, outbox.c.status == "sending", outbox.c.attempts == row.attempts)


def _lost(attempts: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    return (
        sa.literal("attempt ")
        + sa.cast(attempts, sa.String)
        + sa.literal(" lost: its worker stopped before recording the outcome (lease expired)")
    )
