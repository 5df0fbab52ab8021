"""The sweeper of sharded runs: the database, not the queue, is the truth.

It re-sends shards whose message was lost (a flushed Redis, a killed worker) and a message to
finish each run whose finisher died.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from matcher.shards.execute import match_shard
from matcher.shards.store import ShardStore


def sweep(
    engine: Engine,
    *,
    older_than: timedelta = timedelta(minutes=10),
    stalled_after: timedelta = timedelta(minutes=10),
) -> int:
    """Re-send shards pending longer than ``older_than`` (lost messages), and a message to
    finish each run whose shards all landed more than ``stalled_after`` ago but that nobody
    recorded (its finisher died or failed); returns how many messages were sent.

    ``stalled_after`` should exceed how long finishing a run takes: a finisher still at work
    when its run is re-sent only costs work twice (one of the two commits), never a run twice.
    """
    store = ShardStore(engine)
    stale = store.stale(older_than)
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
