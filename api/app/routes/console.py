"""The web console: server-rendered pages (Jinja2), Chinese by default, usable on a phone.

This module logs people in and out and sends each to their home page: a resident or firm to
its message centre (``console_subject``), staff to the published catalog (officers and
reviewers with a draft validated live against ``POST /api/v1/policies/validate``); the
analyst's and operator's pages are ``console_analyst`` and ``console_operator``, the officer's
``console_officer``.  What they all share — the page's language, its template, who is asking
and who may see it — is :mod:`api.app.pages`.
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

from api.app.access import SESSION_COOKIE
from api.app.auth import SESSION_HOURS, SUBJECT_ROLES
from api.app.errors import AuthenticationError
from api.app.i18n import language_of, words
from api.app.pages import render, user_or_none
from api.app.services import log_in, services
from api.app.throttle import TooManyAttemptsError

__all__ = ["CONSOLE_ROUTES", "LoginForm"]


@dataclass(frozen=True)
class LoginForm:
    username: str
    password: str


@get("/console/login", include_in_schema=False)
async def login_page(request: Request[Any, Any, Any]) -> Template:
    return render(request, "login.html", user=None, error=None)


@post("/console/login", sync_to_thread=True, include_in_schema=False)
def login_form(request: Request[Any, Any, Any], data: URLEncodedBody[LoginForm]) -> Response[Any]:
    svc = services(request)
    try:
        user = log_in(svc, data.username, data.password)
    except AuthenticationError:
        failed = words(language_of(request))["login_failed"]
        return render(request, "login.html", status=401, user=None, error=failed)
    except TooManyAttemptsError as err:
        return render(request, "login.html", status=429, user=None, error=err.message)
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
    user = user_or_none(request)
    if user is None:
        return Redirect("/console/login", status_code=303)
    svc = services(request)
    if user.role in SUBJECT_ROLES:
        from api.app.routes.console_subject import message_centre

        return message_centre(request, svc, user, saved)
    policies = sorted(svc.policies.catalog(date.today()).policies, key=lambda p: p.id)
    return render(
        request, "staff.html", user=user, policies=policies,
        can_validate=user.role in ("officer", "reviewer", "admin"),
    )  # fmt: skip


CONSOLE_ROUTES = [login_page, login_form, logout_form, home]
