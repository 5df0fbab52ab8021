"""Sharded matching: one run split by subject range over any number of worker machines.

A province does not fit one process's patience, so a run is cut into shards — contiguous ranges
of rows of the population's residents and enterprises files — and each shard is one Dramatiq
message carrying only ``(run_key, shard_no)``.  Any worker on any machine that sees the same
population directory (shared storage) and database takes a shard, matches its subjects, and
lands its pairs in the database in one transaction with the shard's ``done`` mark; a shard
landed twice (a redelivered message) replaces its own pairs, so at-least-once delivery gives
exactly-once results.  The worker that lands the last shard finishes the run: it exports the
pairs to the run's Parquet file and records the run like ``zhida match`` does, so run diffs,
grants and invitations follow the same path.

The run row holds the policies themselves (the rules in force, as JSON), not a path: every
worker matches against exactly the catalog the run was started with.  A run started with a
:class:`PlanRequest` (``zhida match --distributed --plan``) also holds the whole catalog and the
channels to plan over; finishing it records the run and plans its diff in one transaction,
through the planner the notifier registers (:func:`register_planner`: this package sits below
the notifier and does not import it).

Finishing is exactly once: the transaction that records the run also marks the sharded run
complete, on condition that no run was recorded for it yet, so of two finishers racing only
one commits, and a finisher that dies before committing leaves neither the run nor its plan.
The database, not the queue, is the truth: :func:`sweep` re-enqueues shards still pending after
a flushed Redis or a killed worker (within a sweep when the broker can count its messages,
:func:`queued_shards`), and re-finishes runs whose finisher died.

The package's modules: :mod:`~matcher.shards._values` (shards, runs, how a run is cut),
:mod:`~matcher.shards._tables`, :mod:`~matcher.shards._store` (the database side),
:mod:`~matcher.shards._execute` (starting a run, the ``match_shard`` actor),
:mod:`~matcher.shards._finish` (exactly-once finishing, the planner hook) and
:mod:`~matcher.shards._sweeper`.  Importing the package declares the actor (workers do).
"""

from matcher.shards._execute import match_shard, run_shard, start_run
from matcher.shards._finish import Finishing, finish_run, register_planner
from matcher.shards._store import ShardStore
from matcher.shards._sweeper import queued_shards, sweep
from matcher.shards._values import (
    SHARD_QUEUE,
    FinishedElsewhereError,
    PlanRequest,
    Shard,
    ShardRun,
    plan_shards,
)

__all__ = [
    "SHARD_QUEUE",
    "FinishedElsewhereError",
    "Finishing",
    "PlanRequest",
    "Shard",
    "ShardRun",
    "ShardStore",
    "finish_run",
    "match_shard",
    "plan_shards",
    "queued_shards",
    "register_planner",
    "run_shard",
    "start_run",
    "sweep",
]
