"""What a delivery worker runs with: one :class:`DeliveryRuntime` (the ledger, the channels, the
renderer, the rate limiter, the clock), built from the settings on first use or installed with
:func:`configure_delivery` (tests, the demo); and :func:`plain_render`, the renderer of last resort.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.clock import Clock, SystemClock
from core.errors import ZhidaError
from notifier.channels.base import Channel, OutboundMessage
from notifier.outbox import LedgerRow, Outbox

Renderer = Callable[[LedgerRow], OutboundMessage]


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
        from notifier.actors import send_later  # the actors run on this runtime

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
