"""``zhida profiles validate|load``: check files against the schema; load a population."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.errors import InputFileError

if TYPE_CHECKING:
    import polars as pl

    from core.errors import ValidationError
    from profiles.schema import Schema
    from profiles.store import ProfileStore

__all__ = ["UnreadableInputError", "register"]


class UnreadableInputError(InputFileError):
    """A file given to ``profiles validate|load`` cannot be read at all: exit 2 (README, exit
    codes), where records that can be read but are wrong are bad input (exit 1)."""

    exit_code = 2


_encoding_option = click.option(
    "--encoding",
    metavar="ENCODING",
    default=None,
    help="Encoding of CSV files, e.g. gbk, gb18030, utf-8 (default: UTF-8 with or without a "
    "byte-order mark, else GB18030).",
)


def _entity_for(path: Path) -> str:
    from profiles.files import entity_of

    entity = entity_of(path)
    if entity is None:
        raise click.BadParameter(
            f"{path.name}: name files residents.*, enterprises.*, events.*, households.* or "
            "employments.* so the kind of record is known",
            param_hint="FILE",
        )
    return entity


def _read(
    path: Path, entity: str, schema: Schema, encoding: str | None
) -> tuple[pl.DataFrame, str]:
    """``path`` read and checked against ``entity``; also how it was read (format, encoding).

    A file that cannot be read at all (missing, not JSON, truncated, in another encoding than
    the one given) is an :class:`UnreadableInputError` (exit 2); a readable file with bad
    records is a :class:`~core.errors.ValidationError` naming each row and field (exit 1).
    """
    from core.errors import InputFileError
    from profiles.readers import read_records
    from profiles.validation import conform

    spec = schema.entity(entity)
    tag_fields = [f.name for f in spec.fields if f.type == "tags"]
    try:
        records = read_records(path, encoding=encoding, tag_fields=tag_fields)
    except InputFileError as exc:
        raise UnreadableInputError(exc.message) from None
    return conform(records.frame, spec, source=str(path)), records.how


@click.group("profiles")
def profiles_group() -> None:
    """Residents, enterprises and service events: validate files and load them."""


@profiles_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_encoding_option
def validate_cmd(files: tuple[Path, ...], encoding: str | None) -> None:
    """Check FILES (Parquet, CSV, JSON or Excel named residents.*, enterprises.*, events.*,
    households.*, employments.*).

    Headers may be the schema's field names or their Chinese names (个人编号, 出生日期, …).
    Files given together are also checked against each other: every resident's household is
    in the households file and has exactly one head, a child of the head is not older than
    the head or spouse, every employment names a known person and firm.  Prints every problem
    (file, row, field, what was expected) and exits 1 if any record is bad; a file that cannot
    be read at all (not JSON, truncated, another encoding) is one line and exit 2.
    Example:
      zhida profiles validate residents.csv households.csv enterprises.xlsx employments.csv
    """
    from core.errors import ValidationError
    from profiles.link_checks import check_links
    from profiles.schema import load_schema

    schema = load_schema()
    bad = unreadable = 0
    good: dict[str, pl.DataFrame] = {}
    sources: dict[str, str] = {}
    for path in files:
        entity = _entity_for(path)
        try:
            frame, how = _read(path, entity, schema, encoding)
        except UnreadableInputError as exc:
            unreadable += 1
            click.echo(str(exc))
            continue
        except ValidationError as exc:
            bad += 1
            _echo_problems(path, exc)
            continue
        click.echo(f"{path}: {frame.height:,} {entity} records OK ({how})")
        if entity not in good:  # a second file of one kind is checked by itself only
            good[entity], sources[entity] = frame, str(path)
    if unreadable:
        raise SystemExit(2)  # the links are not checked against files not read
    if not bad:
        try:
            check_links(good, sources)
        except ValidationError as exc:
            bad += 1
            click.echo("links between the files:")
            _echo_problems(None, exc)
    if bad:
        raise SystemExit(1)


def _echo_problems(path: Path | None, exc: ValidationError) -> None:
    for problem in exc.problems:
        click.echo(str(problem))
    if exc.total > len(exc.problems):
        click.echo(f"{path or 'links'}: … and {exc.total - len(exc.problems)} more problems")


@profiles_group.command("load")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--audience",
    type=click.Choice(["resident", "enterprise"]),
    default=None,
    help="Whom the population is for: that audience's file must be there, the other's may be "
    "missing (default: both residents.* and enterprises.* are required). Files present are "
    "loaded either way.",
)
@_encoding_option
def load_cmd(directory: Path, audience: str | None, encoding: str | None) -> None:
    """Validate and load a population DIRECTORY into the database, all or nothing.

    \b
    Reads residents.*, enterprises.*, events.* and the links households.* and employments.*
    (Parquet, CSV in UTF-8 or GBK/GB18030, JSON, Excel .xlsx/.xls); says on stderr which files
    were read and which ignored.  Every file, and every link between them and what is already
    loaded, is checked before anything is written, then all are loaded in one transaction: a
    load that fails or is killed half-way leaves the database as it was.  Residents,
    enterprises and households are inserted or updated by key; events already loaded are
    skipped, employments updated (a job that ended), so loading the same
    directory twice changes nothing.  A directory without residents.* is refused unless
    --audience enterprise says that only enterprises are meant (and the same the other way).
    Bad records are one line naming each file, row and field (exit 1); a file that cannot be
    read at all (not JSON, truncated, another encoding than --encoding) is one line (exit 2).
    Example:
      zhida profiles load exports/2026-06/ --encoding gbk
    """
    from profiles.files import AUDIENCES, population_files, require_population_files
    from profiles.schema import load_schema

    audiences = (audience,) if audience else AUDIENCES
    files, ignored = population_files(directory)
    for skipped in ignored:
        click.echo(str(skipped), err=True)
    require_population_files(directory, audiences)
    schema = load_schema()
    store = _open_store(schema)  # the data directory and database, before reading big files
    frames = []
    for path, entity in files:  # validate everything before writing anything
        frame, how = _read(path, entity, schema, encoding)
        click.echo(f"read {path.name} ({how}): {frame.height:,} {entity} records", err=True)
        frames.append((path, entity, frame))
    started = time.perf_counter()
    store.load_all(  # links between the files are checked there, before anything is written
        [(entity, frame) for _, entity, frame in frames],
        sources={entity: path.name for path, entity, _ in reversed(frames)},
    )
    seconds = time.perf_counter() - started
    for path, entity, frame in frames:
        click.echo(f"loaded {frame.height:,} {entity} records from {path.name}")
    click.echo(f"committed {len(frames)} file{'s' if len(frames) != 1 else ''} in one "
               f"transaction in {seconds:.1f}s")  # fmt: skip


def _open_store(schema: Schema) -> ProfileStore:
    """The profile store of the configured database, migrated; a data directory that cannot
    be written (read-only, full, missing rights) is one line (exit 2), not a traceback."""
    import tempfile

    from core.db import get_engine, upgrade
    from core.errors import DatabaseError
    from core.settings import get_settings
    from profiles.store import ProfileStore, add_missing_columns

    url = get_settings().database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        directory = Path(url.removeprefix("sqlite:///")).parent
        try:  # SQLite says only "unable to open database file"; the file system says why
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as exc:
            raise DatabaseError(
                f"cannot write to the data directory {directory}: {exc.strerror or exc}; make "
                "it writable and give it space, or set ZHIDA_DATA_DIR to a directory that is"
            ) from exc
    engine = get_engine()
    upgrade(engine)
    add_missing_columns(engine, schema)  # a schema extension's fields (the migrations: core's)
    return ProfileStore(engine, schema)


def register(group: click.Group) -> None:
    group.add_command(profiles_group)
