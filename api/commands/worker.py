"""``zhida worker``: Dramatiq worker processes on the Redis broker, each with a sweeper.

The parent process starts ``--processes`` children and restarts any that dies (a crash, an
out-of-memory kill, SIGKILL); SIGTERM or Ctrl-C stops them all, letting in-flight messages
finish.  Each child configures the broker from ``ZHIDA_REDIS_URL``, loads every actor module
(``api.workers``), runs ``--threads`` worker threads and a sweeper thread that re-enqueues
what the ledger says is due, and one that re-sends lost shards of sharded match runs (every
``--shard-sweep-every`` seconds, 30 by default: a flushed Redis's shards are re-sent within a
minute).  Both sweepers ride out a restarting database or Redis (:mod:`core.retry`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import click

__all__ = ["register", "serve"]

log = logging.getLogger("zhida.worker")


def _load_actors() -> None:
    import importlib

    from core.broker import configure_broker
    from core.settings import get_settings

    try:
        importlib.import_module("api.workers")  # configures the broker, loads every actor
    except ModuleNotFoundError as exc:
        if exc.name != "api.workers":
            raise
        importlib.import_module("notifier.actors")
        configure_broker(get_settings().redis_url)


def _child(
    threads: int, queues: Sequence[str], sweep_every: float, stale: float,
    prepare: Callable[[], Any] | None, shard_sweep_every: float = 30.0,
) -> None:  # fmt: skip
    import faulthandler

    import dramatiq

    from core.broker import configure_broker, current_broker
    from core.settings import get_settings
    from notifier.actors import send_batches
    from notifier.runtime import runtime
    from notifier.sweeper import Sweeper

    faulthandler.register(signal.SIGUSR1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    if os.environ.get("ZHIDA_LOG_DELIVERIES"):
        logging.getLogger("zhida.delivery").setLevel(logging.DEBUG)
    for noisy in ("httpx", "alembic", "dramatiq.broker.RedisBroker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The modules were imported before the fork; the broker's connections must be this
    # process's own.
    configure_broker(get_settings().redis_url)
    if prepare is not None:
        prepare()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    broker = current_broker()
    worker = dramatiq.Worker(broker, queues=set(queues), worker_threads=threads)
    worker.start()

    sweeper = Sweeper(runtime, send_batches, interval=sweep_every, stale=stale).start()
    threading.Thread(target=_sweep_shards, args=(stop, shard_sweep_every), daemon=True).start()
    stop.wait()
    sweeper.stop()
    worker.stop(timeout=30_000)
    broker.close()


def _sweep_shards(stop: threading.Event, every: float = 30.0, lost_after: float = 15.0) -> None:
    """Re-send shards of sharded match runs whose messages were lost (a flushed Redis): within
    ``every`` + ``lost_after`` seconds when Redis can count its messages."""
    from datetime import timedelta

    from core.db import get_engine
    from core.errors import ZhidaError
    from core.retry import retrying
    from matcher.shards import queued_shards, sweep

    log = logging.getLogger("zhida.shards")
    while not stop.wait(every):
        try:
            resent = retrying(
                lambda: sweep(
                    get_engine(), older_than=timedelta(minutes=10), queued=queued_shards,
                    lost_after=timedelta(seconds=lost_after),
                ),
                what="sweeping sharded runs", give_up_after=every,
            )  # fmt: skip
        except ZhidaError as exc:  # the database or Redis stayed away: say so in one line
            log.error("%s; trying again in %.0f s", exc, every)
            continue
        except Exception:  # a sweeper thread must outlive a bug too; it logs it and waits
            log.exception("sweeping sharded runs failed; trying again in %.0f s", every)
            continue
        if resent:
            log.info("re-sent %d shard(s) of sharded match runs", resent)


def serve(
    *, processes: int, threads: int, queues: Sequence[str], sweep_every: float = 5.0,
    stale: float = 120.0, prepare: Callable[[], Any] | None = None,
    shard_sweep_every: float = 30.0,
) -> None:  # fmt: skip
    """Run worker processes until SIGTERM/SIGINT, restarting any that dies."""
    _load_actors()  # once, before forking: a restarted child is up at once
    ctx = multiprocessing.get_context("fork")
    stopping = threading.Event()

    def start() -> Any:
        p = ctx.Process(
            target=_child,
            args=(threads, tuple(queues), sweep_every, stale, prepare, shard_sweep_every),
            daemon=False,
        )
        p.start()
        return p

    children = [start() for _ in range(processes)]
    click.echo(
        f"zhida worker: {processes} process(es) × {threads} thread(s) on {', '.join(queues)}; "
        f"pids {' '.join(str(c.pid) for c in children)}",
        err=True,
    )
    previous = {
        s: signal.signal(s, lambda *_: stopping.set()) for s in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        while not stopping.wait(0.5):
            for i, child in enumerate(children):
                if not child.is_alive():
                    click.echo(
                        f"zhida worker: process {child.pid} exited ({child.exitcode}); restarting",
                        err=True,
                    )
                    children[i] = start()
    finally:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 40
        for child in children:
            child.join(timeout=max(0.1, deadline - time.monotonic()))
        for s, handler in previous.items():
            signal.signal(s, handler)


@click.command("worker")
@click.option("--processes", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option(
    "--queue", "queues", multiple=True,
    help="A queue to consume (repeatable); default: every actor's queue.",
)  # fmt: skip
@click.option(
    "--sweep-every",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds between sweeper passes (re-enqueue what the ledger says is due).",
)
@click.option(
    "--stale",
    type=float,
    default=120.0,
    show_default=True,
    help="Re-enqueue a due row handed to the broker this many seconds ago.",
)
@click.option(
    "--shard-sweep-every",
    type=click.FloatRange(0.1, 60.0),
    default=30.0,
    show_default=True,
    help="Seconds between re-sending lost shards of sharded match runs (at most 60).",
)
def worker_cmd(
    processes: int, threads: int, queues: tuple[str, ...], sweep_every: float, stale: float,
    shard_sweep_every: float,
) -> None:  # fmt: skip
    """Start workers that deliver the outbox (and run every other actor) from Redis.

    \b
    Needs ZHIDA_REDIS_URL, e.g.:
      ZHIDA_REDIS_URL=redis://127.0.0.1:6379/0 zhida worker --processes 2 --threads 8
    Without Redis, `zhida deliveries plan` and `zhida demo` deliver in-process instead.
    """
    from core.errors import ConfigurationError
    from core.settings import get_settings

    if not get_settings().redis_url:
        raise ConfigurationError(
            "zhida worker needs a Redis broker: set ZHIDA_REDIS_URL (e.g. "
            "'redis://127.0.0.1:6379/0'); without Redis, `zhida deliveries plan` delivers "
            "in-process"
        )
    if not queues:
        try:
            from api.workers import QUEUES

            queues = tuple(QUEUES)
        except ModuleNotFoundError:
            queues = ("deliveries",)
    serve(processes=processes, threads=threads, queues=queues, sweep_every=sweep_every,
          stale=stale, shard_sweep_every=shard_sweep_every)  # fmt: skip


def register(group: click.Group) -> None:
    group.add_command(worker_cmd)
