"""The analyst page's timeline section: start a run, watch it, read its charts, download CSV.

``POST /console/analyst/timeline`` checks the form and starts the run in the background
(:func:`simulations.timeline_job.sampled_timeline_work`), then sends the browser to the run's
page, which polls ``…/status`` (a small JSON: status, days done of total) until the run is done
and then shows its charts and tables.  Runs are listed on the analyst page with who started them
and when; an analyst reads the runs they started and an admin any
(:func:`api.app.access.may_read_simulation`, as through ``GET /api/v1/simulations``).  Each CSV
download is audited as a data export.  Starting a run spends
:func:`simulations.timeline_release.timeline_epsilon` of the analyst's privacy budget once (a
spent budget is a message on the page and nothing runs); the page and CSVs read the kept noisy
release, so viewing a run again spends nothing and shows the same numbers.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import polars as pl
from anyio import to_thread
from litestar import Request, Response, get
from litestar.params import FromPath

from api.app.access import may_read_simulation, source_of
from api.app.auth import User
from api.app.errors import UnavailableError
from api.app.i18n import language_of
from api.app.pages import gate, render, user_or_none
from api.app.services import Services, services
from core.errors import NotFoundError
from simulations.jobs import SimulationRow
from simulations.preview import preview_as_of
from simulations.sampling import check_residents
from simulations.timeline_job import (
    DEFAULTS,
    SAMPLED_TABLES,
    TimelineParams,
    progress_of,
    sampled_timeline_work,
    track,
)
from simulations.timeline_release import timeline_epsilon
from simulations.timeline_view import metric_name, peak_of, take_up_rows, timeline_charts

__all__ = ["TIMELINE_ROUTES", "analyst_or_refusal", "start_timeline", "timeline_section"]

ROLES: Final = ("analyst", "admin")
_SHOWN_RUNS = 20


def analyst_or_refusal(request: Request[Any, Any, Any]) -> User | Response[Any]:
    """The analyst (or admin) asking, or the page to send instead: log in, or 403."""
    return gate(request, ROLES)


def timeline_section(
    svc: Services, form: dict[str, Any] | None = None, user: User | None = None
) -> dict[str, Any]:
    """What the analyst page's timeline section shows: the form's values and the last runs
    ``user`` may read."""
    if user is None:
        author: str | None = ""  # nobody's
    else:
        author = None if user.role == "admin" else user.username
    listed = svc.simulations.list(100, author=author)
    runs = [r for r in listed if r.kind == "timeline"][:_SHOWN_RUNS]
    return {"form": {**DEFAULTS, **(form or {})}, "runs": runs}


def start_timeline(svc: Services, user: User, form: dict[str, Any], source: str) -> int:
    """Check the form and start the run; its id.  Bad input raises a ``ZhidaError``."""
    params = TimelineParams.parse(form)
    if svc.population is None:
        raise UnavailableError(
            "simulations need the population: start the server with `zhida serve --population DIR`"
        )
    check_residents(svc.population, params.residents)
    as_of = preview_as_of(svc.runs)
    catalog = svc.policies.catalog(as_of)
    work, progress = sampled_timeline_work(
        svc.population, catalog, as_of, params, svc.privacy.params
    )
    epsilon = timeline_epsilon(svc.privacy.params)
    svc.privacy.charge(user.username, f"simulation:{uuid.uuid4().hex}", epsilon)
    row = svc.simulations.start(
        "timeline",
        {"as_of": as_of.isoformat(), **params.as_dict(), "from": "console", "epsilon": epsilon},
        user.username, work,
    )  # fmt: skip
    track(row.id, progress)
    svc.audit.append(
        actor=user.username, role=user.role, action="simulation.run", entity_type="simulation",
        entity_id=str(row.id), source=source, details={"kind": "timeline", **params.as_dict()},
    )  # fmt: skip
    return row.id


def _row(svc: Services, sim_id: int, user: User) -> SimulationRow | None:
    try:
        row = svc.simulations.get(sim_id)
    except NotFoundError:
        return None
    readable = row.kind == "timeline" and may_read_simulation(user, row.author)
    return row if readable else None  # another analyst's run: as if there were none


def _missing(request: Request[Any, Any, Any], user: User) -> Response[Any]:
    return render(request, "analyst_timeline.html", status=404, user=user, run=None)


@get("/console/analyst/timeline/{sim_id:int}", include_in_schema=False)
async def timeline_page(request: Request[Any, Any, Any], sim_id: FromPath[int]) -> Response[Any]:
    return await to_thread.run_sync(_timeline_page, request, sim_id)


def _timeline_page(request: Request[Any, Any, Any], sim_id: int) -> Response[Any]:
    user = analyst_or_refusal(request)
    if not isinstance(user, User):
        return user
    svc = services(request)
    row = _row(svc, sim_id, user)
    if row is None:
        return _missing(request, user)
    shown: dict[str, Any] = {"run": row, "progress": progress_of(sim_id), "tables": SAMPLED_TABLES}
    if row.status == "done":
        folder = svc.simulations.directory / str(sim_id)
        try:
            daily = pl.read_csv(folder / "daily.csv", try_parse_dates=True)
            summary = pl.read_csv(folder / "summary.csv")
        except OSError:
            shown["gone"] = True
        else:
            shown["charts"] = timeline_charts(daily, summary, language_of(request))
            lang = language_of(request)
            shown["take_up"] = [
                {**row, "metric": metric_name(row["metric"], lang)} for row in take_up_rows(summary)
            ]
            shown["peak"] = peak_of(daily)
            if (folder / "beijing.csv").is_file():  # a calibrated population's scale
                shown["beijing"] = [
                    {**row, "metric": metric_name(row["metric"], lang)}
                    for row in take_up_rows(pl.read_csv(folder / "beijing.csv"))
                ]
            svc.audit.append(  # the figures this page releases, as the API's read is audited
                actor=user.username, role=user.role, action="simulation.read",
                entity_type="simulation", entity_id=str(sim_id), source=source_of(request),
                details={"figures": {str(sim_id): row.summary}},
            )  # fmt: skip
    return render(request, "analyst_timeline.html", user=user, **shown)


@get("/console/analyst/timeline/{sim_id:int}/status", include_in_schema=False)
async def timeline_status(request: Request[Any, Any, Any], sim_id: FromPath[int]) -> Response[Any]:
    return await to_thread.run_sync(_timeline_status, request, sim_id)


def _timeline_status(request: Request[Any, Any, Any], sim_id: int) -> Response[Any]:
    user = user_or_none(request)
    if user is None or user.role not in ROLES:
        message = "log in as an analyst or admin" if user is None else "analysts and admins only"
        return Response({"message": message}, status_code=401 if user is None else 403)
    row = _row(services(request), sim_id, user)
    if row is None:
        return Response({"message": f"no timeline run {sim_id}"}, status_code=404)
    progress = progress_of(sim_id)
    return Response({
        "id": row.id, "status": row.status, "error": row.error,
        "done": progress.done if progress else None, "total": progress.total if progress else None,
    })  # fmt: skip


@get("/console/analyst/timeline/{sim_id:int}/csv/{name:str}", include_in_schema=False)
async def timeline_csv(
    request: Request[Any, Any, Any], sim_id: FromPath[int], name: FromPath[str]
) -> Response[Any]:
    return await to_thread.run_sync(_timeline_csv, request, sim_id, name)


def _timeline_csv(request: Request[Any, Any, Any], sim_id: int, name: str) -> Response[Any]:
    user = analyst_or_refusal(request)
    if not isinstance(user, User):
        return user
    svc = services(request)
    row = _row(svc, sim_id, user)
    path = svc.simulations.directory / str(sim_id) / f"{name}.csv"
    if row is None or name not in SAMPLED_TABLES or row.status != "done" or not path.is_file():
        what = (
            f"tables: {', '.join(SAMPLED_TABLES)}"
            if row is not None
            else "runs are on /console/analyst"
        )
        return Response(f"no such table of a finished timeline run ({what})\n", status_code=404,
                        media_type="text/plain")  # fmt: skip
    svc.audit.append(
        actor=user.username, role=user.role, action="data.export", entity_type="simulation",
        entity_id=str(sim_id), source=source_of(request),
        details={"what": f"timeline {name} (CSV)"},
    )  # fmt: skip
    return Response(
        path.read_bytes(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="timeline-{sim_id}-{name}.csv"'},
    )  # fmt: skip


TIMELINE_ROUTES = [timeline_page, timeline_status, timeline_csv]
