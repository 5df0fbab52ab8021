"""Users, roles, passwords, API tokens and console sessions.

Passwords are hashed with argon2 (argon2-cffi's defaults, RFC 9106's second recommendation).
API tokens and console sessions are random secrets handed out once; the database keeps only their
SHA-256 digest, so reading the table does not let anyone in.  Every token expires (by default
after :data:`TOKEN_DAYS` days, ``ZHIDA_TOKEN_DAYS``); a token's id — the first
:data:`TOKEN_ID_LENGTH` hex digits of its digest, which give nothing of the secret away — names
it for listing and revoking one at a time.  A console session's forms and scripts carry its
:func:`csrf_token`, derived from the session's secret, which another site cannot read.  A
resident or enterprise user is linked to one subject (``person_id`` / ``enterprise_id``) and may
read only that subject's data.

>>> check_role("officer", department="北京市民政局", subject_id=None)
>>> try:
...     check_role("resident", department=None, subject_id=None)
... except ValidationError as err:
...     print(str(err).split(";")[0])
a resident user needs --subject (their person_id)
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from api.app.errors import AuthenticationError
from core.errors import NotFoundError, ValidationError

__all__ = [
    "ROLES",
    "SESSION_HOURS",
    "SUBJECT_ROLES",
    "TOKEN_DAYS",
    "TOKEN_ID_LENGTH",
    "TokenInfo",
    "User",
    "UserStore",
    "check_role",
    "csrf_token",
    "digest",
    "token_id",
]

ROLES: Final = ("officer", "reviewer", "analyst", "resident", "enterprise", "operator", "admin")
# A user of these roles is one subject; the value is the subject type they are linked to.
SUBJECT_ROLES: Final = {"resident": "resident", "enterprise": "enterprise"}
SESSION_HOURS: Final = 8
TOKEN_DAYS: Final = 30.0  # an API token's lifetime unless said otherwise (ZHIDA_TOKEN_DAYS)
TOKEN_ID_LENGTH: Final = 12
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_MIN_PASSWORD = 8

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids (as the migration).
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_metadata = sa.MetaData()
users = sa.Table(
    "users",
    _metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("department", sa.String(128)),
    sa.Column("subject_id", sa.String(64)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
)
api_tokens = sa.Table(
    "api_tokens",
    _metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", _Id, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # token | session
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime),
    sa.Column("revoked_at", sa.DateTime),
    sa.Index("ix_api_tokens_user", "user_id"),
)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    department: str | None = None
    subject_id: str | None = None

    @property
    def subject_type(self) -> str | None:
        return SUBJECT_ROLES.get(self.role)


def digest(secret: str) -> str:
    """The stored form of a token or session secret.

    >>> digest("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def token_id(token_hash: str) -> str:
    """The id a token is listed and revoked by: the start of its stored digest.

    >>> token_id(digest("abc"))
    'ba7816bf8f01'
    """
    return token_hash[:TOKEN_ID_LENGTH]


def csrf_token(session_secret: str) -> str:
    """The token a session's forms and scripts must send back: a MAC keyed by the session's
    secret, which only the browser holding the (HttpOnly) cookie has.  It is not the stored
    digest, so reading the database does not give it away either.

    >>> csrf_token("s3cret") == csrf_token("s3cret") != csrf_token("other")
    True
    >>> len(csrf_token("s3cret")), csrf_token("s3cret") == digest("s3cret")
    (64, False)
    """
    return hmac.new(session_secret.encode("utf-8"), b"zhida-csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """One token or console session of a user, as `zhida users tokens` lists it."""

    id: str
    username: str
    kind: str  # token | session
    name: str
    created_at: datetime
    # A secret made before tokens expired by default has none stored: the store gives the
    # default lifetime after its creation (UserStore.expiry), when it is treated as expired.
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``active`` at ``now`` (UTC, naive)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def check_role(role: str, *, department: str | None, subject_id: str | None) -> None:
    """Refuse a role without what it needs: an officer's department, a resident's subject."""
    if role not in ROLES:
        raise ValidationError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role in SUBJECT_ROLES and not subject_id:
        what = "person_id" if role == "resident" else "enterprise_id"
        raise ValidationError(
            f"a {role} user needs --subject (their {what}); it is the only data they may read"
        )
    if role not in SUBJECT_ROLES and subject_id:
        raise ValidationError(
            f"--subject is only for resident and enterprise users, not {role}; drop it"
        )
    if role == "officer" and not department:
        raise ValidationError(
            "an officer user needs --department (e.g. 北京市民政局); officers act for one"
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _user(m: Any) -> User:
    return User(int(m["id"]), m["username"], m["role"], m["department"], m["subject_id"])


class UserStore:
    """Users and their credentials in the database (tables of migration 0009)."""

    def __init__(
        self, engine: Engine, hasher: PasswordHasher | None = None, *,
        token_days: float = TOKEN_DAYS,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        self.token_days = token_days

    def create(
        self, username: str, password: str, *, role: str, department: str | None = None,
        subject_id: str | None = None,
    ) -> User:  # fmt: skip
        if not _USERNAME.match(username):
            raise ValidationError(
                f"username {username!r} is not 2-64 letters, digits or . _ @ -; choose another"
            )
        if len(password) < _MIN_PASSWORD:
            raise ValidationError(
                f"the password of {username!r} has {len(password)} characters; use at least "
                f"{_MIN_PASSWORD}"
            )
        check_role(role, department=department, subject_id=subject_id)
        with self.engine.begin() as conn:
            taken = conn.execute(sa.select(users.c.id).where(users.c.username == username))
            if taken.first() is not None:
                raise ValidationError(f"user {username!r} already exists; choose another name")
            inserted = conn.execute(
                users.insert().values(
                    username=username,
                    password_hash=self.hasher.hash(password),
                    role=role,
                    department=department,
                    subject_id=subject_id,
                    created_at=_now(),
                    disabled=False,
                )
            ).inserted_primary_key
        assert inserted is not None
        return User(int(inserted[0]), username, role, department, subject_id)

    def get(self, username: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).mappings()
            found = row.first()
        if found is None:
            raise NotFoundError(f"no user {username!r}; see `zhida users list`")
        return _user(found)

    def list(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.id)).mappings()
            return [_user(m) for m in rows]

    def authenticate(self, username: str, password: str) -> User:
        """The user whose password this is; one message for every failure (no user probing)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users).where(users.c.username == username, users.c.disabled.is_(False))
            ).mappings().first()  # fmt: skip
        refused = AuthenticationError(
            "wrong username or password; check both, or ask an admin to reset the password"
        )
        if row is None:
            # Spend the same time as a real check, so timing does not reveal who exists.
            self.hasher.hash(password)
            raise refused
        try:
            self.hasher.verify(row["password_hash"], password)
        except (VerificationError, InvalidHashError):
            raise refused from None
        if self.hasher.check_needs_rehash(row["password_hash"]):
            with self.engine.begin() as conn:
                conn.execute(
                    users.update()
                    .where(users.c.id == row["id"])
                    .values(password_hash=self.hasher.hash(password))
                )
        return _user(row)

    def issue(self, user: User, *, kind: str = "token", name: str = "api",
              hours: float | None = None) -> str:  # fmt: skip
        """A new secret for ``user`` (``kind`` token or session); shown once, stored hashed.
        It expires after ``hours``, by default a session's :data:`SESSION_HOURS` and a
        token's ``token_days``: nothing made here is valid forever."""
        secret = secrets.token_urlsafe(32)
        now = _now()
        if hours is None:
            hours = SESSION_HOURS if kind == "session" else self.token_days * 24
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.insert().values(
                    token_hash=digest(secret),
                    user_id=user.id,
                    kind=kind,
                    name=name,
                    created_at=now,
                    expires_at=now + timedelta(hours=hours),
                )
            )
        return secret

    def lifetime(self, kind: str) -> timedelta:
        """How long a token or session of ``kind`` is valid from its creation by default."""
        return timedelta(hours=SESSION_HOURS if kind == "session" else self.token_days * 24)

    def expiry(self, kind: str, created_at: datetime, expires_at: datetime | None) -> datetime:
        """When a secret expires: its own expiry, or — made before secrets expired by default
        (no expiry stored) — the default lifetime after its creation."""
        return expires_at if expires_at is not None else created_at + self.lifetime(kind)

    def resolve(self, secret: str, *, kind: str) -> User:
        """The user a token or session secret belongs to, if it is valid now."""
        now = _now()
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users, api_tokens.c.created_at.label("token_created_at"),
                          api_tokens.c.expires_at.label("token_expires_at"))
                .join(api_tokens, api_tokens.c.user_id == users.c.id)
                .where(
                    api_tokens.c.token_hash == digest(secret),
                    api_tokens.c.kind == kind,
                    api_tokens.c.revoked_at.is_(None),
                    users.c.disabled.is_(False),
                )
            ).mappings().first()  # fmt: skip
        if row is not None and row["token_expires_at"] is None:
            lapsed = self.expiry(kind, row["token_created_at"], None)
            if lapsed <= now:
                days = self.lifetime(kind) / timedelta(days=1)
                raise AuthenticationError(
                    f"the {'session' if kind == 'session' else 'token'} was made on "
                    f"{row['token_created_at']:%Y-%m-%d}, before tokens expired by default, and "
                    f"is treated as expired {days:g} day(s) after it was made ({lapsed:%Y-%m-%d}); "
                    + ("log in again" if kind == "session" else
                       "create a new one with `zhida users token USERNAME`")
                )  # fmt: skip
        elif row is not None and row["token_expires_at"] <= now:
            row = None
        if row is None:
            what = "session has expired; log in again" if kind == "session" else (
                "token is unknown, revoked or expired; create one with `zhida users token`"
            )  # fmt: skip
            raise AuthenticationError(f"the {what}")
        return _user(row)

    def disable(self, username: str) -> User:
        """Lock a user out: no login, and every token and session of theirs is revoked."""
        user = self.get(username)
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == user.id).values(disabled=True))
            conn.execute(
                api_tokens.update()
                .where(api_tokens.c.user_id == user.id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        return user

    def revoke(self, secret: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.update()
                .where(api_tokens.c.token_hash == digest(secret))
                .values(revoked_at=_now())
            )

    def tokens(self, username: str) -> builtins.list[TokenInfo]:  # `list` is a method here
        """Every token and session ``username`` was given, newest first."""
        user = self.get(username)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(api_tokens)
                .where(api_tokens.c.user_id == user.id)
                .order_by(api_tokens.c.created_at.desc(), api_tokens.c.token_hash)
            ).mappings()  # fmt: skip
            return [
                TokenInfo(token_id(m["token_hash"]), username, m["kind"], m["name"],
                          m["created_at"], self.expiry(m["kind"], m["created_at"], m["expires_at"]),
                          m["revoked_at"])
                for m in rows
            ]  # fmt: skip

    def revoke_id(self, token: str) -> TokenInfo:
        """Revoke the one token or session whose id is ``token`` (as `tokens` lists it)."""
        if not re.fullmatch(f"[0-9a-f]{{{TOKEN_ID_LENGTH}}}", token):
            raise ValidationError(
                f"{token!r} is not a token id ({TOKEN_ID_LENGTH} hex digits); "
                "`zhida users tokens USER` lists them"
            )
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(api_tokens, users.c.username)
                .join(users, users.c.id == api_tokens.c.user_id)
                .where(api_tokens.c.token_hash.startswith(token))
            ).mappings().all()  # fmt: skip
            if not rows:
                raise NotFoundError(
                    f"no token {token}; `zhida users tokens USER` lists a user's tokens"
                )
            if len(rows) > 1:  # 48 bits: not in practice, but never revoke the wrong one
                raise ValidationError(f"{len(rows)} tokens start with {token}; revoke by user")
            (m,) = rows
            revoked = m["revoked_at"] or _now()
            conn.execute(
                api_tokens.update()
                .where(api_tokens.c.token_hash == m["token_hash"])
                .values(revoked_at=revoked)
            )
        return TokenInfo(token, m["username"], m["kind"], m["name"], m["created_at"],
                         self.expiry(m["kind"], m["created_at"], m["expires_at"]),
                         revoked)  # fmt: skip
