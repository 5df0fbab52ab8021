"""Simulations (政策推演): an analyst runs reach or timeline simulations; results are kept.

``POST /api/v1/simulations`` records one and starts it in the background (202); its status,
summary and tables are at ``GET /api/v1/simulations/{id}``; each table downloads as CSV
(``/tables/{name}``), audited as a data export.  The jobs are :mod:`simulations.jobs`.

A reach simulation is an aggregate-only answer (:func:`simulations.reach_job.private_simulation`):
a rule reading an identifier or a quasi-identifier is a 422 naming the field and why; every
figure is noisy before :mod:`simulations.disclosure` withholds the small ones; starting one
spends :func:`simulations.reach_release.simulation_epsilon` of the analyst's privacy budget (a
spent budget is a 429).  A timeline is released the same way
(:mod:`simulations.timeline_release`: each subject's part bounded, noisy figures, only the
release kept) and its start spends :func:`simulations.timeline_release.timeline_epsilon`;
reading a finished simulation again spends nothing and shows the same figures.  Starting
either kind is an audit entry with the documents' hashes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter

from api.app.access import SIMULATION_READERS, allow, check_simulation, current_user, source_of
from api.app.errors import UnavailableError
from api.app.services import services
from matcher.diff import catalog_changes
from simulations.jobs import SimulationRow
from simulations.preview import preview_as_of
from simulations.reach_job import reach_work
from simulations.reform import reform_of
from simulations.timeline_job import timeline_work

__all__ = ["SIMULATION_ROUTES", "SimulationIn"]

# An id the database can hold (a larger one is simply not found, not a 500).
SimId = Annotated[int, Parameter(ge=1, le=2**53)]

_runners = allow("analyst", "admin")
_readers = allow(*SIMULATION_READERS)  # each reads what access.may_read_simulation allows


@dataclass(frozen=True)
class SimulationIn:
    kind: Literal["reach", "timeline"]
    # reach: drafts replacing or adding published policies, and published ids to retire
    documents: list[str] = field(default_factory=list)
    retire: list[str] = field(default_factory=list)
    # timeline: months ahead (1-24), seeds (1-10), with the proactive push or without
    months: int = 3
    seeds: int = 1
    push: bool = True


@post(
    "/api/v1/simulations", guards=[_runners], status_code=202, sync_to_thread=True,
    tags=["simulations"],
)  # fmt: skip
def start_simulation(
    request: Request[Any, Any, Any], data: JSONBody[SimulationIn]
) -> SimulationRow:
    """Check the request, record the simulation and start it in the background (202)."""
    svc = services(request)
    if svc.population is None:
        raise UnavailableError(
            "simulations need the current population: start the server with "
            "`zhida serve --population DIR`"
        )
    as_of = preview_as_of(svc.runs)
    published = svc.dry_runs.published.get(svc.policies, as_of)[1]
    user = current_user(request)
    if data.kind == "reach":
        from profiles.schema import load_schema
        from simulations.preview import document_hash
        from simulations.privacy import refuse_identifying
        from simulations.reach import group_columns
        from simulations.reach_release import simulation_epsilon

        baseline, reform = reform_of(published, data.documents, data.retire)
        refuse_identifying(reform.policies, load_schema(), answer="a reach simulation")
        changed = [c.policy_id for c in catalog_changes(baseline, reform)]
        epsilon = simulation_epsilon(
            len(changed), len(group_columns("resident")), svc.privacy.params
        )
        params: dict[str, Any] = {
            "as_of": as_of.isoformat(), "changed": changed, "epsilon": epsilon,
            "documents_sha256": [document_hash(d) for d in data.documents],
        }  # fmt: skip
        work = reach_work(svc.population, baseline, reform, as_of, svc.privacy.params)
        svc.privacy.charge(user.username, f"simulation:{uuid.uuid4().hex}", epsilon)
        svc.audit.append(
            actor=user.username, role=user.role, action="simulation.start",
            entity_type="simulation", entity_id="reach", source=source_of(request),
            details=params,
        )  # fmt: skip
    else:
        from simulations.timeline_release import timeline_epsilon

        work = timeline_work(
            svc.population, published.catalog, as_of, data.months, data.seeds, data.push,
            svc.privacy.params,
        )  # fmt: skip
        epsilon = timeline_epsilon(svc.privacy.params)
        params = {"as_of": as_of.isoformat(), "months": data.months, "seeds": data.seeds,
                  "push": data.push, "epsilon": epsilon}  # fmt: skip
        svc.privacy.charge(user.username, f"simulation:{uuid.uuid4().hex}", epsilon)
    row = svc.simulations.start(data.kind, params, user.username, work)
    if data.kind == "timeline":  # the published rules' texts, by the catalog's hash
        svc.audit.append(
            actor=user.username, role=user.role, action="simulation.start",
            entity_type="simulation", entity_id=str(row.id), source=source_of(request),
            details={**params, "kind": "timeline", "catalog": published.catalog.content_hash},
        )  # fmt: skip
    return row


@get("/api/v1/simulations", guards=[_readers], sync_to_thread=True, tags=["simulations"])
def list_simulations(
    request: Request[Any, Any, Any], limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100
) -> list[SimulationRow]:
    """Your simulations (an admin: everyone's), newest first, with their status and summary."""
    user, svc = current_user(request), services(request)
    author = None if user.role == "admin" else user.username
    rows = svc.simulations.list(limit, author=author)
    _released(request, [r for r in rows if r.summary is not None])
    return rows


@get(
    "/api/v1/simulations/{sim_id:int}", guards=[_readers], sync_to_thread=True,
    tags=["simulations"],
)  # fmt: skip
def get_simulation(request: Request[Any, Any, Any], sim_id: SimId) -> SimulationRow:
    """One simulation: queued, running, done (with its summary and tables) or failed (why)."""
    row = services(request).simulations.get(sim_id)
    check_simulation(current_user(request), sim_id, row.author)
    if row.summary is not None:
        _released(request, [row])
    return row


def _released(request: Request[Any, Any, Any], rows: list[SimulationRow]) -> None:
    """Audit the figures a read hands out: each finished simulation's summary."""
    if not rows:
        return
    user = current_user(request)
    services(request).audit.append(
        actor=user.username, role=user.role, action="simulation.read", entity_type="simulation",
        entity_id=",".join(str(r.id) for r in rows)[:128], source=source_of(request),
        details={"figures": {str(r.id): r.summary for r in rows}},
    )  # fmt: skip


@get(
    "/api/v1/simulations/{sim_id:int}/tables/{name:str}", guards=[_readers],
    sync_to_thread=True, media_type="text/csv", tags=["simulations"],
)  # fmt: skip
def simulation_table(
    request: Request[Any, Any, Any], sim_id: SimId, name: FromPath[str]
) -> Response[bytes]:
    """One table of a finished simulation as CSV (an audited data export)."""
    svc = services(request)
    user = current_user(request)
    check_simulation(user, sim_id, svc.simulations.get(sim_id).author)
    path = svc.simulations.table(sim_id, name)
    svc.audit.append(
        actor=user.username, role=user.role, action="simulation.export",
        entity_type="simulation", entity_id=str(sim_id), source=source_of(request),
        details={"table": name},
    )  # fmt: skip
    return Response(
        path.read_bytes(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="simulation-{sim_id}-{name}.csv"'},
    )  # fmt: skip


SIMULATION_ROUTES = [start_simulation, list_simulations, get_simulation, simulation_table]
