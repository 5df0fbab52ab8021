"""A subject's profile (一人一档 / 一企一档) and why they are (not, maybe) eligible for a policy.

The subject is read from the server's :class:`~matcher.live.source.SubjectSource` (the database
over the population directory ``zhida serve --population`` was given, as ingestion reads it),
on the date of :func:`~matcher.live.source.live_as_of` (as offers and ingestion); the policy
from the catalog published and in force on that date; the explanation is
:func:`rules.explainer.explain`'s.  Anyone but the subject sees the profile's sensitive fields
masked; staff reads are audited as profile reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Request, get
from litestar.params import FromPath

from api.app.access import current_user
from api.app.masking import ProfileField, profile_fields
from api.app.routes.subjects import check_caller, subject_guard
from api.app.services import Services, services
from core.errors import NotFoundError, ValidationError
from matcher.live.source import require_subject, tag_library

__all__ = ["EXPLAIN_ROUTES", "ExplanationOut", "Profile", "explain_for"]


@dataclass(frozen=True)
class Profile:
    subject_id: str
    subject_type: str
    as_of: date
    fields: list[ProfileField]  # in schema order; sensitive ones masked for anyone but the subject


@get(
    "/api/v1/subjects/{subject_id:str}/profile",
    guards=[subject_guard], sync_to_thread=True, tags=["subjects"],
)  # fmt: skip
def profile(request: Request[Any, Any, Any], subject_id: FromPath[str]) -> Profile:
    """The subject's record as matching sees it (derived fields such as age included)."""
    check_caller(request, subject_id, "profile")
    svc = services(request)
    as_of = svc.live.as_of()
    subject = require_subject(svc.subjects, subject_id)
    derived = subject.derived(as_of, tag_library(svc.subjects.schema))
    own = current_user(request).subject_id == subject_id
    entity = subject.entity
    return Profile(subject_id, entity.name, as_of, profile_fields(derived, entity, own=own))


@dataclass(frozen=True)
class ExplanationOut:
    subject_id: str
    policy_id: str
    policy_title: str
    as_of: date
    status: str  # eligible | maybe | not_eligible
    rule: str
    clauses: list[dict[str, Any]]  # text, result (true/false/null), values, what would change
    unknown_fields: list[str]
    settle: list[dict[str, Any]]  # for a maybe: which unknown field settles it, and how


@get(
    "/api/v1/subjects/{subject_id:str}/offers/{policy_id:str}/explain",
    guards=[subject_guard], sync_to_thread=True, tags=["subjects"],
)  # fmt: skip
def explain_offer(
    request: Request[Any, Any, Any], subject_id: FromPath[str], policy_id: FromPath[str]
) -> ExplanationOut:
    """ "Why am I seeing this": each clause of the rule, true, false or unknown for the subject."""
    check_caller(request, subject_id, "explain")
    return explain_for(services(request), subject_id, policy_id)


def explain_for(svc: Services, subject_id: str, policy_id: str) -> ExplanationOut:
    """The explanation of ``policy_id`` for ``subject_id`` (the caller checked who may see it)."""
    from rules.explainer import explain
    from rules.language import parse_rule

    as_of = svc.live.as_of()
    policy = svc.policies.catalog(as_of).by_id.get(policy_id)
    if policy is None:
        raise NotFoundError(f"no policy {policy_id!r} is published and in force on {as_of}")
    schema = svc.subjects.schema
    subject = require_subject(svc.subjects, subject_id)
    entity = subject.entity
    if entity.name != policy.audience:
        raise ValidationError(
            f"{policy_id} is for {policy.audience}s but {subject_id} is a {entity.name}"
        )
    derived = subject.derived(as_of, tag_library(schema))
    e = explain(parse_rule(policy.eligibility, entity), derived, as_of=as_of, schema=schema)
    d = e.to_dict()
    return ExplanationOut(
        subject_id, policy.id, policy.title, as_of, e.status, e.rule, d["clauses"],
        d["unknown_fields"], d["settle"],
    )  # fmt: skip


EXPLAIN_ROUTES = [profile, explain_offer]
