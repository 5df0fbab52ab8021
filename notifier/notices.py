"""Reading the notices: what the planner decided for a subject, and why, with what became of it.

Every planning decision is a row of ``notices`` (written by :mod:`notifier.dispatch`): planned,
deferred or suppressed, with its reason and, when planned, the outbox row that carries it.
:class:`NoticeLog` answers the operator's and the subject's questions about them — "why was I
(not) told" (:meth:`NoticeLog.history`) and "what does the planner hold back, and why"
(:meth:`NoticeLog.suppressed_reasons`) — so no caller writes SQL over these tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from notifier.tables import notices, outbox

__all__ = ["NoticeEntry", "NoticeLog"]


@dataclass(frozen=True)
class NoticeEntry:
    """One planning decision about a subject and policy, and its message if one was planned."""

    decided_at: datetime
    policy_id: str
    change: str
    purpose: str | None
    decision: str  # planned | deferred | suppressed
    reason: str
    channel: str | None  # the message's, when planned
    status: str | None  # the message's ledger status
    message_key: str | None  # its idempotency key (receipts refer to it)
    # Whose offer: another's when told for them (a household's); not part of the decision's
    # equality (the same decision read for the subject or its recipient).
    subject_id: str | None = field(default=None, compare=False)


class NoticeLog:
    """The notices of one database, read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def history(self, subject_id: str, *, policy_id: str | None = None) -> list[NoticeEntry]:
        """Every decision about ``subject_id`` (only ``policy_id``'s if given), and those about
        others told to it (its household's as the head, its child's as a guardian), oldest
        first; each names the subject it is about."""
        query = (
            sa.select(
                notices.c.decided_at, notices.c.policy_id, notices.c.change, notices.c.purpose,
                notices.c.decision, notices.c.reason, outbox.c.channel, outbox.c.status,
                outbox.c.idempotency_key, notices.c.subject_id,
            )
            .select_from(notices.outerjoin(outbox, notices.c.outbox_id == outbox.c.id))
            .where((notices.c.subject_id == subject_id) | (outbox.c.subject_id == subject_id))
            .order_by(notices.c.id)
        )  # fmt: skip
        if policy_id is not None:
            query = query.where(notices.c.policy_id == policy_id)
        with self.engine.connect() as conn:
            return [NoticeEntry(*row[:9], subject_id=row[9]) for row in conn.execute(query)]

    def suppressed_reasons(self, *, limit: int = 5000) -> list[tuple[str, int]]:
        """The reasons the planner suppressed notices for, each with how often (up to
        ``limit`` distinct reasons, in no particular order)."""
        query = (
            sa.select(notices.c.reason, sa.func.count())
            .where(notices.c.decision == "suppressed")
            .group_by(notices.c.reason)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(str(reason), int(n)) for reason, n in conn.execute(query)]
