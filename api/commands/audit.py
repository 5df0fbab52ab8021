"""``zhida audit verify|list``: the hash-chained audit log."""

from __future__ import annotations

import click

__all__ = ["register"]


def _log() -> object:
    from api.app.audit import AuditLog
    from core.db import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    return AuditLog(engine)


@click.group("audit")
def audit_group() -> None:
    """Who did what, when and from where: rule changes, publishing, profile reads, exports."""


@audit_group.command("verify")
def verify_cmd() -> None:
    """Walk the chain; exit 1 naming every entry that was changed, removed or reordered."""
    from api.app.audit import AuditChainError, AuditLog

    log = _log()
    assert isinstance(log, AuditLog)
    count, head, broken = log.verify()
    if broken:
        for b in broken:
            click.echo(f"entry {b.id}: {b.reason}")
        raise AuditChainError(
            f"the audit log is broken at {len(broken)} place(s) of {count} entries (first: "
            f"entry {broken[0].id}); restore it from a backup and investigate who changed it"
        )
    click.echo(f"audit log intact: {count} entries, head {head}")


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
