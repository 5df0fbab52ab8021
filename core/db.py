"""The database: one SQLAlchemy 2 Core engine per URL, migrations applied with Alembic.

SQLite (a file under the data directory) is the embedded default; PostgreSQL is used when
``ZHIDA_DATABASE_URL`` says so.  Its pooled connections are checked before use
(``pool_pre_ping``), so one dropped by a restarted server is replaced, not failed on; what
outlives a server that is down for a while is :mod:`core.retry`.  Tables are created only by
the migrations in ``core/migrations/versions`` — never by ``metadata.create_all`` — so both
back ends stay equal.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

if TYPE_CHECKING:  # Alembic is imported when a migration runs: a third of a command's start-up
    from alembic.config import Config


from core.errors import DatabaseError
from core.settings import get_settings

__all__ = [
    "MIGRATIONS_DIR",
    "current_revision",
    "dispose_engine",
    "get_engine",
    "head_revision",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _normalise(url: str) -> str:
    # psycopg 3 is the driver we ship; plain postgresql:// URLs would ask for psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: the configured database), created once per URL."""
    return _engine(_normalise(url or get_settings().database_url))


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def dispose_engine(url: str) -> None:
    """Close the pooled connections of ``url``'s engine and forget it (a later
    :func:`get_engine` makes a new one): for a database that is about to go away, such as a
    test's schema, whose idle connections would otherwise stay open for the process's life."""
    with _ENGINES_LOCK:
        engine = _ENGINES.pop(_normalise(url), None)
    if engine is not None:
        engine.dispose()


def _engine(url: str) -> Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = _create_engine(url)
        return engine


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) not in ("", ":memory:"):
            path.parent.mkdir(parents=True, exist_ok=True)
    # A server's connections can go away under the pool (PostgreSQL restarted, an idle
    # connection cut): each is checked before use (one round trip) and replaced if dead, so a
    # long-running command or worker does not fail on the first query after a restart.
    options = {} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        engine = sa.create_engine(url, future=True, **options)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise DatabaseError(
            f"cannot use database URL {url!r}: {exc}; expected 'sqlite:///FILE' or "
            "'postgresql://USER@HOST:PORT/DB'"
        ) from exc
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(get_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None, "core/migrations has no revisions"
    return head


@cache
def _head_in_files() -> str | None:
    """The head revision as the migration files declare it, read as text (no Alembic).

    ``None`` unless exactly one revision is nobody's ``down_revision``.
    """
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev = re.search(r'^revision\s*=\s*"([^"]+)"', text, re.M)
        down = re.search(r'^down_revision\s*=\s*(?:"([^"]+)"|None)\s*$', text, re.M)
        if rev is None or down is None:
            return None  # a form this reader does not know: ask Alembic
        revisions[rev.group(1)] = down.group(1)
    heads = set(revisions) - set(revisions.values())
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine) -> str | None:
    """The head revision if the database is at it already (one query, no Alembic), else None."""
    head = _head_in_files()
    if head is None:
        return None
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None  # a new database
        found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
        return head if list(found) == [head] else None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine | None = None, revision: str = "head") -> str:
    """Apply every migration up to ``revision``; returns the revision now in force."""
    engine = engine or get_engine()
    try:
        if revision == "head" and (head := _at_head(engine)) is not None:
            return head  # the common case, without importing Alembic
        from alembic import command

        command.upgrade(_alembic_config(engine), revision)
        rev = current_revision(engine)
    except sa.exc.OperationalError as exc:
        raise DatabaseError(
            f"cannot reach the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{' '.join(str(exc.orig).split())}; "
            "check ZHIDA_DATABASE_URL and that the server is running"
        ) from exc
    return rev or "base"
