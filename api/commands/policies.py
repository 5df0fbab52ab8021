"""``zhida policies``: validate, list, compare and check catalogs; versions in the database."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.commands.options import as_of_option

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from api.app.audit import AuditLog

__all__ = ["register"]

_paths = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH..."
)


@click.group("policies")
def policies_group() -> None:
    """Policy catalogs: one YAML file per policy, a directory is a catalog."""


@policies_group.command("validate")
@_paths
@click.option(
    "--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
    help="Language of the messages (zh: as the console shows them).",
)  # fmt: skip
def validate_cmd(paths: tuple[Path, ...], lang: str) -> None:
    """Check every policy under PATH...; print each problem as file:line:col: message.

    Besides errors of syntax, types and names (unknown fields, values and tags), the rules are
    checked: an eligibility that never holds and a benefit tier nobody reaches are errors; a
    rule that holds for everyone and tiers whose order decides are warnings
    (file:line:col: warning: message).

    \b
    Exit status 0 when every file is valid (warnings or not), 1 when any is not. Example:
      zhida policies validate rules/catalog/
    """
    from rules.errors import PositionedRuleError
    from rules.loader import CatalogError, load_catalog

    def show(found: PositionedRuleError) -> str:
        where = f"{found.path}:" if found.path else ""
        label = {"en": "warning: ", "zh": "提示："}[lang] if found.severity == "warning" else ""
        return f"{where}{found.line}:{found.col}: {label}{found.in_language(lang)}"

    try:
        catalog = load_catalog(paths)
    except CatalogError as exc:
        found = sorted([*exc.problems, *exc.warnings], key=lambda p: (p.path or "", p.line, p.col))
        for problem in found:
            click.echo(show(problem))
        n, w = len(exc.problems), len(exc.warnings)
        warned = f", {w} warning{'s' if w != 1 else ''}" if w else ""
        click.echo(f"{n} problem{'s' if n != 1 else ''} found{warned}", err=True)
        raise SystemExit(1) from None
    for warning in catalog.warnings:
        click.echo(show(warning))
    w = len(catalog.warnings)
    warned = f", {w} warning{'s' if w != 1 else ''}" if w else ""
    click.echo(f"{len(catalog.policies)} policies OK (catalog {catalog.content_hash[:12]}){warned}")


@policies_group.command("list")
@_paths
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="Only those in force.")
def list_cmd(paths: tuple[Path, ...], as_of: str | None) -> None:
    """List the policies under PATH... as a table."""
    from rich.console import Console
    from rich.table import Table

    from api.commands.options import parse_date
    from rules.loader import load_catalog

    catalog = load_catalog(paths)
    policies = catalog.policies if as_of is None else catalog.in_force(parse_date(as_of))
    table = Table(title=f"{len(policies)} policies", title_justify="left")
    from profiles.schema import load_schema
    from rules.language import parse_rule

    schema = load_schema()
    for column in ("id", "title", "audience", "mode", "valid", "fields read"):
        table.add_column(column)
    for p in sorted(policies, key=lambda p: (p.audience, p.id)):
        valid = f"{p.valid_from}…{p.valid_until or ''}"
        entity = schema.entity(p.audience)
        fields = set(parse_rule(p.eligibility, entity).fields)
        if p.benefit:
            fields |= parse_rule(p.benefit, entity, kind="benefit").fields
        table.add_row(p.id, p.title, p.audience, p.mode, valid, ", ".join(sorted(fields)))
    Console(width=180).print(table)


@policies_group.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--author", default=None, help="Recorded as author and reviewer [default: cli:LOGIN]."
)
@click.option("--note", default="catalog import", show_default=True, help="Change note.")
def import_cmd(directory: Path, author: str | None, note: str) -> None:
    """Publish every policy in DIRECTORY whose document changed (one transaction).

    The import is an audit entry (policy.import) naming who ran it, the catalog's hash and
    every version it published.
    """
    from api.commands.users import operator
    from rules.store import PolicyStore

    engine, audit = _audited()
    who = operator()
    created = PolicyStore(engine).import_catalog(directory, author=author or who, note=note)
    audit.append(
        actor=who, role="cli", action="policy.import", entity_type="catalog",
        entity_id=directory.name[:128] or "-", source="cli",
        details={"author": author or who, "note": note, "published": created,
                 "catalog_sha256": _catalog_hash(directory)},
    )  # fmt: skip
    for policy_id, version in sorted(created.items()):
        click.echo(f"published {policy_id} v{version}")
    click.echo(f"{len(created)} new version(s)")


@policies_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="Versions in force.")
def export_cmd(directory: Path, as_of: str | None) -> None:
    """Write the published catalog (or the one in force on a date) to DIRECTORY (audited)."""
    from api.commands.options import parse_date
    from api.commands.users import operator
    from rules.store import PolicyStore

    engine, audit = _audited()
    on = parse_date(as_of) if as_of else None
    written = PolicyStore(engine).export_catalog(directory, on)
    audit.append(
        actor=operator(), role="cli", action="policy.export", entity_type="catalog",
        entity_id=directory.name[:128] or "-", source="cli",
        details={"as_of": as_of, "policies": sorted(p.stem for p in written)},
    )  # fmt: skip
    click.echo(f"wrote {len(written)} policies to {directory}")


def _audited() -> tuple[Engine, AuditLog]:
    """The configured database, migrated, and its audit log (checkpointed)."""
    from api.app.audit import AuditLog
    from api.app.checkpoints import Checkpoints
    from core.db import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    return engine, AuditLog(engine, Checkpoints.configured())


def _catalog_hash(directory: Path) -> str:
    """The catalog's content hash, as `zhida policies validate` prints it."""
    from rules.loader import load_catalog

    return load_catalog([directory]).content_hash


@policies_group.command("history")
@click.argument("policy_id")
def history_cmd(policy_id: str) -> None:
    """Every version of POLICY_ID: status, author, reviewer, note, content hash."""
    from core.db import get_engine, upgrade
    from rules.store import PolicyStore

    engine = get_engine()
    upgrade(engine)
    for v in PolicyStore(engine).versions(policy_id):
        click.echo(
            f"v{v.version}  {v.status:<9}  {v.created_at:%Y-%m-%d %H:%M}  by {v.author}"
            f"  reviewed by {v.reviewer or '-'}  rule {v.content_hash[:12]}  {v.change_note}"
        )


@policies_group.command("overlap")
@_paths
@click.option(
    "--population",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also compare who the policies reach on this population (Jaccard).",
)
@click.option("--threshold", type=float, default=0.8, show_default=True, help="Jaccard cut-off.")
@as_of_option
def overlap_cmd(
    paths: tuple[Path, ...], population: Path | None, threshold: float, as_of: date
) -> None:
    """Find rules that never or always hold, equivalent and contained rules, and policies
    reaching nearly the same people (查重).  "proof" marks results that are exact."""
    from profiles.derive import with_derived
    from profiles.schema import load_schema
    from rules.analysis import overlaps
    from rules.language import parse_rule
    from rules.loader import load_catalog

    schema = load_schema()
    catalog = load_catalog(paths, schema)
    frames = {}
    if population is not None:
        from matcher.population import scan_population

        frames = scan_population(population, schema)
    found = 0
    for audience in ("resident", "enterprise"):
        entity = schema.entity(audience)
        items = [
            (p.id, parse_rule(p.eligibility, entity))
            for p in catalog.in_force(as_of)
            if p.audience == audience
        ]
        frame = None
        if audience in frames:
            frame = with_derived(frames[audience], entity, as_of=as_of).collect()
        for f in overlaps(items, population=frame, threshold=threshold, as_of=as_of):
            found += 1
            how = "proof" if f.exact else "checked"
            joined = (" ⊆ " if f.kind == "contained" else " ~ ").join(f.policies)
            click.echo(f"{f.kind:<14} {joined}  ({f.detail}; {how})")
    total = len(catalog.in_force(as_of))
    click.echo(f"{found} finding(s) among {total} policies in force on {as_of}")


@policies_group.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option(
    "--population", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Population directory to measure who gains and who loses.",
)  # fmt: skip
@as_of_option
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write every subject's change (gained, lost, benefit_changed) to this Parquet file.",
)  # fmt: skip
def diff_cmd(old: Path, new: Path, population: Path, as_of: date, out: Path | None) -> None:
    """Compare two catalogs (or two versions of a policy file): what changed, and on the
    population who gains, who loses, and the change in cost per period."""
    from rich.console import Console
    from rich.table import Table

    from matcher.diff import catalog_changes, reach_diff, subject_changes
    from matcher.population import attach_tags, scan_population
    from matcher.units import match_units_frame
    from profiles.schema import load_schema
    from rules.loader import load_catalog

    schema = load_schema()
    before, after = load_catalog([old], schema), load_catalog([new], schema)
    changes = catalog_changes(before, after)
    for c in changes:
        click.echo(f"{c.change:<8} {c.policy_id}")
        if c.old_eligibility != c.new_eligibility:
            click.echo(f"   eligibility: {c.old_eligibility} → {c.new_eligibility}")
        if c.old_benefit != c.new_benefit:
            click.echo(f"   benefit:     {c.old_benefit} → {c.new_benefit}")
    if not changes:
        click.echo("no policy's rule changed")
        return
    ids = {c.policy_id for c in changes}
    # Tags from the population's events, as `zhida match` computes them.
    frames = attach_tags(scan_population(population, schema), population, schema, as_of=as_of)
    # Each unit once: a household's benefit is one household's, not its members'.
    old_pairs = match_units_frame(
        frames, [p for p in before.in_force(as_of) if p.id in ids], schema, as_of=as_of
    )
    new_pairs = match_units_frame(
        frames, [p for p in after.in_force(as_of) if p.id in ids], schema, as_of=as_of
    )
    summary = reach_diff(old_pairs, new_pairs)
    table = Table(title=f"Reach on {population} as of {as_of}", title_justify="left")
    for column in summary.columns:
        table.add_column(column, justify="left" if column == "policy_id" else "right")
    for row in summary.rows():
        table.add_row(*(f"{v:,}" if not isinstance(v, str) else v for v in row))
    Console(width=160).print(table)
    if out is not None:
        subject_changes(old_pairs, new_pairs).write_parquet(out)
        click.echo(f"wrote every subject's change to {out}")


def register(group: click.Group) -> None:
    group.add_command(policies_group)
