"""Logging in and out of the console, and who am I."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import JSONBody

from api.app.access import SESSION_COOKIE, current_user
from api.app.auth import ROLES, SESSION_HOURS, User
from api.app.services import log_in, services

__all__ = ["SESSION_ROUTES", "Credentials", "Me"]


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


@dataclass(frozen=True)
class Me:
    username: str
    role: str
    department: str | None
    subject_id: str | None
    subject_type: str | None

    @classmethod
    def of(cls, user: User) -> Me:
        return cls(user.username, user.role, user.department, user.subject_id, user.subject_type)


@post("/api/v1/login", status_code=200, sync_to_thread=True, tags=["session"])
def login(request: Request[Any, Any, Any], data: JSONBody[Credentials]) -> Response[Me]:
    """Log in with a password: sets the console's session cookie (HttpOnly, SameSite=Strict)."""
    svc = services(request)
    user = log_in(svc, data.username, data.password)
    secret = svc.users.issue(user, kind="session", name="console", hours=SESSION_HOURS)
    response = Response(Me.of(user))
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=SESSION_HOURS * 3600, path="/",
        secure=svc.secure_cookies, httponly=True, samesite="strict",
    )  # fmt: skip
    return response


@post("/api/v1/logout", status_code=200, sync_to_thread=True, tags=["session"])
def logout(request: Request[Any, Any, Any]) -> Response[dict[str, bool]]:
    """End the console session (the cookie's secret is revoked, not only forgotten)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        services(request).users.revoke(secret)
    response = Response({"logged_out": True})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@get("/api/v1/me", sync_to_thread=True, tags=["session"])
def me(request: Request[Any, Any, Any]) -> Me:
    """The user behind this request's credentials: role, department, linked subject."""
    return Me.of(current_user(request))


@get("/api/v1/roles", sync_to_thread=False, tags=["session"])
def roles() -> list[str]:
    """Every role a user can have."""
    return list(ROLES)


SESSION_ROUTES = [login, logout, me, roles]
