"""The Dramatiq broker: Redis when ``ZHIDA_REDIS_URL`` is set, in-process otherwise.

Actors are declared with :func:`actor` instead of ``dramatiq.actor`` so that declaring one never
reaches for a default broker (Dramatiq's own default is a RabbitMQ or Redis broker on localhost)
and so that :func:`configure_broker` can bind every declared actor to the broker chosen at run
time — Redis in a deployment, a :class:`~dramatiq.brokers.stub.StubBroker` drained by
in-process worker threads in the embedded default and in unit tests.

A queue message carries ids only (a ledger row, a shard); the database is the source of truth,
so a flushed Redis loses no work: sweepers re-enqueue what the database says is still due.

>>> @actor(queue_name="doctest")
... def double(x: int) -> int:
...     return 2 * x
>>> broker = configure_broker(None)
>>> double.send(21).queue_name
'doctest'
>>> run_in_process(broker, ["doctest"])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, overload

import dramatiq
from dramatiq.brokers.stub import StubBroker

from core.errors import ConfigurationError

__all__ = ["actor", "configure_broker", "current_broker", "declared_actors", "run_in_process"]

P = ParamSpec("P")
R = TypeVar("R")

# Every actor Zhida declares, so a newly configured broker can adopt them all.
_ACTORS: dict[str, dramatiq.Actor[Any, Any]] = {}
# Actors are first declared on this placeholder; configure_broker rebinds them.
_PLACEHOLDER = StubBroker()
_current: dramatiq.Broker | None = None
_current_url: str | None = None


@overload
def actor(
    fn: Callable[P, R],
    *,
    actor_name: str | None = None,
    queue_name: str = "default",
    **options: Any,
) -> dramatiq.Actor[P, R]: ...


@overload
def actor(
    fn: None = None,
    *,
    actor_name: str | None = None,
    queue_name: str = "default",
    **options: Any,
) -> Callable[[Callable[P, R]], dramatiq.Actor[P, R]]: ...


def actor(
    fn: Callable[P, R] | None = None,
    *,
    actor_name: str | None = None,
    queue_name: str = "default",
    **options: Any,
) -> dramatiq.Actor[P, R] | Callable[[Callable[P, R]], dramatiq.Actor[P, R]]:
    """Declare a Dramatiq actor bound to whichever broker :func:`configure_broker` installs."""

    def decorate(func: Callable[P, R]) -> dramatiq.Actor[P, R]:
        name = actor_name or f"{func.__module__}.{func.__name__}"
        if name in _ACTORS:  # re-import of a module (tests): keep one declaration
            return _ACTORS[name]
        declared: dramatiq.Actor[P, R] = dramatiq.Actor(
            func,
            broker=_current or _PLACEHOLDER,
            actor_name=name,
            queue_name=queue_name,
            priority=0,
            options=options,
        )
        _ACTORS[name] = declared
        return declared

    return decorate(fn) if fn is not None else decorate


def declared_actors() -> dict[str, dramatiq.Actor[Any, Any]]:
    """The actors declared so far, by name."""
    return dict(_ACTORS)


def configure_broker(redis_url: str | None) -> dramatiq.Broker:
    """Install the broker for ``redis_url`` (``None``: in-process) and bind every actor to it."""
    global _current, _current_url  # one process-wide broker, like dramatiq's own
    broker: dramatiq.Broker
    if redis_url:
        from dramatiq.brokers.redis import RedisBroker

        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError(
                f"ZHIDA_REDIS_URL={redis_url!r} is not a Redis URL; expected e.g. "
                "'redis://127.0.0.1:6379/0', or leave it unset for in-process workers"
            )
        broker = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    for declared in _ACTORS.values():
        declared.broker = broker
        broker.declare_actor(declared)
    _current, _current_url = broker, redis_url
    return broker


def current_broker() -> dramatiq.Broker:
    """The configured broker; configures the one the settings name if it is not that one."""
    from core.settings import get_settings

    wanted = get_settings().redis_url
    if _current is None or wanted != _current_url:
        return configure_broker(wanted)
    return _current


def run_in_process(
    broker: dramatiq.Broker, queues: Iterable[str], *, threads: int = 4, timeout_ms: int = 600_000
) -> None:
    """Drain ``queues`` of an in-process (stub) broker with worker threads, then stop them.

    Failures are not raised here: actors record their outcomes in the database, which is what
    callers read.
    """
    if not isinstance(broker, StubBroker):
        raise ConfigurationError(
            "in-process workers need the in-process broker; with ZHIDA_REDIS_URL set, start "
            "workers with 'zhida worker'"
        )
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        for queue in queues:
            broker.declare_queue(queue)
            broker.join(queue, timeout=timeout_ms, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
