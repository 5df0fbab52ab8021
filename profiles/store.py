"""Residents, enterprises, service events, households and employments in the database: bulk
load, upsert, bulk read.

On PostgreSQL, bulk loads go through ADBC — Arrow batches straight into a staging table (COPY
underneath) — and are merged into the real table with ``INSERT … ON CONFLICT`` in the same
transaction; bulk reads come back as Arrow, then polars.  On SQLite (the embedded default) the
same statements run through Python's sqlite3 with ``executemany`` in one transaction: a second
SQLite library writing in one process can corrupt the file.  Bulk reads use ADBC on both, on
SQLite after closing the engine's pooled connections, so that ADBC's library is the only one
with the file open while it reads.  Either way a load is all-or-nothing — residents,
enterprises, events, households and employments of one population in one transaction, so a
load killed half-way leaves nothing — loading the same files twice changes nothing, and frames
come back in the schema's dtypes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import DatabaseError, NotFoundError
from profiles.schema import Entity, Schema, load_schema
from profiles.tables import TABLE_NAMES, column_type, profile_tables

__all__ = ["ProfileStore", "add_missing_columns"]


@contextmanager
def _adbc(engine: Engine) -> Iterator[Any]:
    """An ADBC DB-API connection to the engine's database (not autocommit)."""
    url = engine.url
    try:
        if url.get_backend_name() == "sqlite":
            import adbc_driver_sqlite.dbapi as driver

            conn = driver.connect(url.database or ":memory:")
        elif url.get_backend_name() == "postgresql":
            import adbc_driver_postgresql.dbapi as pg_driver

            uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
            conn = pg_driver.connect(uri)
        else:
            raise DatabaseError(f"bulk load and read support SQLite and PostgreSQL, not {url}")
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(f"cannot open an ADBC connection to {url!r}: {exc}") from exc
    try:
        yield conn
    finally:
        conn.close()


def _to_storage(frame: pl.DataFrame, entity: Entity) -> pl.DataFrame:
    """Enums as text, tags as JSON text: what every back end stores alike."""
    columns = []
    for f in entity.stored_fields:
        col = pl.col(f.name)
        if f.type == "enum":
            col = col.cast(pl.String)
        elif f.type == "tags":
            escaped = col.list.eval(
                pl.element()
                .str.replace_all("\\", "\\\\", literal=True)
                .str.replace_all('"', '\\"', literal=True)
            )
            col = (
                pl.when(col.is_null())
                .then(None)
                .otherwise(pl.lit('["') + escaped.list.join('","') + pl.lit('"]'))
            )
            col = pl.when(pl.col(f.name).list.len() == 0).then(pl.lit("[]")).otherwise(col)
        columns.append(col.alias(f.name))
    return frame.select(columns)


def _from_storage(frame: pl.DataFrame, entity: Entity) -> pl.DataFrame:
    """Back to the schema's dtypes (SQLite returns dates as text and booleans as integers)."""
    columns = []
    for f in entity.stored_fields:
        col = pl.col(f.name)
        dtype = frame.schema[f.name]
        if f.type == "tags" and dtype != pl.String:
            # A column of nulls only: ADBC's SQLite guesses integers for it.
            col = pl.lit(None, dtype=f.polars_dtype)
        elif f.type == "tags":
            col = col.str.json_decode(pl.List(pl.String))
        elif f.type == "date" and dtype == pl.String:
            col = col.str.to_date("%Y-%m-%d")
        elif f.type == "datetime" and dtype == pl.String:
            col = col.str.to_datetime(time_unit="us")
        elif f.type == "boolean" and dtype != pl.Boolean:
            col = col.cast(pl.Boolean)
        columns.append(col.cast(f.polars_dtype).alias(f.name))
    return frame.select(columns)


@dataclass(frozen=True)
class _Load:
    """One frame's share of a load: its table, its rows as stored, its merge clause."""

    entity: Entity
    table: str
    storage: pl.DataFrame
    column_list: str
    conflict: str


def _failed(plans: Sequence[_Load], failing: _Load | None, reason: str) -> DatabaseError:
    what = ", ".join(f"{p.storage.height:,} {p.entity.name}s" for p in plans)
    where = f" while writing {failing.table}" if failing else ""
    return DatabaseError(
        f"loading {what} failed{where} and was rolled back, nothing was loaded: {reason}"
    )


class ProfileStore:
    """The profile tables of one database."""

    def __init__(self, engine: Engine, schema: Schema | None = None) -> None:
        self.engine = engine
        self.schema = schema or load_schema()
        self.tables = profile_tables(self.schema)

    def load(self, entity_name: str, frame: pl.DataFrame) -> int:
        """Merge one validated frame into its table; see :meth:`load_all`."""
        return self.load_all([(entity_name, frame)])[0]

    def load_all(
        self,
        frames: Sequence[tuple[str, pl.DataFrame]],
        *,
        sources: Mapping[str, str] | None = None,
    ) -> list[int]:
        """Merge validated frames (``profiles.validation.conform``) into their tables at once.

        Residents, enterprises and households are inserted or updated by key; events already
        present are skipped, employments updated (a job that ended).  Links are checked first
        against the frames and what the database holds (:func:`profiles.link_checks.
        check_links`; ``sources`` names each entity's file for the messages): a bad link is a
        ``ValidationError`` and nothing is written.  One transaction for all the frames: on
        any error, or if the process is killed half-way, every table is as it was.  Returns
        the rows given per frame.
        """
        self._check_links(frames, sources or {})
        plans = [self._plan(name, frame) for name, frame in frames]
        if self.engine.dialect.name == "sqlite":
            self._load_sqlite(plans)
        else:
            self._load_adbc(plans)
        return [plan.storage.height for plan in plans]

    def _check_links(
        self, frames: Sequence[tuple[str, pl.DataFrame]], sources: Mapping[str, str]
    ) -> None:
        from profiles.link_checks import check_links, has_links

        given: dict[str, pl.DataFrame] = {}
        for name, frame in frames:
            given[name] = pl.concat([given[name], frame]) if name in given else frame
        # Residents loaded without household_id may still move a head out of a stored household.
        if not has_links(given) and not ("resident" in given and self.count("household") > 0):
            return
        linked = ("resident", "household", "enterprise")
        existing = {name: self.read(name) for name in linked if self.count(name) > 0}
        named = {name: sources.get(name, f"the {TABLE_NAMES[name]} loaded") for name in given}
        check_links(given, named, existing=existing)

    def _plan(self, entity_name: str, frame: pl.DataFrame) -> _Load:
        entity = self.schema.entity(entity_name)
        names = [f.name for f in entity.stored_fields]
        if entity.key:
            updates = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n != entity.key)
            conflict = f'ON CONFLICT ("{entity.key}") DO UPDATE SET {updates}'
        else:
            # Keyless records are unique by their table's constraint: an event loaded twice is
            # skipped; an employment loaded again updates (its left_on, once the job ends).
            table = self.tables[entity_name]
            unique = next(c for c in table.constraints if isinstance(c, sa.UniqueConstraint))
            natural = [c.name for c in unique.columns]
            listed = ", ".join(f'"{n}"' for n in natural)
            updates = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n not in natural)
            action = f"DO UPDATE SET {updates}" if entity_name == "employment" else "DO NOTHING"
            conflict = f"ON CONFLICT ({listed}) {action}"
        column_list = ", ".join(f'"{n}"' for n in names)
        return _Load(entity, TABLE_NAMES[entity_name], _to_storage(frame, entity), column_list,
                     conflict)  # fmt: skip

    def _load_adbc(self, plans: Sequence[_Load]) -> None:
        with _adbc(self.engine) as conn:
            cursor = conn.cursor()
            plan = plans[0] if plans else None
            try:
                for plan in plans:
                    stage = f"_stage_{plan.table}"
                    cursor.adbc_ingest(stage, plan.storage.to_arrow(), mode="replace",
                                       temporary=True)  # fmt: skip
                    cursor.execute(
                        f'INSERT INTO "{plan.table}" ({plan.column_list}) '
                        f"SELECT {self._casts(plan.entity)} FROM {stage} WHERE true "
                        f"{plan.conflict}"
                    )
                    cursor.execute(f"DROP TABLE {stage}")
                conn.commit()
            except Exception as exc:
                conn.rollback()
                raise _failed(plans, plan, " ".join(str(exc).split("\n")[0].split())) from exc
            finally:
                cursor.close()

    def _load_sqlite(self, plans: Sequence[_Load]) -> None:
        # SQLite goes through Python's own sqlite3 (executemany in one transaction): a second
        # SQLite library in the same process (ADBC's) can corrupt the file through POSIX locks.
        plan = plans[0] if plans else None
        try:
            with self.engine.begin() as conn:
                for plan in plans:
                    plain = plan.storage.with_columns(
                        pl.col(pl.Date).cast(pl.String),
                        pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M:%S.%6f"),
                        pl.col(pl.Boolean).cast(pl.Int8),
                    )
                    marks = ", ".join("?" for _ in plain.columns)
                    sql = (
                        f'INSERT INTO "{plan.table}" ({plan.column_list}) VALUES ({marks}) '
                        f"{plan.conflict}"
                    )
                    conn.exec_driver_sql(sql, list(plain.iter_rows()))
        except sa.exc.DBAPIError as exc:
            raise _failed(plans, plan, " ".join(str(exc.orig).split())) from exc

    def _casts(self, entity: Entity) -> str:
        """The staging columns cast to the table's types (ADBC stages dates as text on SQLite)."""
        dialect = self.engine.dialect
        parts = []
        for f in entity.stored_fields:
            sql_type = column_type(f).compile(dialect=dialect)
            parts.append(
                f'CAST("{f.name}" AS {sql_type})' if dialect.name == "postgresql" else f'"{f.name}"'
            )
        return ", ".join(parts)

    def read(self, entity_name: str) -> pl.DataFrame:
        """The whole table as a polars frame in the schema's dtypes (through Arrow)."""
        entity = self.schema.entity(entity_name)
        names = ", ".join(f'"{f.name}"' for f in entity.stored_fields)
        if self.engine.dialect.name == "sqlite":
            # ADBC's SQLite must be the only SQLite library with the file open (see the module
            # docstring): close the engine's pooled connections first.  The embedded default
            # is single-user; a server uses PostgreSQL.
            self.engine.dispose()
        with _adbc(self.engine) as conn:
            cursor = conn.cursor()
            try:
                cursor.execute(f'SELECT {names} FROM "{TABLE_NAMES[entity_name]}"')
                arrow = cursor.fetch_arrow_table()
            finally:
                cursor.close()
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        return _from_storage(frame, entity)

    def upsert(
        self, entity_name: str, record: Mapping[str, Any], *, conn: sa.Connection | None = None
    ) -> None:
        """Insert or update one resident or enterprise (fields not given become unknown).

        One ``INSERT … ON CONFLICT DO UPDATE``, so two writers of one subject never collide on
        its key; with ``conn``, in the caller's transaction."""
        entity = self.schema.entity(entity_name)
        if entity.key is None:
            raise NotFoundError(f"{entity_name}s have no key: load them with load(), not upsert()")
        table = self.tables[entity_name]
        values = {f.name: record.get(f.name) for f in entity.stored_fields}
        tags = values.get("tags")
        if tags is not None:
            values["tags"] = json.dumps(list(tags), ensure_ascii=False)
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        statement = insert(table).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[entity.key],
            set_={k: statement.excluded[k] for k in values if k != entity.key},
        )
        if conn is not None:
            conn.execute(statement)
            return
        with self.engine.begin() as own:
            own.execute(statement)

    def count(self, entity_name: str) -> int:
        table = self.tables[entity_name]
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def add_missing_columns(engine: Engine, schema: Schema | None = None) -> list[str]:
    """Add a column for each schema field a profile table lacks (fields of an extension)."""
    schema = schema or load_schema()
    inspector = sa.inspect(engine)
    added = []
    with engine.begin() as conn:
        for name, table in profile_tables(schema).items():
            if not inspector.has_table(table.name):
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for f in schema.entity(name).stored_fields:
                if f.name not in have:
                    sql_type = column_type(f).compile(dialect=engine.dialect)
                    conn.execute(
                        sa.text(f'ALTER TABLE "{table.name}" ADD COLUMN "{f.name}" {sql_type}')
                    )
                    added.append(f"{table.name}.{f.name}")
    return added
