"""The operator's side of the outbox: look at rows, count them by state, replay or cancel the
parked ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import NotFoundError, ValidationError
from notifier.outbox._row import STATUSES, LedgerRow, naive_utc
from notifier.tables import delivery_plans, outbox


@dataclass(frozen=True)
class LedgerStates:
    """The ledger's rows by delivery state at one moment (``oldest_due``: UTC, naive)."""

    due: int  # pending and due now: a worker may take them
    deferred: int  # pending, not yet due (back-off or quiet hours)
    sending: int
    failed: int  # parked for an operator
    oldest_due: datetime | None


@dataclass(frozen=True)
class HeldBack:
    """Pending rows of a channel that quiet hours hold back, and until when (UTC, naive)."""

    channel: str
    rows: int
    first_due: datetime
    last_due: datetime


class OperatorSide:
    """What ``zhida deliveries`` and the operator console do with the ledger."""

    engine: Engine

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

    def subjects(self) -> set[str]:
        """Every subject the ledger holds a message for."""
        with self.engine.connect() as conn:
            query = sa.select(outbox.c.subject_id).distinct()
            return {str(s) for s in conn.execute(query).scalars()}

    def ids_of_cause(self, cause: str) -> list[int]:
        """The rows planned for ``cause`` (a delivery plan's, e.g. ``"run 7 vs 6"``), in order."""
        query = (
            sa.select(outbox.c.id)
            .join(delivery_plans, delivery_plans.c.plan_id == outbox.c.plan_id)
            .where(delivery_plans.c.cause == cause)
            .order_by(outbox.c.id)
        )
        with self.engine.connect() as conn:
            return [int(i) for i in conn.execute(query).scalars()]

    def states(self, *, now: datetime) -> LedgerStates:
        """The rows by delivery state at ``now``, and since when the oldest due row waits."""
        stamp = naive_utc(now)
        pending = outbox.c.status == "pending"
        due = sa.and_(pending, outbox.c.next_attempt_at <= stamp, outbox.c.not_before <= stamp)
        query = sa.select(
            sa.func.count().filter(due),
            sa.func.count().filter(sa.and_(pending, sa.not_(due))),
            sa.func.count().filter(outbox.c.status == "sending"),
            sa.func.count().filter(outbox.c.status == "failed"),
            sa.func.min(outbox.c.next_attempt_at).filter(due),
        )
        with self.engine.connect() as conn:
            n_due, deferred, sending, failed, oldest = conn.execute(query).one()
        return LedgerStates(int(n_due), int(deferred), int(sending), int(failed), oldest)

    def delivered_since(self, since: datetime) -> dict[str, int]:
        """Rows delivered at or after ``since``, by channel (channels in name order)."""
        query = (
            sa.select(outbox.c.channel, sa.func.count())
            .where(outbox.c.status == "delivered", outbox.c.delivered_at >= naive_utc(since))
            .group_by(outbox.c.channel)
            .order_by(outbox.c.channel)
        )
        with self.engine.connect() as conn:
            return {str(channel): int(n) for channel, n in conn.execute(query)}

    def held_back(self, *, now: datetime) -> list[HeldBack]:
        """Pending rows whose earliest time (quiet hours) is after ``now``, per channel."""
        query = (
            sa.select(
                outbox.c.channel, sa.func.count(), sa.func.min(outbox.c.not_before),
                sa.func.max(outbox.c.not_before),
            )
            .where(outbox.c.status == "pending", outbox.c.not_before > naive_utc(now))
            .group_by(outbox.c.channel)
            .order_by(outbox.c.channel)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [HeldBack(c, int(n), first, last) for c, n, first, last in conn.execute(query)]

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
