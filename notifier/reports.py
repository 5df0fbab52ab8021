"""Delivery reports: what a gateway says later about messages it took, as receipts.

An SMS gateway takes a message at once and learns only later whether it reached the handset.
Its reports (polled by :meth:`~notifier.channels.sms_http.SmsHttpChannel.reports`) are recorded
here: a ``delivered`` report becomes a ``delivered`` receipt per policy the message is about —
the outcome log's ``pushed``, as the inbox's own receipts are — and a ``failed`` one an
``undeliverable`` receipt, with the gateway's reason: the outcome log counts the message as not
reached (not ``pushed``, so not ``ignored``), ``zhida deliveries status`` counts it and
``zhida deliveries why`` shows it.  The ledger row stays ``delivered`` (the gateway took it;
sending again could reach the person twice) with the report noted in its ``last_error``.
Recording is idempotent: a report seen twice (two workers polling, a poll repeated after a
failure) counts once.

:func:`receipts_from_reports` is the pure part::

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    >>> reports = [DeliveryReport("k1", "delivered", at, "gw-7"),
    ...            DeliveryReport("k2", "failed", at, "gw-8", "number not in service")]
    >>> messages = {"k1": ("p1", "resident", ("bj-a", "bj-b")), "k2": ("p2", "resident", ("bj-a",))}
    >>> [(r.subject_id, r.policy_id, r.event, r.detail)
    ...  for r in receipts_from_reports(reports, messages)]  # doctest: +NORMALIZE_WHITESPACE
    [('p1', 'bj-a', 'delivered', 'gw-7'), ('p1', 'bj-b', 'delivered', 'gw-7'),
     ('p2', 'bj-a', 'undeliverable', 'number not in service')]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from notifier.channels.base import Channel, DeliveryReport
from notifier.receipts import Receipt, ReceiptStore
from notifier.tables import outbox

__all__ = ["ReportsRecorded", "poll_reports", "receipts_from_reports", "record_reports"]

log = logging.getLogger("zhida.reports")

# idempotency key -> (subject_id, subject_type, policy ids)
Messages = Mapping[str, tuple[str, str, tuple[str, ...]]]


@dataclass(frozen=True)
class ReportsRecorded:
    delivered: int = 0  # reports of messages that reached the handset
    failed: int = 0  # reports of messages that did not (``undeliverable`` receipts)
    unknown: int = 0  # reports of keys the ledger does not hold (another system's)


def receipts_from_reports(
    reports: Iterable[DeliveryReport], messages: Messages, *, channel: str = "sms"
) -> list[Receipt]:
    """A receipt per policy of each reported message the ledger holds: ``delivered`` for a
    report that it reached the handset (detail: the gateway's id), ``undeliverable`` for one
    that it did not (detail: the gateway's reason)."""
    out = []
    for report in reports:
        found = messages.get(report.idempotency_key)
        if found is None:
            continue
        subject, kind, policies = found
        reached = report.status == "delivered"
        event = "delivered" if reached else "undeliverable"
        detail = report.provider_id if reached else (report.detail or "no reason given")
        out += [
            Receipt(report.idempotency_key, subject, kind, policy, event, report.at,
                    channel=channel, detail=detail)
            for policy in policies
        ]  # fmt: skip
    return out


def record_reports(
    engine: Engine, reports: Sequence[DeliveryReport], *, now: datetime, channel: str = "sms"
) -> ReportsRecorded:
    """Record ``reports`` in one transaction: a receipt each, and a note on the failed rows."""
    if not reports:
        return ReportsRecorded()
    keys = sorted({r.idempotency_key for r in reports})
    with engine.begin() as conn:
        messages: dict[str, tuple[str, str, tuple[str, ...]]] = {}
        for start in range(0, len(keys), 5000):
            rows = conn.execute(
                sa.select(
                    outbox.c.idempotency_key, outbox.c.subject_id, outbox.c.subject_type,
                    outbox.c.payload,
                ).where(outbox.c.idempotency_key.in_(keys[start : start + 5000]))
            )  # fmt: skip
            for key, subject, kind, payload in rows:
                items = json.loads(payload).get("items", [])
                policies = tuple(str(i["policy_id"]) for i in items if i.get("policy_id"))
                messages[key] = (subject, kind, policies)
        ReceiptStore.write(
            conn, receipts_from_reports(reports, messages, channel=channel), now=now, count=False
        )
        failed = [r for r in reports if r.status != "delivered" and r.idempotency_key in messages]
        for r in failed:
            conn.execute(
                outbox.update()
                .where(outbox.c.idempotency_key == r.idempotency_key)
                .values(last_error=f"delivery report: not delivered ({r.detail or 'no reason'})")
            )
    known = [r for r in reports if r.idempotency_key in messages]
    return ReportsRecorded(
        delivered=sum(1 for r in known if r.status == "delivered"),
        failed=len(failed),
        unknown=len(reports) - len(known),
    )


def poll_reports(
    engine: Engine, channels: Mapping[str, Channel], *, now: datetime
) -> ReportsRecorded:
    """Poll every channel that has delivery reports and record them (the sweeper calls it)."""
    totals = ReportsRecorded()
    for name, channel in channels.items():
        fetch = getattr(channel, "reports", None)
        if not callable(fetch):
            continue
        got = record_reports(engine, fetch(), now=now, channel=name)
        totals = ReportsRecorded(
            totals.delivered + got.delivered, totals.failed + got.failed,
            totals.unknown + got.unknown,
        )  # fmt: skip
    return totals
