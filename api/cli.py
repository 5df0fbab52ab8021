"""The ``zhida`` command line.

Each command group lives in its own module under ``api/commands/`` and is registered in
``COMMAND_MODULES``; this module only wires them up and turns errors into one-line messages.
Exit codes: 0 success, 1 bad input the user can fix, 2 environment or usage problem.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from core.errors import ZhidaError

__all__ = ["COMMAND_MODULES", "cli", "main"]

# Every module here exposes `register(group: click.Group) -> None`.
COMMAND_MODULES: tuple[str, ...] = (
    "api.commands.db",
    "api.commands.population",
    "api.commands.profiles",
    "api.commands.policies",
    "api.commands.parameters",
    "api.commands.match",
    "api.commands.tags",
    "api.commands.runs",
    "api.commands.report",
    "api.commands.rank",
    "api.commands.worker",
    "api.commands.deliveries",
    "api.commands.simulate",
    "api.commands.demo",
    "api.commands.serve",
    "api.commands.users",
    "api.commands.audit",
    "api.commands.privacy",
)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="zhida", prog_name="zhida")
def cli() -> None:
    """Zhida (直达): match residents and firms to the policies they qualify for, and tell them.

    \b
    Typical flow on the embedded default (SQLite, in-process workers):
      zhida population generate --residents 10000 --enterprises 1000 --out pop/
      zhida policies validate rules/catalog/
      zhida match --population pop/ --policies rules/catalog/ --out matches.parquet
      zhida explain --population pop/ --policies rules/catalog/ --policy ID --subject ID
    Or run everything end to end:  zhida demo
    """


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command group not written yet
                continue
            raise
        module.register(cli)


_register_all()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a :class:`ZhidaError` becomes ``zhida: error: ...`` and its exit code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except ZhidaError as exc:
        click.echo(f"zhida: error: {exc.message}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("zhida: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except KeyboardInterrupt:
        click.echo("zhida: interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
