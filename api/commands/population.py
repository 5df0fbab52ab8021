"""``zhida population generate|summary|calibrate``: synthetic populations that look like Beijing."""

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
    help="Directory to write residents, households, enterprises, employments and "
    "events.parquet into.",
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
@click.option(
    "--targets",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Official totals to weight to (default: Beijing's, simulations/population/targets.yaml).",
)
def generate_cmd(
    residents: int,
    enterprises: int,
    seed: int,
    out: Path,
    as_of: date,
    unknown_scale: float,
    unknown: tuple[str, ...],
    targets: Path | None,
) -> None:
    """Generate a synthetic Beijing population into OUT.

    \b
    Residents are drawn in households: the census's household sizes, couples, children
    with their parents, elderly people alone or with their children, three generations, and
    collective-household residents as households of one (households.parquet; each resident's
    household_id, relation_to_head, mother_id/father_id). Hukou is mostly shared within a
    household; incomes are drawn per member and social assistance (低保/低收入/特困) is decided
    per household from income per member and declared assets. Employed residents are linked to
    the firms by size (employments.parquet), and a firm's employees and graduate hires are
    counted from those links. Sources and modelled figures: simulations/population/SOURCES.md.
    Every resident, household and firm then carries a weight raked to Beijing's official
    totals (--targets); generation fails, writing nothing, when a fitted total cannot be met.
    Example:
      zhida population generate --residents 1000000 --enterprises 100000 --seed 7 --out pop/
      zhida population calibrate pop/ --as-of 2026-06-30   (each target beside the weights)
    """
    from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

    from simulations.population import FILES, GenerationSpec, generate_population

    spec = GenerationSpec(
        residents=residents,
        enterprises=enterprises,
        seed=seed,
        as_of=as_of,
        unknown_scale=unknown_scale,
        unknown_overrides=_overrides(unknown),
        targets=targets,
    )
    steps = ("residents and households", "enterprises", "employments", "weights",
             "service events", "unknown values")  # fmt: skip
    with Progress(
        SpinnerColumn(), *Progress.get_default_columns(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("generating", total=len(steps) + len(FILES))

        def advance(message: str) -> None:
            bar.update(task, description=message, advance=1)

        paths = generate_population(spec, out, progress=advance)
    for name, path in paths.items():
        click.echo(f"wrote {path} ({name})")


_targets_option = click.option(
    "--targets",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Targets file (default: Beijing's, simulations/population/targets.yaml).",
)


@population_group.command("summary")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_targets_option
@as_of_option
def summary_cmd(directory: Path, targets: Path | None, as_of: date) -> None:
    """Print a summary of the population in DIRECTORY, then its calibration.

    \b
    The calibration table sets each official total beside the population's weighted and
    unweighted figure; pass the --as-of the population was generated with, so ages agree.
    Example:
      zhida population summary pop/ --as-of 2026-06-30
    """
    from api.commands.calibration_view import print_calibration
    from api.commands.population_view import print_summary
    from simulations.population import calibration_report, load_targets, summarise

    print_summary(summarise(directory))
    print_calibration(calibration_report(directory, as_of=as_of, targets=load_targets(targets)))


@population_group.command("calibrate")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_targets_option
@as_of_option
@click.option(
    "--loosen",
    type=click.FloatRange(min=1.0),
    default=1.0,
    show_default=True,
    help="Multiply every tolerance (e.g. 3 for a small sample, whose margins vary more).",
)
def calibrate_cmd(directory: Path, targets: Path | None, as_of: date, loosen: float) -> None:
    """Check the weights in DIRECTORY against Beijing's official totals.

    \b
    Prints every target of the targets file with its year, the official figure, the weighted
    figure, the unweighted one (the sample count scaled to Beijing) and their gaps, then the
    weights' spread (max/min, limit 20) and design effect. Fitted targets were used to make
    the weights; held-out ones were not, so meeting them is evidence the synthetic Beijing
    is right; unverified ones are shown and never checked. Generation already fits the
    weights (and fails when it cannot); this command checks a directory afterwards.
    Exits 1 when a fitted or held-out target is outside its tolerance (times --loosen).
    Pass the --as-of the population was generated with, so ages agree. Example:
      zhida population generate --residents 1000000 --as-of 2026-06-30 --out pop/
      zhida population calibrate pop/ --as-of 2026-06-30
    """
    from api.commands.calibration_view import print_calibration
    from simulations.population import CalibrationError, calibration_report, load_targets

    report = calibration_report(directory, as_of=as_of, targets=load_targets(targets))
    print_calibration(report, loosen=loosen)
    failures = report.failures(loosen)
    if failures:
        names = ", ".join(
            f"{row.target.id} ({row.gap:+.1%})" for row in failures if row.gap is not None
        )
        raise CalibrationError(
            f"{len(failures)} target(s) outside their tolerance: {names}; regenerate the "
            "population (generation fits the weights), or check the --as-of and --targets"
        )


def register(group: click.Group) -> None:
    group.add_command(population_group)
