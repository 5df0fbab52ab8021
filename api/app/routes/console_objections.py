"""Officers answer objections to their department's grants: ``/console/objections``.

A resident's objection to (or decline of) a 免申即享 grant is routed to the grant's department
(:meth:`notifier.grants.GrantStore.object`).  Here an officer sees those of their department (an
admin all of them): the policy, the grant's amount with its period, the resident's text, and
answers each; the resident reads the answer under the grant in their message centre.
``POST /api/v1/objections/{id}/answer`` is the same answer for a department's own system; the
console's form goes through its handler, so the two cannot drift apart.

Each objection shown names a person: the page is a person-level read, the applicant's id masked
(:func:`api.app.masking.mask`) and one ``profile.read`` audit entry per person shown, as the test
panel audits its subject.  An empty answer is said beside its text box in the page's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect

from api.app.access import allow, current_user, source_of
from api.app.auth import User
from api.app.i18n import language_of, words
from api.app.masking import mask
from api.app.pages import gate, render
from api.app.services import Services, services
from core.errors import NotFoundError, ZhidaError
from notifier.grants import Grant, Objection

__all__ = ["OBJECTION_ROUTES", "AnswerIn"]

_ROLES = ("officer", "admin")


@dataclass(frozen=True)
class AnswerIn:
    text: str  # what was decided and why; the resident reads it


@dataclass(frozen=True)
class _Row:
    objection: Objection
    grant: Grant
    subject: str  # masked
    title: str


def _department(user: User) -> str | None:
    """The department whose objections ``user`` answers (None: every department, an admin)."""
    return user.department if user.role == "officer" else None


def _own(svc: Services, user: User, objection_id: int) -> Objection:
    """The objection, if ``user`` may answer it; else the 404 of one that does not exist."""
    try:
        objection = svc.grants.objection(objection_id)
    except NotFoundError:
        objection = None
    wanted = _department(user)
    if objection is None or (wanted is not None and objection.department != wanted):
        raise NotFoundError(
            f"no objection {objection_id} visible to {user.username}; an officer answers the "
            "objections routed to their own department (GET /api/v1/objections lists them)"
        )
    return objection


@post(
    "/api/v1/objections/{objection_id:int}/answer", guards=[allow(*_ROLES)], status_code=200,
    sync_to_thread=True, tags=["objections"],
)  # fmt: skip
def answer_objection(
    request: Request[Any, Any, Any], objection_id: FromPath[int], data: JSONBody[AnswerIn]
) -> Objection:
    """Answer an objection routed to your department; the resident reads the answer."""
    user, svc = current_user(request), services(request)
    _own(svc, user, objection_id)
    answered = svc.grants.answer(objection_id, data.text, by=user.username, now=datetime.now(UTC))
    svc.audit.append(
        actor=user.username, role=user.role, action="objection.answer", entity_type="objection",
        entity_id=str(objection_id), source=source_of(request),
        details={"grant_id": answered.grant_id},
    )  # fmt: skip
    return answered


@get("/console/objections", include_in_schema=False)
async def objections_page(request: Request[Any, Any, Any]) -> Response[Any]:
    return await to_thread.run_sync(_page, request, {}, {})


def _page(
    request: Request[Any, Any, Any], problems: dict[int, str], typed: dict[int, str]
) -> Response[Any]:
    user = gate(request, _ROLES)
    if not isinstance(user, User):
        return user
    svc = services(request)
    as_of = svc.live.as_of()
    titles = {p.id: p.title for p in svc.policies.catalog(as_of).policies}
    rows = []
    for o in reversed(svc.grants.objections(_department(user))):  # newest first
        grant = svc.grants.get(o.grant_id)
        rows.append(_Row(o, grant, mask(grant.subject_id) or "",
                         titles.get(grant.policy_id, grant.policy_id)))  # fmt: skip
    for subject in dict.fromkeys(r.grant.subject_id for r in rows):
        svc.audit.append(
            actor=user.username, role=user.role, action="profile.read", entity_type="subject",
            entity_id=subject, source=source_of(request), details={"what": "objections"},
        )  # fmt: skip
    return render(
        request, "objections.html", status=422 if problems else 200, user=user, rows=rows,
        problems=problems, typed=typed, saved=request.query_params.get("saved", ""),
    )  # fmt: skip


@post("/console/objections/{objection_id:int}/answer", include_in_schema=False)
async def answer_form(
    request: Request[Any, Any, Any], objection_id: FromPath[int]
) -> Response[Any]:
    form = await request.form()
    return await to_thread.run_sync(_answer, request, objection_id, form)


def _answer(request: Request[Any, Any, Any], objection_id: int, form: Any) -> Response[Any]:
    user = gate(request, _ROLES)
    if not isinstance(user, User):
        return user
    text = str(form.get("text") or "").strip()
    if not text:  # beside the text box, in the page's language
        problem = words(language_of(request))["obj_answer_empty"]
        return _page(request, {objection_id: problem}, {})
    try:
        # The API's handler: the department check, the store, the audit entry.
        answer_objection.fn(request, objection_id=objection_id, data=AnswerIn(text=text))
    except ZhidaError as err:
        return _page(request, {objection_id: err.message}, {objection_id: text})
    return Redirect(f"/console/objections?saved=answer#objection-{objection_id}", status_code=303)


OBJECTION_ROUTES = [answer_objection, objections_page, answer_form]
