"""``zhida policies validate|list``: check and read policy catalogs."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["register"]

_paths = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH..."
)


@click.group("policies")
def policies_group() -> None:
    """Policy catalogs: one YAML file per policy, a directory is a catalog."""


@policies_group.command("validate")
@_paths
def validate_cmd(paths: tuple[Path, ...]) -> None:
    """Check every policy under PATH...; print each problem as file:line:col: message.

    \b
    Exit status 0 when every file is valid, 1 when any is not. Example:
      zhida policies validate rules/catalog/
    """
    from rules.loader import CatalogError, load_catalog

    try:
        catalog = load_catalog(paths)
    except CatalogError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        n = len(exc.problems)
        click.echo(f"{n} problem{'s' if n != 1 else ''} found", err=True)
        raise SystemExit(1) from None
    click.echo(f"{len(catalog.policies)} policies OK (catalog {catalog.content_hash[:12]})")


@policies_group.command("list")
@_paths
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="Only those in force.")
def list_cmd(paths: tuple[Path, ...], as_of: str | None) -> None:
    """List the policies under PATH... as a table."""
    from rich.console import Console
    from rich.table import Table

    from api.commands.options import parse_date
    from rules.loader import load_catalog

    catalog = load_catalog(paths)
    policies = catalog.policies if as_of is None else catalog.in_force(parse_date(as_of))
    table = Table(title=f"{len(policies)} policies", title_justify="left")
    for column in ("id", "title", "audience", "mode", "department", "valid"):
        table.add_column(column)
    for p in sorted(policies, key=lambda p: (p.audience, p.id)):
        valid = f"{p.valid_from}…{p.valid_until or ''}"
        table.add_row(p.id, p.title, p.audience, p.mode, p.department, valid)
    Console().print(table)


def register(group: click.Group) -> None:
    group.add_command(policies_group)
