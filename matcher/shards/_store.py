"""The database side of sharded runs: create a run, land a shard's pairs, claim the finish.

Each operation is one short transaction; :meth:`ShardStore.complete` joins the caller's (the
one that records the run), which is what makes finishing exactly once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import NotFoundError
from matcher.batch import MATCH_SCHEMA
from matcher.shards._tables import PAIR_COLUMNS, pairs_table, runs_table, tasks_table
from matcher.shards._tables import now as _now
from matcher.shards._values import (
    FinishedElsewhereError,
    PlanRequest,
    RunPolicy,
    Shard,
    ShardRun,
)


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
        matched = [RunPolicy.of(p).to_json() for p in policies]
        # The rules to match with; and, for a run to plan, the catalog and channels to plan with.
        stored: Any = matched if plan is None else {"match": matched, "plan": plan.to_json()}
        catalog = json.dumps(stored, ensure_ascii=False)
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                runs_table.insert().values(
                    run_key=run_key, created_at=now, as_of=as_of,
                    population_dir=str(population_dir.resolve()), population=population,
                    catalog_hash=catalog_hash, catalog_json=catalog, tags=tags,
                    shards=len(shards), status="running",
                )
            )  # fmt: skip
            if shards:
                conn.execute(
                    tasks_table.insert(),
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
            row = conn.execute(sa.select(runs_table).where(runs_table.c.run_key == run_key)).first()
        if row is None:
            raise NotFoundError(f"no sharded run {run_key!r}; see `zhida runs shards`")
        m = row._mapping
        stored = json.loads(m["catalog_json"])
        matched, plan = (stored, None) if isinstance(stored, list) else (stored["match"], stored)
        policies = tuple(RunPolicy.from_json(p) for p in matched)
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
                sa.select(tasks_table).where(
                    (tasks_table.c.run_key == run_key) & (tasks_table.c.shard_no == shard_no)
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
                sa.select(tasks_table.c.status, sa.func.count())
                .where(tasks_table.c.run_key == run_key)
                .group_by(tasks_table.c.status)
            ).all()
        counts = {"pending": 0, "done": 0, "failed": 0}
        counts.update({str(status): int(n) for status, n in rows})
        return counts

    def failures(self, run_key: str) -> list[tuple[int, str]]:
        """The failed shards of a run, by number, each with its error."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(tasks_table.c.shard_no, tasks_table.c.error)
                .where(tasks_table.c.run_key == run_key, tasks_table.c.status == "failed")
                .order_by(tasks_table.c.shard_no)
            ).all()
        return [(int(n), str(e)) for n, e in rows]

    def count_attempt(self, run_key: str, shard_no: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                tasks_table.update()
                .where((tasks_table.c.run_key == run_key) & (tasks_table.c.shard_no == shard_no))
                .values(attempts=tasks_table.c.attempts + 1)
            )

    def land(self, run_key: str, shard_no: int, pairs: pl.DataFrame, *, worker: str) -> bool:
        """Store a shard's pairs and mark it done, in one transaction.

        Returns ``False`` (and changes nothing) when the shard was already done: a redelivered
        message lands nothing twice.
        """
        with self.engine.begin() as conn:
            done = conn.execute(
                tasks_table.update()
                .where(
                    (tasks_table.c.run_key == run_key)
                    & (tasks_table.c.shard_no == shard_no)
                    & (tasks_table.c.status != "done")
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
                pairs_table.delete().where(
                    (pairs_table.c.run_key == run_key) & (pairs_table.c.shard_no == shard_no)
                )
            )
            _insert_pairs(conn, run_key, shard_no, pairs)
        return True

    def fail(self, run_key: str, shard_no: int, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                tasks_table.update()
                .where(
                    (tasks_table.c.run_key == run_key)
                    & (tasks_table.c.shard_no == shard_no)
                    & (tasks_table.c.status == "pending")
                )
                .values(status="failed", finished_at=_now(), error=error)
            )

    def claim_finish(self, run_key: str) -> bool:
        """Whether this caller is the one to finish the run (all shards done; only one wins)."""
        not_done = (
            sa.select(sa.func.count())
            .select_from(tasks_table)
            .where((tasks_table.c.run_key == run_key) & (tasks_table.c.status != "done"))
            .scalar_subquery()
        )
        with self.engine.begin() as conn:
            won = conn.execute(
                runs_table.update()
                .where((runs_table.c.run_key == run_key) & (runs_table.c.status == "running"))
                .where(not_done == 0)
                .values(status="finishing")
            ).rowcount
        return won == 1

    def pairs(self, run_key: str) -> pl.DataFrame:
        """Every pair the run's shards landed, in shard order, with the contract's dtypes."""
        query = (
            sa.select(*(pairs_table.c[c] for c in MATCH_SCHEMA.names()), pairs_table.c.shard_no)
            .where(pairs_table.c.run_key == run_key)
            .order_by(pairs_table.c.shard_no)
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
                runs_table.update()
                .where(
                    (runs_table.c.run_key == run_key)
                    & (runs_table.c.status == "finishing")
                    & runs_table.c.run_id.is_(None)
                )
                .values(status="running")
            )

    def abandon(self, run_key: str) -> None:
        """Mark a run no finisher recorded as failed: the sweeper leaves it alone."""
        with self.engine.begin() as conn:
            conn.execute(
                runs_table.update()
                .where((runs_table.c.run_key == run_key) & runs_table.c.run_id.is_(None))
                .values(status="failed")
            )

    @staticmethod
    def complete(conn: Connection, run_key: str, run_id: int) -> None:
        """Mark the run complete as ``run_id``, in the transaction that records that run.

        Raises :class:`FinishedElsewhereError` when a run was recorded for it already (another
        finisher committed first): the caller's transaction then rolls back whole.
        """
        done = conn.execute(
            runs_table.update()
            .where((runs_table.c.run_key == run_key) & runs_table.c.run_id.is_(None))
            .values(status="complete", run_id=run_id, completed_at=_now())
        ).rowcount
        if done != 1:
            raise FinishedElsewhereError(f"sharded run {run_key} was finished by another process")
        # The pairs now live in the run's Parquet file; the table was their landing place.
        conn.execute(pairs_table.delete().where(pairs_table.c.run_key == run_key))

    def stalled(self, older_than: timedelta) -> list[tuple[str, int]]:
        """Runs whose shards all landed more than ``older_than`` ago but that no finisher
        recorded (it died, or failed): each with its last shard's number."""
        cutoff = _now() - older_than
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs_table.c.run_key, sa.func.max(tasks_table.c.shard_no))
                .join(tasks_table, tasks_table.c.run_key == runs_table.c.run_key)
                .where(
                    runs_table.c.run_id.is_(None)
                    & runs_table.c.status.in_(["running", "finishing"])
                )
                .group_by(runs_table.c.run_key)
                .having(
                    (sa.func.sum(sa.case((tasks_table.c.status != "done", 1), else_=0)) == 0)
                    & (sa.func.max(tasks_table.c.finished_at) < cutoff)
                )
            ).all()
        return [(str(k), int(n)) for k, n in rows]

    def stale(self, older_than: timedelta) -> list[tuple[str, int]]:
        """Shards still pending whose message was sent more than ``older_than`` ago."""
        cutoff = _now() - older_than
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(tasks_table.c.run_key, tasks_table.c.shard_no)
                .join(runs_table, runs_table.c.run_key == tasks_table.c.run_key)
                .where(
                    (tasks_table.c.status == "pending")
                    & (tasks_table.c.enqueued_at < cutoff)
                    & (runs_table.c.status == "running")
                )
            ).all()
        return [(str(k), int(n)) for k, n in rows]

    def mark_enqueued(self, run_key: str, shard_nos: Sequence[int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                tasks_table.update()
                .where((tasks_table.c.run_key == run_key) & tasks_table.c.shard_no.in_(shard_nos))
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
    columns = (*PAIR_COLUMNS, "benefit")
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
