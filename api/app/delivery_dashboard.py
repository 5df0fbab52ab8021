"""The operator's delivery dashboard figures, read from the outbox ledger, the notices and the
receipts through their stores (:class:`~notifier.outbox.Outbox`,
:class:`~notifier.notices.NoticeLog`, :class:`~notifier.receipts.ReceiptStore`).

Throughput is what was delivered in a recent window; the backlog is what is pending or being
sent, split into what is due and what quiet hours hold back (and until when); what the planner
suppressed is counted by reason (dates and figures left out, so equal reasons count together);
receipts are counted by event as ``zhida deliveries status`` counts them (``undeliverable``: an
SMS gateway's later report that the message never reached the handset).  Nothing here names a
subject: an operator sees rows, channels, reasons and counts.

>>> gist("quiet hours: deferred to 2026-03-02 08:00 (local)"), gist("opted out of sms")
('quiet hours', 'opted out of sms')
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from notifier.notices import NoticeLog
from notifier.outbox import Outbox
from notifier.receipts import ReceiptStore

__all__ = ["Deferred", "Throughput", "deferred", "gist", "receipts", "suppressed", "throughput"]

WINDOWS = {"5 min": timedelta(minutes=5), "1 h": timedelta(hours=1)}


@dataclass(frozen=True)
class Throughput:
    window: str
    channel: str
    delivered: int
    per_minute: float


@dataclass(frozen=True)
class Deferred:
    channel: str
    rows: int
    first_due: datetime  # UTC, naive: the earliest a held row may go
    last_due: datetime


def gist(reason: str) -> str:
    """A reason without its dates and figures."""
    for marker in (": deferred to", " on 20", " (", " since ", ": "):
        reason = reason.split(marker, maxsplit=1)[0]
    return reason.strip()


def throughput(engine: Engine, *, now: datetime) -> list[Throughput]:
    """Rows delivered per channel in each recent window, and the rate per minute."""
    ledger = Outbox(engine)
    out: list[Throughput] = []
    for name, span in WINDOWS.items():
        minutes = span.total_seconds() / 60
        out.extend(
            Throughput(name, channel, n, round(n / minutes, 1))
            for channel, n in ledger.delivered_since(now - span).items()
        )
    return out


def deferred(engine: Engine, *, now: datetime) -> list[Deferred]:
    """Pending rows held back (quiet hours) past ``now``, per channel, with until when."""
    return [
        Deferred(h.channel, h.rows, h.first_due, h.last_due)
        for h in Outbox(engine).held_back(now=now)
    ]


def suppressed(engine: Engine, *, limit: int = 5000) -> list[tuple[str, int]]:
    """What the planner suppressed, by reason (most frequent first)."""
    counts: Counter[str] = Counter()
    for reason, n in NoticeLog(engine).suppressed_reasons(limit=limit):
        counts[gist(reason)] += n
    return counts.most_common()


def receipts(engine: Engine) -> list[tuple[str, int]]:
    """Receipts by event, the events that have any, in the order ``zhida deliveries status``
    prints them (the same count: :meth:`ReceiptStore.counts`, ``rated`` split good and bad)."""
    return [(event, n) for event, n in ReceiptStore(engine).counts().items() if n]
