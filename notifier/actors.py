"""The delivery actor: claim a ledger row, render it, send it through its channel, record it.

The queue message carries only the row's id.  :func:`deliver_one` is the whole attempt and can
be called without a broker (tests, the bench baseline); the ``deliver`` actor wraps it.  What a
worker needs — the database, the channels, the renderer, the rate limiter, the clock — is one
:class:`DeliveryRuntime`, built from the settings on first use or installed with
:func:`configure_delivery` (tests, the demo).

In doubt: when a worker died during an attempt, nobody knows whether the far side took the
message.  If the channel can say (``lookup(idempotency_key) -> bool | None``, e.g. a provider's
delivery-status query), a taken message is recorded as delivered instead of being sent again.
When it cannot, the channel decides (``in_doubt``): ``"resend"`` (the default: at least once —
the SMS gateway and webhooks de-duplicate by the Idempotency-Key header) or ``"park"`` (at most
once — e-mail: the row is parked with the reason, for an operator to replay).
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from core.broker import actor
from core.clock import Clock, SystemClock
from core.errors import ZhidaError
from notifier.channels.base import (
    Channel,
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifier.outbox import LedgerRow, Outbox, in_doubt

__all__ = [
    "BATCH",
    "QUEUE",
    "DeliveryRuntime",
    "Lookup",
    "Renderer",
    "batch_size",
    "configure_delivery",
    "deliver",
    "deliver_batch",
    "deliver_many",
    "deliver_one",
    "enqueue",
    "plain_render",
    "runtime",
    "send_batches",
    "send_later",
]

QUEUE = "deliveries"
BATCH = 100  # most ids in one queue message (see batch_size)
# Retries sooner than this go back to the broker with a delay; later ones wait for the sweeper
# (a long broker delay would be lost with Redis; the ledger's next_attempt_at is not).
_MAX_BROKER_DELAY = 60.0
log = logging.getLogger("zhida.delivery")

Renderer = Callable[[LedgerRow], OutboundMessage]


@runtime_checkable
class Lookup(Protocol):
    """A channel that can tell whether it already took a message (by idempotency key)."""

    def lookup(self, idempotency_key: str) -> bool | None: ...


def plain_render(row: LedgerRow) -> OutboundMessage:
    """A plain-text rendering of a ledger row: titles, purposes and reasons, one per item.

    >>> from datetime import datetime
    >>> row = LedgerRow(1, "k", "p1", "resident", "inbox", None, "zh", "grant_notice",
    ...     {"items": [{"title": "高龄津贴", "purpose": "grant_notice",
    ...                 "reason": ["age >= 80 ✓"]}]},
    ...     "sending", 1, 8, datetime(2026, 1, 1), datetime(2026, 1, 1), None, None,
    ...     datetime(2026, 1, 1), None)
    >>> print(plain_render(row).body)
    【已为您办理】高龄津贴：age >= 80 ✓
    """
    names = {
        "zh": {"grant_notice": "已为您办理", "revocation_notice": "待遇将终止",
               "invitation": "您可申请", "fast_track_invitation": "一键申请",
               "maybe_question": "请补充信息"},
        "en": {"grant_notice": "Granted", "revocation_notice": "Ending",
               "invitation": "You may apply", "fast_track_invitation": "Apply in one step",
               "maybe_question": "Please tell us"},
    }[row.locale if row.locale in ("zh", "en") else "zh"]  # fmt: skip
    items = list(row.payload.get("items", []))
    lines = []
    for item in items:
        title = (
            item.get("title_en") if row.locale == "en" and item.get("title_en") else item["title"]
        )
        reason = "；".join(item.get("reason") or [])
        lines.append(
            f"【{names.get(item['purpose'], item['purpose'])}】{title}"
            + (f"：{reason}" if reason else "")
        )
    title = items[0]["title"] if len(items) == 1 else f"{len(items)} 项政策消息"
    return OutboundMessage(
        ledger_id=row.id, idempotency_key=row.idempotency_key, channel=row.channel,
        subject_id=row.subject_id, subject_type=row.subject_type, address=row.address,
        locale=row.locale, title=title, body="\n".join(lines),
    )  # fmt: skip


@dataclass
class DeliveryRuntime:
    outbox: Outbox
    channels: Mapping[str, Channel]
    render: Renderer = plain_render
    limiter: Any = None  # a notifier.ratelimit.RateLimiter, or None
    clock: Clock = field(default_factory=SystemClock)
    lease: float = 30.0  # seconds a claim holds; well over a channel's timeout
    backoff: float = 30.0  # first retry delay, doubled per attempt
    rate_wait: float = 5.0  # longest wait for a rate-limit token before retrying later
    send_retries: Callable[[int, float], object] | None = None  # (row id, delay s) -> enqueue


_runtime: DeliveryRuntime | None = None


def configure_delivery(rt: DeliveryRuntime | None) -> DeliveryRuntime | None:
    """Install the runtime workers in this process use (``None``: rebuild from settings)."""
    global _runtime  # noqa: PLW0603 -- one runtime per worker process, like the broker
    _runtime = rt
    return rt


def runtime() -> DeliveryRuntime:
    """The installed runtime, or one built from the settings."""
    if _runtime is None:
        from core.db import get_engine
        from core.settings import get_settings

        settings = get_settings()
        engine = get_engine()
        configure_delivery(
            DeliveryRuntime(
                outbox=Outbox(engine),
                channels=_channels_from_settings(settings, engine),
                render=_renderer(settings),
                limiter=_limiter(settings),
                lease=max(5.0, 3 * settings.channel_timeout),
                backoff=settings.retry_backoff,
                send_retries=send_later,
            )
        )
    assert _runtime is not None
    return _runtime


def _channels_from_settings(settings: Any, engine: Any) -> Mapping[str, Channel]:
    registry = _optional("notifier.channels.registry")
    if registry is not None:
        built: Mapping[str, Channel] = registry.channels_from_settings(settings, engine)
        return built
    raise ZhidaError("no channel registry (notifier/channels/registry.py) to build channels from")


def _optional(name: str) -> Any:
    """A module of the channels side that may not exist yet in this checkout."""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def _renderer(settings: Any = None) -> Renderer:
    module = _optional("notifier.render")
    found = getattr(module, "render_row", None)
    if found is None:
        return plain_render
    if settings is None:
        return found  # type: ignore[no-any-return]
    return functools.partial(found, settings=settings)


def _limiter(settings: Any) -> Any:
    from notifier.ratelimit import MemoryRateLimiter, RedisRateLimiter, parse_rates

    rates = parse_rates(settings.rate_limits)
    if not rates:
        return None
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, rates)
    return MemoryRateLimiter(rates)


def deliver_one(row_id: int, rt: DeliveryRuntime | None = None) -> str:
    """One attempt at row ``row_id``; returns what happened (for logs and tests).

    ``not-claimed`` (not due, already taken or done), ``delivered``, ``reconciled`` (an attempt
    lost with its worker had reached the far side), ``retry``, ``failed``.
    """
    rt = rt or runtime()
    row = rt.outbox.claim(row_id, now=rt.clock.now(), lease=rt.lease)
    if row is None:
        return "not-claimed"
    return _attempt(rt, row)


def _attempt(rt: DeliveryRuntime, row: LedgerRow) -> str:
    """The attempt ``row`` was claimed for: look up if in doubt, render, send, record."""
    row_id = row.id
    channel = rt.channels.get(row.channel)
    try:
        if channel is None:
            raise PermanentDeliveryError(
                f"channel {row.channel!r} is not configured in this worker; configure it "
                "(see README, Settings) and replay the row"
            )
        if in_doubt(row):
            taken = channel.lookup(row.idempotency_key) if isinstance(channel, Lookup) else None
            if taken:
                rt.outbox.delivered(row, provider_id="reconciled", now=rt.clock.now())
                return "reconciled"
            if taken is None and getattr(channel, "in_doubt", "resend") == "park":
                hint = getattr(channel, "doubt_hint", "")
                raise PermanentDeliveryError(
                    f"in doubt: attempt {row.attempts - 1} was cut off with its worker and "
                    f"{row.channel} cannot say whether it went out{'; ' + hint if hint else ''}"
                    f" — parked rather than risk sending it twice; `zhida deliveries replay "
                    f"{row.id}` sends it again (same Message-ID)"
                )
        try:
            message = rt.render(row)
        except ZhidaError as exc:
            raise PermanentDeliveryError(f"cannot render the message: {exc}") from exc
        if rt.limiter is not None:
            rt.limiter.acquire(row.channel, timeout=rt.rate_wait)
        if _same_database(channel, rt.outbox):
            # The inbox lives in the ledger's database: deliver and record in one commit,
            # exactly once by construction.
            try:
                with rt.outbox.engine.begin() as conn:
                    now = rt.clock.now()
                    write = channel.write  # type: ignore[attr-defined]
                    result = write(conn, message, now=now, name=channel.name)
                    if not rt.outbox.delivered(
                        row, provider_id=result.provider_id, now=now, conn=conn
                    ):
                        raise _ClaimLost  # another attempt owns the row now: roll back
            except _ClaimLost:
                return "not-claimed"
            return "delivered"
        result = channel.send(message)
    except PermanentDeliveryError as exc:
        rt.outbox.attempt_failed(row, str(exc), permanent=True, now=rt.clock.now(), base=rt.backoff)
        log.warning("outbox %s parked: %s", row_id, exc)
        return "failed"
    except TransientDeliveryError as exc:
        return _retry(rt, row, str(exc))
    except Exception as exc:  # a bug or an unexpected library error: retry, never stall
        return _retry(rt, row, f"unexpected {type(exc).__name__}: {exc}")
    rt.outbox.delivered(row, provider_id=result.provider_id, now=rt.clock.now())
    return "delivered"


def deliver_many(row_ids: Iterable[int], rt: DeliveryRuntime | None = None) -> Counter[str]:
    """Attempts at many rows; how many ended each way (see :func:`deliver_one`).

    Rows for a channel that lives in the ledger's database (the inbox) go together: one
    statement claims them all (each attempt counted), one transaction writes the messages, their
    receipts and their outcomes — one commit for the batch instead of two per message, with the
    same guarantees.  Every other row is claimed just before its own send, as in
    :func:`deliver_one`, so a claim's lease is never spent waiting on other rows' sends.
    """
    rt = rt or runtime()
    ids = sorted(set(row_ids))
    together = {n for n, ch in rt.channels.items() if _same_database(ch, rt.outbox)}
    outcomes: Counter[str] = Counter()
    rows = []
    if together and len(ids) > 1:
        rows = rt.outbox.claim_many(ids, now=rt.clock.now(), lease=rt.lease, channels=together)
        outcomes.update(_deliver_together(rt, rows))
    taken = {r.id for r in rows}
    for row_id in ids:
        if row_id not in taken:  # other channels, rows in doubt, or not due: one by one
            outcomes[deliver_one(row_id, rt)] += 1
    return outcomes


def _deliver_together(rt: DeliveryRuntime, rows: Sequence[LedgerRow]) -> Counter[str]:
    """Deliver claimed rows of same-database channels in one transaction per channel."""
    outcomes: Counter[str] = Counter()
    by_channel: dict[str, list[tuple[LedgerRow, OutboundMessage]]] = {}
    for row in rows:
        try:
            message = rt.render(row)
            if rt.limiter is not None:
                rt.limiter.acquire(row.channel, timeout=rt.rate_wait)
        except ZhidaError as exc:
            if isinstance(exc, TransientDeliveryError):
                outcomes[_retry(rt, row, str(exc))] += 1
            else:
                outcomes[_fail(rt, row, f"cannot render the message: {exc}")] += 1
            continue
        except Exception as exc:  # a bug or an unexpected library error: retry, never stall
            outcomes[_retry(rt, row, f"unexpected {type(exc).__name__}: {exc}")] += 1
            continue
        by_channel.setdefault(row.channel, []).append((row, message))
    for name, pairs in by_channel.items():
        channel = rt.channels[name]
        try:
            with rt.outbox.engine.begin() as conn:
                now = rt.clock.now()
                write_many = channel.write_many  # type: ignore[attr-defined]
                results = write_many(conn, [m for _, m in pairs], now=now, name=name)
                recorded = rt.outbox.delivered_many(
                    conn,
                    [r for r, _ in pairs],
                    {r.id: results[m.idempotency_key].provider_id for r, m in pairs},
                    now=now,
                )
                if len(recorded) < len(pairs):
                    raise _ClaimLost  # a lease ran out and the row was retaken: roll back
            outcomes["delivered"] += len(pairs)
        except _ClaimLost:
            # Rare: go one by one, so only the rows still ours are delivered.
            for row, _ in pairs:
                outcomes[_attempt(rt, row)] += 1
        except Exception as exc:  # the database failed: each row backs off (or is swept)
            for row, _ in pairs:
                outcomes[_retry(rt, row, f"{type(exc).__name__}: {exc}"[:500])] += 1
    return outcomes


def _fail(rt: DeliveryRuntime, row: LedgerRow, error: str) -> str:
    rt.outbox.attempt_failed(row, error, permanent=True, now=rt.clock.now(), base=rt.backoff)
    log.warning("outbox %s parked: %s", row.id, error)
    return "failed"


class _ClaimLost(Exception):  # noqa: N818 -- a signal to roll back, never seen outside
    pass


def _same_database(channel: Channel, outbox: Outbox) -> bool:
    engine = getattr(channel, "engine", None)
    return (
        callable(getattr(channel, "write", None))
        and callable(getattr(channel, "write_many", None))
        and engine is not None
        and (engine is outbox.engine or str(engine.url) == str(outbox.engine.url))
    )


def _retry(rt: DeliveryRuntime, row: LedgerRow, error: str) -> str:
    now = rt.clock.now()
    retry_at = rt.outbox.attempt_failed(row, error, permanent=False, now=now, base=rt.backoff)
    if retry_at is None:
        log.warning("outbox %s parked after %s attempts: %s", row.id, row.attempts, error)
        return "failed"
    delay = (retry_at - now.astimezone(UTC).replace(tzinfo=None)).total_seconds()
    if rt.send_retries is not None and delay <= _MAX_BROKER_DELAY:
        rt.send_retries(row.id, delay)
    return "retry"


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
