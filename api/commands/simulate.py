"""``zhida simulate``: what a draft policy would do before it is issued (政策推演)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from api.commands.options import as_of_option, population_option

if TYPE_CHECKING:
    import polars as pl
    from rich.progress import Progress

__all__ = ["register"]


png_option = click.option(
    "--png/--no-png", default=True, show_default=True,
    help="With --out, also write every chart as a PNG file (English labels where no font "
    "with Chinese glyphs is installed).",
)  # fmt: skip


@click.group("simulate")
def simulate_group() -> None:
    """Simulate a reform on a population before it is issued: reach, cost, groups."""


@simulate_group.command("reach")
@population_option
@click.option(
    "--baseline", type=click.Path(exists=True, path_type=Path), multiple=True, required=True,
    help="The catalog in force today: a directory or policy files (repeatable).",
)  # fmt: skip
@click.option(
    "--reform", type=click.Path(exists=True, path_type=Path), multiple=True,
    help="The catalog with the draft changes (repeatable; default: the baseline, when only "
    "--parameter changes).",
)  # fmt: skip
@click.option(
    "--parameter", "parameter_changes", multiple=True, metavar="NAME=AMOUNT",
    help="Simulate a parameter at another amount from --as-of on (repeatable): "
    "dibao_standard=1500, or one bracket of a scale, elderly_allowance[90]=600. "
    "`zhida parameters list` shows the names.",
)  # fmt: skip
@as_of_option
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Write report.html (charts and tables), policies/groups/overlap CSV files and the "
    "charts as PNG files here.",
)  # fmt: skip
@png_option
@click.option(
    "--contacts/--no-contacts", default=True, show_default=True,
    help="Use the delivery contact points in the database (opt-outs) where a subject has one.",
)  # fmt: skip
def reach_cmd(
    population: Path, baseline: tuple[Path, ...], reform: tuple[Path, ...], as_of: date,
    out: Path | None, png: bool, contacts: bool, parameter_changes: tuple[str, ...],
) -> None:  # fmt: skip
    """Reach and cost of REFORM against BASELINE on a population, per changed policy.

    \b
    For each policy added, removed or changed, and in total: eligible and maybe before and
    after, newly eligible, no longer eligible, cost per benefit period and per year, eligible
    but unreachable (no phone or e-mail, or opted out), the same by district, age band,
    gender, hukou and household type (firms: size class, industry, district), and the
    other policies the newly eligible already get.
    Example:
      cp -r rules/catalog draft && $EDITOR draft/bj-elderly-allowance.yaml
      zhida simulate reach --population pop/ --baseline rules/catalog --reform draft \\
          --as-of 2026-06-30 --out reach/
    A parameter change is a reform too (every policy reading it is a changed policy):
      zhida simulate reach --population pop/ --baseline rules/catalog \\
          --parameter dibao_standard=1500
    """
    import time

    import polars as pl
    from rich.console import Console

    from matcher.runs import population_snapshot
    from profiles.schema import load_schema
    from rules.loader import load_catalog
    from rules.parameters import active
    from simulations.reach import ALL, simulate_reach

    if not reform and not parameter_changes:
        raise click.UsageError(
            "give the reformed catalog (--reform DIR) and/or parameter changes "
            "(--parameter NAME=AMOUNT)"
        )
    schema = load_schema()
    before, after = load_catalog(baseline, schema), load_catalog(reform or baseline, schema)
    libraries = None
    if parameter_changes:
        reformed = active()
        for change in parameter_changes:
            reformed = reformed.with_override(change, on=as_of)
        libraries = (active(), reformed)
    started = time.perf_counter()
    with _bar() as bar:
        task = bar.add_task("matching both catalogs, batch by batch", total=None)
        reach = simulate_reach(
            population, before, after, schema, as_of=as_of,
            contacts=_contacts_from_db() if contacts else None,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            parameters=libraries,
        )  # fmt: skip
    elapsed = time.perf_counter() - started
    console = Console(width=180)
    if not reach.changes:
        console.print("no policy's rule differs between the two catalogs; nothing to simulate")
        return
    console.print(
        f"{len(reach.changes)} changed policies, {reach.subjects:,} subjects, as of {as_of} "
        f"({elapsed:.1f}s)"
    )
    for c in reach.changes:
        console.print(f"  {c.change:<8} {c.policy_id}: {c.old_eligibility} → {c.new_eligibility}")

    def arrow(name: str) -> pl.Expr:
        return pl.format("{} → {}", f"{name}_before", f"{name}_after").alias(name)

    per_policy = reach.policies.select(
        "policy_id", "change", arrow("eligible"), arrow("maybe"), "newly_eligible",
        "no_longer_eligible", arrow("cost_year"), "eligible_unreachable",
    )  # fmt: skip
    provenance = {p.id: p.provenance or "—" for p in [*before.policies, *after.policies]}
    per_policy = per_policy.with_columns(
        pl.col("policy_id").replace_strict(provenance, default="—").alias("source")
    )
    _print(console, "Per policy (source: cited, or modelled — see rules/catalog/SOURCES.md)",
           per_policy)  # fmt: skip
    _print_beijing(console, reach, [*before.policies, *after.policies], as_of)
    overall = reach.groups.filter(pl.col("policy_id") == ALL).drop("policy_id")
    shown = [
        "dimension", "group", "eligible_before", "eligible_after", "newly_eligible",
        "no_longer_eligible", "cost_year_after", "eligible_unreachable",
    ]  # fmt: skip
    if overall.height:
        _print(console, "By group (all changed policies)", overall.select(shown))
    if reach.overlap.height:
        top = reach.overlap.group_by("policy_id", maintain_order=True).head(3)
        _print(console, "Overlap: other policies the eligible also get", top)
    if out is not None:
        from simulations.report import write_reach_report

        stamp = {
            "as of": as_of.isoformat(),
            "baseline catalog": before.content_hash[:16],
            "reform catalog": after.content_hash[:16],
            **({"parameters": "; ".join(parameter_changes)} if parameter_changes else {}),
            "population snapshot": population_snapshot(population)[:16],
        }
        with _writing(out):
            written = write_reach_report(reach, out, stamp=stamp, png=png)
        for path in written:
            console.print(f"wrote {path}")


@simulate_group.command("timeline")
@population_option
@click.option(
    "--policies", type=click.Path(exists=True, path_type=Path), multiple=True, required=True,
    help="The catalog: a directory or policy files (repeatable).",
)  # fmt: skip
@click.option("--months", type=int, required=True, help="How many months to simulate (1-120).")
@click.option(
    "--seeds",
    type=int,
    default=3,
    show_default=True,
    help="Monte-Carlo runs (seeds --seed, --seed+1, ...); intervals need 2 or more.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="The first seed.")
@click.option(
    "--no-push",
    "no_push",
    is_flag=True,
    help="Only the world without proactive push (nothing planned or sent).",
)
@as_of_option
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Write report.html (SVG charts) and the released daily/monthly/summary CSV files here.",
)  # fmt: skip
def timeline_cmd(
    population: Path, policies: tuple[Path, ...], months: int, seeds: int, seed: int,
    no_push: bool, as_of: date, out: Path | None,
) -> None:  # fmt: skip
    """Move the population forward day by day and count eligibilities, pushes and take-up.

    \b
    Births, ageing, marriages, retirements, job changes, deaths, firms founded, closed and
    growing, from documented rates; each day the changed subjects are tagged and matched,
    pushes planned (budget, digests, quiet hours) and behaviour drawn, with and without a
    push.  What is printed and written is released as the API and the analyst page release
    it: each subject's part bounded, differential-privacy noise on every figure, intervals
    the noise's 95 % intervals, benefits paid not released; a rule reading an identifier is
    refused.  Per day and month: new eligibilities, messages by channel, notified, read,
    applied, granted, complaints; means over seeds.
    Example:
      zhida simulate timeline --population pop/ --policies rules/catalog --months 12 \\
          --seeds 5 --as-of 2026-06-30 --out timeline/
    """
    import time

    from rich.console import Console

    from core.errors import ValidationError
    from matcher.runs import population_snapshot
    from profiles.schema import load_schema
    from rules.loader import load_catalog
    from simulations.privacy import refuse_identifying
    from simulations.timeline import add_months
    from simulations.timeline_release import private_timeline, release_lines

    if seeds < 1:
        raise ValidationError(f"--seeds must be at least 1, got {seeds}")
    if not 1 <= months <= 120:
        raise ValidationError(f"--months must be from 1 to 120, got {months}")
    schema = load_schema()
    catalog = load_catalog(policies, schema)
    refuse_identifying(catalog.policies, schema, answer="a timeline simulation")
    days = (add_months(as_of, months) - as_of).days
    started = time.perf_counter()
    with _bar() as bar:
        task = bar.add_task(f"simulating {seeds} × {days} days", total=seeds * days)
        released = private_timeline(
            population, catalog, schema, as_of=as_of, months=months,
            seeds=range(seed, seed + seeds), push=not no_push,
            progress=lambda n: bar.advance(task, n),
        )  # fmt: skip
    elapsed = time.perf_counter() - started
    console = Console(width=180)
    console.print(f"{released.start} → {released.end}: {days} days × {seeds} seed(s) "
                  f"({elapsed:.1f}s)")  # fmt: skip
    import polars as pl

    summary = released.summary.with_columns(pl.col("mean", "lo", "hi").round(1))
    _print(console, "Over the horizon (mean over seeds with privacy noise, the noise's 95 % "
           "interval; effect = push − no push)", summary)  # fmt: skip
    monthly = (
        released.monthly.filter(pl.col("metric").is_in(["messages", "applied", "granted"]))
        .pivot(on="metric", index=["arm", "month"], values="mean")
        .with_columns(pl.exclude("arm", "month").round(1))
        .sort("arm", "month")
    )
    _print(console, "By month (mean over seeds, with privacy noise)", monthly)
    for line in release_lines(released)[1:]:
        console.print(line.strip())
    if out is not None:
        from simulations.timeline_report import write_release_report

        stamp = {
            "as of": as_of.isoformat(),
            "months": str(months),
            "seeds": f"{seed}..{seed + seeds - 1}",
            "catalog": catalog.content_hash[:16],
            "population snapshot": population_snapshot(population)[:16],
            "push": "no" if no_push else "with and without",
            "epsilon": f"{released.epsilon:g}",
        }
        with _writing(out):
            written = write_release_report(released, out, stamp=stamp)
        for path in written:
            console.print(f"wrote {path}")


def _bar() -> Progress:
    """A progress bar on stderr (done of total, elapsed), gone when done; a terminal only."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal,
    )  # fmt: skip


@contextmanager
def _writing(out: Path) -> Iterator[None]:
    """A report that cannot be written is a one-line error naming the directory."""
    from core.errors import InputFileError

    try:
        yield
    except OSError as exc:
        raise InputFileError(
            f"cannot write the report into {out}: {exc.strerror or exc}; "
            "give --out a directory you can write to"
        ) from exc


def _print(console: object, title: str, frame: pl.DataFrame) -> None:
    from rich.console import Console
    from rich.table import Table

    assert isinstance(console, Console)
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(column, justify="right" if frame[column].dtype.is_numeric() else "left")
    for row in frame.rows():
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    console.print(table)


def _print_beijing(console: object, reach: Any, policies: list[Any], as_of: date) -> None:
    """The Beijing-scale table: each changed policy's figures weighted, beside the sample's."""
    import polars as pl
    from rich.console import Console

    from simulations.scaling import INTERVAL_NOTE, LABEL, modelled_inputs

    assert isinstance(console, Console)
    if reach.beijing is None:
        console.print(
            "Beijing scale: not shown — the population carries no calibrated weights "
            "(generate it with `zhida population generate`, which weights it)"
        )
        return
    changed = {c.policy_id for c in reach.changes}
    frame = reach.beijing.select(
        "policy_id",
        "measure",
        pl.col("sample").round(0).cast(pl.Int64),
        pl.col("beijing").round(0).cast(pl.Int64).alias("Beijing"),
    ).with_columns(
        pl.Series(
            "95 % sampling interval",
            [
                f"{max(lo, 0):,.0f} – {hi:,.0f}"
                for lo, hi in reach.beijing.select("low", "high").rows()
            ],
        )
    )
    _print(console, LABEL, frame)
    console.print(INTERVAL_NOTE + "; costs in CNY a year")
    used = [p for p in policies if p.id in changed]
    console.print("modelled inputs: " + "; ".join(modelled_inputs(used, as_of=as_of)))


def _contacts_from_db() -> pl.DataFrame | None:
    """Reachability from the delivery contact points, opt-outs applied; None if there are none."""
    from core.db import get_engine
    from notifier.contacts import ContactStore

    return ContactStore(get_engine()).reachability()


def register(group: click.Group) -> None:
    group.add_command(simulate_group)
