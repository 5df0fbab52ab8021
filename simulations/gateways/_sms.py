"""An HTTP SMS gateway stand-in.

The SMS gateway's protocol (what :mod:`notifier.channels.sms_http` speaks)::

    POST /sms   Authorization: Bearer TOKEN      (when the gateway has a token)
                Idempotency-Key: KEY
                {"to": "+8613800000000", "text": "...", "sender": "..."}
      200 {"id": "gw-17"}        accepted
      400 {"error": "..."}       malformed request or phone number (retrying cannot help)
      401 {"error": "..."}       wrong or missing token
      429 {"error": "..."}       over the gateway's rate limit (``rate_limit``)
      503 {"error": "..."}       simulated failure (``failure_rate``)
      (no answer)                accepted, then the connection is closed (``hang_up_rate``)
    GET /status/KEY              {"key": KEY, "accepted": true|false, "count": N}: the
                                 delivery-status query by idempotency key
    GET /reports?after=N         {"reports": [{"seq", "id", "key", "to", "status", "at",
                                 "detail"}], "next": M}: delivery reports (reached the
                                 handset: "delivered", or "failed") of messages taken after
                                 report N, ``report_delay`` seconds after each was taken
    GET /received                every request as JSON, with the status it was answered with
    DELETE /received             forget them

>>> with SmsGateway(token="t") as gw:
...     import httpx
...     r = httpx.post(gw.url, json={"to": "+8613800000000", "text": "hi"},
...                    headers={"Authorization": "Bearer t", "Idempotency-Key": "k"})
...     r.status_code, [x.idempotency_key for x in gw.accepted()]
(200, ['k'])
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from simulations.gateways._serving import HttpStandIn, QuietServer

__all__ = ["SmsGateway", "SmsReceipt"]

_PHONE = re.compile(r"^\+?[0-9]{6,15}$")


@dataclass(frozen=True)
class SmsReceipt:
    """One request the SMS gateway received, and the status it answered."""

    n: int
    to: str
    text: str
    sender: str | None
    idempotency_key: str | None
    status: int  # 0: taken on and then hung up without an answer
    accepted: bool  # taken on (200, or taken on and then the answer lost)
    received_at: float  # time.time()
    reaches: bool = True  # an accepted message reaches the handset (its delivery report)


class SmsGateway(HttpStandIn):
    """An HTTP SMS gateway on 127.0.0.1 in a background thread.

    ``failure_rate``: that share of requests is answered ``failure_status`` (503) without being
    accepted.  ``lost_answer_rate``: that share is accepted (counted) and *then* answered 500,
    as when a gateway errs after taking a message — a retry is a double unless someone
    de-duplicates.  ``hang_up_rate``: that share is accepted (counted) and then the connection
    is closed without an answer, as when the answer is lost on the way — the sender sees the
    connection break and cannot know whether the message went out (it is in doubt).
    ``delay``: seconds to wait before answering (a slow gateway; beyond the client's timeout, a
    timeout).  ``refuse``: numbers answered 400 (no such subscriber).  ``rate_limit``: messages
    per second (burst: one second's worth) beyond which requests are answered 429, as a real
    gateway polices its clients.  ``undeliverable_rate``: that share of accepted messages never
    reaches the handset (phone off, number out of service) and is reported ``failed``;
    ``report_delay``: seconds from taking a message to its delivery report.  All may be changed
    while it runs.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        failure_rate: float = 0.0,
        failure_status: int = 503,
        lost_answer_rate: float = 0.0,
        hang_up_rate: float = 0.0,
        delay: float = 0.0,
        refuse: frozenset[str] = frozenset(),
        rate_limit: float | None = None,
        undeliverable_rate: float = 0.0,
        report_delay: float = 0.0,
        seed: int = 0,
        port: int = 0,
    ) -> None:
        self.token = token
        self.refuse = refuse
        self.rate_limit = rate_limit
        self._bucket: Any = None
        self.failure_rate = failure_rate
        self.failure_status = failure_status
        self.lost_answer_rate = lost_answer_rate
        self.hang_up_rate = hang_up_rate
        self.delay = delay
        self.undeliverable_rate = undeliverable_rate
        self.report_delay = report_delay
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._received: list[SmsReceipt] = []
        self._server = QuietServer(("127.0.0.1", port), _handler(self))

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The URL to POST messages to (``ZHIDA_SMS_GATEWAY_URL``)."""
        return f"http://127.0.0.1:{self.port}/sms"

    @property
    def status_url(self) -> str:
        """The delivery-status query's base URL (``ZHIDA_SMS_STATUS_URL``); add ``/KEY``."""
        return f"http://127.0.0.1:{self.port}/status"

    @property
    def reports_url(self) -> str:
        """The delivery reports to poll (``ZHIDA_SMS_REPORTS_URL``)."""
        return f"http://127.0.0.1:{self.port}/reports"

    def reports(self, after: int = 0, *, now: float | None = None) -> dict[str, Any]:
        """The delivery reports of messages taken after request ``after`` whose report is due.

        Reports come in the order messages were taken and are due in that order, so ``next``
        never skips one still to come.
        """
        due = (time.time() if now is None else now) - self.report_delay
        out = [
            {"seq": r.n, "id": f"gw-{r.n}", "key": r.idempotency_key, "to": r.to,
             "status": "delivered" if r.reaches else "failed",
             "at": r.received_at + self.report_delay,
             "detail": None if r.reaches else "handset unreachable"}
            for r in self.accepted()
            if r.n > after and r.received_at <= due
        ]  # fmt: skip
        return {"reports": out, "next": out[-1]["seq"] if out else after}

    # -- receipts -------------------------------------------------------------------------

    def received(self) -> list[SmsReceipt]:
        """Every request, in arrival order, with the status it was answered."""
        with self._lock:
            return list(self._received)

    def accepted(self) -> list[SmsReceipt]:
        """The messages the gateway took on (answered 200, or accepted and the answer lost)."""
        return [r for r in self.received() if r.accepted]

    def accepted_counts(self) -> Counter[str | None]:
        """How many times each idempotency key was accepted (more than 1 is a double)."""
        return Counter(r.idempotency_key for r in self.accepted())

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    # -- the decision for one request (called by the handler thread) --------------------------

    def _answer(self, body: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
        if self.delay:
            time.sleep(self.delay)
        if self.token is not None and headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "missing or wrong bearer token"}
        try:
            payload = json.loads(body)
            to, text = str(payload["to"]), str(payload["text"])
            sender = payload.get("sender")
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "expected a JSON object with 'to' and 'text'"}
        if not _PHONE.match(to):
            return 400, {"error": f"'to' is not a phone number: {to!r}"}
        if to in self.refuse:
            return 400, {"error": f"no such subscriber: {to}"}
        with self._lock:
            roll = self._random.random()
            if self._over_rate():
                status, accepted = 429, False
            elif roll < self.failure_rate:
                status, accepted = self.failure_status, False
            elif roll < self.failure_rate + self.lost_answer_rate:
                status, accepted = 500, True
            elif roll < self.failure_rate + self.lost_answer_rate + self.hang_up_rate:
                status, accepted = 0, True  # taken on; the handler hangs up
            else:
                status, accepted = 200, True
            reaches = not accepted or self._random.random() >= self.undeliverable_rate
            n = len(self._received) + 1
            key = headers.get("Idempotency-Key")
            self._received.append(
                SmsReceipt(n, to, text, sender, key, status, accepted, time.time(), reaches)
            )
        if status == 200:
            return 200, {"id": f"gw-{n}"}
        if status == 0:
            return 0, {}
        if status == 429:
            return 429, {"error": f"more than {self.rate_limit:g} messages per second"}
        return status, {"error": "simulated gateway failure"}

    def _over_rate(self) -> bool:
        """Whether this request exceeds the gateway's own rate limit (under the lock)."""
        if self.rate_limit is None:
            return False
        from notifier.ratelimit import Rate, take

        self._bucket, wait = take(self._bucket, Rate(self.rate_limit), time.monotonic())
        return wait > 0


def _handler(gateway: SmsGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle's algorithm and the
            # client's delayed ACK hold every answer back ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and the demo read the receipts instead

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?")[0] != "/sms":
                self._reply(404, {"error": f"no such endpoint {self.path!r}; POST to /sms"})
                return
            status, answer = gateway._answer(body, self.headers)
            if status == 0:  # the answer is lost: close the connection without one
                self.close_connection = True
                return
            self._reply(status, answer)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path.startswith("/status/"):
                key = unquote(path.removeprefix("/status/"))
                count = gateway.accepted_counts()[key]
                self._reply(200, {"key": key, "accepted": count > 0, "count": count})
            elif path == "/reports":
                query = parse_qs(urlsplit(self.path).query)
                try:
                    after = int((query.get("after") or ["0"])[0])
                except ValueError:
                    self._reply(400, {"error": "'after' is not a whole number"})
                    return
                self._reply(200, gateway.reports(after))
            elif path == "/received":
                self._reply(200, [asdict(r) for r in gateway.received()])
            else:
                self._reply(404, {"error": f"no such endpoint {self.path!r}"})

        def do_DELETE(self) -> None:
            gateway.clear()
            self._reply(200, {"cleared": True})

    return Handler
