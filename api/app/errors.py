"""One JSON shape for every error the API returns, mapped from the error tree in one place.

Every :class:`~core.errors.ZhidaError` carries its own ``http_status``; litestar's own
exceptions (unknown route, bad request body, guards) are rendered in the same shape, and
anything else is a 500 whose message says where to look without leaking internals::

    {"error": {"status": 404, "type": "NotFoundError", "message": "no grant 7"}}

>>> error_body(404, "NotFoundError", "no grant 7")
{'error': {'status': 404, 'type': 'NotFoundError', 'message': 'no grant 7'}}
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.exceptions import ValidationException as LitestarValidation
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DataError

from core.errors import ZhidaError

__all__ = [
    "AuthenticationError",
    "ForbiddenError",
    "UnavailableError",
    "error_body",
    "exception_handlers",
]

_log = logging.getLogger("zhida.api")


class AuthenticationError(ZhidaError, PermissionError):
    """No valid credentials: log in (console) or send ``Authorization: Bearer TOKEN`` (API)."""

    http_status = 401


class ForbiddenError(ZhidaError, PermissionError):
    """The user is known but their role (or subject) does not allow this."""

    http_status = 403


class UnavailableError(ZhidaError, RuntimeError):
    """This server was started without what the request needs (e.g. a population)."""

    exit_code = 2
    http_status = 503


def error_body(status: int, kind: str, message: str, **extra: Any) -> dict[str, Any]:
    """The one error shape: ``{"error": {"status", "type", "message", ...}}``."""
    return {"error": {"status": status, "type": kind, "message": message, **extra}}


def _zhida(request: Request[Any, Any, Any], exc: ZhidaError) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = {}
    problems = getattr(exc, "problems", None)
    if problems:  # rules.loader.CatalogError: every positioned problem
        from api.app.i18n import language_of

        lang = language_of(request)
        extra["problems"] = [_problem(p, lang) for p in problems]
    status = exc.http_status
    return Response(
        error_body(status, type(exc).__name__, exc.message, **extra),
        status_code=status,
        media_type=MediaType.JSON,
    )


def _problem(p: Any, lang: str) -> dict[str, Any]:
    """A positioned problem, in the request's language where it has words in both."""
    in_language = getattr(p, "in_language", None)
    return {
        "line": getattr(p, "line", None),
        "col": getattr(p, "col", None),
        "message": in_language(lang) if callable(in_language) else getattr(p, "detail", str(p)),
        "policy_id": getattr(p, "policy_id", None),
    }


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    message = exc.detail
    if isinstance(exc, LitestarValidation) and exc.extra:
        # e.g. a missing or mistyped field in a JSON body: name it
        parts = [
            f"{e.get('key') or 'body'}: {e.get('message')}"
            for e in exc.extra
            if isinstance(e, dict)
        ]
        message = f"{exc.detail}: {'; '.join(parts)}" if parts else exc.detail
    return Response(
        error_body(exc.status_code, type(exc).__name__, message),
        status_code=exc.status_code,
        media_type=MediaType.JSON,
        headers=exc.headers,
    )


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    _log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        error_body(
            500,
            "InternalError",
            "the server failed on this request; the operator finds the cause in its log",
        ),
        status_code=500,
        media_type=MediaType.JSON,
    )


def _does_not_fit(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # A number beyond the database's integers (an id of 30 digits), a text longer than its
    # column: the request's fault, not the server's.
    return Response(
        error_body(
            422,
            "ValidationError",
            "a value in the request does not fit the database (a number beyond 2**63 - 1 or "
            "a text too long); check the ids and fields sent",
        ),
        status_code=422,
        media_type=MediaType.JSON,
    )


exception_handlers: ExceptionHandlersMap = {
    ZhidaError: _zhida,
    HTTPException: _http,
    OverflowError: _does_not_fit,
    DataError: _does_not_fit,
    Exception: _internal,
}
