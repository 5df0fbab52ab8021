"""Finishing a sharded run, exactly once: export its pairs and record it (and plan it).

The notifier installs how runs that asked for planning are recorded (:func:`register_planner`):
this package sits below the notifier and does not import it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.errors import ConfigurationError
from matcher.batch import in_force, write_pairs
from matcher.shards._store import ShardStore
from matcher.shards._tables import now as _now
from matcher.shards._tables import runs_table
from matcher.shards._values import FinishedElsewhereError, PlanRequest, ShardRun
from matcher.units import PAIRS_SCHEMA, Links, attribute_units, needs_links


@dataclass(frozen=True)
class Finishing:
    """A sharded run that asked for planning, as its finisher hands it to the planner.

    The planner records the run from ``pairs_file`` and plans its diff in one transaction, and
    calls ``complete(conn, run_id)`` in that transaction before writing the plan (it raises
    :class:`FinishedElsewhereError` when another finisher committed first).  It returns the run id.
    """

    run: ShardRun
    plan: PlanRequest
    pairs_file: Path
    started_at: datetime
    seconds: float
    complete: Callable[[Connection, int], None]


Planner = Callable[[Finishing], int]
_planners: list[Planner] = []


def register_planner(planner: Planner) -> None:
    """Install how runs that asked for planning are recorded (``notifier.campaign`` does)."""
    _planners[:] = [planner]


def finish_run(store: ShardStore, run_key: str) -> int:
    """Export the landed pairs to a pairs file and record the run (and its plan, if it asked
    for one) in one transaction with the run's complete mark; returns the run id.

    Exactly once: when another finisher committed first, this one rolls back and returns that
    run's id.  On any failure nothing of the run stays and the claim is released, so a retried
    message or the sweeper finishes it later.
    """
    run = store.run(run_key)
    if run.run_id is not None:
        return run.run_id
    try:
        return _record(store, run)
    except FinishedElsewhereError:
        finished = store.run(run_key).run_id
        assert finished is not None
        return finished
    except BaseException:
        store.release(run_key)
        raise


def _record(store: ShardStore, run: ShardRun) -> int:
    from core.settings import get_settings
    from matcher.runs import RunStore

    settings = get_settings()
    # A file of this finisher's own: two finishers racing must not write each other's.
    scratch = settings.data_dir / "runs" / f"shards-{run.run_key}-{uuid.uuid4().hex[:8]}.parquet"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    with store.engine.connect() as conn:
        created = conn.execute(
            sa.select(runs_table.c.created_at).where(runs_table.c.run_key == run.run_key)
        ).scalar_one()
    started_at, seconds = created.replace(tzinfo=UTC), (_now() - created).total_seconds()

    from rules.parameter_use import run_record

    def complete(conn: Connection, run_id: int) -> None:
        store.complete(conn, run.run_key, run_id)

    try:
        write_pairs(_units(run, store.pairs(run.run_key)), scratch, schema=PAIRS_SCHEMA)
        if run.plan is not None:
            if not _planners:
                raise ConfigurationError(
                    f"sharded run {run.run_key} is to be planned, but no planner is loaded in "
                    "this process; run it under `zhida worker` (which loads the notifier)"
                )
            return _planners[0](Finishing(run, run.plan, scratch, started_at, seconds, complete))
        recorded = RunStore(store.engine, settings.data_dir).record(
            scratch, as_of=run.as_of, catalog_hash=run.catalog_hash, population=run.population,
            started_at=started_at, seconds=seconds, policies=len(run.policies),
            rule_hashes=run.rule_hashes, within=lambda conn, r: complete(conn, r.run_id),
            parameters=run_record([p for p in run.policies if in_force(p, run.as_of)], run.as_of),
        )  # fmt: skip
        return recorded.run_id
    finally:
        scratch.unlink(missing_ok=True)


def _units(run: ShardRun, pairs: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """The landed pairs, each its unit's and with its recipient, as a single run writes them
    (:mod:`matcher.units`: a household's members' pairs are one household's)."""
    from matcher.population import scan_population
    from profiles.schema import load_schema

    units = {p.id: (p.unit_kind or _UNIT_OF[p.audience], p.recipient_kind) for p in run.policies}
    links = None
    if needs_links(units):
        links = Links.from_frames(scan_population(run.population_dir, load_schema()))
    return attribute_units([pairs], units, links)


_UNIT_OF = {"resident": "person", "enterprise": "enterprise", "household": "household"}
