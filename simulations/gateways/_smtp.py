"""An SMTP server stand-in (aiosmtpd) that keeps every message it accepts.

Beside it, on its own HTTP port, the relay's query by Message-ID that a worker in doubt asks
(``ZHIDA_SMTP_STATUS_URL``)::

    GET /status/<Message-ID, URL-quoted>   {"message_id": ..., "accepted": true|false, "count": N}
"""

from __future__ import annotations

import email
import email.policy
import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import unquote

from simulations.gateways._serving import HttpStandIn, QuietServer, StandIn

__all__ = ["SmtpReceipt", "SmtpSink"]


@dataclass(frozen=True)
class SmtpReceipt:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message_id: str | None
    subject: str
    body: str
    received_at: float


class SmtpSink(StandIn):
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts.

    ``failure_rate``: that share of messages is refused with ``451`` (try again later);
    ``hang_up_rate``: that share is accepted (kept) and then the connection is dropped before
    the final ``250``, as when the answer is lost on the way — the sender cannot know whether
    the message went out (``hung_up`` counts them); ``refuse``: recipients refused with
    ``550`` (no such mailbox, permanent).
    """

    def __init__(
        self,
        *,
        failure_rate: float = 0.0,
        hang_up_rate: float = 0.0,
        refuse: frozenset[str] = frozenset(),
        seed: int = 0,
        port: int = 0,
    ) -> None:
        self.failure_rate = failure_rate
        self.hang_up_rate = hang_up_rate
        self.hung_up = 0
        self.refuse = refuse
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._received: list[SmtpReceipt] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._controller: Any = None
        self._status = _StatusServer(self)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def status_url(self) -> str:
        """The query by Message-ID (``ZHIDA_SMTP_STATUS_URL``); add ``/<Message-ID>``."""
        return f"http://127.0.0.1:{self._status.port}/status"

    def start(self) -> Self:
        from aiosmtpd.controller import Controller

        sock = self._sock

        class _BoundController(Controller):
            # Serve on the socket bound in __init__: no free-port race, and port 0 works.
            def _create_server(self) -> Any:
                return self.loop.create_server(self._factory_invoker, sock=sock)

        self._controller = _BoundController(
            _SmtpHandler(self), hostname="127.0.0.1", port=self.port
        )
        self._controller.start()
        self._status.start()
        return self

    def stop(self) -> None:
        self._status.stop()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        self._sock.close()

    def received(self) -> list[SmtpReceipt]:
        with self._lock:
            return list(self._received)

    def accepted_counts(self) -> Counter[str | None]:
        """How many times each Message-ID was accepted (more than 1 is a double)."""
        return Counter(r.message_id for r in self.received())

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    def _accept(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> str | None:
        """Keep the message and give the answer; None: kept, and the answer is to be lost."""
        with self._lock:
            roll = self._random.random()
            if roll < self.failure_rate:
                return "451 4.3.0 simulated failure, try again later"
            parsed = email.message_from_bytes(content, policy=email.policy.default)
            body = parsed.get_body(preferencelist=("plain",))
            self._received.append(
                SmtpReceipt(
                    mail_from=mail_from,
                    rcpt_tos=tuple(rcpt_tos),
                    message_id=parsed["Message-ID"],
                    subject=str(parsed["Subject"] or ""),
                    body=body.get_content() if body is not None else "",
                    received_at=time.time(),
                )
            )
            if roll < self.failure_rate + self.hang_up_rate:
                self.hung_up += 1
                return None
        return "250 2.0.0 OK"


class _SmtpHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(  # noqa: N802 -- aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.sink.refuse:
            return f"550 5.1.1 <{address}>: no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 -- aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        content = envelope.original_content or envelope.content
        answer = self.sink._accept(envelope.mail_from, list(envelope.rcpt_tos), bytes(content))
        if answer is None:  # kept; the answer is lost: drop the connection before the 250
            server.transport.abort()
            return "421 4.4.2 connection dropped"  # written to a closed transport: never seen
        return answer


class _StatusServer(HttpStandIn):
    """``GET /status/<Message-ID>``: did the sink accept it, and how often."""

    def __init__(self, sink: SmtpSink) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path.startswith("/status/"):
                    mid = unquote(path.removeprefix("/status/"))
                    count = sink.accepted_counts()[mid]
                    status, payload = (
                        200,
                        {"message_id": mid, "accepted": count > 0, "count": count},
                    )
                else:
                    status, payload = 404, {"error": f"no such endpoint {self.path!r}"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = QuietServer(("127.0.0.1", 0), Handler)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])
