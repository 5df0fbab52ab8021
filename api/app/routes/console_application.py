"""The pre-filled application (直达快享) in the console: ``/console/apply/{token}``.

A fast-track invitation links to ``/apply/{token}`` (:mod:`notifier.message_items`), which sends
the reader here.  The page lists what the form takes from the records (the applicant's fields and
what the policy's rule reads, :func:`notifier.applications.form_fields` and ``prefill``), what
no record has, the conditions checked at application (each confirmed by a tick), the materials
and where to apply, and the amount with its period.  The applicant confirms it with one form;
a condition left unticked is said beside that condition, in the page's language, and nothing is
stored.

Who sees it: the applicant (their own values; identifiers partly hidden, as any page a phone
may show) or, for a child's or a household's, the guardian or head the invitation went to; the
officers of the policy's department and admins.  Staff see every field the
schema does not mark ordinary masked (:func:`api.app.masking.shown`, as the test panel), and
each staff reading is a ``profile.read`` in the audit log; anyone else gets the same 404 as a
token that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from api.app.access import source_of
from api.app.auth import SUBJECT_ROLES, User
from api.app.i18n import language_of, words
from api.app.masking import derived_masked, mask, shown
from api.app.pages import render, user_or_none
from api.app.services import Services, services
from core.errors import NotFoundError
from matcher.live.source import find_subject, tag_library
from notifier.applications import (
    AlreadyConfirmedError,
    Application,
    ApplicationStore,
    form_fields,
    prefill,
)
from rules.policy import Policy

__all__ = ["APPLICATION_ROUTES"]

_STAFF = ("officer", "admin")


@get("/apply/{token:str}", include_in_schema=False)
async def invitation_link(token: FromPath[str]) -> Redirect:
    """The link a fast-track invitation carries: the console's application page."""
    return Redirect(f"/console/apply/{token}", status_code=303)


@get("/console/apply/{token:str}", include_in_schema=False)
async def application_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    return await to_thread.run_sync(_page, request, token, None)


@post("/console/apply/{token:str}", include_in_schema=False)
async def confirm_form(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    form = await request.form()
    return await to_thread.run_sync(_confirm, request, token, form)


def _visible(svc: Services, user: User, application: Application, policy: Policy | None) -> bool:
    if user.role in SUBJECT_ROLES:
        if user.subject_id is None:
            return False
        own = user.subject_id == application.subject_id
        # A child's or household's application: the guardian or head the invitation went to.
        return own or ApplicationStore(svc.engine).told_to(application.token, user.subject_id)
    if user.role == "admin":
        return True
    return user.role == "officer" and policy is not None and user.department == policy.department


def _find(
    request: Request[Any, Any, Any], token: str
) -> tuple[User, Services, Application, Policy | None] | Response[Any]:
    user = user_or_none(request)
    if user is None:
        return Redirect("/console/login", status_code=303)
    if user.role not in (*SUBJECT_ROLES, *_STAFF):
        needed = ", ".join(("resident", "enterprise", *_STAFF))
        return render(request, "denied.html", status=403, user=user, needed=needed)
    svc = services(request)
    # One message for a token that does not exist and one that is someone else's (no leak).
    missing = words(language_of(request))["app_not_found"]
    try:
        application = ApplicationStore(svc.engine).get(token)
    except NotFoundError:
        return render(request, "application.html", status=404, user=user, error=missing)
    policy = svc.policies.catalog(svc.live.as_of()).by_id.get(application.policy_id)
    if not _visible(svc, user, application, policy):
        return render(request, "application.html", status=404, user=user, error=missing)
    return user, svc, application, policy


def _page(
    request: Request[Any, Any, Any],
    token: str,
    problems: dict[int, str] | None,
    ticked: frozenset[int] = frozenset(),
) -> Response[Any]:
    from profiles.schema import load_schema
    from rules.evaluator import evaluate_benefit
    from rules.language import parse_rule
    from rules.plain_words import plain_value

    found = _find(request, token)
    if not isinstance(found, tuple):
        return found
    user, svc, application, policy = found
    lang = language_of(request)
    if policy is None:
        gone = words(lang)["not_in_force"] + f" {application.policy_id}"
        return render(request, "application.html", status=404, user=user, error=gone)
    staff = user.role not in SUBJECT_ROLES
    schema = load_schema()
    entity = schema.entity(policy.audience)
    as_of = svc.live.as_of()
    subject = find_subject(svc.subjects, application.subject_id)
    record = dict(subject.derived(as_of, tag_library(schema))) if subject is not None else {}
    rule = parse_rule(policy.eligibility, entity)
    names = form_fields(entity, rule.fields)
    filled, missing = prefill(names, record, application.fields)
    if staff:  # a person-level read by staff: audited as the test panel's
        svc.audit.append(
            actor=user.username, role=user.role, action="profile.read", entity_type="subject",
            entity_id=application.subject_id, source=source_of(request),
            details={"what": "pre-filled application", "policy_id": policy.id},
        )  # fmt: skip
    rows = []
    for name, value in filled.items():
        f = entity.by_name[name]
        if staff and f.masked:
            said = shown(value, f.sensitivity)
        elif f.sensitivity == "identifier":
            said = mask(value)  # the applicant's own, partly hidden on a screen others see
        else:
            said = plain_value(value, lang, f)
        rows.append(((f.name_zh or f.zh) if lang == "zh" else name.replace("_", " "), said))
    benefit: Any = None
    if policy.benefit:
        benefit_rule = parse_rule(policy.benefit, entity, kind="benefit")
        benefit = evaluate_benefit(benefit_rule, record, as_of=as_of) if record else None
        if staff and benefit is not None and derived_masked(benefit_rule.fields, entity):
            benefit = "***"
    unknown = [
        (entity.by_name[n].name_zh or n) if lang == "zh" else n.replace("_", " ") for n in missing
    ]
    return render(
        request, "application.html", status=422 if problems else 200, user=user, error=None,
        application=application, policy=policy, rows=rows, unknown=unknown, staff=staff,
        applicant=mask(application.subject_id), benefit=benefit, problems=problems or {},
        ticked=ticked, saved=request.query_params.get("saved", ""),
    )  # fmt: skip


def _confirm(request: Request[Any, Any, Any], token: str, form: Any) -> Response[Any]:
    found = _find(request, token)
    if not isinstance(found, tuple):
        return found
    user, svc, application, policy = found
    if user.role not in SUBJECT_ROLES or policy is None:  # only the applicant applies
        return _page(request, token, None)
    said = {str(v) for v in form.getall("confirm", [])}
    ticked = frozenset(i for i in range(len(policy.application_conditions)) if str(i) in said)
    unticked = {
        i: words(language_of(request))["app_confirm_each"]
        for i in range(len(policy.application_conditions))
        if i not in ticked
    }
    if unticked:  # each said beside its condition; what was ticked stays ticked
        return _page(request, token, unticked, ticked)
    try:
        ApplicationStore(svc.engine).confirm(token, now=datetime.now(UTC))
    except AlreadyConfirmedError:
        already = words(language_of(request))["app_already"]
        return render(request, "application.html", status=409, user=user, error=already)
    svc.audit.append(
        actor=user.username, role=user.role, action="application.confirm",
        entity_type="application", entity_id=token, source=source_of(request),
        details={"policy_id": application.policy_id},
    )  # fmt: skip
    return Redirect(f"/console/apply/{token}?saved=applied", status_code=303)


APPLICATION_ROUTES = [invitation_link, application_page, confirm_form]
