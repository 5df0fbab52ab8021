"""Policies: the catalog, versions, validating a draft, and the four-eyes lifecycle.

Drafting, submitting, approving (= publishing), rejecting and retiring go through
:class:`rules.store.PolicyStore`, which refuses an approval by the version's own author; an
officer acts only on policies of their own department, and an id stays with the department of
its first version (a draft moving it to another is a 403).  Every change is audited.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from api.app.access import allow, current_user, source_of
from api.app.auth import ROLES
from api.app.errors import ForbiddenError
from api.app.i18n import language_of
from api.app.routes.review import REVIEW_ROUTES, check_relation_reviewer, check_submittable
from api.app.services import Services, services
from core.errors import NotFoundError
from rules.lifecycle import LifecycleError
from rules.loader import check_policy_text, load_policy_text

__all__ = [
    "POLICY_ROUTES",
    "ApproveIn",
    "Draft",
    "DraftIn",
    "PolicyOut",
    "PolicySummary",
    "Problem",
    "ReturnIn",
    "Validation",
    "VersionDiff",
    "VersionOut",
]

_authors = allow("officer", "admin")
_reviewers = allow("reviewer", "admin")
_readers = allow("officer", "reviewer", "analyst", "admin")


@dataclass(frozen=True)
class PolicySummary:
    policy_id: str
    title: str
    department: str
    audience: str
    mode: str
    valid_from: date
    valid_until: date | None
    provenance: str | None = None  # cited | modelled (None: not declared)


@dataclass(frozen=True)
class VersionOut:
    policy_id: str
    version: int
    status: str
    author: str
    reviewer: str | None
    change_note: str
    created_at: datetime
    published_at: datetime | None
    document: str
    return_reason: str | None = None  # 退回修改: why the reviewer returned it
    returned_by: str | None = None


@dataclass(frozen=True)
class DraftIn:
    document: str  # the policy's YAML
    note: str = ""  # change note


@dataclass(frozen=True)
class Draft:
    policy_id: str
    version: int
    status: str


@dataclass(frozen=True)
class Problem:
    line: int
    col: int
    message: str  # in the request's language (Chinese unless ?lang=en)
    severity: str = "error"  # error | warning (a warning does not make the draft invalid)


@dataclass(frozen=True)
class Validation:
    valid: bool
    policy_id: str | None
    problems: list[Problem] = field(default_factory=list)


@get("/api/v1/policies", guards=[allow(*ROLES)], sync_to_thread=True, tags=["policies"])
def list_policies(request: Request[Any, Any, Any]) -> list[PolicySummary]:
    """Published policies in force today (public information: every role may list them)."""
    catalog = services(request).policies.catalog(date.today())
    return [
        PolicySummary(
            p.id,
            p.title,
            p.department,
            p.audience,
            p.mode,
            p.valid_from,
            p.valid_until,
            p.provenance,
        )
        for p in sorted(catalog.policies, key=lambda p: p.id)
    ]


@dataclass(frozen=True)
class PolicyOut:
    policy_id: str
    title: str
    title_en: str | None
    department: str
    audience: str
    mode: str
    category: str | None
    eligibility: str
    benefit: str | None
    benefit_period: str | None
    valid_from: date
    valid_until: date | None
    basis: str | None
    summary: str | None
    materials: list[str]
    where: str | None
    apply_url: str | None
    contact: str | None
    # cited (its legal text) or modelled: some condition or amount stands in for what the text
    # or the schema does not give, and provenance_note says which and why (issue 16)
    provenance: str | None = None
    provenance_note: str | None = None


@get("/api/v1/policies/{policy_id:str}", guards=[allow(*ROLES)], sync_to_thread=True,
     tags=["policies"])  # fmt: skip
def get_policy(request: Request[Any, Any, Any], policy_id: FromPath[str]) -> PolicyOut:
    """One published policy in force today: its rule, benefit and how to apply (public)."""
    p = services(request).policies.catalog(date.today()).by_id.get(policy_id)
    if p is None:
        raise NotFoundError(
            f"no published policy {policy_id!r} is in force today; GET /api/v1/policies lists them"
        )
    return PolicyOut(
        p.id, p.title, p.title_en, p.department, p.audience, p.mode, p.category, p.eligibility,
        p.benefit, p.benefit_period, p.valid_from, p.valid_until, p.basis, p.summary,
        list(p.materials), p.where, p.apply_url, p.contact, p.provenance, p.provenance_note,
    )  # fmt: skip


@get(
    "/api/v1/policies/{policy_id:str}/versions",
    guards=[_readers],
    sync_to_thread=True,
    tags=["policies"],
)
def versions(request: Request[Any, Any, Any], policy_id: FromPath[str]) -> list[VersionOut]:
    """Every version of a policy, oldest first, with its document and who moved it."""
    return [
        VersionOut(v.policy_id, v.version, v.status, v.author, v.reviewer, v.change_note,
                   v.created_at, v.published_at, v.document, v.return_reason, v.returned_by)
        for v in services(request).policies.versions(policy_id)
    ]  # fmt: skip


@post(
    "/api/v1/policies/validate", guards=[allow("officer", "reviewer", "admin")],
    status_code=200, sync_to_thread=True, tags=["policies"],
)  # fmt: skip
def validate(request: Request[Any, Any, Any], data: JSONBody[DraftIn]) -> Validation:
    """Check a draft's YAML: every error and warning with its line and column, in Chinese
    (``?lang=en`` for English); nothing is stored.  Only errors make it invalid."""
    lang = language_of(request)
    checked = check_policy_text(data.document, Path("<draft>"))
    found = sorted([*checked.problems, *checked.warnings], key=lambda p: (p.line, p.col))
    problems = [Problem(p.line, p.col, p.in_language(lang), p.severity) for p in found]
    if checked.policy is not None:
        return Validation(True, checked.policy.id, problems)
    ids = {p.policy_id for p in found if p.policy_id}
    return Validation(False, ids.pop() if len(ids) == 1 else None, problems)


@dataclass(frozen=True)
class VersionDiff:
    policy_id: str
    version: int
    against: int | None  # None: nothing published to compare with
    diff: str  # unified diff of the YAML documents


@get(
    "/api/v1/policies/{policy_id:str}/versions/{version:int}/diff",
    guards=[_readers], sync_to_thread=True, tags=["policies"],
)  # fmt: skip
def diff(
    request: Request[Any, Any, Any],
    policy_id: FromPath[str],
    version: FromPath[int],
    against: FromQuery[int | None] = None,
) -> VersionDiff:
    """The document of a version against another (default: the newest published before it)."""
    versions = {v.version: v for v in services(request).policies.versions(policy_id)}
    if version not in versions:
        raise NotFoundError(f"policy {policy_id!r} has no version {version}; list its versions")
    if against is None:
        published = [n for n, v in versions.items() if v.status == "published" and n != version]
        against = max(published) if published else None
    elif against not in versions:
        raise NotFoundError(f"policy {policy_id!r} has no version {against} to compare with")
    old = versions[against].document if against is not None else ""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), versions[version].document.splitlines(keepends=True),
        fromfile=f"{policy_id}@v{against}" if against else "(none)",
        tofile=f"{policy_id}@v{version}",
    )  # fmt: skip
    return VersionDiff(policy_id, version, against, "".join(lines))


def _department_of(document: str) -> str:
    return load_policy_text(document, Path("<draft>")).department


def _check_department(request: Request[Any, Any, Any], department: str) -> None:
    user = current_user(request)
    if user.role == "officer" and user.department != department:
        raise ForbiddenError(
            f"{user.username} is an officer of {user.department}; this policy belongs to "
            f"{department}, whose officers change it"
        )


def _check_owner(svc: Services, policy_id: str, department: str) -> None:
    """An id belongs to the department of its first version, whoever drafts it next."""
    try:
        first = svc.policies.versions(policy_id)[0]
    except (NotFoundError, IndexError):
        return  # a new id: it becomes the drafting department's
    owner = _department_of(first.document)
    if owner != department:
        raise ForbiddenError(
            f"policy {policy_id} belongs to {owner}; a draft cannot move it to {department}. "
            f"Keep 'department: {owner}', or give the new policy an id of its own"
        )


def _audit(request: Request[Any, Any, Any], svc: Services, action: str, policy_id: str,
           **details: Any) -> None:  # fmt: skip
    user = current_user(request)
    svc.audit.append(
        actor=user.username, role=user.role, action=action, entity_type="policy",
        entity_id=policy_id, source=source_of(request), details=details,
    )  # fmt: skip


@post(
    "/api/v1/policies/drafts",
    guards=[_authors],
    status_code=201,
    sync_to_thread=True,
    tags=["policies"],
)
def draft(request: Request[Any, Any, Any], data: JSONBody[DraftIn]) -> Draft:
    """Store a checked draft as the policy's next version (status draft)."""
    svc = services(request)
    user = current_user(request)
    _check_department(request, _department_of(data.document))
    policy = load_policy_text(data.document, Path("<draft>"))
    _check_owner(svc, policy.id, policy.department)
    version = svc.policies.draft(data.document, author=user.username, note=data.note)
    _audit(request, svc, "policy.draft", policy.id, version=version, note=data.note)
    return Draft(policy.id, version, "draft")


def _move(
    request: Request[Any, Any, Any], policy_id: FromPath[str], version: FromPath[int], action: str,
    *, reason: str = "", document: str | None = None,
) -> Draft:  # fmt: skip
    svc = services(request)
    user = current_user(request)
    found = [v for v in svc.policies.versions(policy_id) if v.version == version]
    if not found:
        raise NotFoundError(f"policy {policy_id!r} has no version {version}; list its versions")
    _check_department(request, _department_of(found[0].document))
    details: dict[str, Any] = {}
    if document is not None and document != found[0].document:
        # The reviewer's editor is read-only: a change sent with a review step is refused, not
        # dropped, and nothing moves.
        raise LifecycleError(
            f"a reviewer cannot change {policy_id} v{version}: what is approved is what the "
            "author wrote. Return it (退回修改) with a reason saying what to change instead"
        )
    if action == "submit":
        if found[0].status == "draft":
            check_submittable(svc, policy_id, version)
        svc.policies.submit(policy_id, version)
    elif action == "approve":
        retired = check_relation_reviewer(svc, user, policy_id, version)
        svc.policies.publish(policy_id, version, reviewer=user.username, retire=retired)
        details["retired"] = retired
    elif action == "reject":
        svc.policies.reject(policy_id, version, reviewer=user.username, reason=reason)
        details["reason"] = reason
    else:
        svc.policies.retire(policy_id, version)
    status = next(v.status for v in svc.policies.versions(policy_id) if v.version == version)
    _audit(request, svc, f"policy.{action}", policy_id, version=version, status=status, **details)
    return Draft(policy_id, version, status)


@dataclass(frozen=True)
class ReturnIn:
    reason: str  # what the author should change: shown to them on the draft


@dataclass(frozen=True)
class ApproveIn:
    # The document as the reviewer's page shows it: refused (409) when it differs from the
    # version's, so an edit in the read-only editor can never be silently dropped.
    document: str | None = None


_LIFECYCLE = "/api/v1/policies/{policy_id:str}/versions/{version:int}"


@post(
    f"{_LIFECYCLE}/submit",
    guards=[_authors],
    status_code=200,
    sync_to_thread=True,
    tags=["policies"],
)
def submit(
    request: Request[Any, Any, Any], policy_id: FromPath[str], version: FromPath[int]
) -> Draft:
    """Send a draft for review."""
    return _move(request, policy_id, version, "submit")


@post(
    f"{_LIFECYCLE}/approve",
    guards=[_reviewers],
    status_code=200,
    sync_to_thread=True,
    tags=["policies"],
)
def approve(
    request: Request[Any, Any, Any], policy_id: FromPath[str], version: FromPath[int],
    data: JSONBody[ApproveIn | None] = None,
) -> Draft:  # fmt: skip
    """Approve and publish a version under review; its author cannot (four eyes).  The version
    published before it becomes superseded; the policies it replaces are retired.  Replacing or
    excluding another department's policy needs a reviewer of that department.  A ``document``
    that differs from the version's is refused: reviewers do not edit."""
    return _move(request, policy_id, version, "approve", document=data.document if data else None)


@post(
    f"{_LIFECYCLE}/reject",
    guards=[_reviewers],
    status_code=200,
    sync_to_thread=True,
    tags=["policies"],
)
def reject(
    request: Request[Any, Any, Any], policy_id: FromPath[str], version: FromPath[int],
    data: JSONBody[ReturnIn | None] = None,
) -> Draft:  # fmt: skip
    """Return a version under review to its author (退回修改) with a reason, which the author
    sees on the draft (``return_reason`` in its versions); a return without one is a 422."""
    return _move(request, policy_id, version, "reject", reason=data.reason if data else "")


@post(
    f"{_LIFECYCLE}/retire",
    guards=[_reviewers],
    status_code=200,
    sync_to_thread=True,
    tags=["policies"],
)
def retire(
    request: Request[Any, Any, Any], policy_id: FromPath[str], version: FromPath[int]
) -> Draft:
    """Retire a published version."""
    return _move(request, policy_id, version, "retire")


POLICY_ROUTES = [
    list_policies, get_policy, versions, diff, validate, draft, submit, approve, reject, retire,
    *REVIEW_ROUTES,
]  # fmt: skip
