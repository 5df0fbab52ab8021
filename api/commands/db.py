"""``zhida db upgrade|current|check``: apply and inspect database migrations, and check that
they make exactly the tables the code declares."""

from __future__ import annotations

import click

__all__ = ["register"]


@click.group("db")
def db_group() -> None:
    """Database migrations (SQLite by default, PostgreSQL via ZHIDA_DATABASE_URL)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade_cmd(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from core.db import get_engine, upgrade
    from profiles.store import add_missing_columns

    engine = get_engine()
    rev = upgrade(engine, revision)
    click.echo(f"database {engine.url.render_as_string(hide_password=True)} at revision {rev}")
    for column in add_missing_columns(engine):
        click.echo(f"added column {column} for a schema extension")


@db_group.command("current")
def current_cmd() -> None:
    """Print the revision the database is at."""
    from core.db import current_revision, get_engine, head_revision

    engine = get_engine()
    click.echo(f"current: {current_revision(engine) or 'base'}  head: {head_revision()}")


@db_group.command("check")
@click.option(
    "--configured",
    is_flag=True,
    help="Compare the configured database (ZHIDA_DATABASE_URL) instead of a fresh one.",
)
def check_cmd(configured: bool) -> None:
    """Check that the migrations make exactly the tables the code declares.

    By default the migrations are applied to a fresh SQLite file in a temporary directory and
    the result is compared with every table declared in the packages (columns, types,
    nullability, keys, indexes).  Exit 1 with one line per difference when they disagree.
    """
    import tempfile
    from pathlib import Path

    from api.schema_check import declared_metadata, differences
    from core.db import get_engine, upgrade
    from core.errors import SchemaError

    metadata = declared_metadata()
    with tempfile.TemporaryDirectory(prefix="zhida-db-check-") as scratch:
        url = None if configured else f"sqlite:///{Path(scratch) / 'check.db'}"
        engine = get_engine(url)
        revision = upgrade(engine) if not configured else None
        found = differences(engine, metadata)
        where = engine.url.render_as_string(hide_password=True)
        engine.dispose()
    for line in found:
        click.echo(f"  {line}", err=True)
    if found:
        raise SchemaError(
            f"{len(found)} difference(s) between the tables the code declares and {where}: "
            "write a migration in core/migrations/versions for a changed declaration, or fix "
            "the declaration to match the migrations"
        )
    made = f"the migrations (at revision {revision})" if revision else where
    click.echo(f"{made} and the code agree on {len(metadata.tables)} tables")


def register(group: click.Group) -> None:
    group.add_command(db_group)
