"""A department system's webhook endpoint stand-in: checks the signature, keeps the rest.

``POST /hook`` delivers (signed as :mod:`notifier.channels.webhook` says); ``GET /hook`` with
``Idempotency-Key`` and the headers signed over the key answers whether that message was taken
(``{"key", "accepted", "count"}``), the question a sender in doubt asks.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from simulations.gateways._serving import HttpStandIn, QuietServer

__all__ = ["WebhookReceipt", "WebhookReceiver"]


@dataclass(frozen=True)
class WebhookReceipt:
    """One webhook request the receiver took on (its signature checked out)."""

    idempotency_key: str | None
    document: dict[str, Any]
    received_at: float


class WebhookReceiver(HttpStandIn):
    """A department system's webhook endpoint on 127.0.0.1: checks the signature, keeps the rest.

    It verifies every request with :func:`notifier.channels.webhook.verify` against ``secret``;
    a bad or stale signature is answered 401 and not kept (``refused`` counts them).
    ``failure_rate``: that share of good requests is answered 503 without being kept;
    ``hang_up_rate``: that share is kept and then the connection is closed without an answer
    (the answer lost on the way: the sender is in doubt; ``hung_up`` counts them).
    """

    def __init__(
        self, secret: str, *, failure_rate: float = 0.0, hang_up_rate: float = 0.0, seed: int = 0
    ) -> None:
        self.secret = secret.encode()
        self.failure_rate = failure_rate
        self.hang_up_rate = hang_up_rate
        self.hung_up = 0
        self.refused: list[str] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._received: list[WebhookReceipt] = []
        self._server = QuietServer(("127.0.0.1", 0), _webhook_handler(self))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def received(self) -> list[WebhookReceipt]:
        with self._lock:
            return list(self._received)

    def accepted_counts(self) -> Counter[str | None]:
        """How many times each idempotency key was taken (more than 1 is a double)."""
        return Counter(r.idempotency_key for r in self.received())

    def _refusal(self, signed: bytes, headers: Any) -> tuple[int, dict[str, Any]] | None:
        from notifier.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

        try:
            verify(
                self.secret,
                signed,
                timestamp=headers.get(TIMESTAMP_HEADER),
                signature=headers.get(SIGNATURE_HEADER),
                now=time.time(),
            )
        except ValueError as exc:
            with self._lock:
                self.refused.append(str(exc))
            return 401, {"error": str(exc)}
        return None

    def _answer(self, body: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
        """The answer to a delivery; status 0: taken, and the answer is to be lost."""
        refusal = self._refusal(body, headers)
        if refusal is not None:
            return refusal
        with self._lock:
            roll = self._random.random()
            if roll < self.failure_rate:
                return 503, {"error": "simulated failure"}
            self._received.append(
                WebhookReceipt(headers.get("Idempotency-Key"), json.loads(body), time.time())
            )
            if roll < self.failure_rate + self.hang_up_rate:
                self.hung_up += 1
                return 0, {}
        return 200, {"ok": True}

    def _status(self, headers: Any) -> tuple[int, dict[str, Any]]:
        """Whether the message ``Idempotency-Key`` was taken (the request signed over the key)."""
        key = headers.get("Idempotency-Key") or ""
        refusal = self._refusal(key.encode(), headers)
        if refusal is not None:
            return refusal
        count = self.accepted_counts()[key]
        return 200, {"key": key, "accepted": count > 0, "count": count}


def _webhook_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = receiver._answer(body, self.headers)
            if status == 0:  # the answer is lost: close the connection without one
                self.close_connection = True
                return
            self._reply(status, answer)

        def do_GET(self) -> None:
            self._reply(*receiver._status(self.headers))

        def _reply(self, status: int, answer: dict[str, Any]) -> None:
            data = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
