"""Simulation jobs: stored as rows of ``simulations``, run in the background one at a time.

An analyst starts a reach simulation of a draft catalog change or a timeline run (through
``POST /api/v1/simulations`` or the console); either is a row in ``simulations`` (queued →
running → done | failed) and runs on the server's background thread, one at a time (each
holds a population's worth of columns).  The work (:mod:`simulations.reach_job`,
:mod:`simulations.timeline_job`) writes its tables as CSV under
``$ZHIDA_DATA_DIR/simulations/<id>/`` and returns a summary, kept in the row.

A row left queued or running by a server that stopped is marked failed ("interrupted") when the
next server starts its runner: simulations run inside the server process, so no one else could
be running it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import NotFoundError
from simulations.tables import simulations

__all__ = ["TABLES", "SimulationRow", "SimulationRunner", "Work"]

_log = logging.getLogger("zhida.simulations")

# The tables each kind of simulation serves (name -> what it holds).
TABLES: Final = {
    "reach": {
        "policies": "per changed policy and in total: eligible before/after, gained, lost, cost",
        "groups": "the same by district, age band, gender, hukou, household type, size class",
        "overlap": "other policies the eligible of each changed policy also get",
    },
    "timeline": {
        "monthly": "per arm and month: each metric's mean over seeds with a 95 % interval",
        "summary": "per arm (and the push's effect): totals over the horizon, mean and interval",
    },
}

# What a simulation runs: given its directory, write its tables there and return its summary.
Work = Callable[[Path], dict[str, Any]]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class SimulationRow:
    id: int
    kind: str
    status: str  # queued | running | done | failed
    params: dict[str, Any]
    author: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    summary: dict[str, Any] | None
    tables: list[str]  # names of the CSV tables to download once done

    @classmethod
    def of(cls, m: Any) -> SimulationRow:
        done = m["status"] == "done"
        return cls(
            int(m["id"]), m["kind"], m["status"], json.loads(m["params"]), m["author"],
            m["created_at"], m["started_at"], m["finished_at"], m["error"],
            json.loads(m["summary"]) if m["summary"] else None,
            sorted(TABLES[m["kind"]]) if done else [],
        )  # fmt: skip


class SimulationRunner:
    """Stores simulations and runs them, one at a time, on a background thread."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.directory = data_dir / "simulations"
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._interrupted()
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="zhida-simulation")
            return self._pool

    def _interrupted(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                simulations.update()
                .where(simulations.c.status.in_(("queued", "running")))
                .values(status="failed", error="interrupted: the server stopped; start it again",
                        finished_at=_now())
            )  # fmt: skip

    def start(self, kind: str, params: dict[str, Any], author: str, work: Work) -> SimulationRow:
        """Record a queued simulation and run ``work(directory) -> summary`` in the background."""
        pool = self._executor()
        with self.engine.begin() as conn:
            inserted = conn.execute(
                simulations.insert().values(
                    kind=kind,
                    status="queued",
                    params=json.dumps(params, ensure_ascii=False),
                    author=author,
                    created_at=_now(),
                )
            ).inserted_primary_key
        assert inserted is not None
        sim_id = int(inserted[0])
        pool.submit(self._run, sim_id, work)
        return self.get(sim_id)

    def _run(self, sim_id: int, work: Work) -> None:
        self._set(sim_id, status="running", started_at=_now())
        directory = self.directory / str(sim_id)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            summary = work(directory)
        except Exception as exc:  # a simulation's failure is its row's status, not the server's
            _log.exception("simulation %s failed", sim_id)
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            self._set(sim_id, status="failed", error=str(message)[:2000], finished_at=_now())
            return
        self._set(
            sim_id, status="done", finished_at=_now(), result_dir=str(directory),
            summary=json.dumps(summary, ensure_ascii=False, default=str),
        )  # fmt: skip

    def _set(self, sim_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(simulations.update().where(simulations.c.id == sim_id).values(**values))

    def get(self, sim_id: int) -> SimulationRow:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(simulations).where(simulations.c.id == sim_id)
            ).mappings().first()  # fmt: skip
        if row is None:
            raise NotFoundError(f"no simulation {sim_id}; GET /api/v1/simulations lists them")
        return SimulationRow.of(row)

    def list(self, limit: int = 100, *, author: str | None = None) -> list[SimulationRow]:
        """The newest ``limit`` simulations (only ``author``'s when given)."""
        query = sa.select(simulations).order_by(simulations.c.id.desc()).limit(limit)
        if author is not None:
            query = query.where(simulations.c.author == author)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings()
            return [SimulationRow.of(r) for r in rows]

    def table(self, sim_id: int, name: str) -> Path:
        """The CSV file of one of a finished simulation's tables."""
        row = self.get(sim_id)
        if name not in TABLES[row.kind]:
            raise NotFoundError(
                f"a {row.kind} simulation has the tables {', '.join(sorted(TABLES[row.kind]))}, "
                f"not {name!r}"
            )
        if row.status != "done":
            raise NotFoundError(
                f"simulation {sim_id} is {row.status}; its tables exist once it is done"
            )
        path = self.directory / str(sim_id) / f"{name}.csv"
        if not path.is_file():
            raise NotFoundError(f"the {name} table of simulation {sim_id} is gone from {path}")
        return path

    def join(self) -> None:
        """Wait for the simulations started so far (tests, shutdown)."""
        with self._lock:
            pool = self._pool
        if pool is not None:
            pool.submit(lambda: None).result()
