"""``zhida users create|list|token``: who may use the API and the console, in which role."""

from __future__ import annotations

import getpass

import click

__all__ = ["register"]

_ROLES = ("officer", "reviewer", "analyst", "resident", "enterprise", "operator", "admin")


def _stores() -> tuple[object, object]:
    from api.app.audit import AuditLog
    from api.app.auth import UserStore
    from api.app.checkpoints import Checkpoints
    from core.db import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    return UserStore(engine), AuditLog(engine, Checkpoints.configured())


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@click.group("users")
def users_group() -> None:
    """Users and their roles; resident and enterprise users are linked to one subject."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(_ROLES), required=True, help="What the user may do.")
@click.option("--department", default=None, help="An officer's department, e.g. 北京市民政局.")
@click.option(
    "--subject", default=None,
    help="A resident's person_id or an enterprise's enterprise_id (their own data only).",
)  # fmt: skip
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True,
    envvar="ZHIDA_NEW_PASSWORD", help="Asked for when not given (or ZHIDA_NEW_PASSWORD).",
)  # fmt: skip
def create_cmd(
    username: str, role: str, department: str | None, subject: str | None, password: str
) -> None:
    """Create USERNAME with a role (the password is stored as an argon2 hash)."""
    from api.app.audit import AuditLog
    from api.app.auth import UserStore

    users, audit = _stores()
    assert isinstance(users, UserStore) and isinstance(audit, AuditLog)
    user = users.create(username, password, role=role, department=department, subject_id=subject)
    audit.append(
        actor=_operator(), role="cli", action="user.create", entity_type="user",
        entity_id=username, source="cli",
        details={"role": role, "department": department, "subject_id": subject},
    )  # fmt: skip
    where = f" of {department}" if department else ""
    linked = f", linked to {subject}" if subject else ""
    click.echo(f"user {user.username} created: {role}{where}{linked}")


@users_group.command("list")
def list_cmd() -> None:
    """Every user with role, department and linked subject."""
    from api.app.auth import UserStore

    users, _ = _stores()
    assert isinstance(users, UserStore)
    found = users.list()
    if not found:
        click.echo("no users yet; `zhida users create NAME --role admin` makes the first")
    for u in found:
        click.echo(f"{u.username}\t{u.role}\t{u.department or '-'}\t{u.subject_id or '-'}")


@users_group.command("token")
@click.argument("username")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@click.option("--hours", type=float, default=None, help="Expire after this many hours.")
def token_cmd(username: str, name: str, hours: float | None) -> None:
    """Issue an API token for USERNAME (printed once; send it as 'Authorization: Bearer')."""
    from api.app.audit import AuditLog
    from api.app.auth import UserStore

    users, audit = _stores()
    assert isinstance(users, UserStore) and isinstance(audit, AuditLog)
    user = users.get(username)
    secret = users.issue(user, kind="token", name=name, hours=hours)
    audit.append(
        actor=_operator(), role="cli", action="token.issue", entity_type="user",
        entity_id=username, source="cli", details={"name": name, "hours": hours},
    )  # fmt: skip
    click.echo(secret)


@users_group.command("disable")
@click.argument("username")
def disable_cmd(username: str) -> None:
    """Lock USERNAME out: no login, every token and session revoked (audited)."""
    from api.app.audit import AuditLog
    from api.app.auth import UserStore

    users, audit = _stores()
    assert isinstance(users, UserStore) and isinstance(audit, AuditLog)
    users.disable(username)
    audit.append(
        actor=_operator(), role="cli", action="user.disable", entity_type="user",
        entity_id=username, source="cli",
    )  # fmt: skip
    click.echo(f"user {username} disabled; their tokens and sessions no longer work")


def register(group: click.Group) -> None:
    group.add_command(users_group)
