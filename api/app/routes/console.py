"""The web console: server-rendered pages (Jinja2), Chinese by default, usable on a phone.

This module logs people in and out and sends each to their home page: a resident or firm to
its message centre (``console_subject``), staff to the published catalog (officers and
reviewers with a draft validated live against ``POST /api/v1/policies/validate``); the
analyst's and operator's pages are ``console_analyst`` and ``console_operator``, the officer's
``console_officer``.  ``_page`` renders a template in the asked language (``?lang=``, kept in a
cookie) and ``_user_or_none`` reads the session; the other console modules use both.
Logging in sets the same session cookie as the API's login; the pages call the same stores as
the JSON endpoints.  Handlers are async and run their database work in a worker thread
(litestar's ``sync_to_thread`` gave an unawaited coroutine for these template and redirect
responses in litestar 2.25).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from api.app.access import SESSION_COOKIE, current_user
from api.app.auth import SESSION_HOURS, SUBJECT_ROLES, User
from api.app.errors import AuthenticationError
from api.app.i18n import LANGUAGES, words
from api.app.services import log_in, services
from api.app.throttle import TooManyAttemptsError

__all__ = ["CONSOLE_ROUTES", "LoginForm"]

_LANG_COOKIE = "zhida_lang"


@dataclass(frozen=True)
class LoginForm:
    username: str
    password: str


def _lang(request: Request[Any, Any, Any]) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return str(asked)
    kept = request.cookies.get(_LANG_COOKIE)
    return kept if kept in LANGUAGES else "zh"


def _page(
    request: Request[Any, Any, Any], name: str, status: int = 200, **context: Any
) -> Template:
    lang = _lang(request)
    page = Template(name, context={"lang": lang, "t": words(lang), **context}, status_code=status)
    if request.query_params.get("lang") in LANGUAGES:
        page.set_cookie(_LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return page


def _user_or_none(request: Request[Any, Any, Any]) -> User | None:
    if SESSION_COOKIE not in request.cookies:
        return None
    try:
        return current_user(request)
    except AuthenticationError:
        return None


@get("/console/login", include_in_schema=False)
async def login_page(request: Request[Any, Any, Any]) -> Template:
    return _page(request, "login.html", user=None, error=None)


@post("/console/login", sync_to_thread=True, include_in_schema=False)
def login_form(request: Request[Any, Any, Any], data: URLEncodedBody[LoginForm]) -> Response[Any]:
    svc = services(request)
    try:
        user = log_in(svc, data.username, data.password)
    except AuthenticationError:
        failed = words(_lang(request))["login_failed"]
        return _page(request, "login.html", status=401, user=None, error=failed)
    except TooManyAttemptsError as err:
        return _page(request, "login.html", status=429, user=None, error=err.message)
    secret = svc.users.issue(user, kind="session", name="console", hours=SESSION_HOURS)
    response = Redirect("/console", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=SESSION_HOURS * 3600, path="/",
        secure=svc.secure_cookies, httponly=True, samesite="strict",
    )  # fmt: skip
    return response


@post("/console/logout", include_in_schema=False)
async def logout_form(request: Request[Any, Any, Any]) -> Redirect:
    return await to_thread.run_sync(_logout, request)


def _logout(request: Request[Any, Any, Any]) -> Redirect:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        services(request).users.revoke(secret)
    response = Redirect("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@get("/console", include_in_schema=False)
async def home(request: Request[Any, Any, Any], saved: FromQuery[str] = "") -> Response[Any]:
    return await to_thread.run_sync(_home, request, saved)


def _home(request: Request[Any, Any, Any], saved: str) -> Response[Any]:
    user = _user_or_none(request)
    if user is None:
        return Redirect("/console/login", status_code=303)
    svc = services(request)
    if user.role in SUBJECT_ROLES:
        from api.app.routes.console_subject import message_centre

        return message_centre(request, svc, user, saved)
    policies = sorted(svc.policies.catalog(date.today()).policies, key=lambda p: p.id)
    return _page(
        request, "staff.html", user=user, policies=policies,
        can_validate=user.role in ("officer", "reviewer", "admin"),
    )  # fmt: skip


CONSOLE_ROUTES = [login_page, login_form, logout_form, home]
