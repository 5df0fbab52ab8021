"""``zhida parameters list|history|validate``: the parameter library (参数库)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.commands.options import as_of_option

if TYPE_CHECKING:
    from rules.parameters import Library

__all__ = ["register"]

_PATHS = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


def _library(paths: tuple[Path, ...]) -> Library:
    from rules.parameters import LIBRARY_DIR, read_library

    default = LIBRARY_DIR
    if default.is_relative_to(Path.cwd()):  # messages name the file as the user would
        default = default.relative_to(Path.cwd())
    return read_library(list(paths) or [default])


@click.group("parameters")
def parameters_group() -> None:
    """Named, dated, cited amounts that rules read by name (参数库).

    \b
    The built-in library is rules/parameters/library/, one YAML file per parameter. A rule
    reads a parameter by its English or Chinese name, and the value in force on the match's
    as-of date is used:
      eligibility: 'household_income_per_capita < parameters.dibao_standard'
      eligibility: '家庭人均月收入 < 参数.低保标准'
      benefit:     'parameters.elderly_allowance[age]'        (a scale: the bracket of age)
    Changing an amount is one edit of its file (a new dated value with its source); to see
    what a change would do first:
      zhida simulate reach --population pop/ --baseline rules/catalog \\
          --reform rules/catalog --parameter dibao_standard=1500
    """


@parameters_group.command("list")
@_PATHS
@as_of_option
def list_cmd(paths: tuple[Path, ...], as_of: date) -> None:
    """Every parameter with the value in force on --as-of (default today) and its source.

    \b
    Examples:
      zhida parameters list
      zhida parameters list --as-of 2024-06-30
      zhida parameters list my-parameters/        (another library)
    """
    from rich.console import Console
    from rich.table import Table

    library = _library(paths)
    table = Table(title=f"parameters in force on {as_of}", title_justify="left")
    for column in ("name", "名称", "unit", "value", "since", "source"):
        table.add_column(column)
    for p in sorted(library.parameters, key=lambda p: p.name):
        version = p.in_force(as_of)
        if version is None:
            table.add_row(p.name, p.name_zh, p.unit, "— (none in force)", "", "")
            continue
        table.add_row(
            p.name, p.name_zh, p.unit, version.shown(), str(version.start),
            version.source.describe(),
        )  # fmt: skip
    Console(width=200).print(table)


@parameters_group.command("history")
@click.argument("name")
@click.option(
    "--library", "paths", multiple=True, type=click.Path(path_type=Path),
    help="Parameter files or a directory (default: the built-in library).",
)  # fmt: skip
@click.option(
    "--policies", multiple=True, type=click.Path(path_type=Path),
    help="The catalog whose policies reading it are listed (default: the built-in one).",
)  # fmt: skip
def history_cmd(name: str, paths: tuple[Path, ...], policies: tuple[Path, ...]) -> None:
    """Every value NAME (English or Chinese) has had, each with its dates and source, and the
    policies that read it.

    \b
    Examples:
      zhida parameters history dibao_standard
      zhida parameters history 低保标准
    """
    from rules.loader import load_catalog
    from rules.parameter_use import readers

    library = _library(paths)
    parameter = library.resolve(name)
    click.echo(f"{parameter.name} ({parameter.name_zh}), {parameter.unit}, {parameter.kind}")
    click.echo(f"  {parameter.description}")
    if parameter.description_en:
        click.echo(f"  {parameter.description_en}")
    click.echo(f"  file: {parameter.path}")
    for v in reversed(parameter.versions):
        until = v.end.isoformat() if v.end else "open-ended"
        click.echo(f"  {v.start} – {until}: {v.shown()}")
        click.echo(f"      source: {v.source.describe()}")
    import rules

    builtin = Path(rules.__file__).parent / "catalog"  # wherever zhida is run from
    catalog = load_catalog(list(policies) or [builtin])
    from rules.parameters import using

    with using(library):
        read_by = readers(catalog.policies).get(parameter.name, [])
    click.echo(f"  read by: {', '.join(read_by) if read_by else 'no policy of the catalog'}")


@parameters_group.command("validate")
@_PATHS
def validate_cmd(paths: tuple[Path, ...]) -> None:
    """Check parameter files (default: the built-in library); file:line on any problem.

    Refused: a missing or unknown key, a name that is not ASCII, an unknown unit or kind,
    overlapping dates, until before from, a value without a source (document and issuer, or
    `source: modelled` with a reason), two files with one name. A cited value without a URL
    is a warning. Exit 1 on any problem.

    \b
    Examples:
      zhida parameters validate
      zhida parameters validate rules/parameters/library/dibao_standard.yaml
    """
    from rules.parameters import ParameterFileError

    try:
        library = _library(paths)
    except ParameterFileError as exc:
        for problem in exc.problems:
            click.echo(problem)
        count = len(exc.problems)
        click.echo(f"{count} problem{'s' if count != 1 else ''} found")
        raise SystemExit(1) from None
    warnings = 0
    for p in library.parameters:
        for v in p.versions:
            if not v.source.is_modelled and v.source.url is None:
                click.echo(f"{p.path}:{v.line}: warning: the value from {v.start} cites no url")
                warnings += 1
    modelled = sum(v.source.is_modelled for p in library.parameters for v in p.versions)
    values = sum(len(p.versions) for p in library.parameters)
    click.echo(
        f"{len(library.parameters)} parameters OK ({values} values, {modelled} modelled), "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )


def register(group: click.Group) -> None:
    group.add_command(parameters_group)
