"""Shared fixtures: real PostgreSQL and Redis where the machine has them, one of each per
pytest-xdist worker, and synthetic populations generated once per test session.

Locally a test that needs a server it cannot reach is skipped with the reason; under
``CI=true`` it fails instead, so CI never passes by skipping (STYLE.md §11).

Parallel runs (``pytest -n 2``, as ``make test`` does): worker ``gwN`` gets a PostgreSQL database
of its own, ``<database>_gwN`` (created on first use and kept for the next run; each test still
works in a fresh schema of it), and the N-th Redis db below the one ``ZHIDA_TEST_REDIS_URL``
names (15, 14, 13, …), so no two workers flush the same db.

This module imports nothing heavy at the top: every test module's collection waits for it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from core.db import dispose_engine
from tests.populations import Populations

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get(
    "ZHIDA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("ZHIDA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", … in an xdist worker


def _unavailable(what: str, exc: BaseException) -> NoReturn:
    message = f"{what} is not reachable ({exc}); start it or set the ZHIDA_TEST_* URL"
    if CI:
        pytest.fail(message)
    pytest.skip(message)


def worker_index(worker: str) -> int:
    """The number of an xdist worker; 0 outside xdist.

    >>> worker_index("gw3"), worker_index("")
    (3, 0)
    """
    return int(worker.removeprefix("gw")) if worker else 0


def worker_postgres_url(url: str, worker: str) -> str:
    """The URL of the worker's own database: the database of ``url`` suffixed with the worker.

    >>> worker_postgres_url("postgresql://postgres@127.0.0.1:5432/test", "gw1")
    'postgresql://postgres@127.0.0.1:5432/test_gw1'
    >>> worker_postgres_url("postgresql://postgres@127.0.0.1:5432/test?sslmode=disable", "")
    'postgresql://postgres@127.0.0.1:5432/test?sslmode=disable'
    """
    if not worker:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_{worker}"))


def worker_redis_url(url: str, worker: str) -> str:
    """The URL of the worker's own Redis db: the N-th db below the one ``url`` names.

    >>> worker_redis_url("redis://127.0.0.1:6379/15", "gw2")
    'redis://127.0.0.1:6379/13'
    >>> worker_redis_url("redis://127.0.0.1:6379", "")
    'redis://127.0.0.1:6379'
    >>> worker_redis_url("redis://127.0.0.1:6379/1", "gw2")
    Traceback (most recent call last):
    ...
    ValueError: ZHIDA_TEST_REDIS_URL names db 1, too low for worker gw2 (it takes db 1 - 2); name db 2 or higher, or run fewer workers
    """  # noqa: E501
    if not worker:
        return url
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    index = worker_index(worker)
    if db - index < 0:
        raise ValueError(
            f"ZHIDA_TEST_REDIS_URL names db {db}, too low for worker {worker} (it takes db "
            f"{db} - {index}); name db {index} or higher, or run fewer workers"
        )
    return urlunsplit(parts._replace(path=f"/{db - index}"))


@cache
def _worker_database() -> str:
    """The worker's PostgreSQL database, created if it does not exist yet; its URL."""
    url = worker_postgres_url(POSTGRES_URL, WORKER)
    if url == POSTGRES_URL:
        return url
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            # Another run may create it between the look and the create: that is as good.
            with contextlib.suppress(sa.exc.ProgrammingError, sa.exc.IntegrityError):
                if not exists:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own data directory and SQLite file; nothing leaks between tests."""
    monkeypatch.setenv("ZHIDA_DATA_DIR", str(tmp_path / "zhida"))
    monkeypatch.delenv("ZHIDA_DATABASE_URL", raising=False)
    monkeypatch.delenv("ZHIDA_REDIS_URL", raising=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema in the worker's database, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        database = _worker_database()
        admin = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    sep = "&" if "?" in database else "?"
    # The schema's name is also the connections' application_name, so that the ones a test
    # leaves open (an engine cached per URL, a worker process) are closed with the schema:
    # otherwise they pile up over a run until PostgreSQL refuses more clients.
    url = f"{database}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    yield url
    dispose_engine(url)
    with admin.begin() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :name AND pid <> pg_backend_pid()"
            ),
            {"name": schema},
        )
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def redis_url() -> str:
    """The worker's Redis db, flushed."""
    import redis

    try:
        url = worker_redis_url(REDIS_URL, WORKER)
    except ValueError as exc:
        pytest.fail(str(exc))
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    client.flushdb()
    client.close()
    return url


@pytest.fixture(scope="session")
def populations(tmp_path_factory: pytest.TempPathFactory) -> Populations:
    """The session's population factory; its files live under the session's temporary dir."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if WORKER else base) / "populations"  # xdist: shared by the workers
    root.mkdir(exist_ok=True)
    return Populations(root)
