"""A subject's state as event-driven matching needs it: its record, its events and its offers.

The record comes from the database first, else from the population files the server was
started with; the events from both (each once); the offers are the latest match run's with the
changes ingested since laid over them, as "my offers" shows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.app.offers import current_offers
from api.app.services import Services
from profiles.schema import Entity, Schema

__all__ = ["Status", "SubjectState", "load_state"]

Status = tuple[str, Decimal | None]


@dataclass(frozen=True)
class SubjectState:
    entity: Entity
    record: dict[str, Any] | None  # None: a subject nobody has sent yet
    events: list[dict[str, Any]]
    matches: dict[str, Status]  # policy id -> (status, benefit): latest run + changes since
    run_id: int | None


def _db_record(
    conn: Connection, svc: Services, entity: Entity, subject_id: str
) -> dict[str, Any] | None:
    from profiles.store import ProfileStore

    table = ProfileStore(svc.engine).tables[entity.name]
    assert entity.key is not None
    row = conn.execute(sa.select(table).where(table.c[entity.key] == subject_id)).mappings().first()
    if row is None:
        return None
    record = dict(row)
    if isinstance(record.get("tags"), str):
        record["tags"] = json.loads(record["tags"])
    return record


def _file_record(
    svc: Services, schema: Schema, entity: Entity, subject_id: str
) -> dict[str, Any] | None:
    from matcher.population import POPULATION_FILES, scan_population

    if svc.population is None or not (svc.population / POPULATION_FILES[entity.name]).is_file():
        return None
    assert entity.key is not None
    frame = scan_population(svc.population, schema)[entity.name]
    rows = frame.filter(pl.col(entity.key) == subject_id).collect()
    return rows.row(0, named=True) if rows.height else None


def _events(
    conn: Connection, svc: Services, schema: Schema, subject_id: str
) -> list[dict[str, Any]]:
    from profiles.store import ProfileStore

    table = ProfileStore(svc.engine).tables["event"]
    names = [f.name for f in schema.event.stored_fields]
    stored = [
        dict(r)
        for r in conn.execute(
            sa.select(*(table.c[n] for n in names)).where(table.c.subject_id == subject_id)
        ).mappings()
    ]
    if svc.population is not None and (svc.population / "events.parquet").is_file():
        stored += (
            pl.scan_parquet(svc.population / "events.parquet")
            .filter(pl.col("subject_id") == subject_id)
            .collect()
            .to_dicts()
        )
    seen, out = set(), []
    for e in sorted(stored, key=lambda e: e["occurred_at"]):
        key = (str(e["item_code"]), e["occurred_at"])
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def load_state(svc: Services, schema: Schema, subject_id: str, entity_name: str) -> SubjectState:
    """Everything event-driven matching needs to know about ``subject_id`` now.

    Its matches are its offers as "my offers" shows them (:func:`current_offers`): the latest
    run's with the changes ingested since laid over them.
    """
    entity = schema.entity(entity_name)
    run, offers = current_offers(svc, subject_id)
    matches: dict[str, Status] = {o.policy_id: (o.status, o.benefit) for o in offers}
    with svc.engine.connect() as conn:
        record = _db_record(conn, svc, entity, subject_id)
        events = _events(conn, svc, schema, subject_id)
    if record is None:
        record = _file_record(svc, schema, entity, subject_id)
    return SubjectState(entity, record, events, matches, run.run_id if run else None)
