"""Riding out a restarted database or Redis: retry with back-off what can be retried.

A long-running command (``zhida match --distributed`` waiting for its shards) or a worker's
sweeper must outlive PostgreSQL restarting (its connections terminated: ``AdminShutdown``) and
Redis restarting or being unreachable for a while.  :func:`retrying` calls a function again,
waiting longer each time (:func:`delays`), while it fails in a way that coming back later can
fix (:func:`is_transient`: a lost or refused connection), and gives up after ``give_up_after``
seconds with one line saying what to check.  Anything else is raised at once: retrying a bug
or bad input only hides it.

The engine checks each pooled connection before use (``pool_pre_ping``, :mod:`core.db`), so a
connection the server dropped while idle is replaced without an error; what is left for this
module is a server that is down for a while, or a connection that dies during a query.

>>> delays(6, base=0.5, cap=4.0)
[0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
>>> calls = []
>>> def flaky() -> str:
...     calls.append(1)
...     if len(calls) < 3:
...         raise ConnectionRefusedError("the server is restarting")
...     return "answer"
>>> retrying(flaky, what="asking", sleep=lambda s: None)
'answer'
>>> len(calls)
3
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from core.errors import ConfigurationError, DatabaseError

__all__ = ["delays", "is_transient", "retrying"]

T = TypeVar("T")
log = logging.getLogger("zhida.retry")


def delays(n: int, *, base: float = 0.5, cap: float = 10.0) -> list[float]:
    """The first ``n`` waits between attempts: doubling from ``base``, at most ``cap``."""
    return [min(cap, base * 2.0**i) for i in range(n)]


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a lost or refused connection to the database or Redis — something
    trying again later can fix — rather than a bug or bad input.

    >>> is_transient(ConnectionResetError()), is_transient(ValueError("bad input"))
    (True, False)
    """
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return True  # connection refused, terminated (AdminShutdown), the server shutting down
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    import redis

    return isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError)


def retrying(
    fn: Callable[[], T],
    *,
    what: str,
    give_up_after: float = 300.0,
    base: float = 0.5,
    cap: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``fn()``, called again after a back-off while it fails transiently (:func:`is_transient`).

    After ``give_up_after`` seconds of failures, raises :class:`~core.errors.DatabaseError`
    (or :class:`~core.errors.ConfigurationError` for Redis) naming ``what`` was being done and
    the last error, in one line.
    """
    started = clock()
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            waited = clock() - started
            if waited >= give_up_after:
                raise _gave_up(what, waited, exc) from exc
            wait = min(cap, base * 2.0**attempt, max(0.0, give_up_after - waited))
            attempt += 1
            log.warning(
                "%s: %s; trying again in %.1f s", what, _one_line(exc), wait
            )  # the first line of the error: the whole of it is a traceback's worth
            sleep(wait)


def _gave_up(what: str, waited: float, exc: BaseException) -> Exception:
    reason = _one_line(exc)
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return DatabaseError(
            f"{what}: the database did not answer for {waited:.0f} s ({reason}); check "
            "ZHIDA_DATABASE_URL and that the server is running, then run the command again"
        )
    return ConfigurationError(
        f"{what}: Redis or the database did not answer for {waited:.0f} s ({reason}); check "
        "ZHIDA_REDIS_URL, ZHIDA_DATABASE_URL and that the servers are running"
    )


def _one_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    text = " ".join(str(inner).split()) or type(inner).__name__
    return f"{type(inner).__name__}: {text}"[:300]
