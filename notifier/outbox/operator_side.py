"""The operator's side of the outbox: look at rows, replay or cancel the parked ones."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import NotFoundError, ValidationError
from notifier.outbox.row import STATUSES, LedgerRow, naive_utc
from notifier.tables import outbox


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
