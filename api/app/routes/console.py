"""The web console: server-rendered pages (Jinja2), Chinese by default, usable on a phone.

A resident or firm sees their offers (with "why am I seeing this"), grants, messages and can
switch SMS off; staff see the published catalog, and officers and reviewers get a draft editor
validated live against ``POST /api/v1/policies/validate``.  Logging in sets the same session
cookie as the API's login; the pages call the same stores as the JSON endpoints.  Handlers are
async and run their database work in a worker thread (litestar's ``sync_to_thread`` gave an
unawaited coroutine for these template and redirect responses in litestar 2.25).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from api.app.access import SESSION_COOKIE, current_user
from api.app.auth import SESSION_HOURS, SUBJECT_ROLES, User
from api.app.errors import AuthenticationError
from api.app.i18n import LANGUAGES, words
from api.app.offers import offers_of
from api.app.services import Services, log_in, services
from api.app.throttle import TooManyAttemptsError
from core.errors import ZhidaError

__all__ = ["CONSOLE_ROUTES", "LoginForm", "PreferencesForm"]

_LANG_COOKIE = "zhida_lang"


@dataclass(frozen=True)
class LoginForm:
    username: str
    password: str


@dataclass(frozen=True)
class PreferencesForm:
    sms_off: str = ""


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


def _titles(svc: Services) -> dict[str, str]:
    return {p.id: p.title for p in svc.policies.catalog(date.today()).policies}


@get("/console", include_in_schema=False)
async def home(request: Request[Any, Any, Any], saved: FromQuery[bool] = False) -> Response[Any]:
    return await to_thread.run_sync(_home, request, saved)


def _home(request: Request[Any, Any, Any], saved: bool) -> Response[Any]:
    user = _user_or_none(request)
    if user is None:
        return Redirect("/console/login", status_code=303)
    svc = services(request)
    if user.role in SUBJECT_ROLES:
        assert user.subject_id is not None
        subject = user.subject_id
        run = svc.runs.latest()
        offers = []
        if run is not None and run.pairs_file.is_file():
            rows = offers_of(svc.offers, run.run_id, run.pairs_file, subject)
            offers = [{"policy_id": p, "status": s, "benefit": b} for p, s, b in rows]
        contact = svc.contacts.load([subject]).get(subject)
        return _page(
            request, "subject.html", user=user, offers=offers, titles=_titles(svc),
            grants=svc.grants.of(subject), messages=svc.inbox.messages(subject, limit=20),
            sms_off=contact is not None and "sms" in contact.opt_out_channels, saved=saved,
        )  # fmt: skip
    policies = sorted(svc.policies.catalog(date.today()).policies, key=lambda p: p.id)
    return _page(
        request, "staff.html", user=user, policies=policies,
        can_validate=user.role in ("officer", "reviewer", "admin"),
    )  # fmt: skip


@get("/console/why/{policy_id:str}", include_in_schema=False)
async def why(request: Request[Any, Any, Any], policy_id: FromPath[str]) -> Response[Any]:
    return await to_thread.run_sync(_why, request, policy_id)


def _why(request: Request[Any, Any, Any], policy_id: str) -> Response[Any]:
    from api.app.routes.explain import explain_for

    user = _user_or_none(request)
    if user is None or user.subject_id is None:
        return Redirect("/console/login", status_code=303)
    try:
        explanation = explain_for(services(request), user.subject_id, policy_id)
    except ZhidaError as err:
        return _page(request, "why.html", status=err.http_status, user=user, error=err.message,
                     e=None)  # fmt: skip
    return _page(request, "why.html", user=user, error=None, e=explanation)


@post("/console/preferences", include_in_schema=False)
async def preferences_form(
    request: Request[Any, Any, Any], data: URLEncodedBody[PreferencesForm]
) -> Redirect:
    return await to_thread.run_sync(_preferences, request, data)


def _preferences(request: Request[Any, Any, Any], data: PreferencesForm) -> Redirect:
    user = _user_or_none(request)
    if user is None or user.subject_id is None:
        return Redirect("/console/login", status_code=303)
    svc = services(request)
    subject = user.subject_id
    old = svc.contacts.load([subject]).get(subject)
    opted = set(old.opt_out_channels) if old else set()
    if data.sms_off:
        opted.add("sms")
    else:
        opted.discard("sms")
    svc.contacts.replace(
        [
            {
                "subject_id": subject, "subject_type": user.subject_type or "resident",
                "phone": old.phone if old else None, "email": old.email if old else None,
                "webhook_url": old.webhook_url if old else None,
                "locale": old.locale if old else "zh",
                "channels": ",".join(old.channels) if old else "",
                "opt_out_channels": ",".join(sorted(opted)),
                "opt_out_categories": ",".join(sorted(old.opt_out_categories)) if old else "",
            }
        ]
    )  # fmt: skip
    return Redirect("/console?saved=true", status_code=303)


CONSOLE_ROUTES = [login_page, login_form, logout_form, home, why, preferences_form]
