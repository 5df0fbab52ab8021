"""One subject's own data: offers, inbox, grants, objections, preferences and opt-outs.

Every path names the subject; :func:`~api.app.access.check_subject` keeps a resident or firm to
its own (another id is a 404, like an id that does not exist).  Reads by anyone other than the
subject itself are profile reads and go to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from litestar import Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.app.access import allow, check_subject, current_user, source_of
from api.app.auth import SUBJECT_ROLES
from api.app.services import services
from core.errors import NotFoundError, ValidationError
from matcher.live.offers import current_offers
from notifier.channels.inbox import InboxMessage
from notifier.contacts import CHANNELS
from notifier.grants import Grant, Objection

__all__ = [
    "SUBJECT_ROUTES",
    "FeedbackIn",
    "ObjectionIn",
    "Offer",
    "Preferences",
    "check_caller",
    "subject_guard",
]

subject_guard = allow("resident", "enterprise", "admin")
_owner_guard = allow("resident", "enterprise")


@dataclass(frozen=True)
class Offer:
    policy_id: str
    status: str  # eligible | maybe
    benefit: Decimal | None
    run_id: int | None  # the latest match run (None before the first one)
    as_of: date | None  # the run's date, or the day an ingested change set the offer
    cause: str | None = None  # the ingested profile or event that set it since the run
    # Whose offer it is when the caller is told of it for another: their household's (e.g.
    # 低保, told to the head), their child's (育儿补贴, told to one guardian); null: their own.
    for_subject: str | None = None


@dataclass(frozen=True)
class Preferences:
    channels: list[str] = field(default_factory=list)  # preference order; empty: default order
    opt_out_channels: list[str] = field(default_factory=list)
    opt_out_categories: list[str] = field(default_factory=list)  # "*": every invitation
    locale: str = "zh"


@dataclass(frozen=True)
class ObjectionIn:
    text: str
    kind: str = "objection"  # objection | decline


def check_caller(request: Request[Any, Any, Any], subject_id: str, what: str) -> None:
    """Check the caller may read ``subject_id``; audit it when it is not their own."""
    user = current_user(request)
    check_subject(user, subject_id)
    if user.role not in SUBJECT_ROLES:
        services(request).audit.append(
            actor=user.username, role=user.role, action="profile.read", entity_type="subject",
            entity_id=subject_id, source=source_of(request), details={"what": what},
        )  # fmt: skip


@get(
    "/api/v1/subjects/{subject_id:str}/offers",
    guards=[subject_guard],
    sync_to_thread=True,
    tags=["subjects"],
)
def offers(request: Request[Any, Any, Any], subject_id: FromPath[str]) -> list[Offer]:
    """What the subject qualifies for (eligible) or may (maybe): the latest match run's offers
    with the changes ingested since (a profile or service event) applied, each such offer
    naming its ``cause``; then the offers the subject is told of for another (their
    household's, their child's), each naming that subject in ``for_subject``."""
    check_caller(request, subject_id, "offers")
    svc = services(request)
    run, current = current_offers(svc.engine, svc.runs, svc.offers, subject_id)
    run_id = run.run_id if run else None
    return [
        Offer(o.policy_id, o.status, o.benefit, run_id, o.as_of, o.cause, o.for_subject)
        for o in current
    ]


@get(
    "/api/v1/subjects/{subject_id:str}/inbox",
    guards=[subject_guard],
    sync_to_thread=True,
    tags=["subjects"],
)
def inbox(
    request: Request[Any, Any, Any],
    subject_id: FromPath[str],
    unread_only: FromQuery[bool] = False,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    before_id: FromQuery[int | None] = None,
) -> list[InboxMessage]:
    """The message centre, newest first; ``before_id`` pages on."""
    check_caller(request, subject_id, "inbox")
    return services(request).inbox.messages(
        subject_id, unread_only=unread_only, limit=limit, before_id=before_id
    )


@post(
    "/api/v1/subjects/{subject_id:str}/inbox/{message_id:int}/read",
    guards=[_owner_guard], status_code=200, sync_to_thread=True, tags=["subjects"],
)  # fmt: skip
def mark_read(
    request: Request[Any, Any, Any], subject_id: FromPath[str], message_id: FromPath[int]
) -> InboxMessage:
    """Mark a message read (the first reading counts as the read receipt)."""
    check_caller(request, subject_id, "inbox")
    return services(request).inbox.mark_read(subject_id, message_id)


@get(
    "/api/v1/subjects/{subject_id:str}/grants",
    guards=[subject_guard],
    sync_to_thread=True,
    tags=["subjects"],
)
def grants(request: Request[Any, Any, Any], subject_id: FromPath[str]) -> list[Grant]:
    """免申即享 grants of the subject: benefit, dates, objection window, evidence."""
    check_caller(request, subject_id, "grants")
    return services(request).grants.of(subject_id)


@post(
    "/api/v1/subjects/{subject_id:str}/grants/{grant_id:int}/objection",
    guards=[_owner_guard], status_code=201, sync_to_thread=True, tags=["subjects"],
)  # fmt: skip
def object_to_grant(
    request: Request[Any, Any, Any],
    subject_id: FromPath[str],
    grant_id: FromPath[int],
    data: JSONBody[ObjectionIn],
) -> Objection:
    """Object to (or decline) one of the subject's grants; routed to its department."""
    check_caller(request, subject_id, "grants")
    svc = services(request)
    try:
        grant = svc.grants.get(grant_id)
    except NotFoundError:
        grant = None
    if grant is None or grant.subject_id != subject_id:
        raise NotFoundError(f"subject {subject_id!r} has no grant {grant_id}; list its grants")
    objection = svc.grants.object(grant_id, data.text, kind=data.kind, now=datetime.now(UTC))
    user = current_user(request)
    svc.audit.append(
        actor=user.username, role=user.role, action=f"grant.{data.kind}", entity_type="grant",
        entity_id=str(grant_id), source=source_of(request),
        details={"policy_id": grant.policy_id, "objection_id": objection.id},
    )  # fmt: skip
    return objection


@get(
    "/api/v1/subjects/{subject_id:str}/preferences",
    guards=[subject_guard],
    sync_to_thread=True,
    tags=["subjects"],
)
def preferences(request: Request[Any, Any, Any], subject_id: FromPath[str]) -> Preferences:
    """Channels in order of preference and what the subject opted out of."""
    check_caller(request, subject_id, "preferences")
    contact = services(request).contacts.load([subject_id]).get(subject_id)
    if contact is None:
        return Preferences()
    return Preferences(
        list(contact.channels), sorted(contact.opt_out_channels),
        sorted(contact.opt_out_categories), contact.locale,
    )  # fmt: skip


@put(
    "/api/v1/subjects/{subject_id:str}/preferences",
    guards=[_owner_guard],
    sync_to_thread=True,
    tags=["subjects"],
)
def set_preferences(
    request: Request[Any, Any, Any], subject_id: FromPath[str], data: JSONBody[Preferences]
) -> Preferences:
    """Replace the subject's channel order and opt-outs (its addresses are kept)."""
    check_caller(request, subject_id, "preferences")
    user = current_user(request)
    svc = services(request)
    for category in data.opt_out_categories:
        if "," in category or not category.strip():
            raise ValidationError(
                f"opt-out category {category!r} is empty or has a comma; give one category "
                "(e.g. 就业) per list item"
            )
    for name in (*data.channels, *data.opt_out_channels):
        if name not in CHANNELS:
            raise ValidationError(
                f"channel {name!r} is not one of {', '.join(CHANNELS)}; fix the preferences"
            )
    old = svc.contacts.load([subject_id]).get(subject_id)
    svc.contacts.replace(
        [
            {
                "subject_id": subject_id,
                "subject_type": user.subject_type or "resident",
                "phone": old.phone if old else None,
                "email": old.email if old else None,
                "webhook_url": old.webhook_url if old else None,
                "locale": data.locale,
                "channels": ",".join(data.channels),
                "opt_out_channels": ",".join(data.opt_out_channels),
                "opt_out_categories": ",".join(data.opt_out_categories),
            }
        ]
    )
    return data


@dataclass(frozen=True)
class FeedbackIn:
    policy_id: str
    rating: str  # good | bad (好 | 差)
    detail: str | None = None


@post(
    "/api/v1/subjects/{subject_id:str}/feedback",
    guards=[_owner_guard], sync_to_thread=True, status_code=201, tags=["subjects"],
)  # fmt: skip
def feedback(
    request: Request[Any, Any, Any], subject_id: FromPath[str], data: JSONBody[FeedbackIn]
) -> dict[str, str]:
    """Rate the service about a policy (好差评); a new rating replaces the previous one."""
    from notifier.receipts import Receipt, ReceiptStore

    check_caller(request, subject_id, "feedback")
    user = current_user(request)
    now = datetime.now(UTC)
    receipt = Receipt(
        None, subject_id, user.subject_type or "resident", data.policy_id, "rated", now,
        rating=data.rating, detail=data.detail,
    )  # fmt: skip
    ReceiptStore(services(request).engine).record(receipt, now=now)
    return {"policy_id": data.policy_id, "rating": str(receipt.rating)}


@get("/api/v1/objections", guards=[allow("officer", "admin")], sync_to_thread=True,
     tags=["objections"])  # fmt: skip
def objections(request: Request[Any, Any, Any]) -> list[Objection]:
    """Objections and declines routed to a department: an officer sees their department's."""
    user = current_user(request)
    department = user.department if user.role == "officer" else None
    return services(request).grants.objections(department)


SUBJECT_ROUTES = [
    offers, inbox, mark_read, grants, object_to_grant, preferences, set_preferences,
    feedback, objections,
]  # fmt: skip
