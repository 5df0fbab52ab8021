"""Build the channels by name from the settings: inbox, sms, email, webhook, memory.

A channel whose settings are missing is still built — as an :class:`UnavailableChannel` that
fails every message permanently with the setting to fix — so a row for it is parked with a
clear reason (and replayed once the setting is there) while every other channel goes on.

>>> from core.settings import Settings
>>> settings = Settings.from_env({"ZHIDA_DATA_DIR": "/tmp/zhida-doctest"})
>>> sorted(configured_channels(settings))
['inbox', 'memory']
>>> channels = channels_from_settings(settings, names=("sms", "memory"))
>>> type(channels["sms"]).__name__, type(channels["memory"]).__name__
('UnavailableChannel', 'MemoryChannel')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

from core.errors import ConfigurationError
from core.settings import Settings
from notifier.channels.base import Channel, OutboundMessage, PermanentDeliveryError, SendResult

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "CHANNEL_NAMES",
    "UnavailableChannel",
    "build_channel",
    "channels_from_settings",
    "close_channels",
    "configured_channels",
]

CHANNEL_NAMES: Final = ("inbox", "sms", "email", "webhook", "memory")


class UnavailableChannel:
    """A channel that cannot be used in this deployment; says which setting would enable it."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def send(self, message: OutboundMessage) -> SendResult:
        raise PermanentDeliveryError(f"channel {self.name!r} is not available: {self.reason}")


def _missing(settings: Settings, name: str) -> str | None:
    """Why ``name`` cannot be built from ``settings`` (None: it can)."""
    if name == "sms" and not settings.sms_gateway_url:
        return "set ZHIDA_SMS_GATEWAY_URL (and ZHIDA_SMS_GATEWAY_TOKEN) and replay the row"
    if name == "email" and not settings.smtp_host:
        return "set ZHIDA_SMTP_HOST (and ZHIDA_SMTP_PORT, ZHIDA_MAIL_FROM) and replay the row"
    if name == "webhook" and not settings.webhook_secret:
        return "set ZHIDA_WEBHOOK_SECRET (the HMAC key shared with receivers) and replay the row"
    return None


def configured_channels(settings: Settings) -> frozenset[str]:
    """The channels these settings can really deliver through (for planning)."""
    return frozenset(n for n in CHANNEL_NAMES if _missing(settings, n) is None)


def build_channel(name: str, settings: Settings, engine: Engine | None = None) -> Channel:
    """The channel called ``name``, configured from ``settings``."""
    if name not in CHANNEL_NAMES:
        raise ConfigurationError(
            f"unknown channel {name!r}; expected one of {', '.join(CHANNEL_NAMES)}"
        )
    reason = _missing(settings, name)
    if reason is not None:
        return UnavailableChannel(name, reason)
    if name == "inbox":
        from core.db import get_engine
        from notifier.channels.inbox import InboxChannel

        return InboxChannel(engine or get_engine(settings.database_url))
    if name == "sms":
        from notifier.channels.sms_http import SmsHttpChannel

        assert settings.sms_gateway_url is not None
        return SmsHttpChannel(
            settings.sms_gateway_url,
            token=settings.sms_gateway_token,
            sender=settings.sms_signature,
            timeout=settings.channel_timeout,
            status_url=settings.sms_status_url,
            reports_url=settings.sms_reports_url,
        )
    if name == "email":
        from notifier.channels.smtp import SmtpChannel

        assert settings.smtp_host is not None
        return SmtpChannel(
            settings.smtp_host,
            settings.smtp_port,
            mail_from=settings.mail_from,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.channel_timeout,
            status_url=settings.smtp_status_url,
        )
    if name == "webhook":
        from notifier.channels.webhook import WebhookChannel

        assert settings.webhook_secret is not None
        return WebhookChannel(settings.webhook_secret, timeout=settings.channel_timeout)
    from notifier.channels.memory import MemoryChannel

    return MemoryChannel()


def channels_from_settings(
    settings: Settings, engine: Engine | None = None, names: Iterable[str] = CHANNEL_NAMES
) -> dict[str, Channel]:
    """Every channel in ``names``, by name (unavailable ones fail their rows with the reason)."""
    return {name: build_channel(name, settings, engine) for name in names}


def close_channels(channels: Mapping[str, Channel]) -> None:
    """Close the channels that hold connections (HTTP clients, SMTP sessions)."""
    for channel in channels.values():
        close = getattr(channel, "close", None)
        if callable(close):
            close()
