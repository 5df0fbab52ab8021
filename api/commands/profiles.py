"""``zhida profiles validate|load``: check files against the schema; load a population."""

from __future__ import annotations

import time
from pathlib import Path

import click

__all__ = ["register"]

_ENTITY_BY_FILE = {"residents": "resident", "enterprises": "enterprise", "events": "event"}


def _entity_for(path: Path) -> str:
    stem = path.stem.split(".")[0]
    if stem in _ENTITY_BY_FILE:
        return _ENTITY_BY_FILE[stem]
    raise click.BadParameter(
        f"{path.name}: name files residents.*, enterprises.* or events.* so the kind of "
        "record is known",
        param_hint="FILE",
    )


@click.group("profiles")
def profiles_group() -> None:
    """Residents, enterprises and service events: validate files and load them."""


@profiles_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate_cmd(files: tuple[Path, ...]) -> None:
    """Check FILES (Parquet, CSV or JSON named residents.*, enterprises.*, events.*).

    Prints every problem (row, field, what was expected) and exits 1 if any file is bad.
    """
    from profiles.schema import load_schema
    from profiles.validation import ValidationError, conform, read_records

    schema = load_schema()
    bad = 0
    for path in files:
        entity = schema.entity(_entity_for(path))
        try:
            frame = conform(read_records(path), entity, source=str(path))
        except ValidationError as exc:
            bad += 1
            for problem in exc.problems:
                click.echo(str(problem))
            if exc.total > len(exc.problems):
                click.echo(f"{path}: … and {exc.total - len(exc.problems)} more problems")
            continue
        click.echo(f"{path}: {frame.height:,} {entity.name} records OK")
    if bad:
        raise SystemExit(1)


@profiles_group.command("load")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def load_cmd(directory: Path) -> None:
    """Validate and load a population DIRECTORY into the database (all or nothing per file).

    Residents and enterprises are inserted or updated by key; events already loaded are
    skipped, so loading the same directory twice changes nothing.
    """
    from core.db import get_engine, upgrade
    from core.errors import InputFileError
    from profiles.schema import load_schema
    from profiles.store import ProfileStore
    from profiles.validation import conform, read_records

    schema = load_schema()
    engine = get_engine()
    upgrade(engine)
    store = ProfileStore(engine, schema)
    files = [
        p
        for stem in _ENTITY_BY_FILE
        for p in sorted(directory.glob(f"{stem}.*"))
        if p.suffix in (".parquet", ".csv", ".json", ".jsonl", ".ndjson")
    ]
    if not files:
        raise InputFileError(f"{directory} holds no residents.*, enterprises.* or events.* file")
    frames = []
    for path in files:  # validate everything before writing anything
        entity = _entity_for(path)
        frames.append(
            (path, entity, conform(read_records(path), schema.entity(entity), source=str(path)))
        )
    for path, entity, frame in frames:
        started = time.perf_counter()
        store.load(entity, frame)
        seconds = time.perf_counter() - started
        click.echo(f"loaded {frame.height:,} {entity} records from {path.name} in {seconds:.1f}s")


def register(group: click.Group) -> None:
    group.add_command(profiles_group)
