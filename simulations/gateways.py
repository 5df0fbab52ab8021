"""Stand-ins for the outside world's gateways: an HTTP SMS gateway and an SMTP server.

Both are real servers on 127.0.0.1 (threads of the process that starts them, or a process of
their own with ``python -m simulations.gateways``) that tests and the demo deliver to.  Like
real gateways they **de-duplicate nothing**: every request they accept is in their receipts,
so a test counts exactly-once delivery from what the far side saw, not from what the sender
believes.  They can be slow and can fail a configurable, seeded share of requests.

The SMS gateway's protocol (what :mod:`notifier.channels.sms_http` speaks)::

    POST /sms   Authorization: Bearer TOKEN      (when the gateway has a token)
                Idempotency-Key: KEY
                {"to": "+8613800000000", "text": "...", "sender": "..."}
      200 {"id": "gw-17"}        accepted
      400 {"error": "..."}       malformed request or phone number (retrying cannot help)
      401 {"error": "..."}       wrong or missing token
      429 {"error": "..."}       over the gateway's rate limit (``rate_limit``)
      503 {"error": "..."}       simulated failure (``failure_rate``)
    GET /status/KEY              {"key": KEY, "accepted": true|false, "count": N}: the
                                 delivery-status query by idempotency key
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

import contextlib
import email
import email.policy
import json
import random
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote

__all__ = [
    "Responses",
    "SmsGateway",
    "SmsReceipt",
    "SmtpReceipt",
    "SmtpSink",
    "StandIns",
    "WebhookReceipt",
    "WebhookReceiver",
    "main",
    "simulate_responses",
]

_PHONE = re.compile(r"^\+?[0-9]{6,15}$")


@dataclass(frozen=True)
class SmsReceipt:
    """One request the SMS gateway received, and the status it answered."""

    n: int
    to: str
    text: str
    sender: str | None
    idempotency_key: str | None
    status: int
    accepted: bool  # taken on (200, or taken on and then the answer lost)
    received_at: float  # time.time()


class SmsGateway:
    """An HTTP SMS gateway on 127.0.0.1 in a background thread.

        ``failure_rate``: that share of requests is answered ``failure_status`` (503) without
        being accepted.  ``lost_answer_rate``: that share is accepted (counted) and *then* answered
        500, as when a gateway's answer is lost — the sender cannot know, and a retry is a double
        unless someone de-duplicates.  ``delay``: seconds to wait before answering (a slow
        gateway; beyond the client's timeout, a timeout).  ``refuse``: numbers answered 400 (no
        such subscriber).  ``rate_limit``: messages per second (burst: one second's worth) beyond
    which requests are answered 429, as a real gateway polices its clients.  All may be changed
    while it runs.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        failure_rate: float = 0.0,
        failure_status: int = 503,
        lost_answer_rate: float = 0.0,
        delay: float = 0.0,
        refuse: frozenset[str] = frozenset(),
        rate_limit: float | None = None,
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
        self.delay = delay
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._received: list[SmsReceipt] = []
        self._server = _QuietServer(("127.0.0.1", port), _handler(self))
        self._thread: threading.Thread | None = None

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

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns within 50 ms
            name=f"sms-gateway-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

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
            else:
                status, accepted = 200, True
            n = len(self._received) + 1
            key = headers.get("Idempotency-Key")
            self._received.append(
                SmsReceipt(n, to, text, sender, key, status, accepted, time.time())
            )
        if status == 200:
            return 200, {"id": f"gw-{n}"}
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


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is what a slow gateway is for, not news.
        pass


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
            self._reply(*gateway._answer(body, self.headers))

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path.startswith("/status/"):
                key = unquote(path.removeprefix("/status/"))
                count = gateway.accepted_counts()[key]
                self._reply(200, {"key": key, "accepted": count > 0, "count": count})
            elif path == "/received":
                self._reply(200, [asdict(r) for r in gateway.received()])
            else:
                self._reply(404, {"error": f"no such endpoint {self.path!r}"})

        def do_DELETE(self) -> None:
            gateway.clear()
            self._reply(200, {"cleared": True})

    return Handler


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpReceipt:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message_id: str | None
    subject: str
    body: str
    received_at: float


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts.

    ``failure_rate``: that share of messages is refused with ``451`` (try again later);
    ``refuse``: recipients refused with ``550`` (no such mailbox, permanent).
    """

    def __init__(
        self,
        *,
        failure_rate: float = 0.0,
        refuse: frozenset[str] = frozenset(),
        seed: int = 0,
        port: int = 0,
    ) -> None:
        self.failure_rate = failure_rate
        self.refuse = refuse
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._received: list[SmtpReceipt] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._controller: Any = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

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
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def received(self) -> list[SmtpReceipt]:
        with self._lock:
            return list(self._received)

    def accepted_counts(self) -> Counter[str | None]:
        """How many times each Message-ID was accepted (more than 1 is a double)."""
        return Counter(r.message_id for r in self.received())

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    def _accept(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> str:
        with self._lock:
            if self.failure_rate and self._random.random() < self.failure_rate:
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
        return self.sink._accept(envelope.mail_from, list(envelope.rcpt_tos), bytes(content))


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookReceipt:
    """One webhook request the receiver took on (its signature checked out)."""

    idempotency_key: str | None
    document: dict[str, Any]
    received_at: float


class WebhookReceiver:
    """A department system's webhook endpoint on 127.0.0.1: checks the signature, keeps the rest.

    It verifies every request with :func:`notifier.channels.webhook.verify` against ``secret``;
    a bad or stale signature is answered 401 and not kept (``refused`` counts them).
    ``failure_rate``: that share of good requests is answered 503 without being kept.
    """

    def __init__(self, secret: str, *, failure_rate: float = 0.0, seed: int = 0) -> None:
        self.secret = secret.encode()
        self.failure_rate = failure_rate
        self.refused: list[str] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._received: list[WebhookReceipt] = []
        self._server = _QuietServer(("127.0.0.1", 0), _webhook_handler(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def received(self) -> list[WebhookReceipt]:
        with self._lock:
            return list(self._received)

    def _answer(self, body: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
        from notifier.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

        try:
            verify(
                self.secret,
                body,
                timestamp=headers.get(TIMESTAMP_HEADER),
                signature=headers.get(SIGNATURE_HEADER),
                now=time.time(),
            )
        except ValueError as exc:
            with self._lock:
                self.refused.append(str(exc))
            return 401, {"error": str(exc)}
        with self._lock:
            if self.failure_rate and self._random.random() < self.failure_rate:
                return 503, {"error": "simulated failure"}
            self._received.append(
                WebhookReceipt(headers.get("Idempotency-Key"), json.loads(body), time.time())
            )
        return 200, {"ok": True}


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
            data = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


# ---------------------------------------------------------------------------------------------


class StandIns:
    """The SMS gateway, the SMTP server and a webhook receiver, started and stopped together.

    :meth:`env` gives the ``ZHIDA_*`` settings that point the channels at them;
    :meth:`summary` counts what each far side saw — requests, accepted, refused, and doubles
    (a key accepted more than once), which a correct delivery run keeps at zero.
    """

    def __init__(
        self,
        *,
        sms_failure_rate: float = 0.0,
        smtp_failure_rate: float = 0.0,
        seed: int = 0,
        token: str = "stand-in-token",
        webhook_secret: str = "stand-in-secret",
    ) -> None:
        self.token = token
        self.webhook_secret = webhook_secret
        self.sms = SmsGateway(token=token, failure_rate=sms_failure_rate, seed=seed)
        self.smtp = SmtpSink(failure_rate=smtp_failure_rate, seed=seed)
        self.webhook = WebhookReceiver(webhook_secret, seed=seed)

    def __enter__(self) -> Self:
        self.sms.start()
        try:
            self.smtp.start()
            self.webhook.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        for server in (self.webhook, self.smtp, self.sms):
            with contextlib.suppress(OSError, RuntimeError):  # never started, already stopped
                server.stop()

    def env(self) -> dict[str, str]:
        """The settings that send SMS, e-mail and webhooks to the stand-ins."""
        return {
            "ZHIDA_SMS_GATEWAY_URL": self.sms.url,
            "ZHIDA_SMS_GATEWAY_TOKEN": self.token,
            "ZHIDA_SMS_STATUS_URL": self.sms.status_url,
            "ZHIDA_SMTP_HOST": self.smtp.host,
            "ZHIDA_SMTP_PORT": str(self.smtp.port),
            "ZHIDA_WEBHOOK_SECRET": self.webhook_secret,
        }

    def summary(self) -> dict[str, dict[str, int]]:
        """What each far side saw."""
        sms = self.sms.received()
        sms_keys = self.sms.accepted_counts()
        mail_keys = self.smtp.accepted_counts()
        hooks = Counter(r.idempotency_key for r in self.webhook.received())
        return {
            "sms": {
                "requests": len(sms),
                "accepted": sum(sms_keys.values()),
                "refused": sum(1 for r in sms if not r.accepted),
                "doubles": sum(n - 1 for n in sms_keys.values() if n > 1),
            },
            "email": {
                "accepted": sum(mail_keys.values()),
                "doubles": sum(n - 1 for n in mail_keys.values() if n > 1),
            },
            "webhook": {
                "accepted": sum(hooks.values()),
                "refused": len(self.webhook.refused),
                "doubles": sum(n - 1 for n in hooks.values() if n > 1),
            },
        }


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Responses:
    """Shares of delivered messages people respond to, by what they do (seeded draws)."""

    read: float = 0.6  # opens the message (inbox: marks it read)
    click: float = 0.5  # of those who read, follows the link
    apply: float = 0.35  # of those who clicked, applies (invitations only)
    complain: float = 0.02  # of all, complains about being contacted
    rate: float = 0.2  # of those who read, rates the message 好 or 差
    good: float = 0.8  # of the ratings, 好


def simulate_responses(
    engine: Any, *, seed: int = 0, shares: Responses | None = None, now: datetime | None = None
) -> dict[str, int]:
    """People at the other end respond to what was delivered: receipts for the outcome log.

    Every ``delivered`` receipt without a response yet gets seeded draws — read (an inbox
    message is marked read through the message centre), clicked, applied, complained, rated
    好/差 — recorded as receipts.  Returns the receipts recorded, by event.  Called again, it
    gives those still silent another chance (a later day); those who responded are left alone.
    The shares are the same for every message (the behaviour model in
    :mod:`simulations.behaviour` is the place for propensities that depend on the person and
    the policy).
    """
    import sqlalchemy as sa

    from notifier.channels.inbox import InboxStore, inbox_messages
    from notifier.receipts import Receipt, ReceiptStore, delivery_receipts

    shares = shares or Responses()
    rng = random.Random(seed)
    at = now or datetime.now(UTC)
    r = delivery_receipts.c
    with engine.connect() as conn:
        answered = (
            sa.select(sa.literal(1))
            .select_from(delivery_receipts.alias("later"))
            .where(
                sa.literal_column("later.message_key") == r.message_key,
                sa.literal_column("later.policy_id") == r.policy_id,
                sa.literal_column("later.event") != "delivered",
            )
        )
        delivered = conn.execute(
            sa.select(r.message_key, r.subject_id, r.subject_type, r.policy_id, r.channel)
            .where(r.event == "delivered", ~sa.exists(answered))
            .order_by(r.id)
        ).all()
        inbox_ids = dict(
            conn.execute(sa.select(inbox_messages.c.idempotency_key, inbox_messages.c.id)).all()
        )
    inbox_reads: list[int] = []
    receipts: list[Receipt] = []
    counts: Counter[str] = Counter()
    for key, subject, subject_type, policy, channel in delivered:
        events: list[tuple[str, str | None]] = []
        read = rng.random() < shares.read
        if read:
            events.append(("read", None))
            if rng.random() < shares.click:
                events.append(("clicked", None))
                if rng.random() < shares.apply:
                    events.append(("applied", None))
            if rng.random() < shares.rate:
                events.append(("rated", "good" if rng.random() < shares.good else "bad"))
        if rng.random() < shares.complain:
            events.append(("complained", None))
        for event, rating in events:
            counts[event if event != "rated" else f"rated_{rating}"] += 1
            if event == "read" and channel == "inbox" and key in inbox_ids:
                inbox_reads.append(inbox_ids[key])  # read in the message centre
                continue
            receipts.append(
                Receipt(key, subject, subject_type, policy, event, at, channel=channel,
                        rating=rating)
            )  # fmt: skip
    InboxStore(engine).mark_many_read(inbox_reads, at=at)
    ReceiptStore(engine).record(*receipts, now=at)
    return dict(counts)


def main(argv: list[str] | None = None) -> None:
    """Run both stand-ins in this process until interrupted; print their addresses as JSON."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m simulations.gateways", description=main.__doc__
    )
    parser.add_argument("--sms-port", type=int, default=0)
    parser.add_argument("--smtp-port", type=int, default=0)
    parser.add_argument("--token", default=None, help="bearer token the SMS gateway requires")
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    sms = SmsGateway(
        token=args.token, failure_rate=args.failure_rate, delay=args.delay, port=args.sms_port
    )
    smtp = SmtpSink(failure_rate=args.failure_rate, port=args.smtp_port)
    with sms, smtp:
        print(
            json.dumps({"sms_url": sms.url, "smtp_host": smtp.host, "smtp_port": smtp.port}),
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
