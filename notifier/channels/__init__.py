"""Channels: adapters with one interface (:class:`~notifier.channels.base.Channel`).

``inbox`` (the database message centre), ``sms`` (an HTTP gateway), ``email`` (SMTP),
``webhook`` (signed POSTs) and ``memory`` (tests); :func:`channels_from_settings` builds them
by name.  The modules with real connections are imported on first use of their class.
"""

from notifier.channels.base import (
    Channel,
    DeliveryReport,
    OutboundMessage,
    PermanentDeliveryError,
    SendResult,
    TransientDeliveryError,
)
from notifier.channels.memory import MemoryChannel
from notifier.channels.registry import (
    CHANNEL_NAMES,
    UnavailableChannel,
    build_channel,
    channels_from_settings,
    close_channels,
    configured_channels,
)

__all__ = [
    "CHANNEL_NAMES",
    "Channel",
    "DeliveryReport",
    "MemoryChannel",
    "OutboundMessage",
    "PermanentDeliveryError",
    "SendResult",
    "TransientDeliveryError",
    "UnavailableChannel",
    "build_channel",
    "channels_from_settings",
    "close_channels",
    "configured_channels",
]
