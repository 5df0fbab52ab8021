"""Read a population directory lazily, in the schema's dtypes, for matching and explaining.

Beside ``residents.parquet`` and ``enterprises.parquet`` a directory may hold the links
``households.parquet`` and ``employments.parquet``; their frames come back under ``household``
and ``employment`` when the files are there (the links are checked first:
:func:`profiles.link_checks.check_links`), and a directory without them reads as it always did.
:func:`profiles.links.with_links` derives the aggregates at a run's as-of date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from core.errors import InputFileError, ValidationError
from profiles.schema import Entity, Schema
from profiles.tagging.definitions import TagDefinition

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine  # the CLI's start-up stays light without it

__all__ = [
    "LINK_FILES",
    "POPULATION_FILES",
    "EventTagger",
    "UnreadableFileError",
    "attach_tags",
    "find_subject",
    "read_database",
    "readable_parquet",
    "scan_population",
    "unreadable",
]

POPULATION_FILES = {"resident": "residents.parquet", "enterprise": "enterprises.parquet"}
LINK_FILES = {"household": "households.parquet", "employment": "employments.parquet"}


def _conform(frame: pl.LazyFrame, entity: Entity, path: Path) -> pl.LazyFrame:
    """Columns of ``entity`` in its dtypes; absent fields are unknown for everyone."""
    present = frame.collect_schema()
    unknown = [c for c in present.names() if c not in entity.by_name]
    if unknown:
        raise ValidationError(
            f"{path}: unknown column(s) {', '.join(unknown)} for {entity.name}s; "
            "rename them to schema fields or extend the schema (ZHIDA_SCHEMA_EXTENSIONS)"
        )
    for name in (entity.key,) if entity.key else [f.name for f in entity.fields if f.required]:
        if name not in present:
            raise ValidationError(f"{path}: the column {name!r} is missing; every record needs it")
    columns = []
    for field in entity.stored_fields:
        if field.name in present:
            expr = pl.col(field.name)
            if present[field.name] != field.polars_dtype:
                expr = expr.cast(field.polars_dtype, strict=True)
        else:
            expr = pl.lit(None, dtype=field.polars_dtype)
        columns.append(expr.alias(field.name))
    return frame.select(columns)


class UnreadableFileError(InputFileError):
    """A population file is not readable Parquet (truncated by an interrupted copy, or not
    Parquet at all): exit 2, nothing is matched, recorded or sent."""

    exit_code = 2


def unreadable(path: Path, exc: BaseException) -> UnreadableFileError:
    """The one-line error for a population file polars cannot read."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return UnreadableFileError(
        f"{path} is not a readable Parquet file ({first}); it may be truncated by an "
        "interrupted copy or export: copy or export it again"
    )


def readable_parquet(path: Path) -> pl.LazyFrame:
    """``path`` scanned lazily, after checking its footer (where a truncated file fails)."""
    frame = pl.scan_parquet(path)
    try:
        frame.collect_schema()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise unreadable(path, exc) from exc
    return frame


def scan_population(
    directory: Path, schema: Schema, *, checked: Path | None = None
) -> dict[str, pl.LazyFrame]:
    """Lazy frames of the residents and enterprises present in ``directory``, and of its
    households and employments when it has them (links checked: a bad link is a
    :class:`ValidationError` naming the file, row and field).  ``checked``: a cache of the
    files that passed the checks (:mod:`matcher.checked_links`); unchanged, they are not
    checked again."""
    if not directory.is_dir():
        raise InputFileError(
            f"population directory {directory} does not exist; make one with "
            "`zhida population generate --out DIR`"
        )
    frames = {}
    for name, file in POPULATION_FILES.items():
        path = directory / file
        if path.is_file():
            frames[name] = _conform(readable_parquet(path), schema.entity(name), path)
    if not frames:
        raise InputFileError(f"{directory} holds neither residents.parquet nor enterprises.parquet")
    return _with_link_frames(frames, directory, schema, checked)


def _with_link_frames(
    frames: dict[str, pl.LazyFrame], directory: Path, schema: Schema, checked: Path | None
) -> dict[str, pl.LazyFrame]:
    from matcher.checked_links import files_key, passed, remember
    from profiles.link_checks import check_links

    for name, file in LINK_FILES.items():
        path = directory / file
        if path.is_file():
            frames[name] = _conform(readable_parquet(path), schema.entity(name), path)
    files = {**POPULATION_FILES, **LINK_FILES}
    key = files_key(directory / files[name] for name in frames) if checked else ""
    if checked is None or not passed(checked, key):
        check_links(frames, {name: str(directory / files[name]) for name in frames})
        if checked is not None:
            remember(checked, key)
    return frames


def read_database(engine: Engine, schema: Schema) -> tuple[dict[str, pl.LazyFrame], pl.LazyFrame]:
    """The residents, enterprises and events loaded into the database (`zhida profiles load`),
    with the households and employments when it holds any (checked when they were loaded).

    Read whole through Arrow: a district or a city fits; a province is matched from Parquet
    snapshots in shards (`zhida match --distributed`).
    """
    from profiles.store import ProfileStore

    store = ProfileStore(engine, schema)
    frames = {name: store.read(name).lazy() for name in POPULATION_FILES if store.count(name) > 0}
    links = {name: store.read(name).lazy() for name in LINK_FILES if store.count(name) > 0}
    if not frames:
        raise InputFileError(
            "the database holds no residents or enterprises; load a population with "
            "`zhida profiles load DIR` or match files with --population DIR"
        )
    return {**frames, **links}, store.read("event").lazy()


def find_subject(
    frames: dict[str, pl.LazyFrame], schema: Schema, subject_id: str
) -> tuple[Entity, dict[str, object]]:
    """The entity and stored record of ``subject_id`` (a person_id or enterprise_id)."""
    for name, frame in frames.items():
        entity = schema.entity(name)
        if entity.key is None:  # employments link subjects; they are none themselves
            continue
        rows = frame.filter(pl.col(entity.key) == subject_id).collect()
        if rows.height:
            return entity, rows.row(0, named=True)
    from core.errors import NotFoundError

    raise NotFoundError(f"no resident or enterprise has the id {subject_id!r}")


def attach_tags(
    frames: dict[str, pl.LazyFrame],
    directory: Path,
    schema: Schema,
    *,
    as_of: date,
    tags: Sequence[TagDefinition] | None = None,
) -> dict[str, pl.LazyFrame]:
    """Replace each frame's ``tags`` with those computed from ``directory/events.parquet``.

    Without an events file the frames are returned as they are.
    """
    from profiles.tagging import compute_tags, load_tags

    path = directory / "events.parquet"
    if not path.is_file():
        return frames
    library = list(tags) if tags is not None else load_tags(schema=schema)
    events = pl.scan_parquet(path)
    out = {}
    for name, frame in frames.items():
        entity = schema.entity(name)
        if entity.key is None or "tags" not in entity.by_name:  # households, employments
            out[name] = frame
            continue
        computed = compute_tags(frame, events, library, entity=entity, as_of=as_of)
        out[name] = frame.drop("tags").join(
            computed.rename({"subject_id": entity.key}), on=entity.key, how="left"
        )
    return out


class EventTagger:
    """Tags for one batch of subjects at a time, from the events of those subjects only.

    :func:`attach_tags` joins a whole population to its tags lazily, which a batched reader
    would recompute for every batch; a tagger is given each collected batch instead, reads
    the events of that batch's subjects (a semi-join, so memory follows the batch) and
    replaces its ``tags`` column.
    """

    def __init__(
        self,
        directory: Path,
        schema: Schema,
        *,
        as_of: date,
        tags: Sequence[TagDefinition] | None = None,
    ) -> None:
        from profiles.tagging import load_tags

        self.events_path = directory / "events.parquet"
        self.events: pl.LazyFrame | None = None  # events held in memory (from the database)
        self.library = list(tags) if tags is not None else load_tags(schema=schema)
        self.as_of = as_of

    @classmethod
    def from_events(
        cls,
        events: pl.LazyFrame,
        schema: Schema,
        *,
        as_of: date,
        tags: Sequence[TagDefinition] | None = None,
    ) -> EventTagger:
        """A tagger over an event frame (e.g. read from the database) instead of a file."""
        tagger = cls(Path(), schema, as_of=as_of, tags=tags)
        tagger.events = events
        return tagger

    @classmethod
    def for_population(cls, directory: Path, schema: Schema, *, as_of: date) -> EventTagger | None:
        """A tagger when ``directory`` has an events file, else ``None`` (tags as stored)."""
        if not (directory / "events.parquet").is_file():
            return None
        return cls(directory, schema, as_of=as_of)

    def __call__(self, batch: pl.DataFrame, entity: Entity) -> pl.DataFrame:
        from profiles.tagging import compute_tags

        assert entity.key is not None
        keys = batch.select(pl.col(entity.key).alias("subject_id")).lazy()
        source = self.events if self.events is not None else pl.scan_parquet(self.events_path)
        events = source.join(keys, on="subject_id", how="semi")
        computed = compute_tags(
            batch.lazy(), events, self.library, entity=entity, as_of=self.as_of
        ).collect()
        return (
            batch.drop("tags")
            .join(computed.rename({"subject_id": entity.key}), on=entity.key, how="left")
            .select(batch.columns)
        )
