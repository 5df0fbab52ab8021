"""``zhida match --distributed``: a run cut into shards that any worker on any machine takes.

With ``ZHIDA_REDIS_URL`` set the shards go to Redis and ``zhida worker`` processes (on this or
other machines sharing the database and the population directory) match them; this command
waits, showing progress, and re-sends shards whose messages were lost.  Without Redis the same
actors run in this process.  When every shard has landed but no worker recorded the run (its
finisher failed), this command finishes it itself, so the error, if it persists, is shown here
and the run is marked failed (no sweeper records it later behind the user's back).
With ``--plan`` the run is recorded with the plan of its diff; this command then says what was
planned and, without Redis, delivers it.
"""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from matcher.shards import PlanRequest, ShardStore

__all__ = ["run_distributed", "show_shards"]

_POLL_SECONDS = 0.5


def run_distributed(
    *,
    population: Path,
    in_force: tuple[Any, ...],
    catalog_hash: str,
    as_of: date,
    tags: bool,
    shard_rows: int,
    out: Path,
    wait: bool,
    timeout: float,
    plan: PlanRequest | None = None,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from core.broker import current_broker, run_in_process
    from core.db import get_engine, upgrade
    from core.errors import DeliveryError, NotFoundError
    from core.retry import retrying
    from matcher.shards import SHARD_QUEUE, ShardStore, finish_run, queued_shards, start_run, sweep

    if plan is not None:
        import notifier.campaign  # noqa: F401 -- registers the planner that records the run

    engine = get_engine()
    upgrade(engine)
    broker = current_broker()
    run_key = start_run(
        engine, population_dir=population, policies=in_force, catalog_hash=catalog_hash,
        as_of=as_of, tags=tags, shard_rows=shard_rows, plan=plan,
    )  # fmt: skip
    store = ShardStore(engine)
    total = retrying(lambda: store.run(run_key), what=f"reading sharded run {run_key}").shards
    click.echo(f"sharded run {run_key}: {total} shards of at most {shard_rows:,} subjects")
    in_process = not _uses_redis(broker)
    if in_process:
        _quiet_actors()
        run_in_process(broker, [SHARD_QUEUE])
    elif not wait:
        click.echo(f"follow it with: zhida runs shards {run_key}")
        return
    deadline = time.monotonic() + timeout
    last_sweep = time.monotonic()
    # The database or Redis restarting while we wait is ridden out (core.retry).
    waiting = f"waiting for sharded run {run_key}"
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), transient=True, disable=in_process,
    ) as bar:  # fmt: skip
        task = bar.add_task("shards", total=total)
        while True:
            progress = retrying(lambda: store.progress(run_key), what=waiting)
            bar.update(task, completed=progress["done"])
            if progress["failed"]:
                raise NotFoundError(_failures(store, run_key))
            run = retrying(lambda: store.run(run_key), what=waiting)
            if run.run_id is not None:
                break
            # Every shard landed and no finisher holds the run: finish it here, so that an
            # error finishing it (planning it) reaches this command's user.
            landed = progress["done"] == total and run.status == "running"
            if landed and retrying(lambda: store.claim_finish(run_key), what=waiting):
                try:
                    finish_run(store, run_key)
                except BaseException:
                    # The user is told; no sweeper records the run behind their back later.
                    store.abandon(run_key)
                    raise
                continue
            if in_process:
                raise DeliveryError(
                    f"sharded run {run_key} did not complete in process: {progress}"
                )
            if time.monotonic() > deadline:
                raise DeliveryError(
                    f"sharded run {run_key} is still running after {timeout:.0f}s "
                    f"({progress['done']} of {total} shards done); are `zhida worker` "
                    f"processes running? Follow it with: zhida runs shards {run_key}"
                )
            if time.monotonic() - last_sweep > 15:  # lost messages (a flushed Redis)
                retrying(
                    lambda: sweep(engine, older_than=timedelta(seconds=60), queued=queued_shards),
                    what=waiting,
                )
                last_sweep = time.monotonic()
            time.sleep(_POLL_SECONDS)
    run = retrying(lambda: store.run(run_key), what=waiting)
    from core.settings import get_settings
    from matcher.runs import RunStore

    runs = RunStore(engine, get_settings().data_dir)
    recorded = retrying(lambda: runs.get(run.run_id or 0), what=f"reading run {run.run_id}")
    from matcher.pairs_file import copy_pairs

    copy_pairs(recorded.pairs_file, out)  # whole or not at all (`match` checked OUT first)
    click.echo(
        f"{len(in_force)} policies in force on {as_of}; {recorded.eligible:,} eligible, "
        f"{recorded.maybe:,} maybe; wrote {out}; recorded run {recorded.run_id}"
    )
    if plan is not None:
        _say_planned(recorded.run_id, in_process=in_process)


def _say_planned(run_id: int, *, in_process: bool) -> None:
    from api.commands.deliveries import deliver_planned
    from core.settings import get_settings
    from notifier.campaign import run_plan

    planned = run_plan(get_settings(), run_id)
    if planned is None:
        click.echo("the first run: nothing to push until the next run changes something")
        return
    # The finisher handed the rows due now to the workers; in process, deliver them here.
    deliver_planned(planned, deliver=in_process)
    if not in_process:
        click.echo("the rows due now were handed to the workers (`zhida worker` delivers them)")


def _quiet_actors() -> None:
    """In process, this command reports what failed (failed shards, a run it cannot finish);
    the actors' own log would reach the terminal with tracebacks through logging's last resort
    when nothing else handles it."""
    log = logging.getLogger("dramatiq")
    if not log.handlers:
        log.addHandler(logging.NullHandler())


def _uses_redis(broker: object) -> bool:
    from dramatiq.brokers.stub import StubBroker

    return not isinstance(broker, StubBroker)


def _failures(store: ShardStore, run_key: str) -> str:
    failed = store.failures(run_key)
    listed = "; ".join(f"shard {n}: {e}" for n, e in failed[:3])
    return f"sharded run {run_key}: {len(failed)} shard(s) failed ({listed})"


def show_shards(run_key: str) -> None:
    """Print a sharded run's progress."""
    from core.db import get_engine, upgrade
    from matcher.shards import ShardStore

    engine = get_engine()
    upgrade(engine)
    store = ShardStore(engine)
    run = store.run(run_key)
    p = store.progress(run_key)
    click.echo(
        f"sharded run {run_key}: {run.status}; {p['done']} of {run.shards} shards done, "
        f"{p['pending']} pending, {p['failed']} failed"
        + (f"; recorded as run {run.run_id}" if run.run_id is not None else "")
    )
