"""The in-app inbox: the resident's (or firm's) message centre, in the database.

:class:`InboxChannel` is the channel: sending stores the message, once per idempotency key — a
retried send finds the message already there and answers with the same id — and records the
``delivered`` receipt in the same transaction.  :class:`InboxStore` is the message centre the
API and console read: a subject's messages newest first, unread counts, marking one read
(which records the ``read`` receipt for each policy the message is about).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import DatabaseError, NotFoundError
from notifier.channels.base import OutboundMessage, SendResult, TransientDeliveryError
from notifier.receipts import Receipt, ReceiptStore

__all__ = ["InboxChannel", "InboxMessage", "InboxStore", "inbox_messages"]

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
inbox_messages = sa.Table(
    "inbox_messages",
    sa.MetaData(),
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("ledger_id", _Id),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("policy_ids", sa.Text, nullable=False),  # comma-separated
    sa.Column("locale", sa.String(8), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("read_at", sa.DateTime),  # UTC; NULL: unread
    sa.Index("ix_inbox_subject", "subject_id", "id"),
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


@dataclass(frozen=True)
class InboxMessage:
    id: int
    idempotency_key: str
    subject_id: str
    subject_type: str
    policy_ids: tuple[str, ...]
    locale: str
    title: str
    body: str
    created_at: datetime  # aware, UTC
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        return self.read_at is None

    @classmethod
    def from_row(cls, m: Any) -> InboxMessage:
        return cls(
            id=int(m["id"]),
            idempotency_key=m["idempotency_key"],
            subject_id=m["subject_id"],
            subject_type=m["subject_type"],
            policy_ids=tuple(p for p in m["policy_ids"].split(",") if p),
            locale=m["locale"],
            title=m["title"],
            body=m["body"],
            created_at=m["created_at"].replace(tzinfo=UTC),
            read_at=None if m["read_at"] is None else m["read_at"].replace(tzinfo=UTC),
        )


def _insert(conn: Connection) -> Any:
    # INSERT ... ON CONFLICT: both dialects have it, each under its own class.
    from sqlalchemy.dialects import postgresql, sqlite

    if conn.dialect.name == "postgresql":
        return postgresql.insert(inbox_messages)
    return sqlite.insert(inbox_messages)


class InboxChannel:
    """Delivers into ``inbox_messages``; exactly once per idempotency key."""

    def __init__(
        self, engine: Engine, *, name: str = "inbox", clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.name = name
        self.engine = engine
        self._clock = clock

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            with self.engine.begin() as conn:
                return self.write(conn, message, now=self._clock(), name=self.name)
        except sa.exc.OperationalError as exc:
            raise TransientDeliveryError(
                f"inbox: the database is unavailable ({' '.join(str(exc.orig).split())[:200]})"
            ) from exc

    @staticmethod
    def write(
        conn: Connection, message: OutboundMessage, *, now: datetime, name: str = "inbox"
    ) -> SendResult:
        """Deliver ``message`` in the caller's transaction.

        The inbox lives in the ledger's database, so a worker may deliver and record the
        outcome in one transaction: then the message and the row's ``delivered`` stand or fall
        together, exactly once by construction, and one commit is saved.
        """
        return InboxChannel.write_many(conn, [message], now=now, name=name)[message.idempotency_key]

    @staticmethod
    def write_many(
        conn: Connection, messages: Sequence[OutboundMessage], *, now: datetime,
        name: str = "inbox",
    ) -> dict[str, SendResult]:  # fmt: skip
        """Deliver ``messages`` in the caller's transaction: one insert for the messages, one
        for their ``delivered`` receipts.  A message already there (a retry) keeps its first
        copy and answers with its id.  Returns idempotency key -> result.
        """
        if not messages:
            return {}
        values = [
            {
                "idempotency_key": m.idempotency_key,
                "ledger_id": m.ledger_id,
                "subject_id": m.subject_id,
                "subject_type": m.subject_type,
                "policy_ids": ",".join(m.policy_ids),
                "locale": m.locale,
                "title": m.title,
                "body": m.body,
                "created_at": _naive(now),
            }
            for m in messages
        ]
        statement = (
            _insert(conn)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(inbox_messages.c.idempotency_key, inbox_messages.c.id)
        )
        ids: dict[str, int] = {k: int(i) for k, i in conn.execute(statement, values).all()}
        if missing := [m.idempotency_key for m in messages if m.idempotency_key not in ids]:
            # already there: retries; answer with the first copy's id
            found = conn.execute(
                sa.select(inbox_messages.c.idempotency_key, inbox_messages.c.id).where(
                    inbox_messages.c.idempotency_key.in_(missing)
                )
            )
            ids.update((k, int(i)) for k, i in found)
        delivered = [
            Receipt(m.idempotency_key, m.subject_id, m.subject_type, policy, "delivered", now,
                    channel=name)
            for m in messages
            for policy in m.policy_ids
        ]  # fmt: skip
        ReceiptStore.write(conn, delivered, now=now, count=False)
        return {k: SendResult(provider_id=f"inbox-{i}") for k, i in ids.items()}

    def lookup(self, idempotency_key: str) -> bool | None:
        """Whether the inbox already holds the message (for a worker in doubt)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(inbox_messages.c.id).where(
                    inbox_messages.c.idempotency_key == idempotency_key
                )
            ).first()
        return found is not None


class InboxStore:
    """A subject's message centre: list, count unread, mark read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def messages(
        self,
        subject_id: str,
        *,
        unread_only: bool = False,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[InboxMessage]:
        """Newest first; ``before_id`` pages on from the last id of the previous page."""
        query = sa.select(inbox_messages).where(inbox_messages.c.subject_id == subject_id)
        if unread_only:
            query = query.where(inbox_messages.c.read_at.is_(None))
        if before_id is not None:
            query = query.where(inbox_messages.c.id < before_id)
        query = query.order_by(inbox_messages.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [InboxMessage.from_row(m) for m in conn.execute(query).mappings()]

    def unread_count(self, subject_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        inbox_messages.c.subject_id == subject_id,
                        inbox_messages.c.read_at.is_(None),
                    )
                ).scalar_one()
            )

    def get(self, subject_id: str, message_id: int) -> InboxMessage:
        with self.engine.connect() as conn:
            return self._get(conn, subject_id, message_id)

    @staticmethod
    def _get(conn: Connection, subject_id: str, message_id: int) -> InboxMessage:
        row = (
            conn.execute(
                sa.select(inbox_messages).where(
                    inbox_messages.c.id == message_id, inbox_messages.c.subject_id == subject_id
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(
                f"inbox message {message_id} of subject {subject_id!r} does not exist; list the "
                "subject's messages for their ids"
            )
        return InboxMessage.from_row(row)

    def mark_many_read(self, message_ids: Iterable[int], *, at: datetime) -> int:
        """Mark many messages read in one transaction (with their ``read`` receipts).

        For batch jobs (imports from another message centre, simulations); returns how many
        were unread.  Messages already read keep their first reading.
        """
        ids = sorted(set(message_ids))
        changed = 0
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 5000):
                chunk = ids[start : start + 5000]
                rows = (
                    conn.execute(
                        sa.select(inbox_messages).where(
                            inbox_messages.c.id.in_(chunk), inbox_messages.c.read_at.is_(None)
                        )
                    )
                    .mappings()
                    .all()
                )
                if not rows:
                    continue
                unread = [InboxMessage.from_row(m) for m in rows]
                conn.execute(
                    inbox_messages.update()
                    .where(inbox_messages.c.id.in_([m.id for m in unread]))
                    .values(read_at=_naive(at))
                )
                read = [
                    Receipt(m.idempotency_key, m.subject_id, m.subject_type, policy, "read", at,
                            channel="inbox")
                    for m in unread
                    for policy in m.policy_ids
                ]  # fmt: skip
                ReceiptStore.write(conn, read, now=at, count=False)
                changed += len(unread)
        return changed

    def mark_read(
        self, subject_id: str, message_id: int, *, at: datetime | None = None
    ) -> InboxMessage:
        """Mark a message read (the first time counts) and record its ``read`` receipts."""
        at = at or _utcnow()
        try:
            with self.engine.begin() as conn:
                message = self._get(conn, subject_id, message_id)
                if message.read_at is not None:
                    return message
                conn.execute(
                    inbox_messages.update()
                    .where(inbox_messages.c.id == message_id, inbox_messages.c.read_at.is_(None))
                    .values(read_at=_naive(at))
                )
                read = [
                    Receipt(message.idempotency_key, subject_id, message.subject_type, policy,
                            "read", at, channel="inbox")
                    for policy in message.policy_ids
                ]  # fmt: skip
                ReceiptStore.write(conn, read, now=at)
                return self._get(conn, subject_id, message_id)
        except sa.exc.OperationalError as exc:
            raise DatabaseError(f"cannot mark the message read: {exc.orig}") from exc
