"""What a delivery worker runs with: one :class:`DeliveryRuntime` (the ledger, the channels, the
renderer, the rate limiter, the clock), built from the settings on first use or installed with
:func:`configure_delivery` (tests, the demo); and :func:`plain_render`, the renderer of last resort.

The runtime built from the settings hands retries back to the broker through the sender
:mod:`notifier.actors` registers (:func:`register_retry_sender`): the actors run on this
runtime, so this module cannot import them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.clock import Clock, SystemClock
from notifier.channels.base import Channel, OutboundMessage
from notifier.outbox import LedgerRow, Outbox

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from core.settings import Settings

__all__ = [
    "DeliveryRuntime",
    "Renderer",
    "RetrySender",
    "configure_delivery",
    "plain_render",
    "register_retry_sender",
    "runtime",
]

Renderer = Callable[[LedgerRow], OutboundMessage]
RetrySender = Callable[[int, float], object]  # (row id, delay in seconds) -> enqueue it


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
    send_retries: RetrySender | None = None  # None: the sweeper picks the retry up


_runtime: DeliveryRuntime | None = None
_retry_sender: RetrySender | None = None


def register_retry_sender(send: RetrySender | None) -> None:
    """How the runtime built from the settings hands a retry back to the broker (the actors
    register theirs when imported; ``None``: leave retries to the sweeper)."""
    global _retry_sender  # noqa: PLW0603 -- one sender per process, set by notifier.actors
    _retry_sender = send


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
                send_retries=_retry_sender,
            )
        )
    assert _runtime is not None
    return _runtime


def _channels_from_settings(settings: Settings, engine: Engine) -> Mapping[str, Channel]:
    # Imported here: the channels pull in httpx and smtplib, which only a worker needs.
    from notifier.channels.registry import channels_from_settings

    return channels_from_settings(settings, engine)


def _renderer(settings: Settings) -> Renderer:
    """The templates' renderer, bound to this worker's settings (read once, not per message)."""
    from notifier.render import render_row  # jinja2 and the templates: a worker's cost only

    return functools.partial(render_row, settings=settings)


def _limiter(settings: Settings) -> Any:
    from notifier.ratelimit import MemoryRateLimiter, RedisRateLimiter, parse_rates

    rates = parse_rates(settings.rate_limits)
    if not rates:
        return None
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, rates)
    return MemoryRateLimiter(rates)
