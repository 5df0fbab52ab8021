"""``zhida audit verify|checkpoint|list``: the hash-chained audit log and its checkpoints.

Every entry is checkpointed outside the database as it is written (:mod:`api.app.checkpoints`);
``verify`` holds the chain to the checkpoint file (or to another copy of it, ``--against``, such
as the lines an external log kept), so deleted newest entries, a truncated table and a chain
rewritten with recomputed hashes fail like an edited entry.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["register"]

_SHOWN = 20  # broken entries printed one per line; the rest are counted


def _log() -> object:
    from api.app.audit import AuditLog
    from api.app.checkpoints import Checkpoints
    from core.db import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    return AuditLog(engine, Checkpoints.configured())


@click.group("audit")
def audit_group() -> None:
    """Who did what, when and from where: rule changes, publishing, profile reads, exports."""


@audit_group.command("verify")
@click.option(
    "--against", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Checkpoint lines kept elsewhere (an external log's copy) instead of the local file.",
)  # fmt: skip
def verify_cmd(against: Path | None) -> None:
    """Walk the chain and hold it to its checkpoints; exit 1 naming every entry that was
    changed, removed, reordered, or rewritten with recomputed hashes.

    \b
    Examples:
      zhida audit verify
      zhida audit verify --against /mnt/worm/zhida-audit-checkpoints
    """
    from api.app.audit import AuditChainError, AuditLog

    log = _log()
    assert isinstance(log, AuditLog) and log.checkpoints is not None
    source = against or log.checkpoints.path
    if against is not None and not against.is_file():
        raise click.BadParameter(
            f"{against} is not a file of checkpoint lines", param_hint="--against"
        )
    points, bad = log.checkpoints.read(source)
    count, head, broken = log.verify(points)
    for number in bad[:_SHOWN]:
        click.echo(
            f"{source} line {number}: not a checkpoint made with this key (edited, forged, or "
            "written under another key)"
        )
    for b in broken[:_SHOWN]:
        click.echo(f"entry {b.id}: {b.reason}")
    hidden = max(0, len(bad) - _SHOWN) + max(0, len(broken) - _SHOWN)
    if hidden:
        click.echo(f"... and {hidden} more")
    if broken or bad:
        first = f"entry {broken[0].id}" if broken else f"checkpoint line {bad[0]}"
        raise AuditChainError(
            f"the audit log is broken at {len(broken)} place(s) of {count} entries and "
            f"{len(bad)} checkpoint line(s) do not hold (first: {first}); restore it from a "
            "backup and investigate who changed it"
        )
    if count and not points:
        click.echo(
            f"warning: no checkpoint in {source}: the chain holds together, but deleted newest "
            "entries or a recomputed chain would not show; run `zhida audit checkpoint` and "
            "keep its lines outside the database",
            err=True,
        )
    beside = _key_beside_database(log)
    if beside is not None:
        click.echo(
            f"warning: the audit key {beside} lies beside the database: whoever can change the "
            "database file can also forge checkpoints; set ZHIDA_AUDIT_KEY, or "
            "ZHIDA_AUDIT_KEY_FILE on another volume",
            err=True,
        )
    newest = max(points, key=lambda p: p.id, default=None)
    anchored = (
        f"; {len(points)} checkpoints hold, the newest at entry {newest.id}" if newest else ""
    )
    click.echo(f"audit log intact: {count} entries, head {head}{anchored}")


def _key_beside_database(log: object) -> Path | None:
    """The key file, when it sits in the SQLite database's own directory."""
    from api.app.audit import AuditLog

    assert isinstance(log, AuditLog) and log.checkpoints is not None
    key_file, database = log.checkpoints.key_file, log.engine.url.database
    if log.checkpoints.has_own_key or key_file is None or log.engine.dialect.name != "sqlite":
        return None
    if not database or database == ":memory:":
        return None
    same = key_file.resolve().parent == Path(database).resolve().parent
    return key_file if same else None


@audit_group.command("checkpoint")
def checkpoint_cmd() -> None:
    """Checkpoint the chain's head now: append the line to the checkpoint file and print it,
    for an external log (syslog, a ticket, write-once storage).

    \b
    Example, daily from cron into the system log of another machine:
      zhida audit checkpoint | logger -t zhida-audit
    """
    from api.app.audit import AuditLog
    from core.errors import NotFoundError

    log = _log()
    assert isinstance(log, AuditLog) and log.checkpoints is not None
    head = log.head()
    if head is None:
        raise NotFoundError("the audit log is empty; there is no head to checkpoint yet")
    click.echo(log.checkpoints.write(*head))


@audit_group.command("list")
@click.option("--entity-type", default=None, help="Only entries about this kind of entity.")
@click.option("--entity", "entity_id", default=None, help="Only entries about this entity id.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
def list_cmd(entity_type: str | None, entity_id: str | None, limit: int) -> None:
    """The newest entries, newest first."""
    from api.app.audit import AuditLog

    log = _log()
    assert isinstance(log, AuditLog)
    for e in log.entries(entity_type=entity_type, entity_id=entity_id, limit=limit):
        click.echo(
            f"{e.id}\t{e.at:%Y-%m-%d %H:%M:%S}\t{e.actor} ({e.role})\t{e.action}\t"
            f"{e.entity_type}:{e.entity_id}\tfrom {e.source}"
        )


def register(group: click.Group) -> None:
    group.add_command(audit_group)
