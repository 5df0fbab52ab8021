"""The resident's and firm's own console page (消息中心) and its forms.

Offers (eligible / maybe, amount), 免申即享 grants and notices; "why am I seeing this" with each
clause in plain words and the subject's own values; objecting to or declining a grant, opting
out per channel and per category, the personalisation choice, rating 好/差 and marking a message
read.  Each form goes through the JSON endpoint's own handler (its checks, its audit entry), so
the page and the API cannot drift apart; an error comes back as the page with the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from api.app.auth import SUBJECT_ROLES, User
from api.app.i18n import language_of, words
from api.app.pages import render, user_or_none
from api.app.services import Services, services
from core.errors import ZhidaError
from core.settings import get_settings
from matcher.live.offers import current_offers
from notifier.contacts import CHANNELS

if TYPE_CHECKING:
    from notifier.applications import Application
    from notifier.grants import Objection

__all__ = ["SUBJECT_CONSOLE_ROUTES", "message_centre"]

# The inbox is every subject's last resort; the others can be switched off.
_OPTIONAL_CHANNELS = tuple(c for c in CHANNELS if c != "inbox")


def message_centre(
    request: Request[Any, Any, Any], svc: Services, user: User, saved: str,
    error: str | None = None, *, field_errors: Mapping[int, str] | None = None,
    drafts: Mapping[int, str] | None = None,
) -> Template:  # fmt: skip
    """The resident's or firm's own page: offers, grants, notices, preferences, ratings.

    ``field_errors`` puts a grant's objection error beside its text box (the form open, what
    was typed in ``drafts`` kept); ``error`` is a message for the whole page.
    """
    from notifier.applications import ApplicationStore
    from notifier.receipts import ReceiptStore
    from profiles.personalisation import PersonalisationStore

    assert user.subject_id is not None
    subject = user.subject_id
    offers = [
        {
            "policy_id": o.policy_id,
            "status": o.status,
            "benefit": o.benefit,
            "for_subject": o.for_subject,
        }
        for o in current_offers(svc.engine, svc.runs, svc.offers, subject)[1]
    ]
    as_of = svc.live.as_of()  # the date the offers and their explanations are evaluated on
    catalog = svc.policies.catalog(as_of)
    audience = user.subject_type or SUBJECT_ROLES[user.role]
    categories = sorted(
        {p.category for p in catalog.policies if p.category and p.audience == audience}
    )
    contact = svc.contacts.load([subject]).get(subject)
    ratings = {
        r.policy_id: r.rating for r in ReceiptStore(svc.engine).for_subject(subject)
        if r.event == "rated"
    }  # fmt: skip
    return render(
        request, "subject.html", status=400 if error or field_errors else 200, user=user,
        offers=offers,
        titles={p.id: p.title for p in catalog.policies}, grants=svc.grants.of(subject),
        messages=svc.inbox.messages(subject, limit=20), channels=_OPTIONAL_CHANNELS,
        off_channels=contact.opt_out_channels if contact else frozenset(),
        categories=categories,
        off_categories=contact.opt_out_categories if contact else frozenset(),
        personalised=PersonalisationStore(svc.engine).personalised(
            subject, default=get_settings().personalised
        ),
        ratings=ratings, saved=saved, error=error, today=date.today(),
        periods={p.id: p.benefit_period for p in catalog.policies},
        applications=_open_applications(ApplicationStore(svc.engine).of(subject)),
        objections=_by_grant(svc.grants.objections_of(subject)),
        field_errors=field_errors or {}, drafts=drafts or {},
    )  # fmt: skip


def _open_applications(drafts: list[Application]) -> dict[str, Application]:
    """The newest unconfirmed pre-filled application of each policy."""
    out: dict[str, Application] = {}
    for d in drafts:  # newest first
        if d.confirmed_at is None:
            out.setdefault(d.policy_id, d)
    return out


def _by_grant(objections: list[Objection]) -> dict[int, list[Objection]]:
    out: dict[int, list[Objection]] = {}
    for o in objections:
        out.setdefault(o.grant_id, []).append(o)
    return out


@get("/console/why/{policy_id:str}", include_in_schema=False)
async def why(request: Request[Any, Any, Any], policy_id: FromPath[str]) -> Response[Any]:
    return await to_thread.run_sync(_why, request, policy_id)


def _why(request: Request[Any, Any, Any], policy_id: str) -> Response[Any]:
    from api.app.routes.explain import explain_for

    user = user_or_none(request)
    if user is None or user.subject_id is None:
        return Redirect("/console/login", status_code=303)
    svc = services(request)
    try:
        explanation = explain_for(svc, user.subject_id, policy_id)
    except ZhidaError as err:
        return render(request, "why.html", status=err.http_status, user=user, error=err.message,
                     e=None, clauses=[])  # fmt: skip
    policy = svc.policies.catalog(svc.live.as_of()).by_id.get(policy_id)
    return render(
        request, "why.html", user=user, error=None, e=explanation, policy=policy,
        clauses=_plain_clauses(explanation.clauses, user, language_of(request)),
        unknown=[_field_label(f, user, language_of(request)) for f in explanation.unknown_fields],
    )  # fmt: skip


def _plain_clauses(clauses: list[dict[str, Any]], user: User, lang: str) -> list[dict[str, Any]]:
    """Each clause in words, with the subject's own values beside it (it is their data)."""
    from profiles.schema import load_schema
    from rules.plain_words import plain_clause, plain_value, tag_names

    entity = load_schema().entity(user.subject_type or SUBJECT_ROLES[user.role])
    tags = tag_names()
    return [
        {
            "words": plain_clause(c["text"], entity, lang, tags),
            "text": c["text"],
            "result": c["result"],
            "values": [
                (_field_label(name, user, lang), plain_value(value, lang, entity.by_name.get(name)))
                for name, value in (c.get("values") or {}).items()
                if name != "tags"
            ],
        }
        for c in clauses
    ]


def _field_label(name: str, user: User, lang: str) -> str:
    from profiles.schema import load_schema

    entity = load_schema().entity(user.subject_type or SUBJECT_ROLES[user.role])
    found = entity.by_name.get(name)
    if found is None:
        return name
    return (found.name_zh or name) if lang == "zh" else name.replace("_", " ")


def _subject_or_redirect(request: Request[Any, Any, Any]) -> User | Redirect:
    user = user_or_none(request)
    if user is None or user.subject_id is None or user.role not in SUBJECT_ROLES:
        return Redirect("/console/login", status_code=303)
    return user


@post("/console/preferences", include_in_schema=False)
async def preferences_form(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await request.form()
    return await to_thread.run_sync(_preferences, request, form)


def _preferences(request: Request[Any, Any, Any], form: Any) -> Response[Any]:
    """Opt out per channel and per category, and the personalisation choice, in one form."""
    from api.app.routes.subjects import Preferences, set_preferences
    from profiles.personalisation import PersonalisationStore

    user = _subject_or_redirect(request)
    if isinstance(user, Redirect):
        return user
    svc = services(request)
    subject = user.subject_id
    assert subject is not None
    old = svc.contacts.load([subject]).get(subject)
    off_channels = [c for c in form.getall("off_channel", []) if c]
    if form.get("sms_off"):  # the form of the first console, kept for old bookmarks
        off_channels.append("sms")
    wanted = Preferences(
        channels=list(old.channels) if old else [],
        opt_out_channels=sorted(set(off_channels)),
        opt_out_categories=sorted({c for c in form.getall("off_category", []) if c}),
        locale=old.locale if old else language_of(request),
    )
    try:
        # The same handler as PUT /api/v1/subjects/{id}/preferences: one set of checks.
        set_preferences.fn(request, subject_id=subject, data=wanted)
    except ZhidaError as err:
        return message_centre(request, svc, user, "", error=err.message)
    PersonalisationStore(svc.engine).choose(
        subject, user.subject_type or SUBJECT_ROLES[user.role],
        personalised=form.get("personalised") == "on",
    )  # fmt: skip
    return Redirect("/console?saved=preferences#preferences", status_code=303)


@post("/console/grants/{grant_id:int}/objection", include_in_schema=False)
async def objection_form(request: Request[Any, Any, Any], grant_id: FromPath[int]) -> Response[Any]:
    form = await request.form()
    return await to_thread.run_sync(_objection, request, grant_id, form)


def _objection(request: Request[Any, Any, Any], grant_id: int, form: Any) -> Response[Any]:
    from api.app.routes.subjects import ObjectionIn, object_to_grant

    user = _subject_or_redirect(request)
    if isinstance(user, Redirect):
        return user
    kind = "decline" if form.get("kind") == "decline" else "objection"
    text = str(form.get("text") or "").strip()
    if kind == "decline" and not text:
        text = "不再领取 / declined"
    if not text:  # said beside the text box, in the page's language, the form left open
        svc = services(request)
        own = {g.id for g in svc.grants.of(user.subject_id or "")}
        if grant_id in own:
            problem = words(language_of(request))["objection_empty"]
            return message_centre(request, svc, user, "", field_errors={grant_id: problem})
    try:
        # The objection endpoint's own handler: ownership check, store, audit entry.
        object_to_grant.fn(request, subject_id=user.subject_id, grant_id=grant_id,
                           data=ObjectionIn(text=text, kind=kind))  # fmt: skip
    except ZhidaError as err:
        return message_centre(request, services(request), user, "", error=err.message)
    return Redirect(f"/console?saved={kind}#grants", status_code=303)


@post("/console/feedback", include_in_schema=False)
async def feedback_form(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await request.form()
    return await to_thread.run_sync(_feedback, request, form)


def _feedback(request: Request[Any, Any, Any], form: Any) -> Response[Any]:
    from api.app.routes.subjects import FeedbackIn, feedback

    user = _subject_or_redirect(request)
    if isinstance(user, Redirect):
        return user
    data = FeedbackIn(policy_id=str(form.get("policy_id") or ""), rating=str(form.get("rating")))
    try:
        feedback.fn(request, subject_id=user.subject_id, data=data)
    except ZhidaError as err:
        return message_centre(request, services(request), user, "", error=err.message)
    return Redirect("/console?saved=rating#offers", status_code=303)


@post("/console/inbox/{message_id:int}/read", include_in_schema=False)
async def read_form(request: Request[Any, Any, Any], message_id: FromPath[int]) -> Response[Any]:
    return await to_thread.run_sync(_read, request, message_id)


def _read(request: Request[Any, Any, Any], message_id: int) -> Response[Any]:
    from api.app.routes.subjects import mark_read

    user = _subject_or_redirect(request)
    if isinstance(user, Redirect):
        return user
    try:
        # The API's handler: the subject's own message only; the first reading is the receipt.
        mark_read.fn(request, subject_id=user.subject_id, message_id=message_id)
    except ZhidaError as err:
        return message_centre(request, services(request), user, "", error=err.message)
    return Redirect(f"/console#message-{message_id}", status_code=303)


SUBJECT_CONSOLE_ROUTES = [
    why, preferences_form, objection_form, feedback_form, read_form,
]  # fmt: skip
