"""``zhida tags validate|list|compute``: the tag library (标签库)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from api.commands.options import as_of_option

__all__ = ["register"]


@click.group("tags")
def tags_group() -> None:
    """Life-cycle tags computed from service history (built-in library: profiles/tags/)."""


@tags_group.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate_cmd(paths: tuple[Path, ...]) -> None:
    """Check tag definitions (default: the built-in library); file:line:col on any problem."""
    from profiles.tagging import TagLibraryError, load_tags

    try:
        tags = load_tags(list(paths) or None)
    except TagLibraryError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        raise SystemExit(1) from None
    click.echo(f"{len(tags)} tags OK")


@tags_group.command("list")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def list_cmd(paths: tuple[Path, ...]) -> None:
    """List the tags with their audience, owner and meaning."""
    from rich.console import Console
    from rich.table import Table

    from profiles.tagging import load_tags

    table = Table(title="tags", title_justify="left")
    for column in ("id", "audience", "name", "meaning", "owner"):
        table.add_column(column)
    for t in sorted(load_tags(list(paths) or None), key=lambda t: (t.audience, t.id)):
        table.add_row(t.id, t.audience, t.name_zh, t.zh, t.owner)
    Console(width=160).print(table)


@tags_group.command("compute")
@click.option(
    "--population", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Population directory with events.parquet.",
)  # fmt: skip
@as_of_option
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Where to write subject_id, subject_type, tags (default: DIR/tags.parquet).",
)  # fmt: skip
def compute_cmd(population: Path, as_of: date, out: Path | None) -> None:
    """Compute every subject's tags from its service events, as of a date."""
    import polars as pl

    from core.errors import InputFileError
    from matcher.population import scan_population
    from profiles.schema import load_schema
    from profiles.tagging import compute_tags, load_tags

    schema = load_schema()
    events_path = population / "events.parquet"
    if not events_path.is_file():
        raise InputFileError(f"{events_path} does not exist; tags are computed from events")
    tags = load_tags(schema=schema)
    frames = scan_population(population, schema)
    parts = []
    for name, frame in frames.items():
        entity = schema.entity(name)
        if entity.key is None or "tags" not in entity.by_name:  # households, employments
            continue
        computed = compute_tags(
            frame, pl.scan_parquet(events_path), tags, entity=entity, as_of=as_of
        )
        parts.append(computed.with_columns(pl.lit(name).alias("subject_type")).collect())
    result = pl.concat(parts).select("subject_id", "subject_type", "tags")
    target = out or population / "tags.parquet"
    result.write_parquet(target)
    counts = result.explode("tags").drop_nulls("tags")["tags"].value_counts(sort=True)
    click.echo(f"wrote {target}: {result.height:,} subjects")
    for tag, n in counts.rows():
        click.echo(f"  {tag:<24} {n:>9,}")


def register(group: click.Group) -> None:
    group.add_command(tags_group)
