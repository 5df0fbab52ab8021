"""Who is asking, and may they: credentials to a user, roles to a guard, subjects to owners.

An API client sends ``Authorization: Bearer TOKEN``; the console's browser sends the session
cookie set by ``POST /api/v1/login`` (HttpOnly, Secure, SameSite=Strict).  A guard made by
:func:`allow` lets through the named roles only; :func:`check_subject` keeps a resident or firm
to its own subject, answering 404 for anyone else's so that ids cannot be probed.
:func:`may_read_simulation` is the one rule for a simulation's figures, in the API and the
console alike: whoever ran it reads it, and an admin reads any.

>>> may_read_subject(User(1, "wang", "resident", subject_id="P1"), "P1")
True
>>> may_read_subject(User(1, "wang", "resident", subject_id="P1"), "P2")
False
>>> may_read_subject(User(2, "root", "admin"), "P2")
True
>>> li, wu = User(3, "li", "analyst"), User(4, "wu", "analyst")
>>> may_read_simulation(li, "li"), may_read_simulation(wu, "li")
(True, False)
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from api.app.auth import ROLES, SUBJECT_ROLES, User
from api.app.errors import AuthenticationError, ForbiddenError
from api.app.services import services
from core.errors import NotFoundError

__all__ = [
    "SESSION_COOKIE",
    "SIMULATION_READERS",
    "STAFF",
    "allow",
    "check_simulation",
    "check_subject",
    "current_user",
    "may_read_simulation",
    "may_read_subject",
    "source_of",
]

SESSION_COOKIE = "zhida_session"
STAFF = ("officer", "reviewer", "analyst", "operator", "admin")
# Roles that may read any one subject's data (each read is audited as a profile read).
_SUBJECT_READERS = ("admin",)
# Who runs and reads simulations at all; which ones each reads is may_read_simulation's.
SIMULATION_READERS = ("analyst", "admin")


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User:
    """The authenticated user of this request (resolved once, then kept in the scope)."""
    cached = connection.scope.get("user")
    if isinstance(cached, User):
        return cached
    users = services(connection).users
    header = connection.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(
                "the Authorization header is not 'Bearer TOKEN'; send the token `zhida users "
                "token` printed"
            )
        user = users.resolve(token.strip(), kind="token")
    elif SESSION_COOKIE in connection.cookies:
        user = users.resolve(connection.cookies[SESSION_COOKIE], kind="session")
    else:
        raise AuthenticationError(
            "not logged in; send 'Authorization: Bearer TOKEN' or log in at POST /api/v1/login"
        )
    connection.scope["user"] = user
    return user


def allow(*roles: str) -> Guard:
    """A guard letting through only users of ``roles``."""
    unknown = [r for r in roles if r not in ROLES]
    assert not unknown, f"unknown roles {unknown}"

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = current_user(connection)
        if user.role not in roles:
            raise ForbiddenError(
                f"{user.username} is a {user.role}; this needs one of: {', '.join(roles)}"
            )

    return guard


def may_read_subject(user: User, subject_id: str) -> bool:
    if user.role in SUBJECT_ROLES:
        return user.subject_id == subject_id
    return user.role in _SUBJECT_READERS


def check_subject(user: User, subject_id: str) -> None:
    """Refuse another subject's data with the same 404 as a subject that does not exist."""
    if not may_read_subject(user, subject_id):
        raise NotFoundError(
            f"no subject {subject_id!r} visible to {user.username}; a resident or firm sees "
            "only its own data (GET /api/v1/me says which)"
        )


def may_read_simulation(user: User, author: str) -> bool:
    """Whether ``user`` may read the figures of a simulation ``author`` ran: their own, or any
    for an admin."""
    return user.role == "admin" or (user.role in SIMULATION_READERS and user.username == author)


def check_simulation(user: User, sim_id: object, author: str) -> None:
    """Refuse another analyst's simulation with the same 404 as one that does not exist."""
    if not may_read_simulation(user, author):
        raise NotFoundError(
            f"no simulation {sim_id} of {user.username}; an analyst reads the simulations they "
            "ran (GET /api/v1/simulations lists them), an admin any"
        )


def source_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Where a request came from, for the audit log."""
    client = connection.client
    return client.host if client is not None else "-"
