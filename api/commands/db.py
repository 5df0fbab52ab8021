"""``zhida db upgrade|current``: apply and inspect database migrations."""

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


def register(group: click.Group) -> None:
    group.add_command(db_group)
