"""CSV downloads of reach by group: the latest match run's eligible and maybe per policy, by
district, age band, gender, hukou, household type (firms: size class, industry, district).

Released by :func:`simulations.run_release.private_by_group`: every group of the population
for every policy, each count noisy, the noisy ones under 10 as "<10", so no cell is recovered
from a total minus the others; the same file for everyone per run, charged once to each user's
privacy budget (a spent budget is a 429).  A download is an audited data export.
Simulation tables download from :mod:`api.app.routes.simulations`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from api.app.access import allow, current_user, source_of
from api.app.errors import UnavailableError
from api.app.services import services
from core.errors import NotFoundError

__all__ = ["EXPORT_ROUTES"]


@get(
    "/api/v1/exports/reach-by-group.csv",
    guards=[allow("officer", "reviewer", "analyst", "admin")],
    sync_to_thread=True, media_type="text/csv", tags=["exports"],
)  # fmt: skip
def reach_by_group_csv(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Eligible and maybe per policy and group in the latest run, as CSV (noisy, k-anonymous)."""
    from simulations.run_release import (
        by_group_epsilon,
        dimensions_per_subject,
        private_by_group,
        run_policies,
    )

    svc = services(request)
    if svc.population is None:
        raise UnavailableError(
            "reach by group needs the population: start the server with "
            "`zhida serve --population DIR`"
        )
    run = svc.runs.latest()
    if run is None or not run.pairs_file.is_file():
        raise NotFoundError("no match run yet: `zhida match ... --out FILE` records one")
    population, params, user = svc.population, svc.privacy.params, current_user(request)
    policies = run_policies(run.pairs_file, svc.runs.rule_hashes(run.run_id))
    key = f"reach_by_group:{run.run_id}:{params.fingerprint}"
    figures, _ = svc.privacy.answer(
        user.username, key, "reach_by_group",
        by_group_epsilon(len(policies), dimensions_per_subject(), params),
        lambda: {"csv": private_by_group(
            run.pairs_file, population, run.as_of, policies, params
        ).write_csv()},
    )  # fmt: skip
    csv: str = figures["csv"]
    svc.audit.append(
        actor=user.username, role=user.role, action="reach.export", entity_type="match_run",
        entity_id="latest", source=source_of(request),
        details={"rows": max(0, csv.count("\n") - 1), "release": key},
    )  # fmt: skip
    return Response(
        csv.encode("utf-8"), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="reach-by-group.csv"'},
    )  # fmt: skip


EXPORT_ROUTES = [reach_by_group_csv]
