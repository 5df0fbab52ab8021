"""People at the other end: seeded responses to what was delivered, recorded as receipts."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["Responses", "simulate_responses"]


@dataclass(frozen=True)
class Responses:
    """Shares of delivered messages people respond to, by what they do (seeded draws)."""

    read: float = 0.6  # opens the message (inbox: marks it read)
    click: float = 0.5  # of those who read, follows the link
    apply: float = 0.35  # of those who clicked, applies (invitations only)
    complain: float = 0.02  # of all, complains about being contacted
    rate: float = 0.2  # of those who read, rates the message 好 or 差
    good: float = 0.8  # of the ratings, 好


def simulate_responses(
    engine: Any, *, seed: int = 0, shares: Responses | None = None, now: datetime | None = None
) -> dict[str, int]:
    """People at the other end respond to what was delivered: receipts for the outcome log.

    Every ``delivered`` receipt without a response yet gets seeded draws — read (an inbox
    message is marked read through the message centre), clicked, applied, complained, rated
    好/差 — recorded as receipts.  Returns the receipts recorded, by event.  Called again, it
    gives those still silent another chance (a later day); those who responded are left alone.
    The shares are the same for every message (the behaviour model in
    :mod:`simulations.behaviour` is the place for propensities that depend on the person and
    the policy).
    """
    import sqlalchemy as sa

    from notifier.channels.inbox import InboxStore, inbox_messages
    from notifier.receipts import Receipt, ReceiptStore, delivery_receipts

    shares = shares or Responses()
    rng = random.Random(seed)
    at = now or datetime.now(UTC)
    r = delivery_receipts.c
    with engine.connect() as conn:
        answered = (
            sa.select(sa.literal(1))
            .select_from(delivery_receipts.alias("later"))
            .where(
                sa.literal_column("later.message_key") == r.message_key,
                sa.literal_column("later.policy_id") == r.policy_id,
                sa.literal_column("later.event") != "delivered",
            )
        )
        delivered = conn.execute(
            sa.select(r.message_key, r.subject_id, r.subject_type, r.policy_id, r.channel)
            .where(r.event == "delivered", ~sa.exists(answered))
            .order_by(r.id)
        ).all()
        inbox_ids = dict(
            conn.execute(sa.select(inbox_messages.c.idempotency_key, inbox_messages.c.id)).all()
        )
    inbox_reads: list[int] = []
    receipts: list[Receipt] = []
    counts: Counter[str] = Counter()
    for key, subject, subject_type, policy, channel in delivered:
        events: list[tuple[str, str | None]] = []
        read = rng.random() < shares.read
        if read:
            events.append(("read", None))
            if rng.random() < shares.click:
                events.append(("clicked", None))
                if rng.random() < shares.apply:
                    events.append(("applied", None))
            if rng.random() < shares.rate:
                events.append(("rated", "good" if rng.random() < shares.good else "bad"))
        if rng.random() < shares.complain:
            events.append(("complained", None))
        for event, rating in events:
            counts[event if event != "rated" else f"rated_{rating}"] += 1
            if event == "read" and channel == "inbox" and key in inbox_ids:
                inbox_reads.append(inbox_ids[key])  # read in the message centre
                continue
            receipts.append(
                Receipt(key, subject, subject_type, policy, event, at, channel=channel,
                        rating=rating)
            )  # fmt: skip
    InboxStore(engine).mark_many_read(inbox_reads, at=at)
    ReceiptStore(engine).record(*receipts, now=at)
    return dict(counts)
