"""The sweeper of sharded runs: the database, not the queue, is the truth.

It re-sends shards whose message was lost (a flushed Redis, a killed worker, a message dropped
after its retries) and a message to finish each run whose finisher died.

A lost message is noticed two ways.  When the broker can count its shard messages (Redis:
queued, delayed and being worked on, :func:`queued_shards`) and holds fewer than there are
shards pending for more than ``lost_after`` (15 s), messages were lost: those shards are
re-sent at once — a flushed Redis is repaired within one sweep.  Otherwise a shard pending
longer than ``older_than`` (10 minutes) is re-sent: a re-sent shard that was only waiting in
the queue costs a cheap duplicate message (a landed shard lands nothing twice), so this slower
rule is kept for brokers that cannot count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.engine import Engine

from matcher.shards._execute import match_shard
from matcher.shards._store import ShardStore
from matcher.shards._values import SHARD_QUEUE

__all__ = ["queued_shards", "sweep"]

LOST_AFTER = timedelta(seconds=15)


def queued_shards() -> int | None:
    """How many shard messages the broker holds — queued, delayed or being worked on — or
    None when it cannot say (the in-process broker)."""
    from core.broker import current_broker

    broker = current_broker()
    count = getattr(broker, "do_qsize", None)  # the Redis broker's own count
    if count is None:
        return None
    return int(count(SHARD_QUEUE))


def sweep(
    engine: Engine,
    *,
    older_than: timedelta = timedelta(minutes=10),
    stalled_after: timedelta = timedelta(minutes=10),
    queued: Callable[[], int | None] | None = None,
    lost_after: timedelta = LOST_AFTER,
) -> int:
    """Re-send lost shards, and a message to finish each run whose shards all landed more than
    ``stalled_after`` ago but that nobody recorded (its finisher died or failed); returns how
    many messages were sent.

    Lost shards: with ``queued`` (how many shard messages the broker holds, e.g.
    :func:`queued_shards`), every shard pending for more than ``lost_after`` when the broker
    holds fewer messages than that; otherwise, or besides, shards pending longer than
    ``older_than``.

    ``stalled_after`` should exceed how long finishing a run takes: a finisher still at work
    when its run is re-sent only costs work twice (one of the two commits), never a run twice.
    """
    store = ShardStore(engine)
    stale = store.stale(older_than)
    if queued is not None:
        waiting = store.stale(lost_after)
        held = queued() if waiting else None
        if held is not None and held < len(waiting):
            stale = sorted(set(stale) | set(waiting))
    by_run: dict[str, list[int]] = {}
    for run_key, shard_no in stale:
        match_shard.send(run_key, shard_no)
        by_run.setdefault(run_key, []).append(shard_no)
    for run_key, numbers in by_run.items():
        store.mark_enqueued(run_key, numbers)
    stalled = store.stalled(stalled_after)
    for run_key, last_shard in stalled:
        store.release(run_key)
        match_shard.send(run_key, last_shard)  # landed already: it only finishes the run
    return len(stale) + len(stalled)
