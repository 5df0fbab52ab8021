"""``zhida report fairness``: coverage by group with confidence intervals and the 80 % rule."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from api.commands.options import as_of_option

__all__ = ["register"]


@click.group("report")
def report_group() -> None:
    """Reports on match runs."""


@report_group.command("fairness")
@click.option(
    "--population", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="The population the pairs were matched on.",
)  # fmt: skip
@click.option(
    "--pairs", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Pairs file of a run (default: the latest recorded run's).",
)  # fmt: skip
@click.option(
    "--truth", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Pairs of the same run on complete data: the rate becomes coverage of the eligible.",
)  # fmt: skip
@as_of_option
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def fairness_cmd(
    population: Path, pairs: Path | None, truth: Path | None, as_of: date, csv_path: Path | None
) -> None:
    """Coverage by district, age band, gender and hukou (firms: size class, industry),
    with 95 % bootstrap intervals; groups under four fifths of the best are flagged."""
    import polars as pl
    from rich.console import Console
    from rich.table import Table

    from core.errors import NotFoundError
    from matcher.fairness import fairness_report
    from matcher.population import scan_population
    from profiles.schema import load_schema

    if pairs is None:
        from core.db import get_engine, upgrade
        from core.settings import get_settings
        from matcher.runs import RunStore

        engine = get_engine()
        upgrade(engine)
        latest = RunStore(engine, get_settings().data_dir).latest()
        if latest is None:
            raise NotFoundError("no recorded run; give --pairs FILE or run `zhida match` first")
        pairs = latest.pairs_file
    schema = load_schema()
    frames = scan_population(population, schema)
    matched = pl.read_parquet(pairs)
    truth_pairs = pl.read_parquet(truth) if truth is not None else None
    reports = [
        fairness_report(
            matched, frame, schema.entity(name), as_of=as_of, truth=truth_pairs
        ).with_columns(pl.lit(name).alias("subjects"))
        for name, frame in frames.items()
    ]
    report = pl.concat(reports)
    if csv_path is not None:
        report.write_csv(csv_path)
    table = Table(title=f"Fairness ({report['metric'][0]}) — flagged below 4/5 of the best")
    for column in ("subjects", "dimension", "group", "n", "rate", "95% CI", "ratio", ""):
        table.add_column(column)
    for r in report.iter_rows(named=True):
        flag = "[red]flag[/]" if r["flagged"] else ""
        ci = f"{r['ci_low']:.3f}–{r['ci_high']:.3f}"
        table.add_row(r["subjects"], r["dimension"], r["group"], f"{r['n']:,}",
                      f"{r['rate']:.3f}", ci, f"{r['ratio']:.2f}", flag)  # fmt: skip
    Console(width=140).print(table)
    flagged = report.filter(pl.col("flagged"))
    click.echo(f"{flagged.height} group(s) flagged")


def register(group: click.Group) -> None:
    group.add_command(report_group)
