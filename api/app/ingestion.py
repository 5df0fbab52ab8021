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
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.app.offers import current_offers
from api.app.services import Services
from core.errors import NotFoundError, ValidationError
from matcher.events import Change, EventMatcher
from profiles.schema import Entity, Schema, load_schema
from profiles.validation import ValidationError as RecordError
from profiles.validation import conform
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

_metadata = sa.MetaData()
subject_match_changes = sa.Table(
    "subject_match_changes",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.String(64)),
    sa.Column("subject_type", sa.String(16)),
    sa.Column("policy_id", sa.String(128)),
    sa.Column("change", sa.String(32)),
    sa.Column("old_status", sa.String(16)),
    sa.Column("new_status", sa.String(16)),
    sa.Column("old_benefit", sa.Numeric(18, 2)),
    sa.Column("new_benefit", sa.Numeric(18, 2)),
    sa.Column("cause", sa.String(160)),
    sa.Column("run_id", sa.Integer),
    sa.Column("as_of", sa.Date),
    sa.Column("created_at", sa.DateTime),
)

Status = tuple[str, Decimal | None]


@dataclass(frozen=True)
class FieldProblem:
    field: str | None
    detail: str
    line: int | None = None  # the error shape's positions (none for a JSON record)
    col: int | None = None


class IngestError(ValidationError):
    """A record or event that does not fit the schema; ``problems`` names each bad field."""

    def __init__(self, what: str, problems: list[FieldProblem], total: int) -> None:
        self.problems = problems
        shown = "; ".join(p.detail for p in problems[:3])
        more = f" (and {total - 3} more)" if total > 3 else ""
        super().__init__(f"the {what} was not stored: {shown}{more}; fix the fields and resend")


def _conformed(record: Mapping[str, Any], entity: Entity, what: str) -> dict[str, Any]:
    """``record`` checked and typed by the schema (one row), or :class:`IngestError`."""
    try:
        frame = pl.DataFrame([dict(record)], infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise IngestError(
            what, [FieldProblem(None, f"not a flat JSON object of field values ({exc})")], 1
        ) from exc
    try:
        row: dict[str, Any] = conform(frame, entity, source=what).row(0, named=True)
    except RecordError as err:
        problems = [FieldProblem(p.field, f"{p.field or what}: {p.message}") for p in err.problems]
        raise IngestError(what, problems, err.total) from err
    return row


_MAX_ID = 64  # the length of subject ids in the match, change and outbox tables


def _check_id(subject_id: str, field: str, what: str) -> None:
    if not 0 < len(subject_id) <= _MAX_ID:
        raise IngestError(
            what,
            [FieldProblem(field, f"{field}: expected 1 to {_MAX_ID} characters, found "
                                 f"{len(subject_id)}")],
            1,
        )  # fmt: skip


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


@dataclass(frozen=True)
class Ingested:
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


def _change_rows(changes: list[Change], subject_type: str) -> list[dict[str, Any]]:
    return [
        {
            "subject_id": c.subject_id, "subject_type": subject_type, "policy_id": c.policy_id,
            "change": c.change, "old_status": c.old[0] if c.old else None,
            "new_status": c.new[0] if c.new else None, "old_benefit": c.old[1] if c.old else None,
            "new_benefit": c.new[1] if c.new else None,
        }
        for c in changes
    ]  # fmt: skip


def _store_changes(
    conn: Connection, rows: list[dict[str, Any]], cause: str, run_id: int | None, as_of: date
) -> None:
    if rows:
        now = datetime.now(UTC).replace(tzinfo=None)
        conn.execute(
            subject_match_changes.insert(),
            [
                {**r, "cause": cause, "run_id": run_id, "as_of": as_of, "created_at": now}
                for r in rows
            ],
        )


def since_run(run_id: int | None) -> sa.ColumnElement[bool]:
    """The changes ingested since run ``run_id`` (None: before any run), which lay over its
    offers: each change names the run that was the latest when it was ingested."""
    t = subject_match_changes
    return t.c.run_id.is_(None) if run_id is None else t.c.run_id == run_id


def changes_of(svc: Services, subject_id: str, *, cause: str | None = None) -> list[dict[str, Any]]:
    """Changes recorded for ``subject_id`` since the latest run (of one ``cause``, if given)."""
    t = subject_match_changes
    query = sa.select(t).where(t.c.subject_id == subject_id).order_by(t.c.id)
    if cause is not None:
        query = query.where(t.c.cause == cause)
    else:
        run = svc.runs.latest()
        query = query.where(since_run(run.run_id if run else None))
    with svc.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


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
    _check_id(subject_id, entity.key, "profile")
    record = _conformed({**body, entity.key: subject_id}, entity, "profile")
    as_of = today(svc)
    state = load_state(svc, schema, subject_id, entity_name)
    created = state.record is None
    catalog = _published(svc, as_of)
    matcher = _matcher(state, subject_id, catalog, as_of)
    changes = matcher.on_profile_change(subject_id, record)
    current = matcher.records[subject_id]  # with the tags its events give
    rows = _change_rows(changes, entity_name)
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
        _store_changes(conn, rows, cause, state.run_id, as_of)
        planned, messages = _plan(
            svc, rows, catalog, current, entity, cause, state.run_id, as_of, conn
        )
    return Ingested(subject_id, entity_name, cause, False, _plain(rows), planned, messages), created


def ingest_event(svc: Services, body: Mapping[str, Any]) -> Ingested:
    """Store one service event and re-match its subject's affected policies."""
    from profiles.store import ProfileStore

    schema = load_schema()
    event = _conformed(body, schema.event, "event")
    subject_id, entity_name = str(event["subject_id"]), str(event["subject_type"])
    _check_id(subject_id, "subject_id", "event")
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
    rows = _change_rows(changes, entity_name)
    values = {f.name: event.get(f.name) for f in schema.event.stored_fields}
    try:
        with svc.engine.begin() as conn:
            inserted = conn.execute(table.insert().values(values)).inserted_primary_key
            assert inserted is not None
            cause = f"event {int(inserted[0])}"
            _store_changes(conn, rows, cause, state.run_id, as_of)
            current = matcher.records[subject_id]
            planned, messages = _plan(
                svc, rows, catalog, current, state.entity, cause, state.run_id, as_of, conn
            )
    except sa.exc.IntegrityError:
        # The same event arrived twice at once: the other request stored it.
        with svc.engine.connect() as conn:
            existing = conn.execute(sa.select(table.c.event_id).where(same)).scalar_one()
        return _replayed(svc, subject_id, entity_name, f"event {existing}")
    return Ingested(subject_id, entity_name, cause, False, _plain(rows), planned, messages)


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
    return Ingested(subject_id, entity_name, cause, True, _plain(rows), planned, messages)


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "policy_id": r["policy_id"], "change": r["change"], "old_status": r["old_status"],
            "new_status": r["new_status"],
            "old_benefit": None if r["old_benefit"] is None else str(r["old_benefit"]),
            "new_benefit": None if r["new_benefit"] is None else str(r["new_benefit"]),
        }
        for r in rows
    ]  # fmt: skip
