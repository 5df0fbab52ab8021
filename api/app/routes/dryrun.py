"""``POST /api/v1/policies/dry-run``: reach of a draft on the current population (a contract).

The officer console's reach preview calls it as the officer types; see
:mod:`simulations.preview` for what is computed and :mod:`simulations.preview_cache` for how it
is cached and how concurrent identical requests share one computation.  An invalid document is
a 422 with every problem's line and column.
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

from api.app.access import allow
from api.app.errors import UnavailableError
from api.app.services import Services, services
from simulations.preview import preview_as_of

__all__ = ["DRY_RUN_ROUTES", "DryRun", "DryRunIn", "GroupReach", "Overlap", "Versus"]


@dataclass(frozen=True)
class DryRunIn:
    document: str  # one policy's YAML text


@dataclass(frozen=True)
class GroupReach:
    group: str
    eligible: int | str  # "<10" for small groups
    maybe: int | str
    cost_per_year: str  # yuan, a decimal string; "—" when the group's eligible are under 10


@dataclass(frozen=True)
class Versus:
    published_version: int
    newly_eligible: int | str
    no_longer_eligible: int | str


@dataclass(frozen=True)
class Overlap:
    policy_id: str  # a published policy sharing eligible subjects with the draft
    both: int | str  # subjects eligible for both


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
    elapsed_ms: int = 0
    cached: bool = False  # computed earlier (or by a concurrent identical request)


def _prepare(svc: Services, document: str) -> tuple[Hashable, Callable[[], dict[str, Any]]]:
    """The cache key of ``document`` and the computation of its figures (raises on bad input)."""
    if svc.population is None:
        raise UnavailableError(
            "a dry-run needs the current population: start the server with "
            "`zhida serve --population DIR`"
        )
    return svc.dry_runs.prepare(
        document, policies=svc.policies, population=svc.population,
        as_of=preview_as_of(svc.runs),
    )  # fmt: skip


@post(
    "/api/v1/policies/dry-run", guards=[allow("officer", "reviewer", "analyst", "admin")],
    status_code=200, tags=["policies"],
)  # fmt: skip
async def dry_run(request: Request[Any, Any, Any], data: JSONBody[DryRunIn]) -> DryRun:
    """Reach, cost by group, change against the published version and overlaps of a draft.

    Counts under 10 are shown as "<10".  Nothing is stored; the same document on the same
    population and catalog is answered from a cache.
    """
    # Async, so that requests waiting for a computation (their own or an identical one) hold
    # no thread of the server's pool: /health and the other endpoints stay responsive.
    started = time.perf_counter()
    svc = services(request)
    key, compute = await anyio.to_thread.run_sync(_prepare, svc, data.document)
    figures, cached = await svc.dry_runs.results.aget(key, compute)
    versus = figures["versus_published"]
    return DryRun(
        policy_id=figures["policy_id"], entity=figures["entity"],
        as_of=date.fromisoformat(figures["as_of"]), population=figures["population"],
        eligible=figures["eligible"], maybe=figures["maybe"],
        cost_per_period=figures["cost_per_period"], cost_per_year=figures["cost_per_year"],
        period=figures["period"],
        by_group={d: [GroupReach(**g) for g in rows] for d, rows in figures["by_group"].items()},
        versus_published=Versus(**versus) if versus is not None else None,
        overlaps=[Overlap(**o) for o in figures["overlaps"]],
        elapsed_ms=round((time.perf_counter() - started) * 1000), cached=cached,
    )  # fmt: skip


DRY_RUN_ROUTES = [dry_run]
