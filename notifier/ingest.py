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
completes the planning if it had not happened.  :func:`ingest_events` does the same for a batch
of events, as if they had been sent one by one, with set-based reads and writes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.clock import Clock, SystemClock
from core.errors import NotFoundError, ZhidaError
from core.settings import get_settings
from matcher.events import EventMatcher, RuleIndex
from matcher.live.checks import (
    FieldProblem,
    IngestError,
    check_subject_id,
    conformed_record,
    conformed_records,
)
from matcher.live.fanout import DEATH, has_links, neighbourhood, pairs_frame, rematch_linked
from matcher.live.ledger import (
    change_rows,
    changes_of_cause,
    plain_changes,
    store_changes,
    store_many_changes,
)
from matcher.live.linked import Affected, Touched, affected
from matcher.live.offers import offers_now
from matcher.live.reach import Reach, event_reach
from matcher.live.recipients import household_heads
from matcher.live.source import bound_to, tag_library
from matcher.live.state import LiveStores, SubjectState, load_state, load_states, rematcher
from matcher.runs import Run
from matcher.units import unit_change_rows, units_of
from notifier import dispatch  # planning: imported with ingestion, not on the first notice
from profiles.derive import derive_record
from profiles.schema import Entity, Schema
from rules.explainer import explain
from rules.language import parse_rule
from rules.loader import Catalog

if TYPE_CHECKING:
    from notifier.dispatch import Explain

__all__ = [
    "Ingested",
    "Outcome",
    "ingest_employment",
    "ingest_event",
    "ingest_events",
    "ingest_profile",
]

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
    conn: Connection | None = None, explainer: Explain | None = None,
) -> tuple[dict[str, int], int]:  # fmt: skip
    """Plan the notices ``rows`` call for (once per cause); the decisions and messages.

    With ``conn``, the outbox rows are written in the caller's transaction — the one that
    stores the record or event and the changes it caused (DESIGN: nothing is planned for a
    change that was not stored, and no stored change is left unplanned)."""
    if not rows:
        return dict(_NOTHING), 0
    summary = dispatch.plan_changes(
        live.engine, rows, catalog.by_id, cause=cause, as_of=as_of, now=clock.now(),
        settings=get_settings(), run_id=run_id,
        explain=explainer or _explainer(live, catalog, record, entity, as_of), conn=conn,
    )  # fmt: skip
    return dict(summary.decisions), summary.messages


def _explainer(
    live: LiveStores, catalog: Catalog, record: Mapping[str, Any], entity: Entity, as_of: date,
    index: RuleIndex | None = None,
) -> Explain:  # fmt: skip
    """Why a policy matches ``record`` (as the subject stood after its change), for notices;
    the rules parsed already by the matcher's ``index`` are not parsed again."""
    schema = live.source.schema
    full = derive_record(record, entity, as_of=as_of)

    def why(_subject: str, policy_id: str) -> Mapping[str, Any]:
        compiled = index.compiled.get(policy_id) if index is not None else None
        if compiled is not None:
            rule = compiled.eligibility
        else:
            rule = parse_rule(catalog.by_id[policy_id].eligibility, entity)
        return explain(rule, full, as_of=as_of, schema=schema).to_dict()

    return why


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
        state = load_state(live, subject_id, entity_name, conn)
        created = state.record is None
        cause = f"profile {subject_id} {clock.now().isoformat(timespec='microseconds')}"
        touched = (
            Touched(residents=frozenset({subject_id}))
            if entity_name == "resident"
            else Touched(enterprises=frozenset({subject_id}))
        )
        linked = _Linked.read(live, conn, touched, as_of)
        rows, current = [], dict(record)
        if not has_links(linked.before):  # else the fan-out below re-matches it with the rest
            matcher = rematcher(state, catalog.policies, schema, as_of)
            rows = change_rows(matcher.on_profile_change(subject_id, record), entity_name)
            current = matcher.records[subject_id]  # with the tags its events give
            rows = _of_units(live, conn, catalog, rows, current)
        store.upsert(entity_name, record, conn=conn)
        explainer = None
        after = linked.after(live, conn)
        if linked.applies(after):
            rows, explainer = linked.changes(live, conn, catalog, as_of, state.run_id, after)
        store_changes(conn, _stored(rows), cause, state.run_id, as_of)
        planned, messages = _plan(
            live, rows, catalog, current, entity, cause, state.run_id, as_of, clock, conn,
            explainer,
        )  # fmt: skip
    result = Ingested(
        subject_id, entity_name, cause, False, plain_changes(rows), planned, messages, as_of
    )
    return result, created


def ingest_event(
    live: LiveStores, published: Published, as_of: date, body: Mapping[str, Any],
    *, clock: Clock | None = None, run: Run | None = None,
) -> Ingested:  # fmt: skip
    """Store one service event and re-match its subject's affected policies.

    Under the subject's lock (:mod:`matcher.live.serial`): concurrent events of one subject
    record the changes a sequential replay would, and the same event sent twice at once is
    stored once, the later call answering with the first one's changes.  ``run``: the latest
    run, if the caller read it to choose ``as_of`` (:meth:`LiveStores.now`)."""
    clock = clock or SystemClock()
    schema = live.source.schema
    event = conformed_record(body, schema.event, "event")
    subject_id, entity_name = str(event["subject_id"]), str(event["subject_type"])
    check_subject_id(subject_id, "subject_id", "event")
    table = _tables(schema)["event"]
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
        state = load_state(live, subject_id, entity_name, conn, run)
        if state.record is None:
            raise _unknown(entity_name, subject_id)
        touched = (
            Touched(residents=frozenset({subject_id}))
            if entity_name == "resident"
            else Touched(enterprises=frozenset({subject_id}))
        )
        reach = _reach(state, event, catalog, schema, as_of)
        linked = _Linked.reaching(live, conn, touched, as_of, reach)
        rows, current = [], dict(state.record)
        if linked is None or not has_links(linked.before):  # else the fan-out re-matches it
            matcher = rematcher(state, catalog.policies, schema, as_of)
            rows = change_rows(matcher.on_event(event), entity_name)
            current = matcher.records[subject_id]
            rows = _of_units(live, conn, catalog, rows, current)
        values = {f.name: event.get(f.name) for f in schema.event.stored_fields}
        inserted = conn.execute(table.insert().values(values)).inserted_primary_key
        assert inserted is not None
        cause = f"event {int(inserted[0])}"
        explainer = None
        after = linked.after(live, conn) if linked is not None else {}
        if linked is not None and linked.applies(after):
            rows, explainer = linked.changes(live, conn, catalog, as_of, state.run_id, after)
        store_changes(conn, _stored(rows), cause, state.run_id, as_of)
        planned, messages = _plan(
            live, rows, catalog, current, state.entity, cause, state.run_id, as_of, clock, conn,
            explainer,
        )  # fmt: skip
    return Ingested(
        subject_id, entity_name, cause, False, plain_changes(rows), planned, messages, as_of
    )


def ingest_employment(
    live: LiveStores, published: Published, as_of: date, body: Mapping[str, Any],
    *, clock: Clock | None = None,
) -> tuple[Ingested, bool]:  # fmt: skip
    """Create or replace one employment (a hire filed by a firm, a job that ended: its
    ``left_on``), keyed by person, firm and hire date; (result, created).

    Its firm and person must be known.  Every unit it reaches is re-matched
    (:mod:`matcher.live.fanout`): the firm's staff counts and hires, the person's household
    (an income that depends on the job is sent as the person's profile)."""
    import sqlalchemy as sa

    clock = clock or SystemClock()
    schema = live.source.schema
    record = conformed_record(dict(body), schema.employment, "employment")
    person, firm = str(record["person_id"]), str(record["enterprise_id"])
    check_subject_id(person, "person_id", "employment")
    check_subject_id(firm, "enterprise_id", "employment")
    table = _tables(schema)["employment"]
    catalog = published(as_of)
    subjects = {("resident", person), ("enterprise", firm)}
    with live.locks.transaction_many(live.engine, subjects) as conn:
        source = bound_to(live.source, conn)
        known = source.records([person], "resident"), source.records([firm], "enterprise")
        if not known[0]:
            raise _unknown("resident", person)
        if not known[1]:
            raise _unknown("enterprise", firm)
        run = live.runs.latest()
        run_id = run.run_id if run else None
        touched = Touched(employments=frozenset({(person, firm)}))
        linked = _Linked.read(live, conn, touched, as_of)
        same = sa.and_(
            table.c.person_id == person, table.c.enterprise_id == firm,
            table.c.hired_on == record["hired_on"],
        )  # fmt: skip
        values = {f.name: record.get(f.name) for f in schema.employment.stored_fields}
        created = conn.execute(sa.select(table.c.employment_id).where(same)).first() is None
        if created:
            conn.execute(table.insert().values(values))
        else:
            conn.execute(table.update().where(same).values(values))
        cause = f"employment {person} {firm} {clock.now().isoformat(timespec='microseconds')}"
        rows, explainer = linked.changes(
            live, conn, catalog, as_of, run_id, linked.after(live, conn)
        )
        store_changes(conn, _stored(rows), cause, run_id, as_of)
        planned, messages = _plan(
            live, rows, catalog, {}, schema.enterprise, cause, run_id, as_of, clock, conn,
            explainer,
        )  # fmt: skip
    result = Ingested(firm, "enterprise", cause, False, plain_changes(rows), planned, messages,
                      as_of)  # fmt: skip
    return result, created


def _reach(
    state: SubjectState, event: Mapping[str, Any], catalog: Catalog, schema: Schema, as_of: date
) -> Reach:
    """How far ``event`` reaches (:mod:`matcher.live.reach`): the tags it changes of its
    subject, against the tags the rules in force read (worked out once per catalog)."""
    from profiles.tagging.single import subject_tags

    if state.entity.name != "resident":
        return "links"
    own = [t for t in tag_library(schema) if t.audience == "resident"]
    record = state.record or {"person_id": state.subject_id}
    before = subject_tags(record, state.events, own, entity=state.entity, as_of=as_of)
    after = subject_tags(record, [*state.events, event], own, entity=state.entity, as_of=as_of)
    dead = str(event["item_code"]) == DEATH
    return event_reach(catalog.in_force(as_of), schema).of(before ^ after, dead=dead)


def _replayed(
    live: LiveStores, published: Published, subject_id: str, entity_name: str, cause: str,
    clock: Clock, conn: Connection,
) -> Ingested:  # fmt: skip
    """An event sent before: its recorded changes, planned now if the first call could not
    (the planner records a cause once, so a plan already made is not made again)."""
    recorded = changes_of_cause(conn, subject_id, cause)
    keys = ("subject_id", "subject_type", "policy_id", "change", "old_status", "new_status",
            "old_benefit", "new_benefit")  # fmt: skip
    rows = [{k: r[k] for k in keys} for r in recorded]
    planned, messages, as_of = dict(_NOTHING), 0, None
    if rows:
        as_of = recorded[0]["as_of"]
        state = load_state(live, subject_id, entity_name, conn)
        catalog = published(as_of)
        rows = _of_units(live, conn, catalog, rows, state.record or {})
        planned, messages = _plan(
            live, rows, catalog, state.record or {}, state.entity, cause, state.run_id, as_of,
            clock, conn,
        )  # fmt: skip
    return Ingested(
        subject_id, entity_name, cause, True, plain_changes(rows), planned, messages, as_of
    )


def _of_units(
    live: LiveStores, conn: Connection, catalog: Catalog, rows: list[dict[str, Any]],
    record: Mapping[str, Any],
) -> list[dict[str, Any]]:  # fmt: skip
    """``rows`` as their units' with their recipients (:func:`matcher.units.unit_change_rows`):
    a member's change of a household's offer is the household's, told to its head; a child's is
    told to its guardian.  The recipient is not stored with the change; planning reads it."""
    if not rows:
        return rows
    units = units_of(catalog.policies)
    homes = {str(r["subject_id"]) for r in rows if r["subject_type"] == "household"}
    if record.get("household_id") and any(
        units.get(r["policy_id"], ("", "self")) != ("person", "self") for r in rows
    ):
        homes.add(str(record["household_id"]))
    heads = household_heads(bound_to(live.source, conn), homes) if homes else {}
    return unit_change_rows(rows, units, record, heads)


def _stored(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ledger's columns of ``rows`` (unit and recipient are planning's, not the ledger's)."""
    return [{k: v for k, v in r.items() if k not in ("recipient_id", "unit")} for r in rows]


@dataclass(frozen=True)
class _Linked:
    """One ingestion across links (:mod:`matcher.live.fanout`): the neighbourhood of what it
    touched read before the write; :meth:`changes` reads it again after and re-matches every
    unit it reaches — the household, its members, parents and children, the employers."""

    touched: Touched
    before: dict[str, pl.DataFrame]
    as_of: date
    wide: bool = True  # else only the touched residents' own pairs can change

    @classmethod
    def read(cls, live: LiveStores, conn: Connection, touched: Touched, as_of: date) -> _Linked:
        source = bound_to(live.source, conn)
        return cls(touched, neighbourhood(source, touched, as_of), as_of)

    @classmethod
    def reaching(
        cls, live: LiveStores, conn: Connection, touched: Touched, as_of: date, reach: Reach
    ) -> _Linked | None:
        """The neighbourhood before the write; None when nothing ``reach``es (no pair can
        change).  For the touched alone (``self``), their own links are read, or every one's
        when they have no household (their links run through employers or relatives)."""
        if reach == "none":
            return None
        source = bound_to(live.source, conn)
        if reach == "self":
            own = neighbourhood(source, touched, as_of, wide=False)
            if has_links(own):
                return cls(touched, own, as_of, wide=False)
        return cls.read(live, conn, touched, as_of)

    def after(self, live: LiveStores, conn: Connection) -> dict[str, pl.DataFrame]:
        source = bound_to(live.source, conn)
        return neighbourhood(source, self.touched, self.as_of, wide=self.wide)

    def applies(self, after: Mapping[str, pl.DataFrame]) -> bool:
        """Whether links are on record around what was touched, before or after the write
        (else the subject's own re-match, on the fields typed into its record, stands)."""
        return has_links(self.before) or has_links(after)

    def changes(
        self, live: LiveStores, conn: Connection, catalog: Catalog, as_of: date,
        run_id: int | None, after: dict[str, pl.DataFrame],
    ) -> tuple[list[dict[str, Any]], Explain]:  # fmt: skip
        """The change rows (with unit and recipient) of every unit reached, and an explainer
        of each subject's offer as it stands after the write."""
        if self.wide:
            reached = affected(self.before, after, self.touched)
        else:  # an event that reaches no one else: its subject's own pairs
            reached = Affected(self.touched.residents, frozenset(), frozenset())
        _, changes = rematch_linked(
            _held(live, conn, reached), self.before, after, self.touched,
            catalog.in_force(as_of), live.source.schema, as_of, reached,
        )  # fmt: skip
        return changes.to_dicts(), _linked_explainer(live, conn, catalog, after, as_of)


def _held(live: LiveStores, conn: Connection, reached: Affected) -> pl.DataFrame:
    """The offers held now (latest run and the ledger since) for every unit reached."""
    kinds = {"resident": reached.residents, "household": reached.households,
             "enterprise": reached.enterprises}  # fmt: skip
    ids = set().union(*kinds.values())
    _, offers = offers_now(conn, live.runs, live.offers, ids)
    held = {
        (kind, sid): [(o.policy_id, o.status, o.benefit) for o in offers.get(sid, [])]
        for kind, sids in kinds.items()
        for sid in sids
    }
    return pairs_frame(held)


def _linked_explainer(
    live: LiveStores, conn: Connection, catalog: Catalog, after: Mapping[str, pl.DataFrame],
    as_of: date,
) -> Explain:  # fmt: skip
    """Why a unit's policy matches, for notices: a resident's or firm's record as the source
    gives it now (with its links); a household's through its head's record."""
    from matcher.live.source import load_subjects

    source = bound_to(live.source, conn)
    library = tag_library(source.schema)
    residents = after.get("resident")

    def why(subject: str, policy_id: str) -> Mapping[str, Any]:
        policy = catalog.by_id.get(policy_id)
        if policy is None:
            return {}
        sid = subject
        if residents is not None and subject not in set(residents["person_id"].to_list()):
            heads = residents.filter(
                (pl.col("household_id") == subject) & (pl.col("relation_to_head") == "head")
            )
            if heads.height:
                sid = str(heads["person_id"][0])
        found = load_subjects(source, [sid]).get(sid)
        if found is None or found.entity.name != policy.audience:
            return {}
        record = found.derived(as_of, library)
        rule = parse_rule(policy.eligibility, found.entity)
        return explain(rule, record, as_of=as_of, schema=source.schema).to_dict()

    return why


def _unknown(entity_name: str, subject_id: str) -> NotFoundError:
    return NotFoundError(
        f"no {entity_name} {subject_id!r} is known; send its profile first "
        f"(PUT /api/v1/profiles/{entity_name}/{subject_id})"
    )


_TABLES: dict[tuple[Path, ...], dict[str, sa.Table]] = {}


def _tables(schema: Schema) -> dict[str, sa.Table]:
    """The profile tables of ``schema``, built once (building them costs milliseconds)."""
    from profiles.tables import profile_tables

    found = _TABLES.get(schema.sources)
    if found is None:
        found = _TABLES[schema.sources] = profile_tables(schema)
    return found


Outcome = Ingested | ZhidaError  # one item of a batch: what it did, or why it was refused


def ingest_events(
    live: LiveStores, published: Published, as_of: date, bodies: Sequence[object],
    *, clock: Clock | None = None, run: Run | None = None,
) -> list[Outcome]:  # fmt: skip
    """Store a batch of service events and re-match their subjects: one outcome per item.

    Each item ends as :func:`ingest_event` would have ended it had the items been sent one by
    one in the batch's order: the same changes, notices and outbox rows (a test holds them
    equal).  A bad item (not fitting the schema, or of a subject nobody has sent) is its own
    error and nothing of it is stored; the good ones are.  The work is done for the whole
    batch at once where the order does not matter: the items are checked as frames, the
    subjects' states read in one query per table, the events inserted in one statement and
    the changes in another.  What depends on the order stays in it: each subject's events are
    re-matched in turn on one matcher, and each cause's notices are planned after the
    previous cause's (the planner's caps read what was told before).

    One transaction for the batch, holding every subject's lock (taken in one order,
    :meth:`~matcher.live.serial.SubjectLocks.transaction_many`): a batch is one commit rather
    than one per event (the commit is the dearest statement), and a failure half-way stores
    none of it, so resending the batch is safe — its events already stored are duplicates.
    """
    clock = clock or SystemClock()
    schema = live.source.schema
    table = _tables(schema)["event"]
    outcomes: list[Outcome | int | None] = [None] * len(bodies)  # int: a repeat of that item
    good: list[tuple[int, dict[str, Any]]] = []
    for i, checked in enumerate(conformed_records(bodies, schema.event, "event")):
        if isinstance(checked, IngestError):
            outcomes[i] = checked
            continue
        try:
            check_subject_id(str(checked["subject_id"]), "subject_id", "event")
        except IngestError as err:
            outcomes[i] = err
            continue
        good.append((i, checked))
    if not good:
        return [_resolved(o, outcomes) for o in outcomes]
    subjects = {(str(e["subject_type"]), str(e["subject_id"])) for _, e in good}
    if _linked_batch(live, subjects, as_of):
        # Across links each event's fan-out reads what the previous ones stored: the items
        # are ingested one by one, each in its own transaction, in the batch's order.
        for i, event in good:
            try:
                outcomes[i] = ingest_event(live, published, as_of, event, clock=clock, run=run)
            except ZhidaError as err:
                outcomes[i] = err
        return [_resolved(o, outcomes) for o in outcomes]
    catalog = published(as_of)
    with live.locks.transaction_many(live.engine, subjects) as conn:
        stored = _stored_events(conn, table, {sid for _, sid in subjects})
        run = run if run is not None else live.runs.latest()
        matchers: dict[str, EventMatcher] = {}
        states: dict[tuple[str, str], SubjectState] = {}
        for entity_name in sorted({t for t, _ in subjects}):
            ids = [sid for t, sid in subjects if t == entity_name]
            loaded = load_states(live, ids, entity_name, conn, run)
            matcher = EventMatcher(
                catalog.policies, tag_library(schema), schema, entity=entity_name, as_of=as_of
            )
            for sid, state in loaded.items():
                states[(entity_name, sid)] = state
                if state.record is not None:
                    matcher.load(sid, state.record, state.events, state.matches)
            matchers[entity_name] = matcher
        fresh: list[tuple[int, dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = []
        first: dict[tuple[str, Any, Any], int] = {}  # an event of this batch -> its item
        for i, event in good:
            entity_name, sid = str(event["subject_type"]), str(event["subject_id"])
            key = (sid, str(event["item_code"]), event["occurred_at"])
            if key in stored:
                outcomes[i] = _replayed(
                    live, published, sid, entity_name, f"event {stored[key]}", clock, conn
                )
            elif key in first:
                outcomes[i] = first[key]  # the same event again: resolved below
            elif states[(entity_name, sid)].record is None:
                outcomes[i] = _unknown(entity_name, sid)
            else:
                matcher = matchers[entity_name]
                rows = change_rows(matcher.on_event(event), entity_name)
                rows = _of_units(live, conn, catalog, rows, matcher.records[sid])
                first[key] = i
                fresh.append((i, event, rows, dict(matcher.records[sid])))
        if fresh:
            values = [
                {f.name: event.get(f.name) for f in schema.event.stored_fields}
                for _, event, _, _ in fresh
            ]
            returning = table.insert().returning(table.c.event_id, sort_by_parameter_order=True)
            causes = [f"event {int(n)}" for n in conn.execute(returning, values).scalars()]
            store_many_changes(
                conn,
                [
                    (_stored(rows), cause)
                    for (_, _, rows, _), cause in zip(fresh, causes, strict=True)
                ],
                run.run_id if run else None,
                as_of,
            )
            told: list[tuple[str, list[dict[str, Any]], Explain]] = []
            for (_, event, rows, record), cause in zip(fresh, causes, strict=True):
                if rows:
                    kind = str(event["subject_type"])
                    index = matchers[kind].index
                    why = _explainer(live, catalog, record, schema.entity(kind), as_of, index)
                    told.append((cause, rows, why))
            summaries = {
                s.cause: s
                for s in dispatch.plan_causes(
                    live.engine, told, catalog.by_id, as_of=as_of, now=clock.now(),
                    settings=get_settings(), conn=conn, run_id=run.run_id if run else None,
                )
            }  # fmt: skip
            for (i, event, rows, _), cause in zip(fresh, causes, strict=True):
                summary = summaries.get(cause)
                planned = dict(summary.decisions) if summary else dict(_NOTHING)
                outcomes[i] = Ingested(
                    str(event["subject_id"]), str(event["subject_type"]), cause, False,
                    plain_changes(rows), planned, summary.messages if summary else 0, as_of,
                )  # fmt: skip
    return [_resolved(o, outcomes) for o in outcomes]


def _linked_batch(live: LiveStores, subjects: Collection[tuple[str, str]], as_of: date) -> bool:
    """Whether the batch's subjects have households or employments on record."""
    touched = Touched(
        residents=frozenset(sid for kind, sid in subjects if kind == "resident"),
        enterprises=frozenset(sid for kind, sid in subjects if kind == "enterprise"),
    )
    with live.engine.connect() as conn:
        source = bound_to(live.source, conn)
        return has_links(neighbourhood(source, touched, as_of, tagged=False))


def _resolved(outcome: Outcome | int | None, outcomes: Sequence[Outcome | int | None]) -> Outcome:
    """An item's outcome; a repeat of an earlier item of its batch answers as a resend would."""
    if isinstance(outcome, int):
        earlier = outcomes[outcome]
        assert isinstance(earlier, Ingested)
        told = bool(earlier.changes)
        return replace(
            earlier, duplicate=True, planned=earlier.planned if told else dict(_NOTHING),
            messages=earlier.messages if told else 0, as_of=earlier.as_of if told else None,
        )  # fmt: skip
    assert outcome is not None
    return outcome


def _stored_events(
    conn: Connection, table: sa.Table, subject_ids: Collection[str]
) -> dict[tuple[str, Any, Any], int]:
    """The events already stored for ``subject_ids``: (subject, item, time) -> event id."""
    ids = sorted(subject_ids)
    found: dict[tuple[str, Any, Any], int] = {}
    for start in range(0, len(ids), 500):
        query = sa.select(
            table.c.event_id, table.c.subject_id, table.c.item_code, table.c.occurred_at
        ).where(table.c.subject_id.in_(ids[start : start + 500]))
        for event_id, sid, item, at in conn.execute(query):
            found.setdefault((str(sid), str(item), at), int(event_id))
    return found
