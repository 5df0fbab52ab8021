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
a flushed Redis or a killed worker, and re-finishes runs whose finisher died.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.broker import actor
from core.errors import ConfigurationError, NotFoundError, ValidationError, ZhidaError
from matcher.batch import MATCH_SCHEMA, match_batches, plan_policies, write_pairs
from rules.policy import Policy

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
    "register_planner",
    "run_shard",
    "start_run",
    "sweep",
]

SHARD_QUEUE = "match_shards"
DEFAULT_SHARD_ROWS = 250_000

_meta = sa.MetaData()
_runs = sa.Table(
    "shard_runs",
    _meta,
    sa.Column("run_key", sa.String(36), primary_key=True),
    sa.Column("created_at", sa.DateTime),
    sa.Column("as_of", sa.Date),
    sa.Column("population_dir", sa.Text),
    sa.Column("population", sa.String(64)),
    sa.Column("catalog_hash", sa.String(64)),
    sa.Column("catalog_json", sa.Text),
    sa.Column("tags", sa.Boolean),
    sa.Column("shards", sa.Integer),
    sa.Column("status", sa.String(16)),
    sa.Column("run_id", sa.Integer),
    sa.Column("completed_at", sa.DateTime),
)
_tasks = sa.Table(
    "shard_tasks",
    _meta,
    sa.Column("run_key", sa.String(36)),
    sa.Column("shard_no", sa.Integer),
    sa.Column("entity", sa.String(16)),
    sa.Column("row_offset", sa.BigInteger),
    sa.Column("row_count", sa.BigInteger),
    sa.Column("status", sa.String(16)),
    sa.Column("attempts", sa.Integer),
    sa.Column("enqueued_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("worker", sa.String(128)),
    sa.Column("pairs", sa.BigInteger),
    sa.Column("error", sa.Text),
)
_PAIR_COLUMNS = ("run_key", "shard_no", "subject_id", "subject_type", "policy_id", "status")
_pairs = sa.Table(
    "shard_pairs",
    _meta,
    *(sa.Column(name, sa.String) for name in _PAIR_COLUMNS),
    sa.Column("benefit", sa.Numeric(18, 2)),
)


class FinishedElsewhereError(ZhidaError, RuntimeError):
    """Another process recorded the sharded run first; this finisher's transaction rolled back."""


@dataclass(frozen=True)
class Shard:
    """Rows ``[row_offset, row_offset + row_count)`` of one entity's population file."""

    shard_no: int
    entity: str
    row_offset: int
    row_count: int


@dataclass(frozen=True)
class PlanRequest:
    """Plan the run's diff when the run is recorded, in the same transaction.

    ``policies`` is the whole catalog, not only the rules in force: a policy that left force
    since the previous run is in the diff too (its notices need its title and department).
    """

    channels: frozenset[str]
    policies: tuple[Policy, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "channels": sorted(self.channels),
            "policies": [p.to_dict() for p in self.policies],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanRequest:
        return cls(frozenset(data["channels"]), tuple(_policy(d) for d in data["policies"]))


def _policy(data: Mapping[str, Any]) -> Policy:
    """A policy from its ``to_dict`` form.

    >>> p = Policy("x", "T", "D", "resident", "proactive_push", "age > 1", date(2026, 1, 1),
    ...            materials=("id card",))
    >>> _policy(p.to_dict()) == p
    True
    """
    fields = dict(data)
    for key in ("valid_from", "valid_until"):
        if fields.get(key):
            fields[key] = date.fromisoformat(fields[key])
    if "materials" in fields:
        fields["materials"] = tuple(fields["materials"])
    return Policy(**fields)


@dataclass(frozen=True)
class ShardRun:
    run_key: str
    as_of: date
    population_dir: Path
    population: str
    catalog_hash: str
    policies: tuple[_RunPolicy, ...]
    tags: bool
    shards: int
    status: str
    run_id: int | None
    plan: PlanRequest | None = None

    @property
    def rule_hashes(self) -> dict[str, str]:
        return {p.id: p.rule_hash for p in self.policies if p.rule_hash}


@dataclass(frozen=True)
class _RunPolicy:
    """What matching needs of a policy, as the run stored it (a ``MatchablePolicy``)."""

    id: str
    audience: str
    eligibility: str
    benefit: str | None
    valid_from: date | None
    valid_until: date | None
    rule_hash: str = ""

    @classmethod
    def of(cls, policy: Any) -> _RunPolicy:
        return cls(
            policy.id,
            policy.audience,
            policy.eligibility,
            policy.benefit,
            policy.valid_from,
            policy.valid_until,
            getattr(policy, "content_hash", ""),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "audience": self.audience,
            "eligibility": self.eligibility,
            "benefit": self.benefit,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "rule_hash": self.rule_hash,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _RunPolicy:
        def day(v: str | None) -> date | None:
            return date.fromisoformat(v) if v else None

        return cls(
            data["id"],
            data["audience"],
            data["eligibility"],
            data["benefit"],
            day(data["valid_from"]),
            day(data["valid_until"]),
            data.get("rule_hash", ""),
        )


def plan_shards(counts: Mapping[str, int], shard_rows: int) -> list[Shard]:
    """Cut each entity's rows into contiguous shards of at most ``shard_rows`` rows.

    >>> [(s.shard_no, s.entity, s.row_offset, s.row_count)
    ...  for s in plan_shards({"resident": 5, "enterprise": 2}, 2)]
    [(0, 'resident', 0, 2), (1, 'resident', 2, 2), (2, 'resident', 4, 1), (3, 'enterprise', 0, 2)]
    """
    if shard_rows < 1:
        raise ValidationError(f"shard size must be at least 1 row, got {shard_rows}")
    shards: list[Shard] = []
    for entity, total in counts.items():
        for offset in range(0, total, shard_rows):
            shards.append(Shard(len(shards), entity, offset, min(shard_rows, total - offset)))
    return shards


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ShardStore:
    """The database side of sharded runs: runs, their shards, and the pairs shards land."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        *,
        population_dir: Path,
        population: str,
        as_of: date,
        catalog_hash: str,
        policies: Sequence[Any],
        tags: bool,
        shards: Sequence[Shard],
        plan: PlanRequest | None = None,
    ) -> str:
        """Record a run and its shards (pending) in one transaction; returns the run key."""
        run_key = str(uuid.uuid4())
        matched = [_RunPolicy.of(p).to_json() for p in policies]
        # The rules to match with; and, for a run to plan, the catalog and channels to plan with.
        stored: Any = matched if plan is None else {"match": matched, "plan": plan.to_json()}
        catalog = json.dumps(stored, ensure_ascii=False)
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                _runs.insert().values(
                    run_key=run_key, created_at=now, as_of=as_of,
                    population_dir=str(population_dir.resolve()), population=population,
                    catalog_hash=catalog_hash, catalog_json=catalog, tags=tags,
                    shards=len(shards), status="running",
                )
            )  # fmt: skip
            if shards:
                conn.execute(
                    _tasks.insert(),
                    [
                        {
                            "run_key": run_key,
                            "shard_no": s.shard_no,
                            "entity": s.entity,
                            "row_offset": s.row_offset,
                            "row_count": s.row_count,
                            "status": "pending",
                            "attempts": 0,
                            "enqueued_at": now,
                        }
                        for s in shards
                    ],
                )
        return run_key

    def run(self, run_key: str) -> ShardRun:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_runs).where(_runs.c.run_key == run_key)).first()
        if row is None:
            raise NotFoundError(f"no sharded run {run_key!r}; see `zhida runs shards`")
        m = row._mapping
        stored = json.loads(m["catalog_json"])
        matched, plan = (stored, None) if isinstance(stored, list) else (stored["match"], stored)
        policies = tuple(_RunPolicy.from_json(p) for p in matched)
        return ShardRun(
            run_key=run_key, as_of=m["as_of"], population_dir=Path(m["population_dir"]),
            population=m["population"], catalog_hash=m["catalog_hash"], policies=policies,
            tags=bool(m["tags"]), shards=int(m["shards"]), status=m["status"],
            run_id=m["run_id"],
            plan=PlanRequest.from_json(plan["plan"]) if plan is not None else None,
        )  # fmt: skip

    def shard(self, run_key: str, shard_no: int) -> tuple[Shard, str]:
        """A shard and its status."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_tasks).where(
                    (_tasks.c.run_key == run_key) & (_tasks.c.shard_no == shard_no)
                )
            ).first()
        if row is None:
            raise NotFoundError(f"run {run_key!r} has no shard {shard_no}")
        m = row._mapping
        shard = Shard(m["shard_no"], m["entity"], int(m["row_offset"]), int(m["row_count"]))
        return shard, str(m["status"])

    def progress(self, run_key: str) -> dict[str, int]:
        """How many shards are pending, done and failed."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_tasks.c.status, sa.func.count())
                .where(_tasks.c.run_key == run_key)
                .group_by(_tasks.c.status)
            ).all()
        counts = {"pending": 0, "done": 0, "failed": 0}
        counts.update({str(status): int(n) for status, n in rows})
        return counts

    def count_attempt(self, run_key: str, shard_no: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                _tasks.update()
                .where((_tasks.c.run_key == run_key) & (_tasks.c.shard_no == shard_no))
                .values(attempts=_tasks.c.attempts + 1)
            )

    def land(self, run_key: str, shard_no: int, pairs: pl.DataFrame, *, worker: str) -> bool:
        """Store a shard's pairs and mark it done, in one transaction.

        Returns ``False`` (and changes nothing) when the shard was already done: a redelivered
        message lands nothing twice.
        """
        with self.engine.begin() as conn:
            done = conn.execute(
                _tasks.update()
                .where(
                    (_tasks.c.run_key == run_key)
                    & (_tasks.c.shard_no == shard_no)
                    & (_tasks.c.status != "done")
                )
                .values(
                    status="done",
                    finished_at=_now(),
                    worker=worker,
                    pairs=pairs.height,
                    error=None,
                )
            ).rowcount
            if done != 1:
                return False
            conn.execute(
                _pairs.delete().where(
                    (_pairs.c.run_key == run_key) & (_pairs.c.shard_no == shard_no)
                )
            )
            _insert_pairs(conn, run_key, shard_no, pairs)
        return True

    def fail(self, run_key: str, shard_no: int, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                _tasks.update()
                .where(
                    (_tasks.c.run_key == run_key)
                    & (_tasks.c.shard_no == shard_no)
                    & (_tasks.c.status == "pending")
                )
                .values(status="failed", finished_at=_now(), error=error)
            )

    def claim_finish(self, run_key: str) -> bool:
        """Whether this caller is the one to finish the run (all shards done; only one wins)."""
        not_done = (
            sa.select(sa.func.count())
            .select_from(_tasks)
            .where((_tasks.c.run_key == run_key) & (_tasks.c.status != "done"))
            .scalar_subquery()
        )
        with self.engine.begin() as conn:
            won = conn.execute(
                _runs.update()
                .where((_runs.c.run_key == run_key) & (_runs.c.status == "running"))
                .where(not_done == 0)
                .values(status="finishing")
            ).rowcount
        return won == 1

    def pairs(self, run_key: str) -> pl.DataFrame:
        """Every pair the run's shards landed, in shard order, with the contract's dtypes."""
        query = (
            sa.select(*(_pairs.c[c] for c in MATCH_SCHEMA.names()), _pairs.c.shard_no)
            .where(_pairs.c.run_key == run_key)
            .order_by(_pairs.c.shard_no)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pl.DataFrame(
            [r[:-1] for r in rows],
            schema={n: pl.String for n in MATCH_SCHEMA.names()},
            orient="row",
        )
        return frame.with_columns(
            pl.col("benefit").cast(pl.Decimal(18, 2)),
            pl.col("status").cast(MATCH_SCHEMA["status"]),
            pl.col("subject_type").cast(MATCH_SCHEMA["subject_type"]),
        ).select(MATCH_SCHEMA.names())

    def release(self, run_key: str) -> None:
        """Give up a claim to finish (the finisher failed): a later message or sweep retries."""
        with self.engine.begin() as conn:
            conn.execute(
                _runs.update()
                .where(
                    (_runs.c.run_key == run_key)
                    & (_runs.c.status == "finishing")
                    & _runs.c.run_id.is_(None)
                )
                .values(status="running")
            )

    def abandon(self, run_key: str) -> None:
        """Mark a run no finisher recorded as failed: the sweeper leaves it alone."""
        with self.engine.begin() as conn:
            conn.execute(
                _runs.update()
                .where((_runs.c.run_key == run_key) & _runs.c.run_id.is_(None))
                .values(status="failed")
            )

    @staticmethod
    def complete(conn: Connection, run_key: str, run_id: int) -> None:
        """Mark the run complete as ``run_id``, in the transaction that records that run.

        Raises :class:`FinishedElsewhereError` when a run was recorded for it already (another
        finisher committed first): the caller's transaction then rolls back whole.
        """
        done = conn.execute(
            _runs.update()
            .where((_runs.c.run_key == run_key) & _runs.c.run_id.is_(None))
            .values(status="complete", run_id=run_id, completed_at=_now())
        ).rowcount
        if done != 1:
            raise FinishedElsewhereError(f"sharded run {run_key} was finished by another process")
        # The pairs now live in the run's Parquet file; the table was their landing place.
        conn.execute(_pairs.delete().where(_pairs.c.run_key == run_key))

    def stalled(self, older_than: timedelta) -> list[tuple[str, int]]:
        """Runs whose shards all landed more than ``older_than`` ago but that no finisher
        recorded (it died, or failed): each with its last shard's number."""
        cutoff = _now() - older_than
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_runs.c.run_key, sa.func.max(_tasks.c.shard_no))
                .join(_tasks, _tasks.c.run_key == _runs.c.run_key)
                .where(_runs.c.run_id.is_(None) & _runs.c.status.in_(["running", "finishing"]))
                .group_by(_runs.c.run_key)
                .having(
                    (sa.func.sum(sa.case((_tasks.c.status != "done", 1), else_=0)) == 0)
                    & (sa.func.max(_tasks.c.finished_at) < cutoff)
                )
            ).all()
        return [(str(k), int(n)) for k, n in rows]

    def stale(self, older_than: timedelta) -> list[tuple[str, int]]:
        """Shards still pending whose message was sent more than ``older_than`` ago."""
        cutoff = _now() - older_than
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_tasks.c.run_key, _tasks.c.shard_no)
                .join(_runs, _runs.c.run_key == _tasks.c.run_key)
                .where(
                    (_tasks.c.status == "pending")
                    & (_tasks.c.enqueued_at < cutoff)
                    & (_runs.c.status == "running")
                )
            ).all()
        return [(str(k), int(n)) for k, n in rows]

    def mark_enqueued(self, run_key: str, shard_nos: Sequence[int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                _tasks.update()
                .where((_tasks.c.run_key == run_key) & _tasks.c.shard_no.in_(shard_nos))
                .values(enqueued_at=_now())
            )


def _insert_pairs(conn: Connection, run_key: str, shard_no: int, pairs: pl.DataFrame) -> None:
    rows = pairs.select(
        pl.lit(run_key).alias("run_key"),
        pl.lit(shard_no).alias("shard_no"),
        "subject_id",
        pl.col("subject_type").cast(pl.String),
        "policy_id",
        pl.col("status").cast(pl.String),
        pl.col("benefit").cast(pl.String),
    )
    if not rows.height:
        return
    columns = (*_PAIR_COLUMNS, "benefit")
    if conn.dialect.name == "postgresql":
        # COPY inside the same transaction as the shard's done mark.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        names = ", ".join(columns)
        with cursor.copy(f"COPY shard_pairs ({names}) FROM STDIN") as copy:
            for row in rows.iter_rows():
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(
        f"INSERT INTO shard_pairs ({', '.join(columns)}) VALUES ({marks})",
        list(rows.iter_rows()),
    )


def run_shard(run: ShardRun, shard: Shard) -> pl.DataFrame:
    """The pairs of one shard: its subjects matched against the run's policies."""
    from matcher.population import EventTagger, scan_population
    from profiles.schema import load_schema

    schema = load_schema()
    frames = scan_population(run.population_dir, schema)
    if shard.entity not in frames:
        raise NotFoundError(
            f"the population {run.population_dir} has no {shard.entity}s file any more"
        )
    frame = frames[shard.entity].slice(shard.row_offset, shard.row_count)
    tagger = EventTagger.for_population(run.population_dir, schema, as_of=run.as_of)
    plans = plan_policies(run.policies, schema, as_of=run.as_of)
    batches = list(
        match_batches(
            frame,
            schema.entity(shard.entity),
            plans,
            as_of=run.as_of,
            tagger=tagger if run.tags else None,
        )
    )
    return pl.concat(batches) if batches else MATCH_SCHEMA.to_frame()


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@actor(queue_name=SHARD_QUEUE, max_retries=3, min_backoff=1_000, max_backoff=30_000)
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
            sa.select(_runs.c.created_at).where(_runs.c.run_key == run.run_key)
        ).scalar_one()
    started_at, seconds = created.replace(tzinfo=UTC), (_now() - created).total_seconds()

    def complete(conn: Connection, run_id: int) -> None:
        store.complete(conn, run.run_key, run_id)

    try:
        write_pairs(iter([store.pairs(run.run_key)]), scratch)
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
        )  # fmt: skip
        return recorded.run_id
    finally:
        scratch.unlink(missing_ok=True)


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
