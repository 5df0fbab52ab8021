"""The one interface every delivery channel implements.

A worker claims an outbox row, renders it into an :class:`OutboundMessage` and hands it to the
channel named on the row.  A channel either returns a :class:`SendResult` or raises:

- :class:`TransientDeliveryError` — worth retrying (timeout, 5xx, connection refused, rate
  limited); the worker backs off and tries again until the row's attempts are used up;
- :class:`PermanentDeliveryError` — retrying cannot help (malformed address, template error,
  4xx); the row is parked as failed at once with the reason.

Channels are given the idempotency key and must pass it on where the far side supports it
(HTTP header, Message-ID), so a send that succeeded but whose answer was lost is not doubled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.errors import DeliveryError

__all__ = [
    "Channel",
    "DeliveryReport",
    "InDoubtDeliveryError",
    "OutboundMessage",
    "PermanentDeliveryError",
    "SendResult",
    "TransientDeliveryError",
]


class TransientDeliveryError(DeliveryError):
    """The channel failed in a way a later attempt may not (timeout, 5xx, rate limit)."""


class InDoubtDeliveryError(TransientDeliveryError):
    """The attempt failed after the message may have reached the far side (the answer timed
    out, the connection broke after the request was written): the next attempt asks the
    channel whether it took the message (``lookup``) before sending again."""


class PermanentDeliveryError(DeliveryError):
    """The message can never go through this channel as it is (bad address, template error)."""


@dataclass(frozen=True)
class OutboundMessage:
    """One rendered message for one recipient on one channel."""

    ledger_id: int
    idempotency_key: str
    channel: str  # inbox | sms | email | webhook
    subject_id: str
    subject_type: str  # resident | enterprise
    address: str | None  # phone number, e-mail address, webhook URL; None for the inbox
    locale: str  # zh | en
    title: str
    body: str
    template_id: str | None = None  # WeChat-style template messages: id + parameters
    params: Mapping[str, str] = field(default_factory=dict)
    # The policies the message is about (a digest has several): the inbox and receipts link
    # reads, clicks and applications back to them for the ranking model's outcome log.
    policy_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendResult:
    """What the far side said: its id for the message, if it gave one."""

    provider_id: str | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """What a gateway later said about a message it took: reached the handset, or not."""

    idempotency_key: str
    status: str  # delivered | failed
    at: datetime  # aware
    provider_id: str | None = None
    detail: str | None = None  # the gateway's reason for a failure


@runtime_checkable
class Channel(Protocol):
    """A way to reach a person or a department system."""

    name: str

    def send(self, message: OutboundMessage) -> SendResult:
        """Deliver ``message`` or raise a :class:`~core.errors.DeliveryError` subclass."""
        ...
