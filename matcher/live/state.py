"""A subject's state as event-driven matching starts from, and the re-match of one change.

The state is the subject as its :class:`~matcher.live.source.SubjectSource` knows it (the
record, else None for a subject nobody has sent yet; its events) and its offers as "my offers"
shows them (:func:`~matcher.live.offers.current_offers`: the latest run's with the changes
ingested since laid over them).  :func:`rematcher` loads it into an
:class:`~matcher.events.EventMatcher` on the as-of date of :func:`~matcher.live.source.live_as_of`,
which re-evaluates only the policies reading a changed field or tag.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection, Engine

from matcher.events import EventMatcher
from matcher.live.offers import OfferCache, offers_now
from matcher.live.serial import SubjectLocks
from matcher.live.source import (
    SubjectSource,
    bound_to,
    live_as_of,
    load_subjects,
    tag_library,
    today_local,
)
from matcher.runs import Run, RunStore
from profiles.schema import Entity, Schema

if TYPE_CHECKING:
    from rules.policy import Policy

__all__ = ["LiveStores", "Status", "SubjectState", "load_state", "load_states", "rematcher"]

Status = tuple[str, Decimal | None]


@dataclass(frozen=True)
class LiveStores:
    """What event-driven matching reads and writes: the database, the recorded runs, the
    latest run's offers indexed by subject, and where subjects are read from."""

    engine: Engine
    runs: RunStore
    offers: OfferCache
    source: SubjectSource
    locks: SubjectLocks = field(default_factory=SubjectLocks)  # one ingestion per subject

    def as_of(self, today: date | None = None) -> date:
        """The date subjects are evaluated on now (:func:`~matcher.live.source.live_as_of`)."""
        return self.now(today)[1]

    def now(self, today: date | None = None) -> tuple[Run | None, date]:
        """The latest run and :meth:`as_of`, read once (a request passes the run on)."""
        latest = self.runs.latest()
        return latest, live_as_of(today or today_local(), latest.as_of if latest else None)


@dataclass(frozen=True)
class SubjectState:
    subject_id: str
    entity: Entity
    record: dict[str, Any] | None  # None: a subject nobody has sent yet
    events: list[dict[str, Any]]
    matches: dict[str, Status]  # policy id -> (status, benefit): latest run + changes since
    run_id: int | None


def load_state(
    live: LiveStores, subject_id: str, entity_name: str, conn: Connection | None = None,
    run: Run | None = None,
) -> SubjectState:  # fmt: skip
    """Everything event-driven matching needs to know about ``subject_id`` (an ``entity_name``),
    read through ``conn`` if given (the transaction that holds the subject's lock); ``run``:
    the latest run, if the caller has read it already."""
    if conn is None:
        with live.engine.connect() as own:
            return load_states(live, [subject_id], entity_name, own, run)[subject_id]
    return load_states(live, [subject_id], entity_name, conn, run)[subject_id]


def load_states(
    live: LiveStores, subject_ids: Collection[str], entity_name: str, conn: Connection,
    run: Run | None = None,
) -> dict[str, SubjectState]:  # fmt: skip
    """:func:`load_state` of many subjects of one kind at once: one read of each table (per
    500 subjects) and the population file's index, not one per subject (``run``: the latest
    run, if the caller has read it already)."""
    source = bound_to(live.source, conn)
    entity = source.schema.entity(entity_name)
    ids = sorted(set(subject_ids))
    run, offers = offers_now(conn, live.runs, live.offers, ids, run)
    found = load_subjects(source, ids, entity_name)
    homes = {
        sid: str(s.record["household_id"])
        for sid, s in found.items()
        if entity_name == "resident" and s.record.get("household_id")
    }
    if homes:
        # A household's offers (its unit's pairs: 低保 once, not per member) are each member's
        # to re-match from: a member's event that ends them ends the household's.
        _, held = offers_now(conn, live.runs, live.offers, set(homes.values()), run)
        for sid, home in homes.items():
            mine = {o.policy_id for o in offers[sid]}
            offers[sid] = [*offers[sid], *(o for o in held[home] if o.policy_id not in mine)]
    unknown = [s for s in ids if s not in found]
    logged = (source.events(unknown) or {}) if unknown else {}
    out = {}
    for sid in ids:
        subject = found.get(sid)
        record = None if subject is None else subject.record
        if subject is None:
            events = [dict(e) for e in logged.get(sid, [])]
        else:
            events = [] if subject.events is None else [dict(e) for e in subject.events]
        matches: dict[str, Status] = {o.policy_id: (o.status, o.benefit) for o in offers[sid]}
        out[sid] = SubjectState(sid, entity, record, events, matches, run.run_id if run else None)
    return out


def rematcher(
    state: SubjectState, policies: Sequence[Policy], schema: Schema, as_of: date
) -> EventMatcher:
    """An event matcher holding ``state`` on ``as_of``, ready for one event or profile change."""
    matcher = EventMatcher(
        policies, tag_library(schema), schema, entity=state.entity.name, as_of=as_of
    )
    assert state.entity.key is not None
    record = state.record if state.record is not None else {state.entity.key: state.subject_id}
    matcher.load(state.subject_id, record, state.events, state.matches)
    return matcher
