"""Health, Prometheus metrics, and the audit log for admins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from litestar import MediaType, Request, Response, get
from litestar.params import FromQuery, QueryParameter

from api.app.access import allow, current_user, source_of
from api.app.audit import AuditEntry
from api.app.services import services
from core.db import current_revision

__all__ = ["OPS_ROUTES", "Health"]


@dataclass(frozen=True)
class Health:
    status: str  # ok | degraded
    database: str
    revision: str | None
    head: str


@get("/health", sync_to_thread=True, tags=["ops"])
def health(request: Request[Any, Any, Any]) -> Response[Health]:
    """Liveness and readiness: the database answers and its migrations are current."""
    svc = services(request)
    engine = svc.engine
    try:
        revision = current_revision(engine)
        database = "ok"
    except sa.exc.SQLAlchemyError as exc:
        revision, database = None, f"unreachable: {type(exc).__name__}"
    head = svc.head_revision
    ok = database == "ok" and revision == head
    return Response(
        Health("ok" if ok else "degraded", database, revision, head),
        status_code=200 if ok else 503,
    )


@get(
    "/metrics",
    media_type=MediaType.TEXT,
    sync_to_thread=True,
    tags=["ops"],
    include_in_schema=False,
)
def metrics(request: Request[Any, Any, Any]) -> str:
    """Prometheus text format: requests by route and status, latency histograms, grants."""
    svc = services(request)
    gauges = {
        f"zhida_grants_{status}": (f"grants that are {status}", float(n))
        for status, n in svc.grants.counts().items()
    }
    rendered: str = request.app.state["metrics"].render(gauges)
    return rendered


@get("/api/v1/audit", guards=[allow("admin")], sync_to_thread=True, tags=["ops"])
def audit(
    request: Request[Any, Any, Any],
    entity_type: FromQuery[str | None] = None,
    entity_id: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    """The newest audit entries (reading them is itself an audited export)."""
    svc = services(request)
    entries = svc.audit.entries(entity_type=entity_type, entity_id=entity_id, limit=limit)
    user = current_user(request)
    svc.audit.append(
        actor=user.username, role=user.role, action="audit.export", entity_type="audit_log",
        entity_id="*", source=source_of(request),
        details={"entity_type": entity_type, "entity_id": entity_id, "rows": len(entries)},
    )  # fmt: skip
    return entries


OPS_ROUTES = [health, metrics, audit]
