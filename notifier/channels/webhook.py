"""Signed webhooks for department systems and WeChat-style template messages.

Each message is ``POST``-ed as JSON to the URL on the message (its address)::

    {"id": "<idempotency key>", "subject_id": "...", "subject_type": "resident",
     "locale": "zh", "title": "...", "body": "...",
     "template_id": "OPENTM-123" | null, "params": {"policy": "...", ...}}

with these headers:

- ``X-Zhida-Timestamp``: the send time, whole seconds since the Unix epoch;
- ``X-Zhida-Signature``: ``v1=`` and the hex HMAC-SHA256, keyed with the shared secret
  (``ZHIDA_WEBHOOK_SECRET``), of ``"<timestamp>." + body`` — the exact bytes sent;
- ``Idempotency-Key``: the same as ``id``; a receiver de-duplicates on it.

A receiver recomputes the signature over the raw body and refuses a timestamp older than five
minutes (a replayed request): :func:`verify` does both.  Signing the timestamp with the body
stops an old, validly signed request from being replayed with a fresh timestamp.

In doubt (the answer timed out or the connection broke after the request went out, or a
worker died mid-send) the next attempt asks the receiver first, on the same URL::

    GET URL   Idempotency-Key: KEY, X-Zhida-Timestamp, X-Zhida-Signature (over the key)
      200 {"accepted": true|false}

A receiver that answers so is never sent a message twice; one that does not (404, 405, no JSON)
cannot say, and the message is sent again under the same ``Idempotency-Key`` for the receiver
to de-duplicate (at least once).

>>> body = b'{"id": "k1"}'
>>> sig = sign(b"s3cret", 1_700_000_000, body)
>>> sig
'v1=3f08b9fbb77395f340e098e6480c88609aa0b4d409f94ba4ae8b142c5ecf8b88'
>>> verify(b"s3cret", body, timestamp="1700000000", signature=sig, now=1_700_000_100)
>>> verify(b"s3cret", body + b" ", timestamp="1700000000", signature=sig, now=1_700_000_100)
Traceback (most recent call last):
...
notifier.channels.webhook.WebhookSignatureError: webhook signature does not match the body; ...
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx

from core.errors import ZhidaError
from notifier.channels.base import (
    InDoubtDeliveryError,
    OutboundMessage,
    PermanentDeliveryError,
    SendResult,
    TransientDeliveryError,
)
from notifier.channels.sms_http import classify_status, transport_failure

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookChannel",
    "WebhookSignatureError",
    "payload",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "X-Zhida-Signature"
TIMESTAMP_HEADER = "X-Zhida-Timestamp"
TOLERANCE = 300  # seconds a signed request stays valid


class WebhookSignatureError(ZhidaError, ValueError):
    """A webhook request's signature or timestamp does not check out (receiver side)."""

    http_status = 401


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(
    secret: bytes,
    body: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    now: float,
    tolerance: float = TOLERANCE,
) -> None:
    """Check a received webhook; raises :class:`WebhookSignatureError` with the reason."""
    if not timestamp or not signature:
        raise WebhookSignatureError(
            f"webhook request lacks the {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header; refuse it"
        )
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookSignatureError(
            f"webhook {TIMESTAMP_HEADER} {timestamp!r} is not whole seconds since the epoch"
        ) from None
    if abs(now - sent) > tolerance:
        raise WebhookSignatureError(
            f"webhook timestamp {sent} is {abs(now - sent):.0f}s away from now, more than "
            f"{tolerance:g}s; a replayed or delayed request — refuse it"
        )
    if not hmac.compare_digest(sign(secret, sent, body), signature):
        raise WebhookSignatureError(
            "webhook signature does not match the body; check the shared secret "
            "(ZHIDA_WEBHOOK_SECRET) and sign the raw body bytes"
        )


def payload(message: OutboundMessage) -> bytes:
    """The JSON body for ``message`` (UTF-8; Chinese as is, not escaped)."""
    document = {
        "id": message.idempotency_key,
        "subject_id": message.subject_id,
        "subject_type": message.subject_type,
        "locale": message.locale,
        "title": message.title,
        "body": message.body,
        "template_id": message.template_id,
        "params": dict(message.params),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookChannel:
    def __init__(
        self,
        secret: str | bytes,
        *,
        timeout: float = 10.0,
        name: str = "webhook",
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self._clock = clock
        self._client = httpx.Client(timeout=timeout, transport=transport)
        # The longest one send can take (connect, write and read each up to ``timeout``):
        # the worker's lease is renewed for at least this long before sending.
        self.send_budget = 3 * timeout + 1.0

    def send(self, message: OutboundMessage) -> SendResult:
        url = _checked_url(message)
        body = payload(message)
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            "Idempotency-Key": message.idempotency_key,
        }
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise transport_failure(exc, f"webhook {url}") from exc
        verdict = classify_status(response.status_code)
        if verdict == "ok":
            return SendResult(provider_id=response.headers.get("X-Request-Id"))
        error = TransientDeliveryError if verdict == "transient" else PermanentDeliveryError
        raise error(f"webhook {url} answered {response.status_code}: {response.text[:200]}")

    def lookup_at(self, address: str | None, idempotency_key: str) -> bool | None:
        """Whether the receiver at ``address`` took the message ``idempotency_key`` (a signed
        ``GET``); None when it cannot say.  Raises :class:`InDoubtDeliveryError` when the
        receiver did not answer (unreachable, 5xx): ask again later."""
        url = (address or "").strip()
        key = idempotency_key.encode()
        timestamp = int(self._clock())
        headers = {
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.secret, timestamp, key),
            "Idempotency-Key": idempotency_key,
        }
        try:
            response = self._client.get(url, headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            return None  # never sent either: a malformed address fails before sending
        except httpx.TransportError as exc:
            raise InDoubtDeliveryError(
                f"webhook {url} did not answer whether it took the message: "
                f"{exc or type(exc).__name__}"
            ) from exc
        if classify_status(response.status_code) == "transient":
            raise InDoubtDeliveryError(
                f"webhook {url} answered {response.status_code} when asked whether it took the "
                "message"
            )
        try:
            accepted = response.json().get("accepted") if response.is_success else None
        except (ValueError, AttributeError):
            return None
        return accepted if isinstance(accepted, bool) else None

    def close(self) -> None:
        self._client.close()


def _checked_url(message: OutboundMessage) -> str:
    url = (message.address or "").strip()
    try:
        parsed = httpx.URL(url)
        ok = parsed.scheme in ("http", "https") and bool(parsed.host)
    except httpx.InvalidURL:
        ok = False
    if not ok:
        raise PermanentDeliveryError(
            f"webhook URL {message.address!r} is malformed: expected http(s)://host/path; "
            f"fix the webhook address of subject {message.subject_id}"
        )
    return url
