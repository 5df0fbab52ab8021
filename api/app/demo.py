"""Demo users for ``zhida demo``: one per role, printed with their passwords and API tokens.

The resident and the firm are linked to subjects of the demo population; the officer belongs to
the department of the demo catalog's policies.  Running it again keeps existing users (their
passwords are not shown again) and issues fresh tokens.  Every user created and every token
issued is an audit entry, checkpointed outside the database like every other entry
(:mod:`api.app.checkpoints`), so ``zhida audit verify`` holds the demo's entries to their
checkpoints as it holds the server's and the other commands'.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from api.app.audit import AuditLog
from api.app.auth import UserStore, digest, token_id
from api.app.checkpoints import Checkpoints
from core.errors import NotFoundError

__all__ = ["DemoUser", "demo_lines", "seed_demo_users"]


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password: str | None  # None: the user existed already
    token: str
    subject_id: str | None = None
    department: str | None = None


def seed_demo_users(
    engine: Engine,
    *,
    resident_id: str,
    enterprise_id: str,
    department: str = "北京市民政局",
    hasher: PasswordHasher | None = None,
    checkpoints: Checkpoints | None = None,
) -> list[DemoUser]:
    """Create (or reuse) demo users of every role; every one gets a fresh API token.

    Audited as ``zhida users create`` and ``zhida users token`` are; the entries are
    checkpointed to ``checkpoints`` (default: the configured ones).
    """
    users = UserStore(engine, hasher)
    audit = AuditLog(engine, checkpoints or Checkpoints.configured())
    plan = [
        ("demo-officer", "officer", department, None),
        ("demo-reviewer", "reviewer", None, None),
        ("demo-analyst", "analyst", None, None),
        ("demo-resident", "resident", None, resident_id),
        ("demo-enterprise", "enterprise", None, enterprise_id),
        ("demo-operator", "operator", None, None),
        ("demo-admin", "admin", None, None),
    ]
    out = []
    for username, role, dept, subject in plan:
        password: str | None = None
        try:
            user = users.get(username)
        except NotFoundError:
            password = secrets.token_urlsafe(9)
            user = users.create(username, password, role=role, department=dept, subject_id=subject)
            audit.append(
                actor="zhida demo", role="cli", action="user.create", entity_type="user",
                entity_id=username, source="cli", details={"role": role, "subject_id": subject},
            )  # fmt: skip
        token = users.issue(user, name="demo", hours=24)
        audit.append(
            actor="zhida demo", role="cli", action="token.issue", entity_type="user",
            entity_id=username, source="cli",
            details={"name": "demo", "hours": 24, "id": token_id(digest(token))},
        )  # fmt: skip
        out.append(DemoUser(username, role, password, token, user.subject_id, user.department))
    return out


def demo_lines(users: list[DemoUser], address: str) -> list[str]:
    """What ``zhida demo`` prints: how to log in as each role, and one curl per token.

    >>> demo_lines([DemoUser("demo-resident", "resident", "pw", "tok", "P1")], "http://h:8000")[1]
    '  demo-resident   resident    password pw   subject P1'
    """
    lines = [f"console {address}/console  ·  API {address}/schema  (demo users, tokens for 24 h)"]
    for u in users:
        password = u.password if u.password is not None else "(unchanged)"
        extra = f"   subject {u.subject_id}" if u.subject_id else ""
        extra += f"   department {u.department}" if u.department else ""
        lines.append(f"  {u.username:<15} {u.role:<11} password {password}{extra}")
    resident = next((u for u in users if u.role == "resident"), None)
    if resident is not None:
        lines.append(
            f"  curl -H 'Authorization: Bearer {resident.token}' "
            f"{address}/api/v1/subjects/{resident.subject_id}/offers"
        )
    return lines
