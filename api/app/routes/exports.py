"""CSV downloads of reach by group: the latest match run's eligible and maybe per policy, by
district, age band, gender, hukou, household type (firms: size class, industry, district).

Counts under 10 are shown as "<10"; a download is an audited data export.  Simulation tables
download from :mod:`api.app.routes.simulations`.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from litestar import Request, Response, get

from api.app.access import allow, current_user, source_of
from api.app.errors import UnavailableError
from api.app.services import Services, services
from api.app.simulations import k_anonymous
from core.errors import NotFoundError

__all__ = ["EXPORT_ROUTES", "reach_by_group"]


def reach_by_group(svc: Services) -> pl.DataFrame:
    """``dimension, group, policy_id, eligible, maybe`` of the latest run (not yet suppressed)."""
    from matcher.population import scan_population
    from profiles.derive import with_derived
    from profiles.schema import load_schema
    from simulations.reach import group_columns

    if svc.population is None:
        raise UnavailableError(
            "reach by group needs the population: start the server with "
            "`zhida serve --population DIR`"
        )
    run = svc.runs.latest()
    if run is None or not run.pairs_file.is_file():
        raise NotFoundError("no match run yet: `zhida match ... --out FILE` records one")
    schema = load_schema()
    pairs = pl.scan_parquet(run.pairs_file).select(
        "subject_id", "policy_id", pl.col("status").cast(pl.String)
    )
    parts = []
    for name, frame in scan_population(svc.population, schema).items():
        entity = schema.entity(name)
        assert entity.key is not None
        groups = group_columns(name)
        people = with_derived(frame, entity, as_of=run.as_of).select(
            pl.col(entity.key).alias("subject_id"),
            *(e.cast(pl.String).alias(k) for k, e in groups.items()),
        )
        joined = pairs.join(people, on="subject_id", how="inner")
        for dimension in groups:
            parts.append(
                joined.group_by("policy_id", pl.col(dimension).alias("group"))
                .agg(
                    (pl.col("status") == "eligible").sum().alias("eligible"),
                    (pl.col("status") == "maybe").sum().alias("maybe"),
                )
                .drop_nulls("group")
                .select(
                    pl.lit(dimension).alias("dimension"), "group", "policy_id", "eligible", "maybe"
                )
            )
    if not parts:
        return pl.DataFrame(schema={"dimension": pl.String, "group": pl.String,
                                    "policy_id": pl.String, "eligible": pl.UInt32,
                                    "maybe": pl.UInt32})  # fmt: skip
    return pl.concat(pl.collect_all(parts)).sort("dimension", "group", "policy_id")


@get(
    "/api/v1/exports/reach-by-group.csv",
    guards=[allow("officer", "reviewer", "analyst", "admin")],
    sync_to_thread=True, media_type="text/csv", tags=["exports"],
)  # fmt: skip
def reach_by_group_csv(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Eligible and maybe per policy and group in the latest run, as CSV (k-anonymous)."""
    svc = services(request)
    table = k_anonymous(reach_by_group(svc))
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
