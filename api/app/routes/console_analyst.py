"""The analyst's console page: reach of a draft catalog change (政策推演), aggregates only.

The analyst picks a published policy (its YAML is put in the editor) or pastes a draft, and
runs :func:`simulations.reach_job.reach_summary` of the published catalog with the draft in
place on the server's population.  What comes back is counts and costs by group — never a
subject — every figure shown or withheld by :mod:`simulations.disclosure` (a count under 10 as
"<10", its cost too, which would otherwise give the count away).  The tables are kept on disk
under the data directory for the CSV download, which only the analyst who ran it (or an admin)
may fetch, audited as a data export.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from api.app.access import may_read_simulation, source_of
from api.app.auth import User
from api.app.i18n import language_of, words
from api.app.pages import render
from api.app.routes.console_analyst_fairness import fairness_release, fairness_section
from api.app.routes.console_analyst_timeline import (
    TIMELINE_ROUTES,
    start_timeline,
    timeline_section,
)
from api.app.routes.console_analyst_timeline import analyst_or_refusal as _analyst
from api.app.services import Services, services
from core.errors import ZhidaError
from simulations.charts import bar_chart
from simulations.preview import preview_as_of
from simulations.reach_job import reach_summary
from simulations.reach_results import ReachResults, reach_csv
from simulations.reform import with_draft

__all__ = ["ANALYST_ROUTES", "charts"]

_MAX_DOCUMENT = 64_000


def _as_of(svc: Services) -> date:
    return preview_as_of(svc.runs)


def _form(
    request: Request[Any, Any, Any], svc: Services, user: User, *, status: int = 200,
    document: str = "", picked: str | None = None, as_of: date | None = None,
    timeline: dict[str, Any] | None = None, fairness: dict[str, Any] | None = None,
    **more: Any,
) -> Template:  # fmt: skip
    catalog = svc.policies.catalog(as_of or _as_of(svc))
    return render(
        request, "analyst.html", status=status, user=user,
        policies=sorted(catalog.policies, key=lambda p: p.id), picked=picked,
        document=document, as_of=(as_of or _as_of(svc)).isoformat(),
        population=svc.population is not None,
        timeline=timeline or timeline_section(svc, user=user),
        fairness=fairness or fairness_section(svc, user),
        **{"problems": [], "result": None, "timeline_problem": None, **more},
    )  # fmt: skip


@get("/console/analyst", include_in_schema=False)
async def analyst_page(
    request: Request[Any, Any, Any], policy: FromQuery[str | None] = None
) -> Response[Any]:
    return await to_thread.run_sync(_analyst_page, request, policy)


def _analyst_page(request: Request[Any, Any, Any], policy: str | None) -> Response[Any]:
    user = _analyst(request)
    if not isinstance(user, User):
        return user
    svc = services(request)
    catalog = svc.policies.catalog(_as_of(svc))
    document = catalog.texts.get(policy or "", "")
    return _form(request, svc, user, document=document, picked=policy)


@post("/console/analyst", include_in_schema=False)
async def analyst_run(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await request.form()
    return await to_thread.run_sync(_analyst_run, request, form)


def _analyst_run(request: Request[Any, Any, Any], form: Any) -> Response[Any]:
    from rules.loader import CatalogError, load_policy_text

    user = _analyst(request)
    if not isinstance(user, User):
        return user
    svc = services(request)
    document = str(form.get("document") or "")

    def refuse(status: int, message: str, as_of: date | None = None) -> Template:
        return _form(request, svc, user, status=status, document=document, as_of=as_of,
                     problems=[_problem(message)])  # fmt: skip

    try:
        as_of = date.fromisoformat(str(form.get("as_of") or _as_of(svc).isoformat()))
    except ValueError:
        return refuse(422, f"as-of date {form.get('as_of')!r} is not YYYY-MM-DD; fix the date")
    if not document.strip():
        return refuse(422, "the draft is empty; pick a published policy or paste one policy's "
                      "YAML", as_of)  # fmt: skip
    if len(document) > _MAX_DOCUMENT:
        return refuse(422, f"the draft is over {_MAX_DOCUMENT:,} characters; paste one policy",
                      as_of)  # fmt: skip
    if svc.population is None:
        return refuse(503, "simulations need the population: start the server with `zhida "
                      "serve --population DIR`", as_of)  # fmt: skip
    try:
        draft = load_policy_text(document, Path("<draft>"))
    except CatalogError as err:
        problems = [
            {"line": getattr(p, "line", 1), "col": getattr(p, "col", 1),
             "message": getattr(p, "detail", str(p))}
            for p in err.problems
        ]  # fmt: skip
        return _form(request, svc, user, status=422, document=document, as_of=as_of,
                     problems=problems)  # fmt: skip
    baseline = svc.policies.catalog(as_of)
    reform = with_draft(baseline, draft, document)
    try:
        # An aggregate-only answer: refused if the draft reads an identifier, noisy, charged.
        import uuid

        from simulations.reach import group_columns
        from simulations.reach_release import simulation_epsilon

        changes = sum(1 for p in reform.policies if baseline.by_id.get(p.id) != p)
        epsilon = simulation_epsilon(
            max(1, changes), len(group_columns("resident")), svc.privacy.params
        )
        svc.privacy.afford(user.username, epsilon)
        result = reach_summary(svc.population, baseline, reform, as_of, svc.privacy.params)
        svc.privacy.charge(user.username, f"simulation:{uuid.uuid4().hex}", epsilon)
    except ZhidaError as err:
        return refuse(err.http_status, err.message, as_of)
    sim_id = ReachResults(svc.data_dir).keep(user.username, result)
    svc.audit.append(
        actor=user.username, role=user.role, action="simulation.run", entity_type="simulation",
        entity_id=sim_id, source=source_of(request),
        details={"policy_id": draft.id, "as_of": as_of.isoformat(), "epsilon": epsilon,
                 "document_sha256": hashlib.sha256(document.encode("utf-8")).hexdigest(),
                 "figures": {k: result.get(k) for k in ("total", "groups", "overlap")}},
    )  # fmt: skip
    # A draft not valid on the as-of date matches no one: say so rather than show only zeros.
    valid = f"{draft.valid_from} – {draft.valid_until or '…'}"
    shown = {
        **result, "sim_id": sim_id, "charts": charts(result, language_of(request)),
        "not_in_force": None if draft.in_force(as_of) else valid,
    }  # fmt: skip
    return _form(request, svc, user, document=document, picked=draft.id, as_of=as_of,
                 result=shown)  # fmt: skip


@post("/console/analyst/timeline", include_in_schema=False)
async def analyst_timeline_run(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await request.form()
    return await to_thread.run_sync(_analyst_timeline_run, request, form)


def _analyst_timeline_run(request: Request[Any, Any, Any], form: Any) -> Response[Any]:
    """Start a timeline run and go to its page; bad parameters are said on the analyst page."""
    user = _analyst(request)
    if not isinstance(user, User):
        return user
    svc = services(request)
    asked: dict[str, Any] = {k: str(form.get(k) or "") for k in ("months", "residents", "seeds")}
    asked["push"] = bool(form.get("push"))
    try:
        sim_id = start_timeline(svc, user, dict(form), source_of(request))
    except ZhidaError as err:
        section = timeline_section(svc, asked, user)
        return _form(request, svc, user, status=err.http_status, timeline=section,
                     timeline_problem=err.message)  # fmt: skip
    return Redirect(f"/console/analyst/timeline/{sim_id}", status_code=303)


@post("/console/analyst/fairness", include_in_schema=False)
async def analyst_fairness_run(request: Request[Any, Any, Any]) -> Response[Any]:
    return await to_thread.run_sync(_analyst_fairness_run, request)


def _analyst_fairness_run(request: Request[Any, Any, Any]) -> Response[Any]:
    """Release the latest run's fairness figures to this analyst (charged once), audited."""
    user = _analyst(request)
    if not isinstance(user, User):
        return user
    svc = services(request)
    try:
        figures = fairness_release(svc, user, run=True)
    except ZhidaError as err:
        section = {**fairness_section(svc, user), "problem": err.message}
        return _form(request, svc, user, status=err.http_status, fairness=section)
    svc.audit.append(
        actor=user.username, role=user.role, action="fairness.release", entity_type="match_run",
        entity_id=str(figures["run_id"]), source=source_of(request),
        details={"how": figures["how"], "coverage": figures["coverage"],
                 "exposure": figures["exposure"]},
    )  # fmt: skip
    return Redirect("/console/analyst#fairness", status_code=303)


def _problem(message: str) -> dict[str, Any]:
    return {"line": None, "col": None, "message": message}


@get("/console/analyst/{sim_id:str}/reach.csv", include_in_schema=False)
async def analyst_csv(request: Request[Any, Any, Any], sim_id: FromPath[str]) -> Response[Any]:
    return await to_thread.run_sync(_analyst_csv, request, sim_id)


def _analyst_csv(request: Request[Any, Any, Any], sim_id: str) -> Response[Any]:
    user = _analyst(request)
    if not isinstance(user, User):
        return user
    svc = services(request)
    # Loaded as any reader, then the one rule of who reads a simulation (as the API's).
    result = ReachResults(svc.data_dir).load(sim_id, reader=user.username, admin=True)
    if result is None or not may_read_simulation(user, str(result.get("owner"))):
        return Response("no such simulation; run one on the analyst page\n", status_code=404,
                        media_type="text/plain")  # fmt: skip
    svc.audit.append(
        actor=user.username, role=user.role, action="data.export", entity_type="simulation",
        entity_id=sim_id, source=source_of(request), details={"what": "reach by group (CSV)"},
    )  # fmt: skip
    return Response(
        reach_csv(result), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reach-{sim_id}.csv"'},
    )  # fmt: skip


def charts(result: dict[str, Any], lang: str) -> list[str]:
    """One k-anonymous SVG chart per grouping dimension: eligible before and after.

    The counts are the table's, already disclosed: a withheld "<10" is drawn as a stub with
    that text (:func:`simulations.charts.bar_chart`), so no bar's length gives a small count
    away.
    """
    by_dimension: dict[str, list[dict[str, Any]]] = {}
    for row in result.get("groups", []):
        by_dimension.setdefault(str(row["dimension"]), []).append(row)
    before, after = ("改革前", "改革后") if lang == "zh" else ("before", "after")
    t = words(lang)
    title = "符合条件人数：按" if lang == "zh" else "Eligible by "
    return [
        bar_chart(
            title + t.get(f"dim_{dimension}", dimension),
            [str(r["group"]) for r in rows],
            {
                before: [r["eligible_before"] for r in rows],
                after: [r["eligible_after"] for r in rows],
            },
        )
        for dimension, rows in by_dimension.items()
    ]


ANALYST_ROUTES = [
    analyst_page, analyst_run, analyst_csv, analyst_timeline_run, analyst_fairness_run,
    *TIMELINE_ROUTES,
]  # fmt: skip
