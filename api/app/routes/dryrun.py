"""``POST /api/v1/policies/dry-run``: reach of a draft on the current population (a contract).

Every figure is differentially private (:mod:`simulations.preview`); a rule reading an
identifier or a quasi-identifier is a 422 naming the field and why.  An explicit run
(``run: true``, the default) spends :attr:`~simulations.privacy.PrivacyParameters.dry_run_epsilon`
of the caller's privacy budget (:mod:`simulations.budget`) the first time they receive that
answer; the same document on the same population snapshot, catalog and date is the same answer,
free.  The officer console's preview as the officer types sends ``run: false``: it is answered
only with figures the officer already received (409 otherwise: press the preview button).  A
spent budget is a 429 saying what is left.  Each answer is an audit entry with the document's
hash and the figures released.  See :mod:`simulations.preview_cache` for how results are
cached and how concurrent identical requests share one computation.  An invalid document is a
422 with every problem's line and column.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import anyio.to_thread
from litestar import Request, post
from litestar.params import JSONBody

from api.app.access import allow, current_user, source_of
from api.app.errors import UnavailableError
from api.app.services import Services, services
from simulations.preview import document_hash, preview_as_of
from simulations.preview_cache import release_key

__all__ = [
    "DRY_RUN_ROUTES",
    "AmountBand",
    "DryRun",
    "DryRunIn",
    "GroupReach",
    "Overlap",
    "Versus",
    "dry_run_figures",
]


@dataclass(frozen=True)
class DryRunIn:
    document: str  # one policy's YAML text
    run: bool = True  # an explicit run (spends budget); false: only an answer already received
    # parameter changes to simulate with the draft, e.g. ["dibao_standard=1500"]
    parameters: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GroupReach:
    group: str
    eligible: int | str  # "<10" for small groups
    maybe: int | str
    cost_per_year: str  # yuan, a decimal string; "—" when the group's eligible are under 10


@dataclass(frozen=True)
class AmountBand:
    change_per_year: str  # a fixed band of the annual change (CNY), e.g. "1 … 1200"
    subjects: int | str  # eligible before and after, whose amount changed so ("<10": few)


@dataclass(frozen=True)
class Versus:
    published_version: int
    newly_eligible: int | str
    no_longer_eligible: int | str
    # Subjects eligible under both, by how much their annual amount changes; and the annual
    # cost of the published version and of the draft (simulations.amount_changes).
    amount_changes: list[AmountBand] = field(default_factory=list)
    cost_per_year_before: str | None = None
    cost_per_year_after: str | None = None


@dataclass(frozen=True)
class Overlap:
    policy_id: str  # a published policy sharing eligible subjects with the draft
    both: int | str  # subjects eligible for both


@dataclass(frozen=True)
class BeijingScale:
    """The draft's released figures at Beijing scale: the noisy figure times the mean
    calibrated weight of its audience, with a 95 % sampling interval ("—" when withheld)."""

    eligible: str
    eligible_interval: str
    cost_per_year: str  # yuan a year
    cost_interval: str
    mean_weight: float  # Beijing subjects a sample subject stands for, on average


@dataclass(frozen=True)
class DryRun:
    policy_id: str
    entity: str  # resident | enterprise
    as_of: date
    population: int  # subjects evaluated
    eligible: int | str
    maybe: int | str
    cost_per_period: str  # yuan, a decimal string; "—" when the eligible are under 10
    cost_per_year: str
    period: str  # once | month | year ("" without a benefit)
    by_group: dict[str, list[GroupReach]]  # residents: district, age_band; firms: district,
    # size_class
    versus_published: Versus | None
    overlaps: list[Overlap] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)  # the parameter changes simulated
    beijing: BeijingScale | None = None  # None: the population carries no weights
    elapsed_ms: int = 0
    cached: bool = False  # computed earlier (or by a concurrent identical request)


def _prepare(
    svc: Services, document: str, parameters: tuple[str, ...] = ()
) -> tuple[Hashable, Callable[[], dict[str, Any]]]:
    """The cache key of ``document`` and the computation of its figures (raises on bad input)."""
    if svc.population is None:
        raise UnavailableError(
            "a dry-run needs the current population: start the server with "
            "`zhida serve --population DIR`"
        )
    return svc.dry_runs.prepare(
        document, policies=svc.policies, population=svc.population,
        as_of=preview_as_of(svc.runs), params=svc.privacy.params, parameters=parameters,
    )  # fmt: skip


@post(
    "/api/v1/policies/dry-run", guards=[allow("officer", "reviewer", "analyst", "admin")],
    status_code=200, tags=["policies"],
)  # fmt: skip
async def dry_run(request: Request[Any, Any, Any], data: JSONBody[DryRunIn]) -> DryRun:
    """Reach, cost by group, change against the published version and overlaps of a draft.

    Every figure carries differential-privacy noise; noisy counts under 10 are shown as "<10".
    An explicit run spends privacy budget once per answer; the same document on the same
    population and catalog is the same answer, free.
    """
    # Async, so that requests waiting for a computation (their own or an identical one) hold
    # no thread of the server's pool: /health and the other endpoints stay responsive.
    started = time.perf_counter()
    figures, cached = await dry_run_figures(
        request, data.document, tuple(data.parameters), run=data.run
    )
    versus = figures["versus_published"]
    return DryRun(
        policy_id=figures["policy_id"], entity=figures["entity"],
        as_of=date.fromisoformat(figures["as_of"]), population=figures["population"],
        eligible=figures["eligible"], maybe=figures["maybe"],
        cost_per_period=figures["cost_per_period"], cost_per_year=figures["cost_per_year"],
        period=figures["period"],
        by_group={d: [GroupReach(**g) for g in rows] for d, rows in figures["by_group"].items()},
        versus_published=_versus(versus) if versus is not None else None,
        overlaps=[Overlap(**o) for o in figures["overlaps"]],
        parameters=figures.get("parameters", []),
        beijing=BeijingScale(**figures["beijing"]) if figures.get("beijing") else None,
        elapsed_ms=round((time.perf_counter() - started) * 1000), cached=cached,
    )  # fmt: skip


def _versus(versus: dict[str, Any]) -> Versus:
    bands = [AmountBand(**b) for b in versus.get("amount_changes", [])]
    return Versus(**{**versus, "amount_changes": bands})


async def dry_run_figures(
    request: Request[Any, Any, Any], document: str, parameters: tuple[str, ...] = (),
    *, run: bool = True,
) -> tuple[dict[str, Any], bool]:  # fmt: skip
    """A dry-run's released figures for the caller (budget spent once per answer, audited) and
    whether they were computed before: the dry-run route's and the review's confirmation's."""
    svc = services(request)
    user = current_user(request)
    key, compute = await anyio.to_thread.run_sync(_prepare, svc, document, parameters)
    released, epsilon = release_key(key), svc.privacy.params.dry_run_epsilon

    async def noisy() -> dict[str, Any]:
        return (await svc.dry_runs.results.aget(key, compute))[0]

    def answer() -> tuple[dict[str, Any], bool]:
        return svc.privacy.answer(
            user.username, released, "dry_run", epsilon,
            lambda: anyio.from_thread.run(noisy), run=run,
        )  # fmt: skip

    figures, cached = await anyio.to_thread.run_sync(answer)
    await anyio.to_thread.run_sync(_audit, svc, request, document, released, figures)
    return figures, cached


def _audit(
    svc: Services, request: Request[Any, Any, Any], document: str, key: str,
    figures: dict[str, Any],
) -> None:  # fmt: skip
    user = current_user(request)
    svc.audit.append(
        actor=user.username, role=user.role, action="policy.dry_run", entity_type="policy",
        entity_id=str(figures["policy_id"]), source=source_of(request),
        details={
            "document_sha256": document_hash(document), "release": key,
            "figures": {k: figures[k] for k in
                        ("eligible", "maybe", "cost_per_period", "cost_per_year")},
        },
    )  # fmt: skip


DRY_RUN_ROUTES = [dry_run]
