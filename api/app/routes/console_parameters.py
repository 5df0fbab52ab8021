"""The parameter library on the console (参数库): each value with its dates and its source.

``/console/parameters`` lists every parameter; ``/console/policies/{id}/parameters`` the ones a
published policy reads.  Each parameter shows every value it has had, oldest last, each with
its document, issuing body, date and address, or "modelled" and the reason, and the published
policies that read it.  Like the published algorithm, they are public: the amounts the law
sets, not anyone's data.  The page only shows what :mod:`rules.parameters` and the policy store
hold.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, get
from litestar.params import FromPath

from api.app.pages import render, user_or_none
from api.app.services import services
from core.errors import NotFoundError

__all__ = ["PARAMETER_ROUTES"]


@get("/console/parameters", include_in_schema=False)
async def parameters_page(request: Request[Any, Any, Any]) -> Response[Any]:
    return await to_thread.run_sync(_page, request, None)


@get("/console/policies/{policy_id:str}/parameters", include_in_schema=False)
async def policy_parameters_page(
    request: Request[Any, Any, Any], policy_id: FromPath[str]
) -> Response[Any]:
    return await to_thread.run_sync(_page, request, policy_id)


def _page(request: Request[Any, Any, Any], policy_id: str | None) -> Response[Any]:
    from rules.parameter_use import readers
    from rules.parameters import active

    svc = services(request)
    catalog = svc.policies.catalog()
    read_by = readers(catalog.policies)
    library = active()
    shown = sorted(library.parameters, key=lambda p: p.name)
    title = provenance = None
    if policy_id is not None:
        policy = catalog.by_id.get(policy_id)
        if policy is None:
            err = NotFoundError(f"no published policy {policy_id!r}; /console/parameters lists all")
            return render(
                request, "denied.html", status=404, user=user_or_none(request), needed=err.message
            )
        shown = [p for p in shown if policy_id in read_by.get(p.name, [])]
        title = policy.title
        # cited or modelled, as the policy declares (issue 16): shown above its figures
        provenance = {"kind": policy.provenance, "note": policy.provenance_note,
                      "basis": policy.basis}  # fmt: skip
    rows = [
        {
            "name": p.name, "name_zh": p.name_zh, "unit": p.unit, "kind": p.kind,
            "description": p.description, "description_en": p.description_en,
            "read_by": [
                (pid, catalog.by_id[pid].title, catalog.by_id[pid].modelled)
                for pid in read_by.get(p.name, [])
            ],
            "versions": [
                {
                    "start": v.start.isoformat(),
                    "end": v.end.isoformat() if v.end else None, "value": v.shown(),
                    "modelled": v.source.modelled, "document": v.source.document,
                    "title": v.source.title, "issuer": v.source.issuer,
                    "issued": v.source.issued.isoformat() if v.source.issued else None,
                    "url": v.source.url,
                }
                for v in reversed(p.versions)
            ],
        }
        for p in shown
    ]  # fmt: skip
    return render(
        request, "parameters.html", user=user_or_none(request), rows=rows, policy_id=policy_id,
        policy_title=title, provenance=provenance,
    )  # fmt: skip


PARAMETER_ROUTES = [parameters_page, policy_parameters_page]
