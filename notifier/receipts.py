"""Delivery receipts and feedback, and the ranking model's outcome log made from them.

What happened to a message after it left — ``delivered``, ``undeliverable`` (the gateway's later
report that it never reached the handset), ``read``, ``clicked`` — and what the
person did — ``applied``, ``objected``, ``complained``, ``rated`` (好 ``good`` / 差 ``bad``) —
is one row per (message, policy, event) in ``delivery_receipts``.  Recording is idempotent: a
gateway that reports a delivery twice, or a person who opens a message twice, counts once (a
new rating replaces the old one).  Events that no message caused (an application made without
an invitation — the control group the ranking model learns uplift from) have no message key.

:func:`outcomes` is pure: receipts in, the outcome log out, one row per (subject, policy), with
the columns :mod:`simulations.behaviour` simulates and :mod:`matcher.ranking` trains on::

    round, subject_id, subject_type, policy_id, status, pushed, opened, applied, ignored,
    complained

``pushed``: a message about the policy was delivered and not later reported undeliverable (a
message that never reached the person is "not reached", so it cannot teach the model that the
person ignored it); ``opened``: read or clicked;
``ignored``: pushed, and neither applied nor complained (as in the simulation); ``status`` is
null — receipts do not know the match status, the pairs file the log is joined with does.

>>> from datetime import datetime
>>> at = datetime(2026, 3, 1)
>>> log = outcomes([
...     Receipt("k1", "p1", "resident", "bj-a", "delivered", at, channel="sms"),
...     Receipt("k1", "p1", "resident", "bj-a", "clicked", at),
...     Receipt("k2", "p2", "resident", "bj-a", "delivered", at),
...     Receipt(None, "p3", "resident", "bj-a", "applied", at),
...     Receipt("k4", "p4", "resident", "bj-a", "delivered", at, channel="sms"),
...     Receipt("k4", "p4", "resident", "bj-a", "undeliverable", at, channel="sms"),
... ], round=3)
>>> for row in log.select("subject_id", "pushed", "opened", "applied", "ignored").rows():
...     print(row)
('p1', True, True, False, True)
('p2', True, False, False, True)
('p3', False, False, True, False)
('p4', False, False, False, False)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import ValidationError

__all__ = [
    "EVENTS",
    "OUTCOME_COLUMNS",
    "RATINGS",
    "Receipt",
    "ReceiptStore",
    "SentMessage",
    "delivery_receipts",
    "outcomes",
    "receipt_key",
]

EVENTS: Final = (
    "delivered",
    "undeliverable",
    "read",
    "clicked",
    "applied",
    "objected",
    "complained",
    "rated",
)
RATINGS: Final = {"good": "good", "bad": "bad", "好": "good", "差": "bad"}
OUTCOME_COLUMNS: Final = (
    "round",
    "subject_id",
    "subject_type",
    "policy_id",
    "status",
    "pushed",
    "opened",
    "applied",
    "ignored",
    "complained",
)

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()
delivery_receipts = sa.Table(
    "delivery_receipts",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("receipt_key", sa.String(40), nullable=False, unique=True),
    sa.Column("message_key", sa.String(64)),  # the outbox idempotency key; NULL: no message
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(16)),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("rating", sa.String(8)),  # good | bad, for "rated"
    sa.Column("detail", sa.Text),
    sa.Column("occurred_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("recorded_at", sa.DateTime, nullable=False),  # UTC
    sa.Index("ix_receipts_subject_policy", "subject_id", "policy_id"),
    sa.Index("ix_receipts_occurred", "occurred_at"),
)


def receipt_key(message_key: str | None, subject_id: str, policy_id: str, event: str) -> str:
    """The once-only key of a receipt.

    >>> receipt_key("k1", "p1", "bj-a", "read") == receipt_key("k1", "p1", "bj-a", "read")
    True
    """
    raw = f"{message_key or ''}|{subject_id}|{policy_id}|{event}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Receipt:
    message_key: str | None
    subject_id: str
    subject_type: str
    policy_id: str
    event: str
    occurred_at: datetime
    channel: str | None = None
    rating: str | None = None  # good | bad (or 好 | 差)
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValidationError(f"receipt event {self.event!r} is not one of {', '.join(EVENTS)}")
        if self.event == "rated":
            if self.rating not in RATINGS:
                raise ValidationError(
                    f"rating {self.rating!r} is not 好/差 (good/bad); a 'rated' receipt needs one"
                )
            object.__setattr__(self, "rating", RATINGS[self.rating])
        elif self.rating is not None:
            raise ValidationError(f"only a 'rated' receipt has a rating, not {self.event!r}")
        if not self.subject_id or not self.policy_id:
            raise ValidationError("a receipt needs a subject_id and a policy_id")

    @property
    def key(self) -> str:
        return receipt_key(self.message_key, self.subject_id, self.policy_id, self.event)


def outcomes(receipts: Iterable[Receipt], *, round: int = 0) -> pl.DataFrame:
    """The outcome log of ``receipts``: one row per (subject, policy), sorted."""
    rows = [
        {
            "message_key": r.message_key,
            "subject_id": r.subject_id,
            "subject_type": r.subject_type,
            "policy_id": r.policy_id,
            "event": r.event,
        }
        for r in receipts
    ]
    return _outcome_frame(pl.DataFrame(rows, schema=_EVENT_SCHEMA), round)


_EVENT_SCHEMA: Final = {
    "message_key": pl.String,
    "subject_id": pl.String,
    "subject_type": pl.String,
    "policy_id": pl.String,
    "event": pl.String,
}


def _outcome_frame(events: pl.DataFrame, round: int) -> pl.DataFrame:
    ev = pl.col("event")
    # A delivery counts only if the same message was not reported undeliverable afterwards.
    unreached = (ev == "undeliverable").any().over("message_key", "subject_id", "policy_id")
    log = (
        events.with_columns(unreached.alias("unreached"))
        .group_by("subject_id", "policy_id")
        .agg(
            pl.col("subject_type").first(),
            ((ev == "delivered") & ~pl.col("unreached")).any().alias("pushed"),
            ev.is_in(["read", "clicked"]).any().alias("opened"),
            (ev == "applied").any().alias("applied"),
            (ev == "complained").any().alias("complained"),
        )
        .with_columns(
            pl.lit(round, dtype=pl.Int32).alias("round"),
            pl.lit(None, dtype=pl.String).alias("status"),
            (pl.col("pushed") & ~pl.col("applied") & ~pl.col("complained")).alias("ignored"),
        )
    )
    return log.select(OUTCOME_COLUMNS).sort("subject_id", "policy_id")


class SentMessage(Protocol):
    """What a receipt needs of a message that was sent (a channel's ``OutboundMessage`` is
    one): the channels use the receipts (the inbox records its own), not the other way round."""

    @property
    def idempotency_key(self) -> str: ...
    @property
    def subject_id(self) -> str: ...
    @property
    def subject_type(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def policy_ids(self) -> tuple[str, ...]: ...


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _insert(conn: Connection) -> Any:
    # INSERT ... ON CONFLICT: both dialects have it, each under its own class.
    from sqlalchemy.dialects import postgresql, sqlite

    if conn.dialect.name == "postgresql":
        return postgresql.insert(delivery_receipts)
    return sqlite.insert(delivery_receipts)


class ReceiptStore:
    """Receipts in the database (SQLite or PostgreSQL); every write is idempotent."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def write(
        conn: Connection, receipts: Sequence[Receipt], *, now: datetime, count: bool = True
    ) -> int:
        """Record ``receipts`` in the caller's transaction; returns how many were new.

        ``count=False`` skips counting (one query fewer on a hot path) and returns 0.
        """
        if not receipts:
            return 0
        before = 0
        if count:
            before = conn.execute(
                sa.select(sa.func.count()).where(
                    delivery_receipts.c.receipt_key.in_([r.key for r in receipts])
                )
            ).scalar_one()
        values = [
            {
                "receipt_key": r.key,
                "message_key": r.message_key,
                "subject_id": r.subject_id,
                "subject_type": r.subject_type,
                "policy_id": r.policy_id,
                "channel": r.channel,
                "event": r.event,
                "rating": r.rating,
                "detail": r.detail,
                "occurred_at": _naive_utc(r.occurred_at),
                "recorded_at": _naive_utc(now),
            }
            for r in receipts
        ]
        statement = _insert(conn)
        statement = statement.on_conflict_do_update(
            index_elements=["receipt_key"],
            set_={
                # a new rating replaces the old one; every other event keeps its first time
                "rating": sa.func.coalesce(statement.excluded.rating, delivery_receipts.c.rating),
                "detail": sa.func.coalesce(statement.excluded.detail, delivery_receipts.c.detail),
            },
        )
        conn.execute(statement, values)
        return len({r.key for r in receipts}) - int(before) if count else 0

    def record(self, *receipts: Receipt, now: datetime | None = None) -> int:
        """Record ``receipts`` in one transaction; returns how many were new."""
        with self.engine.begin() as conn:
            return self.write(conn, receipts, now=now or datetime.now(UTC))

    def delivered(self, message: SentMessage, *, at: datetime) -> int:
        """Record that ``message`` reached its channel: one receipt per policy it is about.

        The worker calls this after a successful send on any channel but the inbox (which
        records its own, in its own transaction); it makes ``pushed`` in the outcome log.
        """
        return self.record(
            *(
                Receipt(message.idempotency_key, message.subject_id, message.subject_type,
                        policy, "delivered", at, channel=message.channel)
                for policy in message.policy_ids
            ),
            now=at,
        )  # fmt: skip

    def for_subject(self, subject_id: str) -> list[Receipt]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(delivery_receipts)
                .where(delivery_receipts.c.subject_id == subject_id)
                .order_by(delivery_receipts.c.id)
            ).mappings()
            return [_receipt(m) for m in rows]

    def messages(self, event: str, *, channel: str) -> int:
        """How many of ``channel``'s messages have an ``event`` receipt (each counted once)."""
        query = sa.select(sa.func.count(sa.distinct(delivery_receipts.c.message_key))).where(
            delivery_receipts.c.channel == channel, delivery_receipts.c.event == event
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def counts(self) -> dict[str, int]:
        """Receipts by event (``rated`` split into ``rated_good`` and ``rated_bad``)."""
        event = delivery_receipts.c.event
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(event, delivery_receipts.c.rating, sa.func.count()).group_by(
                    event, delivery_receipts.c.rating
                )
            ).all()
        out = dict.fromkeys([e for e in EVENTS if e != "rated"] + ["rated_good", "rated_bad"], 0)
        for name, rating, n in rows:
            out[f"rated_{rating}" if name == "rated" else name] += int(n)
        return out

    def outcome_log(
        self,
        *,
        round: int = 0,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pl.DataFrame:
        """The outcome log of the receipts that occurred in ``[since, until)``."""
        query = sa.select(
            delivery_receipts.c.message_key,
            delivery_receipts.c.subject_id,
            delivery_receipts.c.subject_type,
            delivery_receipts.c.policy_id,
            delivery_receipts.c.event,
        ).distinct()
        if since is not None:
            query = query.where(delivery_receipts.c.occurred_at >= _naive_utc(since))
        if until is not None:
            query = query.where(delivery_receipts.c.occurred_at < _naive_utc(until))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        events = pl.DataFrame(rows, schema=_EVENT_SCHEMA, orient="row")
        return _outcome_frame(events, round)

    def export_outcomes(self, path: Path, **window: Any) -> int:
        """Write the outcome log to a Parquet file; returns its rows."""
        log = self.outcome_log(**window)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.write_parquet(path)
        return log.height


def _receipt(m: Any) -> Receipt:
    return Receipt(
        message_key=m["message_key"],
        subject_id=m["subject_id"],
        subject_type=m["subject_type"],
        policy_id=m["policy_id"],
        event=m["event"],
        occurred_at=m["occurred_at"].replace(tzinfo=UTC),
        channel=m["channel"],
        rating=m["rating"],
        detail=m["detail"],
    )
