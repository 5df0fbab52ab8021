"""``zhida runs list|diff|parameters``: recorded match runs, what changed between them, and
the parameter versions each read."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["register"]


@click.group("runs")
def runs_group() -> None:
    """Recorded match runs (``zhida match`` records one each time)."""


@runs_group.command("list")
def list_cmd() -> None:
    """Every run: as-of date, catalog, population snapshot, counts, time."""
    from core.db import get_engine, upgrade
    from core.settings import get_settings
    from matcher.runs import RunStore

    engine = get_engine()
    upgrade(engine)
    runs = RunStore(engine, get_settings().data_dir).list()
    if not runs:
        click.echo("no runs yet; `zhida match ... --out FILE` records one")
    for r in runs:
        click.echo(
            f"run {r.run_id}  as of {r.as_of}  catalog {r.catalog_hash[:12]}  "
            f"population {r.population[:12]}  {r.eligible:,} eligible  {r.maybe:,} maybe  "
            f"{r.policies} policies  {r.seconds:.1f}s  previous {r.previous_run_id or '-'}"
        )


@runs_group.command("parameters")
@click.argument("run_id", type=int, required=False)
def parameters_cmd(run_id: int | None) -> None:
    """The parameter versions RUN (default: the latest) read: each parameter its policies read,
    the first day of the version in force on the run's as-of date, and its value then.

    \b
    Example:
      zhida runs parameters 12
      zhida parameters history dibao_standard     (that version's source)
    """
    from core.db import get_engine, upgrade
    from core.errors import NotFoundError
    from core.settings import get_settings
    from matcher.runs import RunStore

    engine = get_engine()
    upgrade(engine)
    store = RunStore(engine, get_settings().data_dir)
    if run_id is None:
        latest = store.latest()
        if latest is None:
            raise NotFoundError("no runs yet; `zhida match ... --out FILE` records one")
        run_id = latest.run_id
    read = store.parameters(run_id)
    if not read:
        click.echo(f"run {run_id} read no parameter (or was recorded before runs kept them)")
    for name, (version, value) in sorted(read.items()):
        click.echo(f"{name}  from {version}  {value}")


@runs_group.command("diff")
@click.argument("run_id", type=int, required=False)
@click.option("--against", type=int, default=None, help="Compare with this run instead.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write every change (subject, policy, change, statuses, benefits, unit and who is "
    "told: recipient_id) to Parquet (audited as a data export).",
)  # fmt: skip
def diff_cmd(run_id: int | None, against: int | None, out: Path | None) -> None:
    """What changed in RUN_ID (default: the latest) since the previous run, per policy.

    Each change is one unit's: a household-unit policy (e.g. 低保) counts households, each
    once, not their members; such policies are marked "per household"."""
    import polars as pl

    from core.db import get_engine, upgrade
    from core.errors import NotFoundError
    from core.settings import get_settings
    from matcher.runs import CHANGES, RunStore

    engine = get_engine()
    upgrade(engine)
    store = RunStore(engine, get_settings().data_dir)
    if run_id is None:
        latest = store.latest()
        if latest is None:
            raise NotFoundError("no runs yet; `zhida match ... --out FILE` records one")
        run_id = latest.run_id
    changes = store.diff(run_id, against).collect()
    if out is not None:  # one row per subject: an audited data export, as the API's
        from api.commands.exported import write_audited

        write_audited(
            out, changes.write_parquet, what="run diff (Parquet)", entity_type="match_run",
            entity_id=str(run_id), rows=changes.height, details={"against": against},
        )  # fmt: skip
    table = (
        changes.group_by("policy_id", "change")
        .len()
        .pivot(on="change", index="policy_id", values="len")
    )
    present = [c for c in CHANGES if c in table.columns]
    per_household = set(
        changes.filter(pl.col("unit") == "household")["policy_id"].unique().to_list()
    )
    click.echo(f"run {run_id}: {changes.height:,} changes")
    for row in table.sort("policy_id").iter_rows(named=True):
        parts = ", ".join(f"{row[c]:,} {c}" for c in present if row[c])
        unit = " (per household)" if row["policy_id"] in per_household else ""
        click.echo(f"  {row['policy_id']}{unit}: {parts}")


@runs_group.command("shards")
@click.argument("run_key")
def shards_cmd(run_key: str) -> None:
    """Progress of a sharded run (`zhida match --distributed`): shards done, pending, failed."""
    from api.commands.shards import show_shards

    show_shards(run_key)


def register(group: click.Group) -> None:
    group.add_command(runs_group)
