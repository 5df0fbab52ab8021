"""Simulations started through the API: stored, run in the background, their tables kept.

An analyst starts a reach simulation of a draft catalog change (drafts replacing or adding
published policies, ids retired) or a timeline run; either is a row in ``simulations`` (queued
→ running → done | failed) and runs on this server's background thread, one at a time (each
holds a population's worth of columns).  Its tables are written as CSV under
``$ZHIDA_DATA_DIR/simulations/<id>/`` with counts under 10 shown as "<10" and the costs of so
few eligible as "—" — analysts see aggregates only — and its summary is kept in the row.

A row left queued or running by a server that stopped is marked failed ("interrupted") when the
next server starts its runner: simulations run inside the server process, so no one else could
be running it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.app.dryrun import K_ANONYMITY, Published
from core.errors import NotFoundError, ValidationError

__all__ = [
    "TABLES",
    "SimulationRow",
    "SimulationRunner",
    "k_anonymous",
    "reform_of",
    "simulations",
]

_log = logging.getLogger("zhida.api.simulations")

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids (as the migration).
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
simulations = sa.Table(
    "simulations",
    sa.MetaData(),
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # reach | timeline
    sa.Column("status", sa.String(16), nullable=False),  # queued | running | done | failed
    sa.Column("params", sa.Text, nullable=False),  # JSON
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("error", sa.Text),
    sa.Column("summary", sa.Text),
    sa.Column("result_dir", sa.Text),
)

# The tables each kind of simulation writes (name -> what it holds).
TABLES = {
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
_COUNT_PREFIXES = ("eligible", "maybe", "newly", "no_longer", "shared")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def k_anonymous(frame: pl.DataFrame, k: int = K_ANONYMITY) -> pl.DataFrame:
    """Subject counts under ``k`` (but not zero) shown as ``"<k"``, and the costs of so few
    eligible as ``"—"`` (a cost is a count times a benefit); other columns unchanged.

    >>> k_anonymous(pl.DataFrame({"eligible_after": [3, 12, 0],
    ...                           "cost_year_after": [3600, 14400, 0]})).rows()
    [('<10', '—'), ('12', '14400'), ('0', '0')]
    """
    counts = [
        c
        for c, dtype in frame.schema.items()
        if c.startswith(_COUNT_PREFIXES) and dtype.is_integer()
    ]

    def small(column: str) -> pl.Expr:
        if column not in frame.columns:
            return pl.lit(False)
        return (pl.col(column) > 0) & (pl.col(column) < k)

    costs = []
    for c in frame.columns:
        if not c.startswith("cost_"):
            continue
        hide = (
            small("eligible_before") if c.endswith("_before")
            else small("eligible_after") if c.endswith("_after")
            else small("eligible_before") | small("eligible_after")
        )  # fmt: skip
        costs.append(pl.when(hide).then(pl.lit("—")).otherwise(pl.col(c).cast(pl.String)).alias(c))
    return frame.with_columns(
        *costs,
        *(
            pl.when(small(c)).then(pl.lit(f"<{k}")).otherwise(pl.col(c).cast(pl.String)).alias(c)
            for c in counts
        ),
    )


def reform_of(
    published: Published, documents: Sequence[str], retire: Sequence[str]
) -> tuple[Any, Any]:
    """(baseline, reform) catalogs: the published one, and it with ``documents`` and ``retire``."""
    from rules.errors import PositionedRuleError
    from rules.loader import Catalog, CatalogError, load_policy_text
    from rules.policy import Policy

    drafts: list[Policy] = []
    problems: list[PositionedRuleError] = []
    for n, text in enumerate(documents, start=1):
        try:
            drafts.append(load_policy_text(text, Path(f"<document {n}>")))
        except CatalogError as err:
            problems.extend(err.problems)
    if problems:
        raise CatalogError(problems)
    ids = [d.id for d in drafts]
    if len(set(ids)) != len(ids):
        raise ValidationError("two documents have the same policy id; send one per policy")
    unknown = sorted(set(retire) - set(published.catalog.by_id))
    if unknown:
        raise NotFoundError(
            f"no published policy {', '.join(unknown)} to retire; GET /api/v1/policies lists them"
        )
    if not drafts and not retire:
        raise ValidationError(
            "a reach simulation needs a change: give draft documents and/or policy ids to retire"
        )
    replaced = set(ids) | set(retire)
    kept = tuple(p for p in published.catalog.policies if p.id not in replaced)
    return published.catalog, Catalog((*kept, *drafts), {}, {})


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

    def start(self, kind: str, params: dict[str, Any], author: str, work: Any) -> SimulationRow:
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

    def _run(self, sim_id: int, work: Any) -> None:
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

    def list(self, limit: int = 100) -> list[SimulationRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(simulations).order_by(simulations.c.id.desc()).limit(limit)
            ).mappings()  # fmt: skip
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


def reach_work(
    population: Path, baseline: Any, reform: Any, as_of: date
) -> Any:  # a (directory) -> summary callable
    def work(directory: Path) -> dict[str, Any]:
        from profiles.schema import load_schema
        from simulations.reach import ALL, simulate_reach

        reach = simulate_reach(population, baseline, reform, load_schema(), as_of=as_of)
        for name, frame in (("policies", reach.policies), ("groups", reach.groups),
                            ("overlap", reach.overlap)):  # fmt: skip
            k_anonymous(frame).write_csv(directory / f"{name}.csv")
        shown = k_anonymous(reach.policies)
        total = shown.filter(pl.col("policy_id") == ALL)
        return {
            "as_of": as_of.isoformat(),
            "subjects": reach.subjects,
            "changes": [{"policy_id": c.policy_id, "change": c.change} for c in reach.changes],
            "total": {k: str(v) for k, v in total.row(0, named=True).items()}
            if total.height
            else {},
        }

    return work


def timeline_work(
    population: Path, catalog: Any, as_of: date, months: int, seeds: int, push: bool
) -> Any:
    def work(directory: Path) -> dict[str, Any]:
        from profiles.schema import load_schema
        from simulations.timeline.montecarlo import simulate_timeline, summary_lines

        timeline = simulate_timeline(
            population, catalog, load_schema(), as_of=as_of, months=months,
            seeds=list(range(seeds)), push=push,
        )  # fmt: skip
        timeline.monthly_ci.write_csv(directory / "monthly.csv")
        timeline.summary.write_csv(directory / "summary.csv")
        return {
            "start": timeline.start.isoformat(), "end": timeline.end.isoformat(),
            "seeds": list(timeline.seeds), "arms": list(timeline.arms),
            "lines": summary_lines(timeline),
        }  # fmt: skip

    return work
