"""The delivery actors, and handing ledger rows to the broker.

The queue message carries only the row's id (``deliver``) or a batch of ids (``deliver_batch``);
the attempt itself is :func:`~notifier.delivery.deliver_one`, run with the process's
:class:`~notifier.runtime.DeliveryRuntime`.  Workers import this module to declare the actors.

In doubt: when a worker died during an attempt, nobody knows whether the far side took the
message.  If the channel can say (``lookup(idempotency_key) -> bool | None``, e.g. a provider's
delivery-status query), a taken message is recorded as delivered instead of being sent again.
When it cannot, the channel decides (``in_doubt``): ``"resend"`` (the default: at least once —
the SMS gateway and webhooks de-duplicate by the Idempotency-Key header) or ``"park"`` (at most
once — e-mail: the row is parked with the reason, for an operator to replay).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from core.broker import actor
from notifier.delivery import deliver_many, deliver_one
from notifier.outbox import Outbox
from notifier.runtime import register_retry_sender, runtime

__all__ = [
    "BATCH",
    "QUEUE",
    "batch_size",
    "deliver",
    "deliver_batch",
    "enqueue",
    "send_batches",
    "send_later",
]

QUEUE = "deliveries"
BATCH = 100  # most ids in one queue message (see batch_size)
log = logging.getLogger("zhida.delivery")


@actor(queue_name=QUEUE, max_retries=0, time_limit=300_000)
def deliver(row_id: int) -> None:
    """Deliver outbox row ``row_id`` (the message carries only the id)."""
    outcome = deliver_one(row_id)
    log.debug("outbox %s: %s", row_id, outcome)


@actor(queue_name=QUEUE, max_retries=0, time_limit=600_000)
def deliver_batch(row_ids: list[int]) -> None:
    """Deliver outbox rows ``row_ids`` (a batch of ids; see :func:`deliver_many`)."""
    outcomes = deliver_many(row_ids)
    log.debug("outbox batch of %d: %s", len(row_ids), dict(outcomes))


def send_later(row_id: int, delay: float) -> None:
    """Hand a row back to the broker after a short back-off (marking it enqueued)."""
    runtime().outbox.mark_enqueued([row_id], now=datetime.now(UTC))
    deliver.send_with_options(args=(row_id,), delay=int(delay * 1000))


register_retry_sender(send_later)  # the runtime built from the settings retries through it


def batch_size(n: int, *, largest: int = BATCH, spread: int = 64) -> int:
    """Ids per queue message for ``n`` rows: up to ``largest``, but at least ``spread``
    messages while there are that many rows, so every worker thread gets work.

    >>> batch_size(20_000), batch_size(1_000), batch_size(10)
    (100, 15, 1)
    """
    return max(1, min(largest, n // spread))


def send_batches(ids: Sequence[int]) -> None:
    """Hand ids already marked enqueued to the broker, a batch per message."""
    size = batch_size(len(ids))
    for start in range(0, len(ids), size):
        chunk = [int(i) for i in ids[start : start + size]]
        if len(chunk) == 1:
            deliver.send(chunk[0])
        else:
            deliver_batch.send(chunk)


def enqueue(ids: Iterable[int], *, outbox: Outbox | None = None) -> int:
    """Hand rows to the broker (marking them enqueued first), in batches; returns how many."""
    ids = list(ids)
    if not ids:
        return 0
    (outbox or runtime().outbox).mark_enqueued(ids, now=datetime.now(UTC))
    send_batches(ids)
    return len(ids)
