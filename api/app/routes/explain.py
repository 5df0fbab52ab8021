"""Why a subject is (not, maybe) eligible for a policy, clause by clause.

The profile is read from the population directory ``zhida serve --population`` was given, the
policy from the published catalog in the database as of the latest match run (today without
one); the explanation is :func:`rules.explainer.explain`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from litestar import Request, get
from litestar.params import FromPath

from api.app.errors import UnavailableError
from api.app.routes.subjects import check_caller, subject_guard
from api.app.services import services
from core.errors import NotFoundError, ValidationError

__all__ = ["EXPLAIN_ROUTES", "ExplanationOut"]


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
    from matcher.population import attach_tags, find_subject, scan_population
    from profiles.derive import with_derived
    from profiles.schema import load_schema
    from rules.explainer import explain
    from rules.language import parse_rule

    check_caller(request, subject_id, "explain")
    svc = services(request)
    if svc.population is None:
        raise UnavailableError(
            "explanations need the population: start the server with `zhida serve --population DIR`"
        )
    run = svc.runs.latest()
    as_of = run.as_of if run is not None else date.today()
    policy = svc.policies.catalog(as_of).by_id.get(policy_id)
    if policy is None:
        raise NotFoundError(f"no policy {policy_id!r} is published and in force on {as_of}")
    schema = load_schema()
    frames = attach_tags(
        scan_population(svc.population, schema), svc.population, schema, as_of=as_of
    )
    entity, record = find_subject(frames, schema, subject_id)
    if entity.name != policy.audience:
        raise ValidationError(
            f"{policy_id} is for {policy.audience}s but {subject_id} is a {entity.name}"
        )
    derived = with_derived(pl.LazyFrame([record]), entity, as_of=as_of).collect().row(0, named=True)
    e = explain(parse_rule(policy.eligibility, entity), derived, as_of=as_of, schema=schema)
    d = e.to_dict()
    return ExplanationOut(
        subject_id, policy.id, policy.title, as_of, e.status, e.rule, d["clauses"],
        d["unknown_fields"], d["settle"],
    )  # fmt: skip


EXPLAIN_ROUTES = [explain_offer]
