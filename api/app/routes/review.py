"""Review of policy versions (issue 17): duplicates and relations, and what approving will do.

``GET …/versions/{v}/relations`` says which published policies a version duplicates (its eligible
set equals or lies inside theirs: :func:`rules.relations.duplicates_of`, by the rules' analysis
and on the served population), which relations it declares, which are missing (it cannot be
submitted until each is declared) and whose reviewer a relation needs.
``GET …/versions/{v}/consequences`` is the approve/publish confirmation: how many grants and
notices the first run will cause, from the dry-run (the same noise, privacy budget and "<10"
disclosure as ``POST /api/v1/policies/dry-run``), and which versions and policies end.

The checks the lifecycle routes in :mod:`api.app.routes.policies` enforce are here too
(:func:`check_submittable`, :func:`check_relation_reviewer`), so the page and the refusal say
the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import anyio.to_thread
from litestar import Request, get
from litestar.params import FromPath

from api.app.access import allow
from api.app.auth import User
from api.app.errors import ForbiddenError
from api.app.services import Services, services
from core.errors import NotFoundError
from rules.lifecycle import LifecycleError
from rules.loader import load_policy_text
from rules.policy import Policy
from rules.relations import Duplicate, check_declared, duplicates_of, undeclared
from rules.store import PolicyVersion
from simulations.preview import preview_as_of

__all__ = [
    "REVIEW_ROUTES",
    "Consequences",
    "DuplicateOut",
    "RelationOut",
    "Relations",
    "check_relation_reviewer",
    "check_submittable",
    "relations_of",
]

_readers = allow("officer", "reviewer", "analyst", "admin")
_ACROSS = ("replaces", "excludes")  # relations that change another policy's subjects


@dataclass(frozen=True)
class DuplicateOut:
    policy_id: str
    title: str
    department: str
    kind: str  # equivalent | contained
    by: str  # analysis | population


@dataclass(frozen=True)
class RelationOut:
    kind: str  # replaces | supplements | excludes
    policy_id: str
    title: str | None
    department: str | None
    wins: str | None  # excludes: the policy a subject keeps; None: the larger annual benefit
    needs_reviewer_of: str | None  # another department whose reviewer must approve


@dataclass(frozen=True)
class Relations:
    policy_id: str
    version: int
    duplicates: list[DuplicateOut]
    declared: list[RelationOut]
    undeclared: list[DuplicateOut]  # duplicates with no relation: submitting is refused
    problems: list[str] = field(default_factory=list)  # relations that cannot stand
    can_submit: bool = True


def find_version(svc: Services, policy_id: str, version: int) -> PolicyVersion:
    found = [v for v in svc.policies.versions(policy_id) if v.version == version]
    if not found:
        raise NotFoundError(f"policy {policy_id!r} has no version {version}; list its versions")
    return found[0]


def _population_reach(
    svc: Services, draft: Policy, others: list[Policy]
) -> dict[str, frozenset[str]] | None:
    """Who is eligible for certain, per policy, on the served population (as of the latest run);
    the draft as if in force that day.  None without a population."""
    if svc.population is None:
        return None
    from matcher.batch import match_frame
    from matcher.population import scan_population

    as_of = preview_as_of(svc.runs)
    # Relations left out: an exclusion would hide the very overlap being looked for.  The
    # draft as if in force that day (as the dry-run previews it); the others are.
    preview = replace(draft, valid_from=min(draft.valid_from, as_of), valid_until=None)
    policies = [replace(p, relations=()) for p in [preview, *others]]
    frames = scan_population(svc.population, svc.policies.schema)
    pairs = match_frame(frames, policies, svc.policies.schema, as_of=as_of)
    eligible = pairs.filter(pairs["status"] == "eligible")
    out: dict[str, frozenset[str]] = {p.id: frozenset() for p in policies}
    for (pid,), part in eligible.group_by(["policy_id"]):
        out[str(pid)] = frozenset(part["subject_id"].to_list())
    return out


def relations_of(svc: Services, policy_id: str, version: int) -> Relations:
    row = find_version(svc, policy_id, version)
    draft = load_policy_text(row.document, Path(f"{policy_id}@v{version}"))
    published = {p.id: p for p in svc.policies.catalog().policies if p.id != draft.id}
    # The policies a duplicate would meet: those in force on the served population's date.
    as_of = preview_as_of(svc.runs)
    same = [p for p in published.values() if p.audience == draft.audience and p.in_force(as_of)]
    reach = _population_reach(svc, draft, same) if same else None
    found = duplicates_of(draft, same, eligible=reach)
    # A new version is held to the duplicates it adds: those its published version had were
    # accepted when that was published (shown, not required again).
    accepted = _accepted(svc, policy_id, same)
    missing = [d for d in undeclared(draft, found) if d.policy_id not in accepted]
    settled = {
        r.policy_id
        for v in svc.policies.versions(policy_id)
        if v.status in ("published", "superseded")
        for r in load_policy_text(v.document, Path(f"{policy_id}@v{v.version}")).relations
    }
    problems = check_declared(draft, published, settled)
    declared = []
    for r in draft.relations:
        other = published.get(r.policy_id)
        needs = (
            other.department
            if other is not None and r.kind in _ACROSS and other.department != draft.department
            else None
        )
        declared.append(
            RelationOut(
                r.kind, r.policy_id, other.title if other else None,
                other.department if other else None, r.wins, needs,
            )
        )  # fmt: skip
    return Relations(
        policy_id, version, [_out(d) for d in found], declared, [_out(d) for d in missing],
        problems, can_submit=not missing and not problems,
    )  # fmt: skip


def _accepted(svc: Services, policy_id: str, same: list[Policy]) -> set[str]:
    """The published policies the policy's published version already lay inside (by the
    analysis: its reach on the population is not computed again)."""
    published = [v for v in svc.policies.versions(policy_id) if v.status == "published"]
    if not published:
        return set()
    current = load_policy_text(published[-1].document, Path(f"{policy_id}@published"))
    return {d.policy_id for d in duplicates_of(current, same)}


def _out(d: Duplicate) -> DuplicateOut:
    return DuplicateOut(d.policy_id, d.title, d.department, d.kind, d.by)


def check_submittable(svc: Services, policy_id: str, version: int) -> None:
    """Refuse to submit a silent duplicate, or a relation that cannot stand (409)."""
    found = relations_of(svc, policy_id, version)
    if found.problems:
        raise LifecycleError("; ".join(found.problems))
    if found.undeclared:
        names = "; ".join(
            f"{d.policy_id} ({d.title}, {d.department}): "
            + ("the same people" if d.kind == "equivalent" else "everyone this reaches, it reaches")
            for d in found.undeclared
        )
        first = found.undeclared[0].policy_id
        raise LifecycleError(
            f"重复政策，须先声明关系 (a duplicate must declare its relation): {names}. Add to the "
            f"YAML relations: [{{replaces: {first}}}] (it is retired on publish), "
            f"[{{supplements: {first}}}] (both apply) or [{{excludes: {first}}}] (a subject gets "
            "one: the larger annual benefit, or add wins: ID), save the draft and submit again"
        )


def check_relation_reviewer(svc: Services, user: User, policy_id: str, version: int) -> list[str]:
    """The policies approving this version retires (those it replaces); refuses (403) when it
    replaces or excludes another department's policy and the reviewer is not of that
    department (an admin may)."""
    found = relations_of(svc, policy_id, version)
    if found.problems:
        raise LifecycleError("; ".join(found.problems))
    for r in found.declared:
        if r.needs_reviewer_of and user.role != "admin" and user.department != r.needs_reviewer_of:
            raise ForbiddenError(
                f"{policy_id} v{version} {r.kind} {r.policy_id} of {r.needs_reviewer_of}; a "
                f"reviewer of {r.needs_reviewer_of} must approve it ({user.username} is "
                f"{user.department or 'of no department'})"
            )
    return [r.policy_id for r in found.declared if r.kind == "replaces"]


_VERSION = "/api/v1/policies/{policy_id:str}/versions/{version:int}"


@get(f"{_VERSION}/relations", guards=[_readers], sync_to_thread=True, tags=["policies"])
def relations(
    request: Request[Any, Any, Any], policy_id: FromPath[str], version: FromPath[int]
) -> Relations:
    """Duplicates of a version among the published policies, its declared relations, what is
    missing before it can be submitted, and whose reviewer a relation needs."""
    return relations_of(services(request), policy_id, version)


@dataclass(frozen=True)
class Consequences:
    policy_id: str
    version: int
    mode: str
    as_of: date
    grants: int | str  # 免申即享 grants the first run opens ("<10" when few)
    notices: int | str  # notices it sends (grant notices, invitations)
    questions: int | str  # maybe: subjects asked for the one fact that would settle it
    no_longer_eligible: int | str  # against the published version: revocation notices
    supersedes: int | None  # the published version this one supersedes
    retires: list[str]  # the policies it replaces, retired on publish
    excludes: list[str]  # policies a subject gets only one of, with this one
    cost_per_year: str | int
    # Published policies sharing its eligible subjects (noisy, named only when clearly shared):
    # the overlapping reach the reviewer weighs beside the declared relations.
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    cached: bool = False


@get(f"{_VERSION}/consequences", guards=[allow("reviewer", "admin")], tags=["policies"])
async def consequences(
    request: Request[Any, Any, Any], policy_id: FromPath[str], version: FromPath[int]
) -> Consequences:
    """What approving will do (the confirmation before publishing): from the dry-run, under
    its noise and disclosure rules (spends the dry-run's privacy budget once per answer)."""
    from api.app.routes.dryrun import dry_run_figures

    svc = services(request)
    row = await anyio.to_thread.run_sync(find_version, svc, policy_id, version)
    draft = load_policy_text(row.document, Path(f"{policy_id}@v{version}"))
    figures, cached = await dry_run_figures(request, row.document)
    versus = figures["versus_published"]
    gained = versus["newly_eligible"] if versus is not None else figures["eligible"]
    lost = versus["no_longer_eligible"] if versus is not None else 0
    published = [v.version for v in svc.policies.versions(policy_id) if v.status == "published"]
    return Consequences(
        policy_id, version, draft.mode, date.fromisoformat(figures["as_of"]),
        grants=gained if draft.mode == "auto_grant" else 0,
        notices=gained,
        questions=figures["maybe"] if draft.mode != "auto_grant" else 0,
        no_longer_eligible=lost,
        supersedes=max(published) if published else None,
        retires=[r.policy_id for r in draft.relations if r.kind == "replaces"],
        excludes=[r.policy_id for r in draft.relations if r.kind == "excludes"],
        cost_per_year=figures["cost_per_year"], overlaps=list(figures["overlaps"]),
        cached=cached,
    )  # fmt: skip


REVIEW_ROUTES = [relations, consequences]
