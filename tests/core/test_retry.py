"""core.retry: what is retried, how long, and how giving up reads."""

from __future__ import annotations

import pytest
import redis
import sqlalchemy as sa

from core.errors import ConfigurationError, DatabaseError
from core.retry import is_transient, retrying


class _Clock:
    """A clock that a sleep moves forward."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _shutdown() -> sa.exc.OperationalError:
    return sa.exc.OperationalError(
        "SELECT 1", {}, Exception("terminating connection due to administrator command")
    )


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_shutdown(), True),
        (redis.exceptions.ConnectionError("Connection refused"), True),
        (redis.exceptions.TimeoutError("Timeout reading from socket"), True),
        (ConnectionResetError(), True),
        (sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (sa.exc.ProgrammingError("SELECT", {}, Exception("no such column")), False),
        (ValueError("bad input"), False),
    ],
)
def test_only_lost_or_refused_connections_are_retried(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_a_server_back_after_a_few_failures_is_waited_for_with_growing_back_off() -> None:
    clock = _Clock()
    failures = [_shutdown(), _shutdown(), _shutdown()]

    def query() -> int:
        if failures:
            raise failures.pop()
        return 42

    assert retrying(query, what="asking", sleep=clock.sleep, clock=clock) == 42
    assert clock.slept == [0.5, 1.0, 2.0]


def test_a_bug_is_raised_at_once() -> None:
    calls = []

    def query() -> None:
        calls.append(1)
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        retrying(query, what="asking", sleep=lambda s: None)
    assert calls == [1]


def test_a_database_that_stays_away_is_one_line_saying_what_to_check() -> None:
    clock = _Clock()

    def query() -> None:
        raise _shutdown()

    with pytest.raises(DatabaseError) as caught:
        retrying(query, what="waiting for run r1", give_up_after=30, sleep=clock.sleep, clock=clock)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("waiting for run r1: ")
    assert "ZHIDA_DATABASE_URL" in message and "administrator command" in message
    assert clock.now == 30  # the last wait is cut to the deadline
    assert max(clock.slept) <= 10


def test_a_redis_that_stays_away_names_redis() -> None:
    clock = _Clock()

    def send() -> None:
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    with pytest.raises(ConfigurationError, match="ZHIDA_REDIS_URL"):
        retrying(send, what="sweeping", give_up_after=5, sleep=clock.sleep, clock=clock)
