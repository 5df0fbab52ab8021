"""Ingestion: profiles (一人一档 / 一企一档) and service events, and the offers they change.

A department's system holds an admin token: ``PUT /api/v1/profiles/{entity}/{id}`` creates or
replaces a record, ``POST /api/v1/events`` adds a service event; either answers with the offers
it changed and the notices planned (:mod:`notifier.ingest` decides, on the as-of date of
:func:`matcher.live.source.live_as_of`).  ``POST /api/v1/events/batch`` takes a JSON array of
events (or NDJSON: one event object per line, ``Content-Type: application/x-ndjson``) and answers
each by its index, as if they had been sent one by one.  A resident or firm
(or an admin) reads its own changes since the latest match run at
``GET /api/v1/subjects/{id}/changes``.  Writes are audited (a batch as one entry).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import anyio
from litestar import Request, Response, get, post, put
from litestar.params import FromPath, JSONBody

from api.app.access import allow, current_user, source_of
from api.app.errors import error_body
from api.app.routes.subjects import check_caller, subject_guard
from api.app.services import Services, services
from core.errors import NotFoundError, ValidationError
from matcher.live.checks import FieldProblem
from matcher.live.ledger import changes_since
from notifier.ingest import (
    Ingested,
    Outcome,
    ingest_employment,
    ingest_event,
    ingest_events,
    ingest_profile,
)
from rules.loader import Catalog

__all__ = ["INGEST_ROUTES", "BatchItem", "BatchOut", "IngestOut", "OfferChange", "StoredChange"]

_ingesters = allow("admin")


@dataclass(frozen=True)
class OfferChange:
    policy_id: str
    change: str  # newly_eligible | newly_maybe | maybe_to_eligible | eligible_to_maybe | ...
    old_status: str | None
    new_status: str | None
    old_benefit: str | None  # yuan per benefit period, a decimal string
    new_benefit: str | None


@dataclass(frozen=True)
class IngestOut:
    subject_id: str
    subject_type: str
    cause: str  # "event N" or "profile ID TIME": what the changes and notices are recorded under
    duplicate: bool  # the same event was sent before; nothing new was stored
    created: bool  # a new subject (profiles) / a new event (events)
    changes: list[OfferChange]  # offers changed, as in a run diff
    planned: dict[str, int]  # the planner's decisions: planned, deferred, suppressed
    messages: int  # notices written to the outbox


def _out(result: Ingested, created: bool) -> IngestOut:
    return IngestOut(
        result.subject_id, result.subject_type, result.cause, result.duplicate, created,
        [OfferChange(**c) for c in result.changes], result.planned, result.messages,
    )  # fmt: skip


def _published(svc: Services) -> Callable[[date], Catalog]:
    """The published catalog in force on a date (cached per catalog version and date)."""
    return lambda as_of: svc.dry_runs.published.get(svc.policies, as_of)[1].catalog


def _audit(request: Request[Any, Any, Any], action: str, result: Ingested) -> None:
    user = current_user(request)
    services(request).audit.append(
        actor=user.username, role=user.role, action=action, entity_type="subject",
        entity_id=result.subject_id, source=source_of(request),
        details={"cause": result.cause, "changes": len(result.changes)},
    )  # fmt: skip


@put(
    "/api/v1/profiles/{entity:str}/{subject_id:str}",
    guards=[_ingesters], sync_to_thread=True, tags=["ingestion"],
)  # fmt: skip
def put_profile(
    request: Request[Any, Any, Any],
    entity: FromPath[str],
    subject_id: FromPath[str],
    data: JSONBody[dict[str, Any]],
) -> Response[IngestOut]:
    """Create or replace a resident's or firm's record; fields not sent become unknown.

    Every field is checked against the profile schema (a bad one is named, with what was
    expected); on any problem nothing is stored.  201 for a new subject, 200 for a replaced one.
    """
    if entity not in ("resident", "enterprise"):
        raise NotFoundError(f"no profile kind {entity!r}; use resident or enterprise")
    svc = services(request)
    result, created = ingest_profile(
        svc.live, _published(svc), svc.live.as_of(), entity, subject_id, data
    )
    _audit(request, "profile.write", result)
    return Response(_out(result, created), status_code=201 if created else 200)


@post("/api/v1/events", guards=[_ingesters], sync_to_thread=True, tags=["ingestion"])
def post_event(
    request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
) -> Response[IngestOut]:
    """Add one service event (办件记录): its subject's tags and affected offers are re-matched.

    Body: ``subject_id``, ``subject_type``, ``item_code``, ``occurred_at`` (schema fields).
    201 with the offers it changed; the same event again is a 200 with ``duplicate`` true.
    """
    svc = services(request)
    run, as_of = svc.live.now()
    result = ingest_event(svc.live, _published(svc), as_of, data, run=run)
    if not result.duplicate:
        _audit(request, "event.ingest", result)
    return Response(
        _out(result, not result.duplicate), status_code=200 if result.duplicate else 201
    )


@post("/api/v1/employments", guards=[_ingesters], sync_to_thread=True, tags=["ingestion"])
def post_employment(
    request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
) -> Response[IngestOut]:
    """Create or replace one employment (a hire a firm files, or a job that ended).

    Body: ``person_id``, ``enterprise_id``, ``hired_on`` (together its key), and ``left_on``
    (null while employed), ``contract_months``, ``unemployment_insurance_months``.  The person
    and the firm must be known (send their profiles first).  Every unit it changes is
    re-matched: the firm's staff counts and hires, the person's household.  201 for a new
    employment, 200 for a replaced one; the answer is the firm's.
    """
    svc = services(request)
    result, created = ingest_employment(svc.live, _published(svc), svc.live.as_of(), data)
    _audit(request, "employment.write", result)
    return Response(_out(result, created), status_code=201 if created else 200)


MAX_BATCH = 5000  # events per batch: a few seconds of work and one transaction's locks


NDJSON = ("application/x-ndjson", "application/jsonl")


def batch_events(body: bytes, media_type: str) -> list[Any]:
    r"""The events of a batch body: a JSON array, or NDJSON when ``media_type`` says so.

    >>> batch_events(b'[{"a": 1}]', "application/json")
    [{'a': 1}]
    >>> batch_events(b'{"a": 1}\n\n{"a": 2}\n', "application/x-ndjson")
    [{'a': 1}, {'a': 2}]
    >>> batch_events(b'{"a": 1}\n{"a": ', "application/x-ndjson")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    core.errors.ValidationError: line 2 of the NDJSON body is not a JSON value (...); send ...
    """
    events: list[Any] = []
    if media_type in NDJSON:
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except ValueError as exc:
                raise ValidationError(
                    f"line {number} of the NDJSON body is not a JSON value ({exc}); "
                    "send one complete event object per line"
                ) from None
            if len(events) > MAX_BATCH:
                break
    else:
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError as exc:
            raise ValidationError(
                f"the body is not JSON ({exc}); send a JSON array of event objects, or NDJSON "
                "with 'Content-Type: application/x-ndjson'"
            ) from None
        if not isinstance(parsed, list):
            raise ValidationError(
                "the body must be a JSON array of event objects (or NDJSON with "
                "'Content-Type: application/x-ndjson')"
            )
        events = parsed
    if len(events) > MAX_BATCH:
        raise ValidationError(
            f"a batch holds at most {MAX_BATCH} events, this one more; split it into "
            f"batches of {MAX_BATCH} or fewer"
        )
    return events


@dataclass(frozen=True)
class BatchItem:
    index: int  # the item's place in the batch, from 0
    status: int  # 201 stored, 200 a duplicate (sent before), 422 does not fit, 404 unknown subject
    result: IngestOut | None  # what a single POST /api/v1/events would have answered
    error: dict[str, Any] | None  # why it was refused, as an error body; nothing of it stored


@dataclass(frozen=True)
class BatchOut:
    stored: int
    duplicates: int
    refused: int
    items: list[BatchItem]  # one per item, in the batch's order


def _item(index: int, outcome: Outcome) -> BatchItem:
    if isinstance(outcome, Ingested):
        status = 200 if outcome.duplicate else 201
        return BatchItem(index, status, _out(outcome, not outcome.duplicate), None)
    problems = [
        {"field": p.field, "message": p.detail}
        for p in getattr(outcome, "problems", ())
        if isinstance(p, FieldProblem)
    ]
    extra = {"problems": problems} if problems else {}
    body = error_body(outcome.http_status, type(outcome).__name__, outcome.message, **extra)
    return BatchItem(index, outcome.http_status, None, body["error"])


@post("/api/v1/events/batch", guards=[_ingesters], tags=["ingestion"], status_code=200)
async def post_events(request: Request[Any, Any, Any]) -> Response[BatchOut]:
    """Add many service events at once: a JSON array of up to 5,000 event objects, or the same
    as NDJSON (``Content-Type: application/x-ndjson``, one object per line, blank lines ignored),
    the form a department's export usually streams.

    Each item is answered in ``items`` by its index, as ``POST /api/v1/events`` would have
    answered it had the items been sent one by one in order: 201 stored (with the offers it
    changed), 200 a duplicate, 422 an event that does not fit the schema (each bad field
    named), 404 a subject nobody has sent.  A refused item stores nothing; the others are
    stored, matched and planned in one transaction.  The answer is 200 when every item was
    stored or a duplicate, 207 when some were refused (resend those, fixed).
    """
    events = batch_events(await request.body(), request.content_type[0])
    return await anyio.to_thread.run_sync(_ingest_batch, request, events)


def _ingest_batch(request: Request[Any, Any, Any], events: list[Any]) -> Response[BatchOut]:
    svc = services(request)
    run, as_of = svc.live.now()
    outcomes = ingest_events(svc.live, _published(svc), as_of, events, run=run)
    items = [_item(i, o) for i, o in enumerate(outcomes)]
    done = [o for o in outcomes if isinstance(o, Ingested)]
    stored = [o for o in done if not o.duplicate]
    out = BatchOut(len(stored), len(done) - len(stored), len(outcomes) - len(done), items)
    if stored:
        user = current_user(request)
        svc.audit.append(
            actor=user.username, role=user.role, action="event.ingest_batch",
            entity_type="subject", entity_id=f"{len({o.subject_id for o in stored})} subjects",
            source=source_of(request),
            details={"causes": [o.cause for o in stored],
                     "changes": sum(len(o.changes) for o in stored)},
        )  # fmt: skip
    return Response(out, status_code=200 if out.refused == 0 else 207)


@dataclass(frozen=True)
class StoredChange:
    policy_id: str
    change: str
    old_status: str | None
    new_status: str | None
    old_benefit: Decimal | None
    new_benefit: Decimal | None
    cause: str
    as_of: date
    run_id: int | None  # the match run these changes are on top of


@get(
    "/api/v1/subjects/{subject_id:str}/changes",
    guards=[subject_guard], sync_to_thread=True, tags=["subjects"],
)  # fmt: skip
def subject_changes(
    request: Request[Any, Any, Any], subject_id: FromPath[str]
) -> list[StoredChange]:
    """Offers changed by events and profile updates since the latest match run, oldest first."""
    check_caller(request, subject_id, "changes")
    svc = services(request)
    latest = svc.runs.latest()
    fields = StoredChange.__dataclass_fields__
    return [
        StoredChange(**{k: v for k, v in row.items() if k in fields})
        for row in changes_since(svc.engine, subject_id, latest.run_id if latest else None)
    ]


INGEST_ROUTES = [put_profile, post_event, post_events, post_employment, subject_changes]
