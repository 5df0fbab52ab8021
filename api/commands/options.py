"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["as_of_option", "audience_option", "parse_date", "population_option"]

F = TypeVar("F", bound=Callable[..., Any])


def parse_date(value: str, *, option: str = "--as-of") -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; expected YYYY-MM-DD, e.g. 2026-01-31", param_hint=option
        ) from None


def _as_of(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date:
    if value is None:
        from core.clock import SystemClock
        from core.settings import get_settings

        return SystemClock().now().astimezone(get_settings().tz).date()
    return parse_date(value)


def as_of_option(func: F) -> F:
    """``--as-of YYYY-MM-DD``: the date the run is evaluated at (default: today, local time)."""
    return click.option(
        "--as-of",
        "as_of",
        callback=_as_of,
        metavar="YYYY-MM-DD",
        help="Evaluate as of this date (default: today in ZHIDA_TIMEZONE).",
    )(func)


population_option = click.option(
    "--population", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Population directory (residents.parquet, enterprises.parquet, events.parquet).",
)  # fmt: skip
"""``--population DIR``: the population a command reads (required)."""


audience_option = click.option(
    "--audience", type=click.Choice(["resident", "enterprise"]), default=None,
    help="Only the policies for residents or for enterprises (default: both); a population "
    "directory must hold the file of every audience matched.",
)  # fmt: skip
"""``--audience resident|enterprise``: one audience only, e.g. a directory of enterprises."""
