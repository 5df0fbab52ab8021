"""``zhida report fairness|funnel``: coverage, exposure in the top-k pushes and the push funnel
by group, through fairlearn's MetricFrame, with the 80 % rule."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.commands.options import as_of_option
from core.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    import polars as pl

__all__ = ["register"]

_PAIRS = ("subject_id", "subject_type", "policy_id", "status")
_RANKED = (*_PAIRS, "score", "uplift", "rank", "ranked")


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
@click.option(
    "--ranked", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Ranked offers (`zhida rank offers --out FILE`): adds each group's exposure in the "
    "top-k pushes [default: DIR/ranked.parquet if present].",
)  # fmt: skip
@click.option(
    "--top-share", type=click.FloatRange(0.01, 1.0), default=0.2, show_default=True,
    help="The top-k pushes as a share of the ranked offers.",
)  # fmt: skip
@as_of_option
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Also write every section to one CSV (column `section`); audited as a data export.",
)  # fmt: skip
def fairness_cmd(
    population: Path, pairs: Path | None, truth: Path | None, ranked: Path | None,
    top_share: float, as_of: date, csv_path: Path | None,
) -> None:  # fmt: skip
    """Coverage and exposure in the top-k pushes by district, age band, gender, hukou and
    disability (firms: size class, industry, district), through fairlearn's MetricFrame.

    \b
    Coverage — each group's rate (see --truth), its 95 % bootstrap interval, its difference
    from and ratio to the best-served group; a ratio under four fifths is flagged.
    Between groups — per dimension, MetricFrame's difference (best − worst) and ratio
    (worst / best).
    Exposure — of the ranked offers (服务找人, 直达快享; 免申即享 grants are always told, so
    not ranked), each group's share of the top-k pushes against its share of the offers;
    exposure = the two shares' ratio, 1 is parity, under 0.8 flagged.
    Example:
      zhida rank offers --population pop/ --pairs pop/pairs.parquet --out pop/ranked.parquet
      zhida report fairness --population pop/ --pairs pop/pairs.parquet --csv fairness.csv
    """
    import polars as pl

    from matcher.exposure import topk_exposure
    from matcher.fairness import (
        GROUPS,
        coverage_units,
        dimensions,
        disparities,
        fairness_report,
    )
    from matcher.population import scan_population
    from profiles.schema import load_schema

    if pairs is None:
        pairs = _latest_pairs()
    schema = load_schema()
    frames = scan_population(population, schema)
    matched = _read(pairs, "pairs", "`zhida match --out FILE` writes one")
    truth_pairs = _read(truth, "truth", "pairs of a run on complete data") if truth else None
    given = ranked is not None
    ranked = ranked or (population / "ranked.parquet")
    offers = (
        _read(ranked, "ranked offers", "`zhida rank offers --out FILE` writes them", _RANKED)
        if given or ranked.is_file()
        else None
    )
    coverage, between, exposure = [], [], []
    for name, frame in frames.items():
        if name not in GROUPS:  # households: no fairness dimensions of their own yet
            continue
        entity = schema.entity(name)
        units, metric = coverage_units(matched, frame, entity, as_of=as_of, truth=truth_pairs)
        tag = pl.lit(name).alias("subjects")
        coverage.append(
            fairness_report(matched, frame, entity, as_of=as_of, truth=truth_pairs)
            .with_columns(tag)
        )  # fmt: skip
        between.append(
            disparities(units, list(dimensions(name)), "hit").with_columns(
                tag, pl.lit(metric).alias("metric")
            )
        )
        if offers is not None:
            exposure.append(
                topk_exposure(offers, frame, entity, as_of=as_of, top_share=top_share)
                .with_columns(tag)
            )  # fmt: skip
    report = pl.concat(coverage)
    summary = pl.concat(between)
    shown = pl.concat(exposure) if exposure else None
    _print_coverage(report)
    _print_between(summary)
    if shown is not None:
        _print_exposure(shown, top_share)
    else:
        click.echo(
            f"exposure in the top-k: no ranked offers ({ranked} not found); write them with "
            "`zhida rank offers --out FILE` and give --ranked FILE"
        )
    if csv_path is not None:
        parts = [report.with_columns(pl.lit("coverage").alias("section")),
                 summary.with_columns(pl.lit("between groups").alias("section"))]  # fmt: skip
        if shown is not None:
            parts.append(shown.with_columns(pl.lit("exposure top-k").alias("section")))
        table = pl.concat(parts, how="diagonal_relaxed")
        table = table.select("section", *(c for c in table.columns if c != "section"))

        from api.commands.exported import write_audited

        write_audited(
            csv_path, table.write_csv, what="fairness report (CSV)", entity_type="fairness_report",
            entity_id=pairs.name, rows=table.height,
            details={"pairs": pairs.name, "ranked": ranked.name if shown is not None else None},
        )  # fmt: skip
        click.echo(f"wrote {csv_path} ({table.height} rows; audited as a data export)")
    flagged = int(report["flagged"].sum())
    if shown is not None:
        flagged += int(shown["flagged"].sum())
    click.echo(f"{flagged} group(s) flagged")


def _latest_pairs() -> Path:
    from core.db import get_engine, upgrade
    from core.settings import get_settings
    from matcher.runs import RunStore

    engine = get_engine()
    upgrade(engine)
    latest = RunStore(engine, get_settings().data_dir).latest()
    if latest is None:
        raise NotFoundError("no recorded run; give --pairs FILE or run `zhida match` first")
    return Path(latest.pairs_file)


def _read(path: Path, what: str, hint: str, columns: tuple[str, ...] = _PAIRS) -> pl.DataFrame:
    """A Parquet input with ``columns``, or a one-line error naming it and how to make one."""
    import polars as pl

    if not path.is_file():
        raise NotFoundError(f"{what} file {path} not found; {hint}")
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ValidationError(
            f"{what} file {path} is not a readable Parquet file ({exc}); {hint}"
        ) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"{what} file {path} has no column {', '.join(missing)}; {hint}")
    return frame


def _print_coverage(report: pl.DataFrame) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Coverage ({report['metric'][0]}) — flagged below 4/5 of the best")
    for column in ("subjects", "dimension", "group", "n", "rate", "95% CI", "diff", "ratio", ""):
        table.add_column(column)
    for r in report.iter_rows(named=True):
        flag = "[red]flag[/]" if r["flagged"] else ""
        ci = f"{r['ci_low']:.3f}–{r['ci_high']:.3f}"
        table.add_row(r["subjects"], r["dimension"], r["group"], f"{r['n']:,}", f"{r['rate']:.3f}",
                      ci, f"{r['difference']:.3f}", f"{r['ratio']:.2f}", flag)  # fmt: skip
    Console(width=140).print(table)


def _print_between(summary: pl.DataFrame) -> None:
    click.echo("Between groups (fairlearn MetricFrame: difference = best − worst, ratio = "
               "worst / best):")  # fmt: skip
    for r in summary.iter_rows(named=True):
        click.echo(
            f"  {r['subjects']:<10} {r['dimension']:<10} difference {r['difference']:.3f}  "
            f"ratio {r['ratio']:.2f}  lowest {r['lowest']}, highest {r['highest']}"
            + ("  [below 4/5]" if r["flagged"] else "")
        )


def _print_exposure(shown: pl.DataFrame, top_share: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Exposure in the top {top_share:.0%} pushes — share of the top-k over share of "
        "the ranked offers; flagged below 0.8"
    )
    for column in ("subjects", "dimension", "group", "offers", "% of offers", "% of top-k",
                   "exposure", ""):  # fmt: skip
        table.add_column(column)
    for r in shown.iter_rows(named=True):
        flag = "[red]flag[/]" if r["flagged"] else ""
        table.add_row(r["subjects"], r["dimension"], r["group"], f"{r['n']:,}",
                      f"{r['share_eligible']:.1%}", f"{r['share_top']:.1%}",
                      f"{r['exposure']:.2f}", flag)  # fmt: skip
    Console(width=140).print(table)


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

    from matcher.fairness import GROUPS, coverage_funnel
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
        if name in GROUPS
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
