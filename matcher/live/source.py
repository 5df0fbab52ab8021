"""One way to load a subject: its record, its service events and its tags, from files, the
database, or the database over files — and the one date a subject is evaluated on.

A :class:`SubjectSource` answers two questions for a set of subject ids: their stored records
(:meth:`~SubjectSource.records`) and their service events (:meth:`~SubjectSource.events`).
:class:`FileSource` reads a population directory (``residents.parquet``,
``enterprises.parquet``, ``events.parquet``), :class:`DatabaseSource` the profile tables
(``zhida profiles load`` and ingestion write them), and :class:`LayeredSource` the database over
the files, as the server sees a subject: the record ingested last wins over the population file
it was started with, and the events are those of both, each once.  :func:`load_subjects` turns
the answers into :class:`Subject` values, whose :meth:`~Subject.tagged` record carries the tags
its events give on a date (``profiles.tagging.single``, held equal to the batch computation by
a test); a source without an event log (a population directory without ``events.parquet``)
keeps the record's own tags, as ``zhida match`` does.

**The as-of date rule.**  Explain, the offers and ingestion evaluate one subject on the same
date, :func:`live_as_of`: today in ``ZHIDA_TIMEZONE``, or the latest match run's as-of date
when that is later (a run dated ahead).  "My offers" are the latest run's pairs with every
change ingested since laid over them, and each such change was evaluated on this date; the
explanation of an offer is evaluated on it too, from the same source, so after an ingested
change the offer and its explanation agree.

>>> live_as_of(date(2026, 12, 5), date(2026, 3, 1)), live_as_of(date(2026, 12, 5), None)
(datetime.date(2026, 12, 5), datetime.date(2026, 12, 5))
>>> live_as_of(date(2026, 12, 5), date(2027, 1, 1))
datetime.date(2027, 1, 1)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from core.errors import NotFoundError
from profiles.schema import Entity, Schema
from profiles.tagging.definitions import TagDefinition

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from matcher.live.file_index import FileIndex
    from matcher.live.groups import SubjectGroups

__all__ = [
    "DatabaseSource",
    "FileSource",
    "LayeredSource",
    "Subject",
    "SubjectSource",
    "bound_to",
    "find_subject",
    "live_as_of",
    "load_subjects",
    "require_subject",
    "tag_library",
    "today_local",
]

Record = dict[str, Any]
_CHUNK = 500  # ids per IN (...) of a database query


_libraries: dict[tuple[Path, ...], tuple[TagDefinition, ...]] = {}


def tag_library(schema: Schema) -> tuple[TagDefinition, ...]:
    """The built-in tag library checked against ``schema``, read once per process (parsing it
    costs ~0.1 s, more than a whole event's re-match)."""
    found = _libraries.get(schema.sources)
    if found is None:
        from profiles.tagging import load_tags

        found = _libraries[schema.sources] = tuple(load_tags(schema=schema))
    return found


def live_as_of(today: date, latest_run: date | None) -> date:
    """The date a subject is evaluated on now: ``today``, or the latest run's date if later."""
    return today if latest_run is None or latest_run <= today else latest_run


def today_local() -> date:
    """Today in ``ZHIDA_TIMEZONE`` (the only wall-clock read of live matching)."""
    from core.clock import SystemClock
    from core.settings import get_settings

    return SystemClock().now().astimezone(get_settings().tz).date()


@dataclass(frozen=True)
class Subject:
    """A subject as stored: its record (tags as stored), its events (None: no event log) and
    the links its household, members and staff are read from (None: the source has none)."""

    entity: Entity
    record: Record
    events: tuple[Mapping[str, Any], ...] | None
    groups: SubjectGroups | None = field(default=None, compare=False, repr=False)

    @property
    def subject_id(self) -> str:
        assert self.entity.key is not None
        return str(self.record[self.entity.key])

    def tagged(self, as_of: date, library: Sequence[TagDefinition]) -> Record:
        """The record with the tags its events give on ``as_of`` (stored tags without a log)."""
        from profiles.tagging.single import subject_tags

        if self.events is None:
            return dict(self.record)
        own = [t for t in library if t.audience == self.entity.name]
        tags = subject_tags(self.record, self.events, own, entity=self.entity, as_of=as_of)
        return {**self.record, "tags": sorted(tags)}

    def derived(self, as_of: date, library: Sequence[TagDefinition]) -> Record:
        """:meth:`tagged` with the derived fields (``age``, ``age_years``) on ``as_of``, and
        where the source has links, the fields they derive (household size and income per
        capita, children under 3; a firm's employees and hires) and the groups rules over
        groups read: the values the batch run gives the subject."""
        from profiles.derive import derive_record

        return self.linked(
            derive_record(self.tagged(as_of, library), self.entity, as_of=as_of), as_of
        )

    def linked(self, record: Record, as_of: date) -> Record:
        """``record`` (this subject's, derived on ``as_of``) with its links applied."""
        if self.groups is None:
            return dict(record)
        return self.groups.apply(record, self.entity, as_of=as_of)


class SubjectSource(Protocol):
    """Where subjects' records and service events are read from."""

    schema: Schema

    def records(
        self, subject_ids: Collection[str], entity: str | None = None
    ) -> dict[str, tuple[Entity, Record]]:
        """The stored records of the ``subject_ids`` it knows (of ``entity`` only, if given)."""
        ...

    def events(self, subject_ids: Collection[str]) -> dict[str, list[Record]] | None:
        """Their service events, oldest first; None when the source has no event log."""
        ...

    def tagged(
        self, subject_ids: Collection[str], as_of: date, entity: str | None = None
    ) -> dict[str, tuple[Entity, Record]]:
        """Their records with the tags their events give on ``as_of`` (many at once)."""
        ...

    def missing(self, subject_id: str) -> str:
        """What to do when ``subject_id`` is not there: the end of a one-line error."""
        ...

    def groups(self, records: Mapping[str, tuple[Entity, Record]]) -> SubjectGroups | None:
        """The links the subjects of ``records`` read (their households with every member and
        their children, their firms' employments and staff); None without link data."""
        ...

    def linked_rows(self, name: str, column: str, ids: Collection[str]) -> pl.DataFrame:
        """The ``name`` rows (resident, household, enterprise, employment) whose ``column`` is
        one of ``ids`` (what ingestion's fan-out reads, :mod:`matcher.live.fanout`)."""
        ...

    def linked_where(self, name: str, wanted: Mapping[str, Collection[str]]) -> pl.DataFrame:
        """The ``name`` rows whose column is one of its ids for any (column, ids) of
        ``wanted``, each once, in one read (a person, the children naming them as a parent)."""
        ...

    def deaths(self, person_ids: Collection[str]) -> set[str]:
        """Those of ``person_ids`` whose events hold a death registration."""
        ...


def _one_by_one(
    source: SubjectSource, subject_ids: Collection[str], as_of: date, entity: str | None
) -> dict[str, tuple[Entity, Record]]:
    """:meth:`SubjectSource.tagged` by :meth:`Subject.tagged`, subject by subject: their
    records and events only (tags read no links, so their groups are not loaded)."""
    library = tag_library(source.schema)
    records = source.records(subject_ids, entity)
    events = source.events(list(records)) if records else {}
    out = {}
    for sid, (e, record) in records.items():
        own = None if events is None else tuple(events.get(sid, ()))
        out[sid] = (e, Subject(e, record, own).tagged(as_of, library))
    return out


def _entities(schema: Schema, entity: str | None) -> list[Entity]:
    return [schema.entity(entity)] if entity else [schema.resident, schema.enterprise]


def _ordered(events: Iterable[Record]) -> list[Record]:
    """Oldest first, one per (item, time): the same event from two places counts once."""
    seen: set[tuple[str, Any]] = set()
    out = []
    for e in sorted(events, key=lambda e: e["occurred_at"]):
        key = (str(e["item_code"]), e["occurred_at"])
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


class FileSource:
    """A population directory: ``residents.parquet``, ``enterprises.parquet``, ``events.parquet``.

    Each call is one filtered scan per file (polars pushes the id filter into the Parquet
    reader), so explaining thousands of subjects costs a scan, not one per subject.  A server
    (``indexed``) answers many single lookups instead: the files are held sorted by subject
    (:mod:`matcher.live.file_index`) and each lookup is a binary search.
    """

    def __init__(self, directory: Path, schema: Schema, *, indexed: bool = False) -> None:
        from matcher.live.file_index import FileIndexCache

        self.directory = directory
        self.schema = schema
        self._frames: dict[str, pl.LazyFrame] | None = None
        # A server's source answers many single lookups: the files held sorted by subject.
        self._index = FileIndexCache() if indexed else None

    def _indexed(self) -> FileIndex | None:
        if self._index is None:
            return None
        return self._index.get(self.directory, self._build_index)

    def _build_index(self) -> FileIndex:
        from matcher.live.file_index import FileIndex
        from matcher.population import scan_population

        self._frames = scan_population(self.directory, self.schema)  # the files as they are now

        keys = {e.name: e.key for e in _entities(self.schema, None) if e.key is not None}
        people = self.schema.resident  # by key, household and those who are told for them
        household_key = self.schema.household.key or ""
        # Subjects by key; households, employments and residents also by what links them.
        subjects = {n: f for n, f in self._frames.items() if n in keys}
        # Every column the fan-out looks rows up by (matcher.live.fanout), so none is a scan.
        links = {
            "resident": (None, (people.key or "", household_key, *people.guardian_fields)),
            "household": (self._frames.get("household"), ("household_id",)),
            "employment": (self._frames.get("employment"), ("enterprise_id", "person_id")),
            "enterprise": (None, ("enterprise_id",)),
        }
        links = {
            name: (frame, tuple(c for c in by if c in names))
            for name, (frame, by) in links.items()
            if (names := _columns(frame if frame is not None else self._frames.get(name)))
        }
        return FileIndex.build(subjects, keys, self.directory / "events.parquet", links)

    def _scan(self) -> dict[str, pl.LazyFrame]:
        from matcher.population import scan_population

        if self._frames is None:
            self._frames = scan_population(self.directory, self.schema)
        return self._frames

    def frames(self) -> dict[str, pl.LazyFrame]:
        """The population's frames (residents, enterprises, and households and employments
        where the directory has them), scanned once."""
        return self._scan()

    def records(
        self, subject_ids: Collection[str], entity: str | None = None
    ) -> dict[str, tuple[Entity, Record]]:
        wanted = sorted(set(subject_ids))
        out: dict[str, tuple[Entity, Record]] = {}
        frames, index = self._scan(), self._indexed()
        for e in _entities(self.schema, entity):
            if e.name not in frames or len(out) == len(wanted):
                continue
            assert e.key is not None
            rest = [s for s in wanted if s not in out]
            if index is not None:
                for sid, rows in index.entities[e.name].rows(rest).items():
                    out[sid] = (e, rows[0])  # the file's first row, as the scan keeps
                continue
            found = frames[e.name].filter(pl.col(e.key).is_in(rest)).collect()
            for row in found.iter_rows(named=True):
                out.setdefault(str(row[e.key]), (e, row))
        return out

    def events(self, subject_ids: Collection[str]) -> dict[str, list[Record]] | None:
        path = self.directory / "events.parquet"
        if not path.is_file():
            return None
        wanted = sorted(set(subject_ids))
        index = self._indexed()
        if index is not None and index.events is not None:
            found = index.events.rows(wanted)
            return {s: _ordered(found.get(s, [])) for s in wanted}
        rows = pl.scan_parquet(path).filter(pl.col("subject_id").is_in(wanted)).collect()
        grouped: dict[str, list[Record]] = {s: [] for s in wanted}
        for row in rows.iter_rows(named=True):
            grouped[str(row["subject_id"])].append(row)
        return {s: _ordered(v) for s, v in grouped.items()}

    def tagged(
        self, subject_ids: Collection[str], as_of: date, entity: str | None = None
    ) -> dict[str, tuple[Entity, Record]]:
        """One query per file: the records filtered to ``subject_ids`` joined to the tags of
        their events (the batch computation, which a test holds equal to the per-subject one:
        0.6 s for 10,000 of 50,000 residents with their derived fields, against 2.4 s)."""
        from profiles.tagging import compute_tags

        wanted = sorted(set(subject_ids))
        path = self.directory / "events.parquet"
        frames = self._scan()
        out: dict[str, tuple[Entity, Record]] = {}
        for e in _entities(self.schema, entity):
            if e.name not in frames or not wanted:
                continue
            assert e.key is not None
            frame = frames[e.name].filter(pl.col(e.key).is_in(wanted))
            if path.is_file():
                events = pl.scan_parquet(path).filter(pl.col("subject_id").is_in(wanted))
                computed = compute_tags(
                    frame, events, tag_library(self.schema), entity=e, as_of=as_of
                )
                frame = frame.drop("tags").join(
                    computed.rename({"subject_id": e.key}), on=e.key, how="left"
                )
            for row in frame.collect().iter_rows(named=True):
                row["tags"] = sorted(row["tags"] or []) if path.is_file() else row["tags"]
                out.setdefault(str(row[e.key]), (e, row))
        return out

    def groups(self, records: Mapping[str, tuple[Entity, Record]]) -> SubjectGroups | None:
        from matcher.live.groups import PARENT_LINKS, SubjectGroups, wanted

        frames = self._scan()
        if "resident" not in frames or not {"household", "employment"} & frames.keys():
            return None
        homes, people, firms = wanted(records)
        out: dict[str, pl.DataFrame] = {}
        staff: set[str] = set()
        index = self._indexed()
        if index is not None and "resident" in index.linked:  # lookups, not scans
            linked = index.linked
            if "employment" in frames:
                out["employment"] = linked["employment"].where({"enterprise_id": firms})
                staff = set(out["employment"]["person_id"].to_list())
            by = {"household_id": homes, "person_id": staff}
            by.update({link: people for link in PARENT_LINKS})
            out["resident"] = linked["resident"].where(by)
            if "household" in frames:
                out["household"] = linked["household"].where({"household_id": homes})
            return SubjectGroups.of(self.schema, out)
        if "employment" in frames:
            jobs = frames["employment"].filter(pl.col("enterprise_id").is_in(sorted(firms)))
            out["employment"] = jobs.collect()
            staff = set(out["employment"]["person_id"].to_list())
        near = pl.col("household_id").is_in(sorted(homes)) | pl.col("person_id").is_in(
            sorted(staff)
        )
        for link in PARENT_LINKS:
            near = near | pl.col(link).is_in(sorted(people)).fill_null(False)
        out["resident"] = frames["resident"].filter(near).collect()
        if "household" in frames:
            homes_of = pl.col("household_id").is_in(sorted(homes))
            out["household"] = frames["household"].filter(homes_of).collect()
        return SubjectGroups.of(self.schema, out)

    def linked_rows(self, name: str, column: str, ids: Collection[str]) -> pl.DataFrame:
        """The ``name`` rows (resident, household, enterprise, employment) whose ``column`` is
        one of ``ids``, in the schema's stored fields (none when the file is absent)."""
        return self.linked_where(name, {column: ids})

    def linked_where(self, name: str, wanted: Mapping[str, Collection[str]]) -> pl.DataFrame:
        """:meth:`SubjectSource.linked_where` of the files (a column the file lacks has none)."""
        from matcher.live.groups import conformed

        entity = self.schema.entity(name)
        frame = self._scan().get(name)
        if frame is None:
            return entity.polars_schema().to_frame()
        present = frame.collect_schema().names()
        asked = {c: ids for c, ids in wanted.items() if ids and c in present}
        if not asked:
            return entity.polars_schema().to_frame()
        index = self._indexed()
        rows = index.linked.get(name) if index is not None else None
        if rows is not None and all(c in rows.by for c in asked):  # lookups, not a scan
            return conformed(rows.where(asked), entity)
        return conformed(frame.filter(_any_of(asked)).collect(), entity)

    def deaths(self, person_ids: Collection[str]) -> set[str]:
        """Those of ``person_ids`` whose events hold a death registration."""
        path = self.directory / "events.parquet"
        if not path.is_file() or not person_ids:
            return set()
        index = self._indexed()
        if index is not None and index.events is not None:  # a server's lookup, not a scan
            return {
                sid
                for sid, rows in index.events.rows(person_ids).items()
                if any(str(r["item_code"]) == "death_registration" for r in rows)
            }
        found = (
            pl.scan_parquet(path)
            .filter(
                pl.col("subject_id").is_in(sorted(set(person_ids)))
                & (pl.col("item_code").cast(pl.String) == "death_registration")
            )
            .select("subject_id")
            .collect()
        )
        return set(found["subject_id"].to_list())

    def missing(self, subject_id: str) -> str:
        return (
            f"no resident or enterprise has the id {subject_id!r} in the population "
            f"{self.directory}; check the id"
        )


class DatabaseSource:
    """The profile tables: what ``zhida profiles load`` and ingestion stored."""

    def __init__(self, engine: Engine, schema: Schema) -> None:
        from profiles.tables import profile_tables

        self.engine = engine
        self.schema = schema
        self.tables = profile_tables(schema)
        self._conn: Connection | None = None

    def bound(self, conn: Connection) -> DatabaseSource:
        """This source reading through ``conn`` (a caller's transaction) instead of a pooled
        connection of its own: what the transaction wrote is seen, and no connection is taken."""
        copy = DatabaseSource.__new__(DatabaseSource)
        copy.engine, copy.schema, copy.tables = self.engine, self.schema, self.tables
        copy._conn = conn
        return copy

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
        else:
            with self.engine.connect() as conn:
                yield conn

    def connection(self) -> contextlib.AbstractContextManager[Connection]:
        """The caller's transaction this source is bound to, else a pooled connection."""
        return self._connection()

    def records(
        self, subject_ids: Collection[str], entity: str | None = None
    ) -> dict[str, tuple[Entity, Record]]:
        import sqlalchemy as sa

        wanted = sorted(set(subject_ids))
        out: dict[str, tuple[Entity, Record]] = {}
        with self._connection() as conn:
            for e in _entities(self.schema, entity):
                assert e.key is not None
                table = self.tables[e.name]
                for start in range(0, len(wanted), _CHUNK):
                    chunk = wanted[start : start + _CHUNK]
                    query = sa.select(table).where(table.c[e.key].in_(chunk))
                    for row in conn.execute(query).mappings():
                        record = dict(row)
                        if isinstance(record.get("tags"), str):
                            record["tags"] = json.loads(record["tags"])
                        out.setdefault(str(record[e.key]), (e, record))
        return out

    def events(self, subject_ids: Collection[str]) -> dict[str, list[Record]] | None:
        import sqlalchemy as sa

        table = self.tables["event"]
        columns = [table.c[f.name] for f in self.schema.event.stored_fields]
        wanted = sorted(set(subject_ids))
        grouped: dict[str, list[Record]] = {s: [] for s in wanted}
        with self._connection() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                query = sa.select(*columns).where(table.c.subject_id.in_(chunk))
                for row in conn.execute(query).mappings():
                    grouped[str(row["subject_id"])].append(dict(row))
        return {s: _ordered(v) for s, v in grouped.items()}

    def tagged(
        self, subject_ids: Collection[str], as_of: date, entity: str | None = None
    ) -> dict[str, tuple[Entity, Record]]:
        return _one_by_one(self, subject_ids, as_of, entity)

    def rows(self, conn: Connection, name: str, column: str, ids: Collection[str]) -> pl.DataFrame:
        """The rows of table ``name`` whose ``column`` is one of ``ids``, in the schema's
        dtypes (one query per 500 ids)."""
        return self.rows_where(conn, name, {column: ids})

    def rows_where(
        self, conn: Connection, name: str, wanted: Mapping[str, Collection[str]]
    ) -> pl.DataFrame:
        """The rows of table ``name`` whose column is one of its ids for any (column, ids) of
        ``wanted``, each once: one query ``col1 IN (…) OR col2 IN (…)`` while they number at
        most 500 ids, else one query per 500 ids of a column."""
        import sqlalchemy as sa

        from matcher.live.groups import KEYS

        entity, table = self.schema.entity(name), self.tables[name]
        asked = [(c, sorted({str(i) for i in ids})) for c, ids in wanted.items() if ids]
        if not asked:  # no query, and no frame built row by row
            return entity.polars_schema().to_frame()
        if sum(len(ids) for _, ids in asked) <= _CHUNK:
            queries = [sa.or_(*(table.c[c].in_(ids) for c, ids in asked))]
        else:
            queries = [
                table.c[c].in_(ids[start : start + _CHUNK])
                for c, ids in asked
                for start in range(0, len(ids), _CHUNK)
            ]
        names = [f.name for f in entity.stored_fields]
        key = KEYS[name]
        rows: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for where in queries:
            for row in conn.execute(sa.select(*(table.c[n] for n in names)).where(where)):
                values = tuple(row)
                rows.setdefault(tuple(values[names.index(k)] for k in key), values)
        found = list(rows.values())
        if "tags" in names:
            at = names.index("tags")
            found = [
                (*v[:at], json.loads(v[at]), *v[at + 1 :]) if isinstance(v[at], str) else v
                for v in found
            ]
        # The schema's dtypes already: the rows are built in them (no conforming pass).
        return pl.DataFrame(found, schema=entity.polars_schema(), orient="row")

    def _any(self, conn: Connection, name: str) -> bool:
        import sqlalchemy as sa

        return (
            conn.execute(sa.select(sa.literal(1)).select_from(self.tables[name]).limit(1)).first()
            is not None
        )

    def groups(self, records: Mapping[str, tuple[Entity, Record]]) -> SubjectGroups | None:
        from matcher.live.groups import PARENT_LINKS, SubjectGroups, wanted

        homes, people, firms = wanted(records)
        with self._connection() as conn:
            jobs = self.rows(conn, "employment", "enterprise_id", firms)
            staff = set(jobs["person_id"].to_list())
            near = {"household_id": homes, "person_id": staff}
            near.update({link: people for link in PARENT_LINKS})
            members = self.rows_where(conn, "resident", near)
            homes_found = self.rows(conn, "household", "household_id", homes)
            # A firm with no employment on file has no staff when the table holds any (the
            # links are the record, as in the batch); without any, its typed-in count stands.
            with_jobs = jobs.height > 0 or (firms and self._any(conn, "employment"))
        # Only what is there: the files under a layered source may hold the rest.
        frames = {"resident": members}
        if homes_found.height:
            frames["household"] = homes_found
        if with_jobs:
            frames["employment"] = jobs
        if len(frames) == 1 and not members.height:
            return None
        return SubjectGroups.of(self.schema, frames)

    def linked_rows(self, name: str, column: str, ids: Collection[str]) -> pl.DataFrame:
        """:meth:`FileSource.linked_rows` from the profile tables."""
        return self.linked_where(name, {column: ids})

    def linked_where(self, name: str, wanted: Mapping[str, Collection[str]]) -> pl.DataFrame:
        """:meth:`FileSource.linked_where` from the profile tables (:meth:`rows_where`)."""
        with self._connection() as conn:
            return self.rows_where(conn, name, wanted)

    def deaths(self, person_ids: Collection[str]) -> set[str]:
        """:meth:`FileSource.deaths` from the event table."""
        import sqlalchemy as sa

        table, wanted, found = self.tables["event"], sorted(set(person_ids)), set()
        with self._connection() as conn:
            for start in range(0, len(wanted), _CHUNK):
                query = sa.select(table.c.subject_id).where(
                    table.c.subject_id.in_(wanted[start : start + _CHUNK]),
                    table.c.item_code == "death_registration",
                )
                found |= {str(s) for s in conn.execute(query).scalars()}
        return found

    def missing(self, subject_id: str) -> str:
        return (
            f"no resident or enterprise {subject_id!r} is in the database; send its profile "
            f"(PUT /api/v1/profiles/resident/{subject_id}) or load a population "
            "(`zhida profiles load DIR`)"
        )


class LayeredSource:
    """The database over a population directory, as the server sees a subject.

    The record in the database (ingested or loaded) wins over the file's; the events are both
    sources' together, each once.  Without ``files`` it is the database alone.
    """

    def __init__(self, database: DatabaseSource, files: FileSource | None) -> None:
        self.database = database
        self.files = files
        self.schema = database.schema

    def bound(self, conn: Connection) -> LayeredSource:
        """This source with its database read through ``conn`` (:meth:`DatabaseSource.bound`)."""
        return LayeredSource(self.database.bound(conn), self.files)

    def records(
        self, subject_ids: Collection[str], entity: str | None = None
    ) -> dict[str, tuple[Entity, Record]]:
        found = self.database.records(subject_ids, entity)
        rest = set(subject_ids) - set(found)
        if rest and self.files is not None:
            found.update(self.files.records(rest, entity))
        return found

    def events(self, subject_ids: Collection[str]) -> dict[str, list[Record]] | None:
        stored = self.database.events(subject_ids) or {}
        filed = (self.files.events(subject_ids) if self.files is not None else None) or {}
        return {s: _ordered([*stored.get(s, []), *filed.get(s, [])]) for s in set(subject_ids)}

    def tagged(
        self, subject_ids: Collection[str], as_of: date, entity: str | None = None
    ) -> dict[str, tuple[Entity, Record]]:
        return _one_by_one(self, subject_ids, as_of, entity)

    def groups(self, records: Mapping[str, tuple[Entity, Record]]) -> SubjectGroups | None:
        from matcher.live.groups import SubjectGroups, layered

        filed = self.files.groups(records) if self.files is not None else None
        stored = self.database.groups(records)
        if filed is not None and "resident" in filed.frames:
            # A filed member the database has since changed (moved out, a new income) is read
            # as the database has it.
            ids = filed.frames["resident"]["person_id"].to_list()
            with self.database.connection() as conn:
                newer = self.database.rows(conn, "resident", "person_id", ids)
            if newer.height:
                stored = layered(stored, SubjectGroups(self.schema, {"resident": newer}))
        return layered(stored, filed)

    def linked_rows(self, name: str, column: str, ids: Collection[str]) -> pl.DataFrame:
        """The database's rows over the files': a filed row the database holds too is read
        as the database has it (and kept only if it still matches)."""
        return self.linked_where(name, {column: ids})

    def linked_where(self, name: str, wanted: Mapping[str, Collection[str]]) -> pl.DataFrame:
        """:meth:`linked_rows` for several columns: the files read first, then one database
        read for the rows asked for and the database's version of every filed row found."""
        from matcher.live.groups import KEYS

        if self.files is None:
            return self.database.linked_where(name, wanted)
        filed = self.files.linked_where(name, wanted)
        if not filed.height:
            return self.database.linked_where(name, wanted)
        key = KEYS[name]
        asked = {c: set(ids) for c, ids in wanted.items()}
        asked[key[0]] = asked.get(key[0], set()) | set(filed[key[0]].to_list())
        stored = self.database.linked_where(name, asked)
        both = pl.concat([stored, filed]).unique(key, keep="first", maintain_order=True)
        return both.filter(_any_of({c: ids for c, ids in wanted.items() if ids}))

    def deaths(self, person_ids: Collection[str]) -> set[str]:
        filed = self.files.deaths(person_ids) if self.files is not None else set()
        return self.database.deaths(person_ids) | filed

    def missing(self, subject_id: str) -> str:
        hint = self.database.missing(subject_id)
        if self.files is None:
            hint += ", or start the server with `zhida serve --population DIR`"
        return hint


def _columns(frame: pl.LazyFrame | None) -> set[str]:
    return set() if frame is None else set(frame.collect_schema().names())


def _any_of(wanted: Mapping[str, Collection[str]]) -> pl.Expr:
    """Whether a row's column is one of its ids, for any (column, ids) of ``wanted``."""
    exprs = [pl.col(c).is_in(sorted({str(i) for i in ids})) for c, ids in wanted.items()]
    return pl.any_horizontal(exprs).fill_null(False) if exprs else pl.lit(False)


def bound_to(source: SubjectSource, conn: Connection) -> SubjectSource:
    """``source`` reading the database through ``conn``; a file source as it is."""
    if isinstance(source, DatabaseSource | LayeredSource):
        return source.bound(conn)
    return source


def load_subjects(
    source: SubjectSource, subject_ids: Collection[str], entity: str | None = None
) -> dict[str, Subject]:
    """The subjects of ``subject_ids`` that ``source`` knows, by id."""
    records = source.records(subject_ids, entity)
    events = source.events(list(records)) if records else {}
    groups = source.groups(records) if records else None
    if groups is not None and "resident" in groups.frames:
        groups = groups.without(source.deaths(groups.frames["resident"]["person_id"].to_list()))
    return {
        sid: Subject(e, record, None if events is None else tuple(events.get(sid, ())), groups)
        for sid, (e, record) in records.items()
    }


def find_subject(
    source: SubjectSource, subject_id: str, entity: str | None = None
) -> Subject | None:
    """``subject_id`` as ``source`` knows it, or None."""
    return load_subjects(source, [subject_id], entity).get(subject_id)


def require_subject(source: SubjectSource, subject_id: str, entity: str | None = None) -> Subject:
    """``subject_id`` as ``source`` knows it; :class:`NotFoundError` saying what to do if not."""
    found = find_subject(source, subject_id, entity)
    if found is None:
        raise NotFoundError(source.missing(subject_id))
    return found
