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


@policies_group.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--author", default="admin", show_default=True, help="Recorded as author.")
@click.option("--note", default="catalog import", show_default=True, help="Change note.")
def import_cmd(directory: Path, author: str, note: str) -> None:
    """Publish every policy in DIRECTORY whose document changed (one transaction)."""
    from core.db import get_engine, upgrade
    from rules.store import PolicyStore

    engine = get_engine()
    upgrade(engine)
    created = PolicyStore(engine).import_catalog(directory, author=author, note=note)
    for policy_id, version in sorted(created.items()):
        click.echo(f"published {policy_id} v{version}")
    click.echo(f"{len(created)} new version(s)")


@policies_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="Versions in force.")
def export_cmd(directory: Path, as_of: str | None) -> None:
    """Write the published catalog (or the one in force on a date) to DIRECTORY."""
    from api.commands.options import parse_date
    from core.db import get_engine, upgrade
    from rules.store import PolicyStore

    engine = get_engine()
    upgrade(engine)
    on = parse_date(as_of) if as_of else None
    written = PolicyStore(engine).export_catalog(directory, on)
    click.echo(f"wrote {len(written)} policies to {directory}")


@policies_group.command("history")
@click.argument("policy_id")
def history_cmd(policy_id: str) -> None:
    """Every version of POLICY_ID: status, author, reviewer, note, content hash."""
    from core.db import get_engine, upgrade
    from rules.store import PolicyStore

    engine = get_engine()
    upgrade(engine)
    for v in PolicyStore(engine).versions(policy_id):
        click.echo(
            f"v{v.version}  {v.status:<9}  {v.created_at:%Y-%m-%d %H:%M}  by {v.author}"
            f"  reviewed by {v.reviewer or '-'}  rule {v.content_hash[:12]}  {v.change_note}"
        )


def register(group: click.Group) -> None:
    group.add_command(policies_group)
