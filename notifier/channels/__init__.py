"""Channels: adapters with one interface (:class:`~notifier.channels.base.Channel`)."""

from notifier.channels.base import (
    Channel,
    OutboundMessage,
    PermanentDeliveryError,
    SendResult,
    TransientDeliveryError,
)

__all__ = [
    "Channel",
    "OutboundMessage",
    "PermanentDeliveryError",
    "SendResult",
    "TransientDeliveryError",
]
