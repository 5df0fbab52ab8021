"""E-mail over SMTP (smtplib), with the idempotency key as the Message-ID.

A retried message carries the same Message-ID as the first try, so a mail system (or a test
counting the SMTP server's receipts) can recognise a double.

In doubt — a worker died during an attempt, so nobody knows whether the server took the
message — SMTP itself cannot be asked.  With ``ZHIDA_SMTP_STATUS_URL`` (the relay's, or its
provider's, query by Message-ID: ``GET URL/<Message-ID>`` -> ``{"accepted": bool}``, which
relays that log Message-IDs can answer) :meth:`SmtpChannel.lookup` asks, and a message taken is
recorded as delivered, one not taken is sent.  Without it the channel is at most once
(``in_doubt = "park"``): the row is parked with the reason, and an operator's replay sends it
again under the same Message-ID.  Each worker thread keeps its
own connection and checks it with ``NOOP`` before use; a message is handed over at most once
per :meth:`SmtpChannel.send` — a dropped connection is reopened *before* sending, never by
sending again.  (``NOOP`` is skipped for a connection used less than ``idle_check`` seconds ago;
if the server closed it anyway, the send fails transiently before the message was taken.)

Once the message's content has gone out (after the server's ``354``), a timeout or a dropped
connection while waiting for the final answer leaves it **in doubt**: the server may have taken
it (RFC 1047's duplicate-message problem), so the next attempt asks before sending again —
treating it as a plain transient failure is how one Message-ID came to be delivered twice.

| what happened                                          | error                  |
|--------------------------------------------------------|------------------------|
| connection refused, timeout, server disconnected       | transient              |
| ... after the message's content went out (no answer)   | in doubt: look up      |
| a 4xx answer (451 try again later, 421 closing, ...)   | transient              |
| a 5xx answer (550 no such mailbox, 554 rejected, ...)  | permanent, with it     |
| no e-mail address on the message                       | permanent              |

>>> message_id("a1b2-c3", "zhida.local")
'<a1b2-c3@zhida.local>'
>>> message_id("subject 7/policy x", "zhida.local")  # not a dot-atom: hashed, still stable
'<k-b5d019e8eb02d3a49d10ffcebe1c9fa1@zhida.local>'
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Final
from urllib.parse import quote

import httpx

from notifier.channels.base import (
    InDoubtDeliveryError,
    OutboundMessage,
    PermanentDeliveryError,
    SendResult,
    TransientDeliveryError,
)

__all__ = ["SmtpChannel", "message_id"]

_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def message_id(key: str, domain: str) -> str:
    """The Message-ID for an idempotency key: the key itself where RFC 5322 allows it."""
    local = key if _ATOM.match(key) and len(key) <= 64 else ""
    if not local:
        local = "k-" + hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{local}@{domain}>"


class _Session(smtplib.SMTP):
    """smtplib's session, knowing whether a message's content has begun to go out (after the
    server's ``354``): from then on a missing answer leaves the message in doubt."""

    content_sent = False
    _in_data = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def send(self, s: Any) -> None:
        # Within DATA, the command goes out as str and the content (after 354) as bytes.
        if self._in_data and isinstance(s, bytes | bytearray):
            self.content_sent = True
        super().send(s)


class SmtpChannel:
    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        mail_from: str = "noreply@zhida.local",
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
        idle_check: float = 5.0,
        status_url: str | None = None,
        name: str = "email",
    ) -> None:
        self.name = name
        self.status_url = status_url.rstrip("/") if status_url else None
        self.host, self.port = host, port
        self.mail_from = mail_from
        self.domain = mail_from.rpartition("@")[2] or "zhida.local"
        self.user, self.password, self.starttls = user, password, starttls
        self.timeout = timeout
        # Connect, EHLO, (STARTTLS, login,) MAIL, RCPT, DATA: each may wait up to ``timeout``;
        # the worker's lease is renewed for at least this long before sending.
        self.send_budget = 6 * timeout + 1.0
        self.idle_check = idle_check
        self._local = threading.local()
        self._open: set[smtplib.SMTP] = set()  # every thread's connection, for close()
        self._lock = threading.Lock()

    def _connection(self) -> _Session:
        smtp: _Session | None = getattr(self._local, "smtp", None)
        if smtp is not None:
            # A connection used moments ago is alive; one idle longer may have been closed by
            # the server, so it is checked (one round trip) before it carries a message.
            if time.monotonic() - self._local.used < self.idle_check:
                return smtp
            try:
                if smtp.noop()[0] == 250:
                    return smtp
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        smtp = _Session(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self._local.smtp = smtp
        self._local.used = time.monotonic()
        with self._lock:
            self._open.add(smtp)
        return smtp

    def _drop(self) -> None:
        smtp: smtplib.SMTP | None = getattr(self._local, "smtp", None)
        self._local.smtp = None
        if smtp is not None:
            with self._lock:
                self._open.discard(smtp)
            with contextlib.suppress(OSError):
                smtp.close()

    def compose(self, message: OutboundMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.mail_from
        mail["To"] = message.address or ""
        mail["Subject"] = message.title
        mail["Message-ID"] = message_id(message.idempotency_key, self.domain)
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Content-Language"] = "zh-CN" if message.locale == "zh" else "en"
        mail.set_content(message.body)
        return mail

    def send(self, message: OutboundMessage) -> SendResult:
        address = (message.address or "").strip()
        if not _ADDRESS.match(address):
            raise PermanentDeliveryError(
                f"email: {message.address!r} is not an e-mail address (expected name@domain); "
                f"fix the contact of subject {message.subject_id}"
            )
        mail = self.compose(message)
        where = f"SMTP server {self.host}:{self.port}"
        session: _Session | None = None
        try:
            session = self._connection()
            session.content_sent = False
            session.send_message(mail)
            self._local.used = time.monotonic()
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            code, answer = next(iter(exc.recipients.values()))
            raise _by_code(code, f"{where} refused {address}: {code} {_text(answer)}") from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _by_code(
                exc.smtp_code, f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            self._drop()
            raise PermanentDeliveryError(f"{where}: {exc}; check ZHIDA_SMTP_STARTTLS") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            if session is not None and session.content_sent:
                raise InDoubtDeliveryError(
                    f"{where} did not answer after taking the content of {mail['Message-ID']}: "
                    f"{exc or type(exc).__name__}"
                ) from exc
            raise TransientDeliveryError(
                f"{where} cannot be reached or hung up: {exc or type(exc).__name__}"
            ) from exc
        return SendResult(provider_id=mail["Message-ID"])

    # An attempt in doubt that lookup cannot settle is parked, never sent again.
    in_doubt: Final = "park"
    doubt_hint: Final = "set ZHIDA_SMTP_STATUS_URL so the relay can be asked"

    def lookup(self, idempotency_key: str) -> bool | None:
        """Whether the relay took the message (``GET STATUS_URL/<Message-ID>``); None when
        there is no status URL or no clear answer."""
        if self.status_url is None:
            return None
        mid = message_id(idempotency_key, self.domain)
        try:
            response = httpx.get(f"{self.status_url}/{quote(mid, safe='')}", timeout=self.timeout)
            if response.status_code == 404:
                return False
            accepted = response.json().get("accepted") if response.is_success else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return accepted if isinstance(accepted, bool) else None

    def close(self) -> None:
        """Close every thread's connection (a thread's next send opens a new one)."""
        with self._lock:
            connections, self._open = self._open, set()
        for smtp in connections:
            with contextlib.suppress(OSError):
                smtp.close()
        self._local = threading.local()


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else answer


def _by_code(code: int, reason: str) -> TransientDeliveryError | PermanentDeliveryError:
    return PermanentDeliveryError(reason) if code >= 500 else TransientDeliveryError(reason)
