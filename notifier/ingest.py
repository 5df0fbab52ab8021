"""What ingesting one profile or one service event causes: the event-driven twin of
:func:`notifier.campaign.record_and_plan`.

A department's system sends a resident's or firm's record (一人一档 / 一企一档) or a service event
(办件记录).  Each is checked against the profile schema first (:mod:`matcher.live.checks`: every
bad field named, nothing stored on any problem).  The subject's state is read
(:func:`matcher.live.state.load_state`) and re-matched on the as-of date the caller gives
(:func:`matcher.live.source.live_as_of`), only the policies reading a changed field or tag,
all under the subject's lock (:mod:`matcher.live.serial`), so concurrent requests for one
subject record what they would one after the other.  One transaction stores the record or
event, the changes it caused (:mod:`matcher.live.ledger`) and the notices they call for
(:func:`notifier.dispatch.plan_changes`, once per cause: the planner's steps decide from each
policy's mode whether a grant notice, an invitation or nothing is due) — all or nothing.  An
event sent twice is stored once; the second call answers with the first call's changes and
completes the planning if it had not happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.clock import Clock, SystemClock
from core.errors import NotFoundError
from matcher.live.checks import FieldProblem, IngestError, check_subject_id, conformed_record
from matcher.live.ledger import change_rows, changes_of_cause, plain_changes, store_changes
from matcher.live.state import LiveStores, load_state, rematcher
from profiles.schema import Entity
from rules.loader import Catalog

__all__ = ["Ingested", "ingest_event", "ingest_profile"]

Published = Callable[[date], Catalog]  # the catalog published and in force on a date


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
    as_of: date | None = None  # the date the subject was evaluated on


_NOTHING = {"planned": 0, "deferred": 0, "suppressed": 0}


def _plan(
    live: LiveStores, rows: list[dict[str, Any]], catalog: Catalog, record: Mapping[str, Any],
    entity: Entity, cause: str, run_id: int | None, as_of: date, clock: Clock,
    conn: Connection | None = None,
) -> tuple[dict[str, int], int]:  # fmt: skip
    """Plan the notices ``rows`` call for (once per cause); the decisions and messages.

    With ``conn``, the outbox rows are written in the caller's transaction — the one that
    stores the record or event and the changes it caused (DESIGN: nothing is planned for a
    change that was not stored, and no stored change is left unplanned)."""
    if not rows:
        return dict(_NOTHING), 0
    from core.settings import get_settings
    from notifier.dispatch import plan_changes
    from profiles.derive import derive_record
    from rules.explainer import explain
    from rules.language import parse_rule

    schema = live.source.schema
    full = derive_record(record, entity, as_of=as_of)

    def why(_subject: str, policy_id: str) -> Mapping[str, Any]:
        policy = catalog.by_id[policy_id]
        rule = parse_rule(policy.eligibility, entity)
        return explain(rule, full, as_of=as_of, schema=schema).to_dict()

    summary = plan_changes(
        live.engine, rows, catalog.by_id, cause=cause, as_of=as_of, now=clock.now(),
        settings=get_settings(), run_id=run_id, explain=why, conn=conn,
    )  # fmt: skip
    return dict(summary.decisions), summary.messages


def ingest_profile(
    live: LiveStores, published: Published, as_of: date, entity_name: str, subject_id: str,
    body: Mapping[str, Any], *, clock: Clock | None = None,
) -> tuple[Ingested, bool]:  # fmt: skip
    """Create or replace a subject's record (fields not sent become unknown); (result, created).

    The subject's state is read, re-matched and written under its lock
    (:mod:`matcher.live.serial`), so concurrent writes of one subject record what they would
    one after the other."""
    from profiles.store import ProfileStore

    clock = clock or SystemClock()
    schema = live.source.schema
    entity = schema.entity(entity_name)
    assert entity.key is not None
    given = body.get(entity.key)
    if given is not None and str(given) != subject_id:
        detail = f"{entity.key}: {given!r} differs from the path's {subject_id!r}"
        raise IngestError("profile", [FieldProblem(entity.key, detail)], 1)
    check_subject_id(subject_id, entity.key, "profile")
    record = conformed_record({**body, entity.key: subject_id}, entity, "profile")
    catalog = published(as_of)
    store = ProfileStore(live.engine, schema)
    with live.locks.transaction(live.engine, entity_name, subject_id) as conn:
        state = load_state(live, subject_id, entity_name)
        created = state.record is None
        matcher = rematcher(state, catalog.policies, schema, as_of)
        rows = change_rows(matcher.on_profile_change(subject_id, record), entity_name)
        current = matcher.records[subject_id]  # with the tags its events give
        cause = f"profile {subject_id} {clock.now().isoformat(timespec='microseconds')}"
        store.upsert(entity_name, record, conn=conn)
        store_changes(conn, rows, cause, state.run_id, as_of)
        planned, messages = _plan(
            live, rows, catalog, current, entity, cause, state.run_id, as_of, clock, conn
        )
    result = Ingested(
        subject_id, entity_name, cause, False, plain_changes(rows), planned, messages, as_of
    )
    return result, created


def ingest_event(
    live: LiveStores, published: Published, as_of: date, body: Mapping[str, Any],
    *, clock: Clock | None = None,
) -> Ingested:  # fmt: skip
    """Store one service event and re-match its subject's affected policies.

    Under the subject's lock (:mod:`matcher.live.serial`): concurrent events of one subject
    record the changes a sequential replay would, and the same event sent twice at once is
    stored once, the later call answering with the first one's changes."""
    from profiles.store import ProfileStore

    clock = clock or SystemClock()
    schema = live.source.schema
    event = conformed_record(body, schema.event, "event")
    subject_id, entity_name = str(event["subject_id"]), str(event["subject_type"])
    check_subject_id(subject_id, "subject_id", "event")
    table = ProfileStore(live.engine, schema).tables["event"]
    same = sa.and_(
        table.c.subject_id == subject_id, table.c.item_code == str(event["item_code"]),
        table.c.occurred_at == event["occurred_at"],
    )  # fmt: skip
    catalog = published(as_of)
    with live.locks.transaction(live.engine, entity_name, subject_id) as conn:
        existing = conn.execute(sa.select(table.c.event_id).where(same)).scalar_one_or_none()
        if existing is not None:
            cause = f"event {existing}"
            return _replayed(live, published, subject_id, entity_name, cause, clock, conn)
        state = load_state(live, subject_id, entity_name)
        if state.record is None:
            raise NotFoundError(
                f"no {entity_name} {subject_id!r} is known; send its profile first "
                f"(PUT /api/v1/profiles/{entity_name}/{subject_id})"
            )
        matcher = rematcher(state, catalog.policies, schema, as_of)
        rows = change_rows(matcher.on_event(event), entity_name)
        values = {f.name: event.get(f.name) for f in schema.event.stored_fields}
        inserted = conn.execute(table.insert().values(values)).inserted_primary_key
        assert inserted is not None
        cause = f"event {int(inserted[0])}"
        store_changes(conn, rows, cause, state.run_id, as_of)
        planned, messages = _plan(
            live, rows, catalog, matcher.records[subject_id], state.entity, cause,
            state.run_id, as_of, clock, conn,
        )  # fmt: skip
    return Ingested(
        subject_id, entity_name, cause, False, plain_changes(rows), planned, messages, as_of
    )


def _replayed(
    live: LiveStores, published: Published, subject_id: str, entity_name: str, cause: str,
    clock: Clock, conn: Connection,
) -> Ingested:  # fmt: skip
    """An event sent before: its recorded changes, planned now if the first call could not
    (the planner records a cause once, so a plan already made is not made again)."""
    recorded = changes_of_cause(live.engine, subject_id, cause)
    keys = ("subject_id", "subject_type", "policy_id", "change", "old_status", "new_status",
            "old_benefit", "new_benefit")  # fmt: skip
    rows = [{k: r[k] for k in keys} for r in recorded]
    planned, messages, as_of = dict(_NOTHING), 0, None
    if rows:
        as_of = recorded[0]["as_of"]
        state = load_state(live, subject_id, entity_name)
        catalog = published(as_of)
        planned, messages = _plan(
            live, rows, catalog, state.record or {}, state.entity, cause, state.run_id, as_of,
            clock, conn,
        )  # fmt: skip
    return Ingested(
        subject_id, entity_name, cause, True, plain_changes(rows), planned, messages, as_of
    )
