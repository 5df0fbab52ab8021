"""Match runs: each run is recorded, and compared with the previous one.

A run records its as-of date, the catalog's content hash, a snapshot id of the population
(a hash of its files' contents), counts and time; its pairs are kept as a Parquet file under
the data directory (``runs/<id>.parquet``), which scales to a province where a table of
pairs per run would not.  ``run_diff`` compares two runs' pairs: what changed for whom —
this diff is what triggers grants, invitations and revocation notices.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import NotFoundError

__all__ = [
    "CHANGES",
    "Run",
    "RunStore",
    "carry_forward",
    "file_digest",
    "frames_snapshot",
    "policy_endings",
    "population_snapshot",
    "run_diff",
]

CHANGES = (
    "newly_eligible",
    "newly_maybe",
    "maybe_to_eligible",
    "eligible_to_maybe",
    "no_longer_eligible",
    "benefit_changed",
)

_runs = sa.Table(
    "match_runs",
    sa.MetaData(),
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("catalog_hash", sa.String(64), nullable=False),
    sa.Column("population", sa.String(64), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("policies", sa.Integer, nullable=False),
    sa.Column("eligible", sa.BigInteger, nullable=False),
    sa.Column("maybe", sa.BigInteger, nullable=False),
    sa.Column("pairs_file", sa.Text, nullable=False),
    sa.Column("previous_run_id", sa.Integer),
)
_rule_hashes = sa.Table(
    "match_run_policies",
    _runs.metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("match_runs.run_id"), primary_key=True),
    sa.Column("policy_id", sa.String(128), primary_key=True),
    sa.Column("rule_hash", sa.String(64), nullable=False),
)
# The version of every parameter the run's policies read (rules.parameters): its first day and
# its value then, so a run's amounts can be traced to the dated, cited value they came from.
_parameters = sa.Table(
    "match_run_parameters",
    _runs.metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("match_runs.run_id"), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(10), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class Run:
    run_id: int
    as_of: date
    catalog_hash: str
    population: str
    started_at: datetime
    seconds: float
    policies: int
    eligible: int
    maybe: int
    pairs_file: Path
    previous_run_id: int | None


def population_snapshot(directory: Path, *, cache: Path | None = None) -> str:
    """A content hash of a population directory's Parquet files (its snapshot id).

    The hash of the files' names and their own SHA-256 digests.  With ``cache`` (a JSON file,
    e.g. under the data directory) each file's digest is computed once and kept, keyed by the
    file's resolved path, size, modification and change times and inode: a run on the same
    files reads none of their bytes again.
    The population directory itself is never written into: it may be shared or read-only.
    """
    known = _read_digests(cache) if cache is not None else {}
    digest = hashlib.sha256()
    changed = False
    for path in sorted(directory.glob("*.parquet")):
        key = _file_key(path)
        if key not in known:
            known[key] = file_digest(path)
            changed = True
        digest.update(path.name.encode())
        digest.update(bytes.fromhex(known[key]))
    if cache is not None and changed:
        _write_digests(cache, known)
    return digest.hexdigest()


def _file_key(path: Path) -> str:
    # ctime and inode too: a rewrite changes them even where mtime is coarse or was reset.
    st = path.stat()
    return "|".join(
        map(str, (path.resolve(), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    )


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks of 1 MiB."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_digests(cache: Path) -> dict[str, str]:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: computed again and rewritten
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_digests(cache: Path, known: dict[str, str]) -> None:
    """Keep the digests of the files that still exist (others' runs may write it too)."""
    alive = {k: v for k, v in known.items() if Path(k.rsplit("|", 4)[0]).exists()}
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(alive, sort_keys=True), encoding="utf-8")
        tmp.replace(cache)
    except OSError:  # a cache that cannot be written is only slower
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def frames_snapshot(frames: Mapping[str, pl.DataFrame]) -> str:
    """A content hash of in-memory population frames (e.g. read from the database).

    Rows are sorted first, so the same records in another order have the same snapshot id.
    """
    import io

    digest = hashlib.sha256()
    for name in sorted(frames):
        frame = frames[name]
        buffer = io.BytesIO()
        frame.sort(frame.columns[0]).write_ipc(buffer, compression="uncompressed")
        digest.update(name.encode())
        digest.update(buffer.getvalue())
    return digest.hexdigest()


def carry_forward(previous: Path, pairs: Path, *, audience: str, into: Path) -> Path:
    """``pairs`` (a run of one ``audience``) with ``previous``'s pairs of the other subjects.

    A run that matched only enterprises says nothing about residents: recorded as it is, its
    diff with the previous run would end every resident's offers.  Recorded with the previous
    run's resident pairs carried forward, its diff holds the enterprises' changes only.
    """
    from matcher.units import with_unit_columns

    others = with_unit_columns(pl.scan_parquet(previous)).filter(
        pl.col("subject_type").cast(pl.String).is_in(_types_of(audience)).not_()
    )
    into.parent.mkdir(parents=True, exist_ok=True)
    pl.concat([others, with_unit_columns(pl.scan_parquet(pairs))]).sink_parquet(into)
    return into


def _types_of(audience: str) -> list[str]:
    """The subject types a run of ``audience`` writes: a resident run's household-unit pairs
    are households'."""
    return ["resident", "household"] if audience in ("resident", "household") else [audience]


def run_diff(old: pl.LazyFrame, new: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (subject, policy) whose status or benefit differs between two runs.

    Each row is one unit's (a household's 低保 once, not per member) and carries who is told:
    ``unit`` and ``recipient_id`` of the new run, else of the old one (whoever was told of an
    offer is told that it ended).  Pairs files written before units count as their subjects'.
    """
    from matcher.units import with_unit_columns

    keys = ["subject_id", "subject_type", "policy_id"]
    columns = [
        "subject_id", pl.col("subject_type").cast(pl.String), "policy_id",
        pl.col("status").cast(pl.String), "benefit", pl.col("unit").cast(pl.String),
        "recipient_id",
    ]  # fmt: skip
    joined = with_unit_columns(old).select(columns).join(
        with_unit_columns(new).select(columns), on=keys, how="full", coalesce=True,
        suffix="_new",
    )  # fmt: skip
    was, now = pl.col("status"), pl.col("status_new")
    change = (
        pl.when(was.is_null() & (now == "eligible"))
        .then(pl.lit("newly_eligible"))
        .when(was.is_null() & (now == "maybe"))
        .then(pl.lit("newly_maybe"))
        .when((was == "maybe") & (now == "eligible"))
        .then(pl.lit("maybe_to_eligible"))
        .when((was == "eligible") & (now == "maybe"))
        .then(pl.lit("eligible_to_maybe"))
        .when(was.is_not_null() & now.is_null())
        .then(pl.lit("no_longer_eligible"))
        .when(pl.col("benefit").ne_missing(pl.col("benefit_new")))
        .then(pl.lit("benefit_changed"))
    )
    return (
        joined.with_columns(change.cast(pl.Enum(list(CHANGES))).alias("change"))
        .drop_nulls("change")
        .select(
            *keys,
            "change",
            pl.col("status").alias("old_status"),
            pl.col("status_new").alias("new_status"),
            pl.col("benefit").alias("old_benefit"),
            pl.col("benefit_new").alias("new_benefit"),
            pl.coalesce("unit_new", "unit").alias("unit"),
            pl.coalesce("recipient_id_new", "recipient_id").alias("recipient_id"),
        )
    )


def policy_endings(old: pl.LazyFrame, new: pl.LazyFrame) -> dict[str, tuple[int, int]]:
    """Policy → (its pairs in ``old``, how many of them ``new`` no longer has).

    The share a run ended of each policy's offers: what the mass-change guard compares with.
    """
    keys = ["subject_id", pl.col("subject_type").cast(pl.String), "policy_id"]
    offers = old.group_by("policy_id").agg(pl.len().alias("offers"))
    ended = (
        old.select(keys)
        .join(new.select(keys), on=["subject_id", "subject_type", "policy_id"], how="anti")
        .group_by("policy_id")
        .agg(pl.len().alias("ended"))
    )
    both = offers.join(ended, on="policy_id", how="left").fill_null(0).collect()
    return {
        str(p): (int(o), int(e)) for p, o, e in both.select("policy_id", "offers", "ended").rows()
    }


# Policy -> the shares of its offers that runs ended (RunStore.list hides the builtin there).
_Shares = dict[str, list[float]]


class RunStore:
    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.directory = data_dir / "runs"

    def record(
        self, pairs_file: Path, *, as_of: date, catalog_hash: str, population: str,
        started_at: datetime, seconds: float, policies: int,
        rule_hashes: Mapping[str, str] | None = None,
        within: Callable[[Connection, Run], object] | None = None,
        parameters: Mapping[str, tuple[str, str]] | None = None,
    ) -> Run:  # fmt: skip
        """Keep a copy of ``pairs_file`` and record the run; the previous run is the latest.

        ``rule_hashes`` (policy id → the rule version's content hash) says which version of
        each policy every pair of the run was matched with.  ``within(conn, run)`` runs in the
        transaction that records the run, before it commits — the outbox of the run's diff is
        written there (``notifier.campaign.record_and_plan``); if anything fails, neither the
        run nor its copy of the pairs stays.
        """
        counts = dict(
            pl.scan_parquet(pairs_file)
            .group_by(pl.col("status").cast(pl.String))
            .agg(pl.len())
            .collect()
            .rows()
        )
        previous = self.latest()
        kept: Path | None = None
        try:
            with self.engine.begin() as conn:
                values = {
                    "as_of": as_of,
                    "catalog_hash": catalog_hash,
                    "population": population,
                    "started_at": started_at.astimezone(UTC).replace(tzinfo=None),
                    "seconds": seconds,
                    "policies": policies,
                    "eligible": counts.get("eligible", 0),
                    "maybe": counts.get("maybe", 0),
                    "pairs_file": "",
                    "previous_run_id": previous.run_id if previous else None,
                }
                inserted = conn.execute(_runs.insert().values(**values)).inserted_primary_key
                assert inserted is not None
                run_id = int(inserted[0])
                self.directory.mkdir(parents=True, exist_ok=True)
                kept = self.directory / f"{run_id}.parquet"
                shutil.copyfile(pairs_file, kept)
                conn.execute(
                    _runs.update().where(_runs.c.run_id == run_id).values(pairs_file=str(kept))
                )
                if rule_hashes:
                    conn.execute(
                        _rule_hashes.insert(),
                        [
                            {"run_id": run_id, "policy_id": pid, "rule_hash": digest}
                            for pid, digest in sorted(rule_hashes.items())
                        ],
                    )
                if parameters:
                    conn.execute(
                        _parameters.insert(),
                        [
                            {"run_id": run_id, "name": n, "version": v, "value": shown}
                            for n, (v, shown) in sorted(parameters.items())
                        ],
                    )
                if within is not None:
                    row = conn.execute(sa.select(_runs).where(_runs.c.run_id == run_id)).one()
                    within(conn, self._run(row))
        except BaseException:
            if kept is not None:
                kept.unlink(missing_ok=True)
            raise
        return self.get(run_id)

    def rule_hashes(self, run_id: int) -> dict[str, str]:
        """Policy id → the rule version (content hash) the run matched with."""
        self.get(run_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_rule_hashes.c.policy_id, _rule_hashes.c.rule_hash).where(
                    _rule_hashes.c.run_id == run_id
                )
            ).all()
        return {str(pid): str(digest) for pid, digest in rows}

    def parameters(self, run_id: int) -> dict[str, tuple[str, str]]:
        """Parameter name → (the version's first day, its value) the run's policies read."""
        self.get(run_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_parameters.c.name, _parameters.c.version, _parameters.c.value).where(
                    _parameters.c.run_id == run_id
                )
            ).all()
        return {str(n): (str(v), str(shown)) for n, v, shown in rows}

    def _run(self, row: sa.Row[tuple[object, ...]]) -> Run:
        m = row._mapping
        return Run(
            run_id=int(m["run_id"]), as_of=m["as_of"], catalog_hash=m["catalog_hash"],
            population=m["population"], started_at=m["started_at"], seconds=float(m["seconds"]),
            policies=int(m["policies"]), eligible=int(m["eligible"]), maybe=int(m["maybe"]),
            pairs_file=Path(m["pairs_file"]), previous_run_id=m["previous_run_id"],
        )  # fmt: skip

    def get(self, run_id: int) -> Run:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_runs).where(_runs.c.run_id == run_id)).first()
        if row is None:
            raise NotFoundError(f"no match run {run_id}; see `zhida runs list`")
        return self._run(row)

    def latest(self) -> Run | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_runs).order_by(_runs.c.run_id.desc()).limit(1)).first()
        return self._run(row) if row is not None else None

    def list(self) -> list[Run]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(_runs).order_by(_runs.c.run_id)).all()
        return [self._run(r) for r in rows]

    def ended_shares(self, window: int, *, before: int | None = None) -> _Shares:
        """Policy → the share of its offers each of the last ``window`` runs ended (oldest first).

        ``before``: only runs recorded before that run id (the history of a run being judged).

        A run's endings are computed from its pairs and its previous run's once, and kept
        beside its pairs (``runs/<id>.ended.json``); runs whose pairs are gone are skipped.
        """
        query = sa.select(_runs).where(_runs.c.previous_run_id.is_not(None))
        if before is not None:
            query = query.where(_runs.c.run_id < before)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(_runs.c.run_id.desc()).limit(window)).all()
        shares: _Shares = {}
        for run in reversed([self._run(r) for r in rows]):
            assert run.previous_run_id is not None
            endings = self._endings(run, self.get(run.previous_run_id))
            for policy, (offers, ended) in endings.items():
                if offers:
                    shares.setdefault(policy, []).append(ended / offers)
        return shares

    def _endings(self, run: Run, base: Run) -> dict[str, tuple[int, int]]:
        files = [run.pairs_file, base.pairs_file]
        if not all(f.is_file() for f in files):
            return {}
        cache, key = self._endings_cache(run, base)
        with contextlib.suppress(OSError, ValueError):
            kept = json.loads(cache.read_text(encoding="utf-8"))
            if kept.get("key") == key:
                return {str(p): (int(o), int(e)) for p, (o, e) in kept["endings"].items()}
        endings = policy_endings(pl.scan_parquet(base.pairs_file), pl.scan_parquet(run.pairs_file))
        self.keep_endings(run.run_id, endings)
        return endings

    def keep_endings(self, run_id: int, endings: Mapping[str, tuple[int, int]]) -> None:
        """Keep a run's :func:`policy_endings` against its previous run (the mass-change guard
        computed them while judging it), so no later history reads its pairs again."""
        run = self.get(run_id)
        if run.previous_run_id is None:
            return
        cache, key = self._endings_cache(run, self.get(run.previous_run_id))
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            cache.write_text(json.dumps({"key": key, "endings": dict(endings)}), encoding="utf-8")

    def _endings_cache(self, run: Run, base: Run) -> tuple[Path, str]:
        # Keyed by the files it was computed from: a reused run id does not read stale counts.
        files = [run.pairs_file, base.pairs_file]
        key = "|".join(
            f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" if f.is_file() else f.name
            for f in files
        )
        return self.directory / f"{run.run_id}.ended.json", key

    def diff(self, run_id: int, against: int | None = None) -> pl.LazyFrame:
        """What changed in ``run_id`` compared with ``against`` (default: its previous run)."""
        run = self.get(run_id)
        base_id = against if against is not None else run.previous_run_id
        if base_id is None:
            raise NotFoundError(f"run {run_id} is the first run; there is nothing to compare")
        base = self.get(base_id)
        for r in (run, base):
            if not r.pairs_file.is_file():
                raise NotFoundError(f"the pairs of run {r.run_id} ({r.pairs_file}) are gone")
        return run_diff(pl.scan_parquet(base.pairs_file), pl.scan_parquet(run.pairs_file))
