"""Ingesting one profile or one service event, and the offers it changes (服务找人 in real time).

A department's system sends a resident's or firm's record (一人一档 / 一企一档) or a service
event (办件记录).  Each is checked against the profile schema first — every bad field named,
nothing stored on any problem.  Then the subject's state is assembled: its record (the database
first, else the population files the server was started with), its events from both, and its
offers in the latest match run with the changes ingested since laid over them.  The event-driven
matcher (:class:`matcher.events.EventMatcher`) re-evaluates only the policies reading a changed
field or tag, and names what changed as a run diff would.

The record or event and the changes it caused are written in one transaction; planning the
notices follows (:func:`notifier.dispatch.plan_changes`, once per cause: the planner's steps
decide from each policy's mode whether a grant notice, an invitation or nothing is due).  An
event sent twice is stored once; the second call answers with the first call's changes and
completes the planning if it had not happened.

The parts have their own modules, re-exported here: checking against the schema
(:mod:`api.app.ingest_checks`), a subject's state (:mod:`api.app.subject_state`) and the
changes recorded since a run (:mod:`api.app.match_changes`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.app.ingest_checks import FieldProblem, IngestError, check_subject_id, conformed_record
from api.app.match_changes import (
    change_rows,
    changes_of,
    plain_changes,
    since_run,
    store_changes,
    subject_match_changes,
)
from api.app.services import Services
from api.app.subject_state import SubjectState, load_state
from core.errors import NotFoundError
from matcher.events import EventMatcher
from profiles.schema import Entity, load_schema
from rules.loader import Catalog

__all__ = [
    "FieldProblem",
    "IngestError",
    "Ingested",
    "SubjectState",
    "changes_of",
    "ingest_event",
    "ingest_profile",
    "load_state",
    "since_run",
    "subject_match_changes",
]


@dataclass(frozen=True)
class Ingested:
    """What one ingested record or event did: the changes it caused and the notices planned."""

    subject_id: str
    subject_type: str
    cause: str
    duplicate: bool  # the same event was sent before: nothing new was stored
    changes: list[dict[str, Any]]  # as in a run diff
    planned: dict[str, int]  # the planner's decisions: planned, deferred, suppressed
    messages: int  # notices written to the outbox


def today(svc: Services) -> date:
    from core.settings import get_settings

    return datetime.now(get_settings().tz).date()


def _published(svc: Services, as_of: date) -> Catalog:
    return svc.dry_runs.published.get(svc.engine, as_of)[1].catalog


def _matcher(state: SubjectState, subject_id: str, catalog: Catalog, as_of: date) -> EventMatcher:
    from profiles.tagging import load_tags

    schema = load_schema()
    matcher = EventMatcher(
        catalog.policies, load_tags(schema=schema), schema, entity=state.entity.name, as_of=as_of
    )
    assert state.entity.key is not None
    record = state.record if state.record is not None else {state.entity.key: subject_id}
    matcher.load(subject_id, record, state.events, state.matches)
    return matcher


def _plan(
    svc: Services, rows: list[dict[str, Any]], catalog: Catalog, record: Mapping[str, Any],
    entity: Entity, cause: str, run_id: int | None, as_of: date, conn: Connection | None = None,
) -> tuple[dict[str, int], int]:  # fmt: skip
    """Plan the notices ``rows`` call for (once per cause); the decisions and messages.

    With ``conn``, the outbox rows are written in the caller's transaction — the one that
    stores the record or event and the changes it caused (DESIGN: nothing is planned for a
    change that was not stored, and no stored change is left unplanned)."""
    if not rows:
        return {"planned": 0, "deferred": 0, "suppressed": 0}, 0
    from core.settings import get_settings
    from notifier.dispatch import plan_changes
    from profiles.derive import derive_record
    from rules.explainer import explain
    from rules.language import parse_rule

    schema = load_schema()
    full = derive_record(record, entity, as_of=as_of)

    def why(_subject: str, policy_id: str) -> Mapping[str, Any]:
        policy = catalog.by_id[policy_id]
        rule = parse_rule(policy.eligibility, entity)
        return explain(rule, full, as_of=as_of, schema=schema).to_dict()

    summary = plan_changes(
        svc.engine, rows, catalog.by_id, cause=cause, as_of=as_of, now=datetime.now(UTC),
        settings=get_settings(), run_id=run_id, explain=why, conn=conn,
    )  # fmt: skip
    return dict(summary.decisions), summary.messages


def ingest_profile(
    svc: Services, entity_name: str, subject_id: str, body: Mapping[str, Any]
) -> tuple[Ingested, bool]:
    """Create or replace a subject's record (fields not sent become unknown); (result, created)."""
    from profiles.store import ProfileStore

    schema = load_schema()
    entity = schema.entity(entity_name)
    assert entity.key is not None
    given = body.get(entity.key)
    if given is not None and str(given) != subject_id:
        raise IngestError(
            "profile",
            [
                FieldProblem(
                    entity.key, f"{entity.key}: {given!r} differs from the path's {subject_id!r}"
                )
            ],
            1,
        )
    check_subject_id(subject_id, entity.key, "profile")
    record = conformed_record({**body, entity.key: subject_id}, entity, "profile")
    as_of = today(svc)
    state = load_state(svc, schema, subject_id, entity_name)
    created = state.record is None
    catalog = _published(svc, as_of)
    matcher = _matcher(state, subject_id, catalog, as_of)
    changes = matcher.on_profile_change(subject_id, record)
    current = matcher.records[subject_id]  # with the tags its events give
    rows = change_rows(changes, entity_name)
    stamp = datetime.now(UTC).isoformat(timespec="microseconds")
    cause = f"profile {subject_id} {stamp}"
    store = ProfileStore(svc.engine, schema)
    values = {f.name: record.get(f.name) for f in entity.stored_fields}
    tags = values.get("tags")
    if tags is not None:
        values["tags"] = json.dumps(list(tags), ensure_ascii=False)
    table = store.tables[entity_name]
    with svc.engine.begin() as conn:
        conn.execute(sa.delete(table).where(table.c[entity.key] == subject_id))
        conn.execute(table.insert().values(values))
        store_changes(conn, rows, cause, state.run_id, as_of)
        planned, messages = _plan(
            svc, rows, catalog, current, entity, cause, state.run_id, as_of, conn
        )
    return Ingested(
        subject_id, entity_name, cause, False, plain_changes(rows), planned, messages
    ), created


def ingest_event(svc: Services, body: Mapping[str, Any]) -> Ingested:
    """Store one service event and re-match its subject's affected policies."""
    from profiles.store import ProfileStore

    schema = load_schema()
    event = conformed_record(body, schema.event, "event")
    subject_id, entity_name = str(event["subject_id"]), str(event["subject_type"])
    check_subject_id(subject_id, "subject_id", "event")
    store = ProfileStore(svc.engine, schema)
    table = store.tables["event"]
    same = sa.and_(
        table.c.subject_id == subject_id, table.c.item_code == str(event["item_code"]),
        table.c.occurred_at == event["occurred_at"],
    )  # fmt: skip
    with svc.engine.connect() as conn:
        existing = conn.execute(sa.select(table.c.event_id).where(same)).scalar_one_or_none()
    if existing is not None:
        return _replayed(svc, subject_id, entity_name, f"event {existing}")
    as_of = today(svc)
    state = load_state(svc, schema, subject_id, entity_name)
    if state.record is None:
        raise NotFoundError(
            f"no {entity_name} {subject_id!r} is known; send its profile first "
            f"(PUT /api/v1/profiles/{entity_name}/{subject_id})"
        )
    catalog = _published(svc, as_of)
    matcher = _matcher(state, subject_id, catalog, as_of)
    changes = matcher.on_event(event)
    rows = change_rows(changes, entity_name)
    values = {f.name: event.get(f.name) for f in schema.event.stored_fields}
    try:
        with svc.engine.begin() as conn:
            inserted = conn.execute(table.insert().values(values)).inserted_primary_key
            assert inserted is not None
            cause = f"event {int(inserted[0])}"
            store_changes(conn, rows, cause, state.run_id, as_of)
            current = matcher.records[subject_id]
            planned, messages = _plan(
                svc, rows, catalog, current, state.entity, cause, state.run_id, as_of, conn
            )
    except sa.exc.IntegrityError:
        # The same event arrived twice at once: the other request stored it.
        with svc.engine.connect() as conn:
            existing = conn.execute(sa.select(table.c.event_id).where(same)).scalar_one()
        return _replayed(svc, subject_id, entity_name, f"event {existing}")
    return Ingested(subject_id, entity_name, cause, False, plain_changes(rows), planned, messages)


def _replayed(svc: Services, subject_id: str, entity_name: str, cause: str) -> Ingested:
    """An event sent before: its recorded changes, planned now if the first call could not."""
    schema = load_schema()
    recorded = changes_of(svc, subject_id, cause=cause)
    rows = [
        {k: r[k] for k in ("subject_id", "subject_type", "policy_id", "change", "old_status",
                            "new_status", "old_benefit", "new_benefit")}
        for r in recorded
    ]  # fmt: skip
    planned, messages = {"planned": 0, "deferred": 0, "suppressed": 0}, 0
    if rows:
        as_of = recorded[0]["as_of"]
        state = load_state(svc, schema, subject_id, entity_name)
        catalog = _published(svc, as_of)
        record = state.record or {}
        planned, messages = _plan(
            svc, rows, catalog, record, state.entity, cause, state.run_id, as_of
        )
    return Ingested(subject_id, entity_name, cause, True, plain_changes(rows), planned, messages)
