"""``zhida population generate|summary``: synthetic populations that look like Beijing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from api.commands.options import as_of_option

__all__ = ["register"]


@click.group("population")
def population_group() -> None:
    """Synthetic populations: residents, enterprises and their service events."""


def _overrides(values: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values:
        name, sep, share = value.partition("=")
        try:
            out[name.strip()] = float(share)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(
                f"{value!r}: expected FIELD=SHARE, e.g. monthly_income=0.1", param_hint="--unknown"
            )
    return out


@population_group.command("generate")
@click.option("--residents", type=int, default=10_000, show_default=True, help="Residents.")
@click.option("--enterprises", type=int, default=1_000, show_default=True, help="Enterprises.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write residents/enterprises/events.parquet into.",
)
@as_of_option
@click.option(
    "--unknown-scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiply every field's typical share of unknown values (0 = no unknowns).",
)
@click.option(
    "--unknown",
    "unknown",
    multiple=True,
    metavar="FIELD=SHARE",
    help="Share of unknown values for one field, e.g. --unknown monthly_income=0.2 (repeatable).",
)
def generate_cmd(
    residents: int,
    enterprises: int,
    seed: int,
    out: Path,
    as_of: date,
    unknown_scale: float,
    unknown: tuple[str, ...],
) -> None:
    """Generate a synthetic Beijing population into OUT.

    \b
    Residents follow the 2020 census by district, age, sex and hukou; incomes, families,
    disability and social assistance follow documented rates (simulations/population/SOURCES.md).
    Example:
      zhida population generate --residents 1000000 --enterprises 100000 --seed 7 --out pop/
    """
    from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

    from simulations.population import GenerationSpec, generate_population

    spec = GenerationSpec(
        residents=residents,
        enterprises=enterprises,
        seed=seed,
        as_of=as_of,
        unknown_scale=unknown_scale,
        unknown_overrides=_overrides(unknown),
    )
    steps = ("residents", "enterprises", "service events", "unknown values", "writing")
    with Progress(
        SpinnerColumn(), *Progress.get_default_columns(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("generating", total=len(steps) + 2)

        def advance(message: str) -> None:
            bar.update(task, description=message, advance=1)

        paths = generate_population(spec, out, progress=advance)
    for name, path in paths.items():
        click.echo(f"wrote {path} ({name})")


@population_group.command("summary")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def summary_cmd(directory: Path) -> None:
    """Print a summary of the population in DIRECTORY."""
    from api.commands.population_view import print_summary
    from simulations.population import summarise

    print_summary(summarise(directory))


def register(group: click.Group) -> None:
    group.add_command(population_group)
