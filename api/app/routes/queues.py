"""Delivery queues for operators: what the ledger holds by state, and what the broker holds.

The ledger is the truth (a flushed Redis loses nothing: the sweeper re-enqueues what is due), so
its figures come first: rows due now, deferred (quiet hours or back-off), being sent, parked,
and how long the oldest due row has waited.  With ``ZHIDA_REDIS_URL`` the broker's own queue
lengths follow; without it the workers run in-process and there is no broker to ask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar import Request, get

from api.app.access import allow
from api.app.services import services

__all__ = ["QUEUE_ROUTES", "BrokerQueue", "Queues"]


@dataclass(frozen=True)
class BrokerQueue:
    name: str
    ready: int  # messages waiting for a worker
    delayed: int  # messages waiting for their delay (retries)


@dataclass(frozen=True)
class Queues:
    due_now: int  # pending rows whose time has come
    deferred: int  # pending rows not due yet (quiet hours, back-off)
    sending: int  # claimed by a worker
    failed: int  # parked after their last attempt
    oldest_due_seconds: float | None  # how long the oldest due row has waited
    broker: str  # "redis", "in-process", or "unreachable: ..."
    queues: list[BrokerQueue] = field(default_factory=list)


def _broker(url: str | None) -> tuple[str, list[BrokerQueue]]:
    if url is None:
        return "in-process", []
    import redis

    from matcher.shards import SHARD_QUEUE
    from notifier.actors import QUEUE

    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        out = [
            BrokerQueue(
                name, int(client.llen(f"dramatiq:{name}")), int(client.llen(f"dramatiq:{name}.DQ"))
            )
            for name in (QUEUE, SHARD_QUEUE)
        ]
    except redis.RedisError as exc:
        return f"unreachable: {type(exc).__name__}", []
    return "redis", out


@get("/api/v1/deliveries/queues", guards=[allow("operator", "admin")], sync_to_thread=True,
     tags=["deliveries"])  # fmt: skip
def queues(request: Request[Any, Any, Any]) -> Queues:
    """The ledger's rows by delivery state, and the broker's queue lengths."""
    from core.settings import get_settings
    from notifier.outbox import Outbox

    now = datetime.now(UTC).replace(tzinfo=None)
    states = Outbox(services(request).engine).states(now=now)
    broker, lengths = _broker(get_settings().redis_url)
    oldest = states.oldest_due
    waited = None if oldest is None else round((now - oldest).total_seconds(), 3)
    return Queues(
        states.due, states.deferred, states.sending, states.failed, waited, broker, lengths
    )


QUEUE_ROUTES = [queues]
