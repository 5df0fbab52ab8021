"""CSV downloads of reach by group: the latest match run's eligible and maybe per policy, by
district, age band, gender, hukou, household type (firms: size class, industry, district).

Counted by :func:`simulations.run_reach.reach_by_group` and shown through
:mod:`simulations.disclosure` (counts under 10 as "<10"); a download is an audited data export.
Simulation tables download from :mod:`api.app.routes.simulations`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from api.app.access import allow, current_user, source_of
from api.app.errors import UnavailableError
from api.app.services import services
from core.errors import NotFoundError
from simulations.disclosure import k_anonymous
from simulations.run_reach import reach_by_group

__all__ = ["EXPORT_ROUTES"]


@get(
    "/api/v1/exports/reach-by-group.csv",
    guards=[allow("officer", "reviewer", "analyst", "admin")],
    sync_to_thread=True, media_type="text/csv", tags=["exports"],
)  # fmt: skip
def reach_by_group_csv(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Eligible and maybe per policy and group in the latest run, as CSV (k-anonymous)."""
    svc = services(request)
    if svc.population is None:
        raise UnavailableError(
            "reach by group needs the population: start the server with "
            "`zhida serve --population DIR`"
        )
    run = svc.runs.latest()
    if run is None or not run.pairs_file.is_file():
        raise NotFoundError("no match run yet: `zhida match ... --out FILE` records one")
    table = k_anonymous(reach_by_group(run.pairs_file, svc.population, run.as_of))
    user = current_user(request)
    svc.audit.append(
        actor=user.username, role=user.role, action="reach.export", entity_type="match_run",
        entity_id="latest", source=source_of(request), details={"rows": table.height},
    )  # fmt: skip
    return Response(
        table.write_csv().encode("utf-8"), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="reach-by-group.csv"'},
    )  # fmt: skip


EXPORT_ROUTES = [reach_by_group_csv]
