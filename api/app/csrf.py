"""Cross-site request forgery: a change the console's own pages did not ask for is refused.

A browser sends the session cookie with every request to this server, whichever site's page
made it; SameSite=Strict is one defence, and these are the others.  For every POST, PUT, PATCH
and DELETE that carries no ``Authorization`` header (a header another site cannot make a
browser send, so token-authenticated API calls are not affected):

- an ``Origin`` naming another site is refused (403), logins included;
- when the session cookie is sent, an API request (``/api/…``) with a body must send it as
  ``application/json`` (415: another site's form or plain fetch can only send form encodings
  and ``text/plain``), and every such request must carry the session's
  :func:`~api.app.auth.csrf_token` in the ``X-CSRF-Token`` header (403 otherwise);
- a console form (``/console/…``) must carry that token in its hidden ``csrf_token`` field, or
  in the header as the console's scripts send it (403 otherwise).

Logging in (no session yet, :data:`EXEMPT`) needs no token.  :func:`refusal` decides from what
the request says; :func:`csrf_middleware` reads the request and sends the refusal.

>>> from api.app.auth import csrf_token
>>> ok = Asked("POST", "/api/v1/policies/drafts", "zhida.gov.cn", None, False, "s", None,
...            "application/json", True, csrf_token("s"))
>>> refusal(ok) is None
True
>>> refusal(replace(ok, origin="https://evil.example"))[0]
403
>>> refusal(replace(ok, content_type="text/plain"))[0]
415
>>> refusal(replace(ok, header_token=None))[1][:40]
'this request carries no valid X-CSRF-Tok'
>>> refusal(replace(ok, header_token=None, authorization=True)) is None
True
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from litestar.types import ASGIApp, Receive, Scope, Send

from api.app.access import SESSION_COOKIE
from api.app.auth import csrf_token
from api.app.errors import error_body

__all__ = ["CSRF_FIELD", "CSRF_HEADER", "EXEMPT", "Asked", "csrf_middleware", "refusal"]

CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "x-csrf-token"
EXEMPT: Final = frozenset({"/api/v1/login", "/console/login"})
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM: Final = "application/x-www-form-urlencoded"
_MAX_FORM: Final = 10 * 1024 * 1024  # litestar's own default limit of a request body


@dataclass(frozen=True)
class Asked:
    """What a request says about itself, as far as forgery is concerned."""

    method: str
    path: str
    host: str  # the Host header: this server as the browser addressed it
    origin: str | None  # the Origin header
    authorization: bool  # an Authorization header was sent
    session: str | None  # the session cookie's secret
    form_token: str | None  # a console form's csrf_token field
    content_type: str | None  # without parameters, lower case
    has_body: bool
    header_token: str | None  # X-CSRF-Token


def _same(token: str | None, session: str) -> bool:
    return token is not None and hmac.compare_digest(token, csrf_token(session))


def refusal(asked: Asked, origins: Collection[str] = ()) -> tuple[int, str] | None:
    """The status and message to refuse ``asked`` with, or None to let it through.
    ``origins`` are other hosts (``host[:port]``) this server is also reached as."""
    if asked.method not in _UNSAFE or asked.authorization:
        return None
    if asked.origin is not None:
        host = urlsplit(asked.origin).netloc if "://" in asked.origin else ""
        if host != asked.host and host not in origins:
            return 403, (
                f"a request from {asked.origin} to change something here is refused: only this "
                "server's own pages may; API clients send 'Authorization: Bearer TOKEN'"
            )
    if asked.session is None or asked.path in EXEMPT:
        return None
    if asked.path.startswith("/api/"):
        if asked.has_body and asked.content_type != "application/json":
            return 415, (
                f"the body is {asked.content_type or 'of no declared type'}; send it as "
                "'Content-Type: application/json'"
            )
        if not _same(asked.header_token, asked.session):
            return 403, (
                "this request carries no valid X-CSRF-Token header for the session; the "
                "console's pages send it (meta csrf-token), API clients use a bearer token"
            )
        return None
    if _same(asked.form_token, asked.session) or _same(asked.header_token, asked.session):
        return None
    return 403, (
        "this form was not sent by a page of this console (its csrf_token is missing or from "
        "another session); reload the page and submit it again"
    )


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip('"')
    return None


def csrf_middleware(app: ASGIApp, origins: Collection[str] = ()) -> ASGIApp:
    """Refuse forged changes before any handler runs (see the module)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        asgi: Any = scope  # an HTTP scope from here on (websockets change nothing this way)
        if asgi["type"] != "http" or asgi["method"] not in _UNSAFE:
            await app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in asgi["headers"]}
        path: str = asgi["path"]
        session = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower() or None
        length = headers.get("content-length")
        asked = Asked(
            asgi["method"], path, headers.get("host", ""), headers.get("origin"),
            bool(headers.get("authorization", "").strip()), session, None, content_type,
            "transfer-encoding" in headers or (length is not None and length.strip() != "0"),
            headers.get(CSRF_HEADER),
        )  # fmt: skip
        body: list[Any] = []
        wants_form = (
            session is not None and not path.startswith("/api/") and path not in EXEMPT
            and asked.header_token is None and content_type == _FORM
        )  # fmt: skip
        if wants_form:  # read the form to find its token, then hand the handler the same body
            data, more = b"", True
            while more and len(data) <= _MAX_FORM:
                message: Any = await receive()
                body.append(message)
                data += message.get("body", b"")
                more = message.get("more_body", False) and message["type"] == "http.request"
            field = parse_qs(data.decode("utf-8", "replace")).get(CSRF_FIELD)
            asked = replace(asked, form_token=field[0] if field else None)
        refused = refusal(asked, origins)
        if refused is not None:
            await _refuse(send, path, *refused)
            return
        if body:
            queued = list(body)

            async def replay() -> Any:
                return queued.pop(0) if queued else await receive()

            await app(scope, replay, send)
        else:
            await app(scope, receive, send)

    return middleware


async def _refuse(send: Send, path: str, status: int, message: str) -> None:
    kind = "UnsupportedMediaType" if status == 415 else "ForbiddenError"
    if path.startswith("/api/"):
        payload, media = json.dumps(error_body(status, kind, message)).encode(), "application/json"
    else:
        payload, media = (message + "\n").encode(), "text/plain; charset=utf-8"
    start: Any = {
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", media.encode()),
                    (b"content-length", str(len(payload)).encode())],
    }  # fmt: skip
    await send(start)
    await send({"type": "http.response.body", "body": payload, "more_body": False})
