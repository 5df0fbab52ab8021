"""``zhida users create|list|token|tokens|revoke|disable``: who may use the API and the console,
in which role, with which tokens.  Tokens expire (``ZHIDA_TOKEN_DAYS``, 30 days, unless
``--hours`` says otherwise) and are revoked one at a time by the id ``tokens`` lists."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import click

__all__ = ["operator", "register"]

_ROLES = ("officer", "reviewer", "analyst", "resident", "enterprise", "operator", "admin")


def _stores() -> tuple[object, object]:
    from api.app.audit import AuditLog
    from api.app.auth import UserStore
    from api.app.checkpoints import Checkpoints
    from core.db import get_engine, upgrade
    from core.settings import get_settings

    engine = get_engine()
    upgrade(engine)
    days = get_settings().token_days
    return UserStore(engine, token_days=days), AuditLog(engine, Checkpoints.configured())


def operator() -> str:
    """Who runs this command, as audit entries name them: ``cli:LOGIN``."""
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
        actor=operator(), role="cli", action="user.create", entity_type="user",
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
@click.option(
    "--hours", type=click.FloatRange(min=0, min_open=True), default=None,
    help="Expire after this many hours (default: ZHIDA_TOKEN_DAYS, 30 days).",
)  # fmt: skip
def token_cmd(username: str, name: str, hours: float | None) -> None:
    """Issue an API token for USERNAME (printed once; send it as 'Authorization: Bearer').

    \b
    The token is printed alone on standard output; its id and expiry go to standard error.
    Example:
      zhida users token wang --name reporting --hours 720
    """
    from api.app.audit import AuditLog
    from api.app.auth import UserStore, digest, token_id

    users, audit = _stores()
    assert isinstance(users, UserStore) and isinstance(audit, AuditLog)
    user = users.get(username)
    hours = users.token_days * 24 if hours is None else hours
    secret = users.issue(user, kind="token", name=name, hours=hours)
    ident = token_id(digest(secret))
    audit.append(
        actor=operator(), role="cli", action="token.issue", entity_type="user",
        entity_id=username, source="cli", details={"name": name, "hours": hours, "id": ident},
    )  # fmt: skip
    click.echo(secret)
    click.echo(f"token {ident} for {username}, expires in {hours:g} hours", err=True)


@users_group.command("tokens")
@click.argument("username")
def tokens_cmd(username: str) -> None:
    """List USERNAME's tokens and console sessions: id, kind, name, created, expires, state."""
    from api.app.auth import UserStore

    users, _ = _stores()
    assert isinstance(users, UserStore)
    found = users.tokens(username)
    if not found:
        click.echo(f"{username} has no tokens; `zhida users token {username}` issues one")
    now = datetime.now(UTC).replace(tzinfo=None)
    for t in found:
        expires = f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "never"
        click.echo(
            f"{t.id}\t{t.kind}\t{t.name}\t{t.created_at:%Y-%m-%d %H:%M}\t{expires}\t{t.state(now)}"
        )


@users_group.command("revoke")
@click.argument("token_id", metavar="TOKEN_ID")
def revoke_cmd(token_id: str) -> None:
    """Revoke one token or session by the id `zhida users tokens` lists (audited)."""
    from api.app.audit import AuditLog
    from api.app.auth import UserStore

    users, audit = _stores()
    assert isinstance(users, UserStore) and isinstance(audit, AuditLog)
    revoked = users.revoke_id(token_id.strip().lower())
    audit.append(
        actor=operator(), role="cli", action="token.revoke", entity_type="user",
        entity_id=revoked.username, source="cli",
        details={"id": revoked.id, "kind": revoked.kind, "name": revoked.name},
    )  # fmt: skip
    click.echo(f"{revoked.kind} {revoked.id} ({revoked.name}) of {revoked.username} revoked")


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
        actor=operator(), role="cli", action="user.disable", entity_type="user",
        entity_id=username, source="cli",
    )  # fmt: skip
    click.echo(f"user {username} disabled; their tokens and sessions no longer work")


def register(group: click.Group) -> None:
    group.add_command(users_group)
