"""What every console page shares: its language, its template, who is asking, who may see it.

The language is the one asked for (``?lang=zh|en``, then kept in a cookie for a year), else
the one kept, else Chinese.  A page is refused as the console refuses: someone not logged in
is sent to the login page, someone of another role gets the 403 page naming the roles it needs.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from litestar import Request, Response
from litestar.response import Redirect, Template

from api.app.access import SESSION_COOKIE, current_user
from api.app.auth import User, csrf_token
from api.app.errors import AuthenticationError
from api.app.i18n import LANG_COOKIE, LANGUAGES, language_of, words

__all__ = ["gate", "render", "user_or_none"]

_YEAR: Final = 365 * 86400


def render(
    request: Request[Any, Any, Any], name: str, status: int = 200, **context: Any
) -> Template:
    """Template ``name`` in the request's language (``t`` holds its words) with the session's
    CSRF token (``csrf``, :mod:`api.app.csrf`); a language asked for in the query is kept in a
    cookie."""
    lang = language_of(request)
    session = request.cookies.get(SESSION_COOKIE)
    csrf = csrf_token(session) if session else ""  # every form's hidden field, scripts' header
    context = {"lang": lang, "t": words(lang), "csrf": csrf, **context}
    page = Template(name, context=context, status_code=status)
    if request.query_params.get("lang") in LANGUAGES:
        page.set_cookie(LANG_COOKIE, lang, max_age=_YEAR, samesite="lax")
    return page


def user_or_none(request: Request[Any, Any, Any]) -> User | None:
    """The logged-in user of the session cookie, or None (no cookie, expired, revoked)."""
    if SESSION_COOKIE not in request.cookies:
        return None
    try:
        return current_user(request)
    except AuthenticationError:
        return None


def gate(request: Request[Any, Any, Any], roles: Collection[str]) -> User | Response[Any]:
    """The user asking, or the response to send instead: to the login page when nobody is
    logged in, the 403 page naming ``roles`` for a user of another role."""
    user = user_or_none(request)
    if user is None:
        return Redirect("/console/login", status_code=303)
    if user.role not in roles:
        return render(request, "denied.html", status=403, user=user, needed=", ".join(roles))
    return user
