"""Running a sharded run: start it (one message per shard) and the actor that matches a shard.

A shard's message carries only ``(run_key, shard_no)``; the worker that lands the last shard
finishes the run (:mod:`matcher.shards._finish`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine

from core.broker import actor
from core.errors import NotFoundError, ValidationError
from matcher.batch import (
    MATCH_SCHEMA,
    GroupFrames,
    household_slice,
    in_force,
    match_batches,
    plan_policies,
)
from matcher.shards._finish import finish_run
from matcher.shards._store import ShardStore
from matcher.shards._values import (
    DEFAULT_SHARD_ROWS,
    SHARD_QUEUE,
    PlanRequest,
    Shard,
    ShardRun,
    plan_shards,
)
from rules.relations import apply_exclusions


def run_shard(run: ShardRun, shard: Shard) -> pl.DataFrame:
    """The pairs of one shard: its subjects matched against the run's policies."""
    from matcher.needed_tags import event_tagger
    from matcher.population import scan_population
    from profiles.schema import load_schema

    schema = load_schema()
    frames = scan_population(run.population_dir, schema)
    if shard.entity not in frames:
        raise NotFoundError(
            f"the population {run.population_dir} has no {shard.entity}s file any more"
        )
    groups = None
    if "household" in frames or "employment" in frames:
        # the links' aggregates over the whole population, then whole households per shard
        from profiles.links import with_links

        frames = with_links(frames, as_of=run.as_of)
        groups = GroupFrames.of(frames, schema, as_of=run.as_of)
    if shard.entity == "resident" and "household" in frames:
        frame = household_slice(frames["resident"], shard.row_offset, shard.row_count)
    else:
        frame = frames[shard.entity].slice(shard.row_offset, shard.row_count)
    tagger = (
        event_tagger(run.population_dir, schema, run.policies, as_of=run.as_of)
        if run.tags
        else None
    )
    plans = plan_policies(run.policies, schema, as_of=run.as_of)
    batches = list(
        match_batches(
            frame,
            schema.entity(shard.entity),
            plans,
            as_of=run.as_of,
            tagger=tagger,
            groups=groups,
        )
    )
    if not batches:
        return MATCH_SCHEMA.to_frame()
    # as matcher.batch.match_population: one of two mutually exclusive policies per subject
    return apply_exclusions(pl.concat(batches), [p for p in run.policies if in_force(p, run.as_of)])


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# Named as it was when it lived in matcher/shards.py: messages already queued keep their actor.
@actor(
    actor_name="matcher.shards.match_shard",
    queue_name=SHARD_QUEUE,
    max_retries=3,
    min_backoff=1_000,
    max_backoff=30_000,
)
def match_shard(run_key: str, shard_no: int) -> None:
    """Match one shard and land its pairs; the worker landing the last shard finishes the run.

    A message for a shard that has landed already (redelivered, retried after the finish
    failed, or re-sent by :func:`sweep` for a run no finisher recorded) only tries to finish.
    """
    from core.db import get_engine

    store = ShardStore(get_engine())
    run = store.run(run_key)
    shard, status = store.shard(run_key, shard_no)
    if status != "done":
        store.count_attempt(run_key, shard_no)
        try:
            pairs = run_shard(run, shard)
        except (NotFoundError, ValidationError, OSError, pl.exceptions.PolarsError) as exc:
            store.fail(run_key, shard_no, f"{type(exc).__name__}: {exc}")
            return  # bad input will not get better by retrying
        store.land(run_key, shard_no, pairs, worker=_worker_name())
    if store.claim_finish(run_key):
        finish_run(store, run_key)


def start_run(
    engine: Engine,
    *,
    population_dir: Path,
    policies: Sequence[Any],
    catalog_hash: str,
    as_of: date,
    tags: bool = True,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    plan: PlanRequest | None = None,
) -> str:
    """Record a sharded run over ``population_dir`` and send one message per shard.

    With ``plan``, finishing the run also plans its diff, in the transaction that records it.
    """
    from matcher.population import scan_population
    from matcher.runs import population_snapshot
    from profiles.schema import load_schema

    frames = scan_population(population_dir, load_schema())
    counts = {name: int(f.select(pl.len()).collect().item()) for name, f in frames.items()}
    shards = plan_shards(counts, shard_rows)
    store = ShardStore(engine)
    run_key = store.create(
        population_dir=population_dir,
        population=population_snapshot(population_dir),
        as_of=as_of,
        catalog_hash=catalog_hash,
        policies=policies,
        tags=tags,
        shards=shards,
        plan=plan,
    )
    for shard in shards:
        match_shard.send(run_key, shard.shard_no)
    if not shards and store.claim_finish(run_key):
        finish_run(store, run_key)
    return run_key
