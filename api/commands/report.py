"""``zhida report fairness``: coverage by group with confidence intervals and the 80 % rule."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.commands.options import as_of_option
from core.errors import NotFoundError

if TYPE_CHECKING:
    import polars as pl

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


@report_group.command("funnel")
@click.option(
    "--population", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="The population the run matched.",
)  # fmt: skip
@click.option(
    "--truth", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Pairs of the same run on complete data: who should have been served (default: the "
    "run's own eligible).",
)  # fmt: skip
@as_of_option
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def funnel_cmd(population: Path, truth: Path | None, as_of: date, csv_path: Path | None) -> None:
    """Of the offers due, the share planned into the push budget and reached, by group.

    \b
    Stages, from the latest recorded run and the delivery tables:
      offers   — pairs the delivery plans considered telling about (newly eligible,
                 maybe to eligible, newly maybe)
      planned  — told or to be told (a notice planned or deferred, not suppressed)
      reached  — a message carrying the offer was delivered
    With --truth (pairs of the same run on complete data) the base is the truly eligible and
    a first stage, matched, shows what unknown values cost each group.
    Each stage's rate by district, age band, gender and hukou (firms: size, industry), with
    95 % bootstrap intervals; a group under four fifths of the best-served is flagged at the
    stage where it drops out.
    """
    import polars as pl

    from matcher.fairness import coverage_funnel
    from matcher.population import scan_population
    from profiles.schema import load_schema

    matched, offers, planned, reached = _delivery_stages()
    stages = {"planned": planned, "reached": reached}
    if truth is not None:
        base = pl.read_parquet(truth).filter(pl.col("status") == "eligible")
        stages = {"matched": matched, **stages}
    else:
        base = offers
    if not base.height:
        raise NotFoundError(
            "no offers were planned yet; run `zhida deliveries plan` after two recorded runs"
        )
    schema = load_schema()
    parts = [
        coverage_funnel(base, stages, frame, schema.entity(name), as_of=as_of).with_columns(
            pl.lit(name).alias("subjects")
        )
        for name, frame in scan_population(population, schema).items()
    ]
    report = pl.concat([p for p in parts if p.height])
    if csv_path is not None:
        report.write_csv(csv_path)
    what = "truly eligible" if truth is not None else "offers due"
    for stage in stages:
        part = report.filter(pl.col("stage") == stage)
        flagged = part.filter(pl.col("flagged"))
        worst = part.sort("ratio").head(1).row(0, named=True) if part.height else None
        dimension = (
            part.filter(pl.col("dimension") == part["dimension"][0]) if part.height else part
        )
        share = int(dimension["hits"].sum()) / max(int(dimension["n"].sum()), 1)
        line = f"{stage:<8} {share:.1%} of the {what} (with a known group)"
        if worst is not None:
            line += (
                f"; lowest {worst['dimension']} {worst['group']} {worst['rate']:.1%} "
                f"(ratio {worst['ratio']:.2f})"
            )
        click.echo(line + f"; {flagged.height} group(s) flagged")


def _delivery_stages() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Pairs matched (latest run), offered, planned (notices) and reached (delivered)."""
    import polars as pl

    from core.db import get_engine, upgrade
    from core.settings import get_settings
    from matcher.runs import RunStore
    from notifier.funnel import FunnelStore

    engine = get_engine()
    upgrade(engine)
    latest = RunStore(engine, get_settings().data_dir).latest()
    if latest is None:
        raise NotFoundError("no recorded run; run `zhida match` and plan deliveries first")
    matched = pl.read_parquet(latest.pairs_file).filter(pl.col("status") == "eligible")
    stages = FunnelStore(engine).offer_stages()
    return matched, stages.offered, stages.planned, stages.reached


def register(group: click.Group) -> None:
    group.add_command(report_group)
