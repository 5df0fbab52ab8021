"""SMS through an HTTP gateway (the protocol of :mod:`simulations.gateways`).

``POST URL`` with ``{"to", "text", "sender"}`` as JSON, the gateway's bearer token, and the
message's idempotency key as the ``Idempotency-Key`` header, so a gateway that de-duplicates
can drop a retry whose first answer was lost.  How failures are classified:

| what happened                                   | error                      |
|-------------------------------------------------|----------------------------|
| connection refused, connect or pool timeout, 5xx | transient: retry later    |
| answer timed out, connection broke mid-request  | in doubt: look up, then retry |
| 408 (timeout), 429 (rate limited)               | transient                  |
| any other 4xx (bad number, bad token, ...)      | permanent, with the answer |
| no phone number on the message                  | permanent                  |

With a status URL (``ZHIDA_SMS_STATUS_URL``), :meth:`SmsHttpChannel.lookup` asks the gateway
whether it already took a message, so a worker that died mid-send can record it as delivered
instead of sending it twice.  With a reports URL (``ZHIDA_SMS_REPORTS_URL``),
:meth:`SmsHttpChannel.reports` polls the gateway's delivery reports (did the message reach the
handset), as Aliyun's QuerySendDetails or Tencent's PullSmsSendStatus do::

    GET REPORTS_URL?after=N
      {"reports": [{"seq", "id", "key", "status", "at", "detail"}, ...], "next": M}

>>> classify_status(503), classify_status(429), classify_status(400), classify_status(200)
('transient', 'transient', 'permanent', 'ok')
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote

import httpx

from core.errors import ConfigurationError
from notifier.channels.base import (
    DeliveryReport,
    InDoubtDeliveryError,
    OutboundMessage,
    PermanentDeliveryError,
    SendResult,
    TransientDeliveryError,
)

__all__ = ["SmsHttpChannel", "classify_status", "transport_failure"]

_PHONE = re.compile(r"^\+?[0-9]{6,15}$")


def classify_status(status: int) -> Literal["ok", "transient", "permanent"]:
    """What an HTTP status from a gateway means for the message."""
    if 200 <= status < 300:
        return "ok"
    if status >= 500 or status in (408, 425, 429):
        return "transient"
    return "permanent"


def transport_failure(exc: httpx.TransportError, what: str) -> TransientDeliveryError:
    """The error for a request that failed on the way: plain transient when it never left
    (refused, no connection in time), in doubt when it may have arrived (the answer timed out,
    the connection broke after the request was written) — the far side may have taken it, so
    the next attempt asks (``lookup``) before sending again.

    >>> type(transport_failure(httpx.ConnectError("refused"), "gw")).__name__
    'TransientDeliveryError'
    >>> type(transport_failure(httpx.ReadTimeout("slow"), "gw")).__name__
    'InDoubtDeliveryError'
    """
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransientDeliveryError(f"{what} cannot be reached: {exc or type(exc).__name__}")
    if isinstance(exc, httpx.TimeoutException):
        return InDoubtDeliveryError(f"{what} did not answer in time ({type(exc).__name__})")
    return InDoubtDeliveryError(f"{what} broke off mid-request: {exc or type(exc).__name__}")


class SmsHttpChannel:
    """Sends each message as one request to the gateway; the client is shared by threads."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        sender: str | None = None,
        timeout: float = 10.0,
        status_url: str | None = None,
        reports_url: str | None = None,
        name: str = "sms",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.status_url = status_url.rstrip("/") if status_url else None
        self.reports_url = reports_url
        self._after = 0  # the last delivery report taken (each process polls for itself)
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = httpx.URL("")
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigurationError(
                f"SMS gateway URL {url!r} is not an http(s) URL; set ZHIDA_SMS_GATEWAY_URL to "
                "e.g. 'https://sms.example.gov.cn/send'"
            )
        self.sender = sender
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)
        # The longest one send can take (connect, write and read each up to ``timeout``):
        # the worker's lease is renewed for at least this long before sending.
        self.send_budget = 3 * timeout + 1.0

    def send(self, message: OutboundMessage) -> SendResult:
        to = (message.address or "").replace(" ", "").replace("-", "")
        if not _PHONE.match(to):
            raise PermanentDeliveryError(
                f"sms: {message.address!r} is not a phone number (expected digits, optionally "
                f"with a leading +); fix the contact of subject {message.subject_id}"
            )
        payload = {"to": to, "text": message.body}
        if self.sender:
            payload["sender"] = self.sender
        try:
            response = self._client.post(
                self.url, json=payload, headers={"Idempotency-Key": message.idempotency_key}
            )
        except httpx.TransportError as exc:
            raise transport_failure(exc, f"sms gateway {self.url}") from exc
        verdict = classify_status(response.status_code)
        if verdict == "ok":
            try:
                provider_id = response.json().get("id")
            except (ValueError, AttributeError):
                provider_id = None
            return SendResult(provider_id=None if provider_id is None else str(provider_id))
        answer = response.text[:200]
        error = TransientDeliveryError if verdict == "transient" else PermanentDeliveryError
        raise error(f"sms gateway {self.url} answered {response.status_code}: {answer}")

    def lookup(self, idempotency_key: str) -> bool | None:
        """Whether the gateway already took the message (``GET STATUS_URL/KEY``).

        None when there is no status URL or no clear answer: the worker in doubt then sends
        again (at least once) rather than lose the message.
        """
        if self.status_url is None:
            return None
        try:
            response = self._client.get(f"{self.status_url}/{quote(idempotency_key, safe='')}")
            if response.status_code == 404:
                return False
            accepted = response.json().get("accepted") if response.is_success else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return accepted if isinstance(accepted, bool) else None

    def reports(self) -> list[DeliveryReport]:
        """The delivery reports since the last poll (none without a reports URL).

        A failed poll raises :class:`TransientDeliveryError` and the next one asks again from
        the same place; recording reports is idempotent, so asking twice is harmless.
        """
        if self.reports_url is None:
            return []
        try:
            response = self._client.get(self.reports_url, params={"after": self._after})
            response.raise_for_status()
            answer = response.json()
            found = [
                DeliveryReport(
                    idempotency_key=str(r["key"]),
                    status="delivered" if r["status"] == "delivered" else "failed",
                    at=datetime.fromtimestamp(float(r["at"]), UTC),
                    provider_id=None if r.get("id") is None else str(r["id"]),
                    detail=r.get("detail"),
                )
                for r in answer["reports"]
            ]
            after = int(answer["next"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise TransientDeliveryError(
                f"sms gateway reports {self.reports_url} cannot be read: {exc}"
            ) from exc
        self._after = max(self._after, after)
        return found

    def close(self) -> None:
        self._client.close()
