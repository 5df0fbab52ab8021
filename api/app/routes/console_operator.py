"""The operator's console page: the delivery dashboard, and replaying what failed.

Throughput (delivered in the last 5 minutes and hour), the backlog by channel and status,
rows deferred by quiet hours and until when, what the planner suppressed and why, receipts by
event (undeliverable SMS among them, as ``zhida deliveries status`` counts them), and the
parked (failed) rows with their last error and a replay button.  Addresses are masked as in
``GET /api/v1/deliveries/failed``; a replay goes through the same handler as
``POST /api/v1/deliveries/{id}/replay`` (and is audited there).  Plans held by the mass-change
guard or by an operator are listed with their reasons and release and discard buttons
(audited), and the endings a deliberate act let through are shown beside them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from api.app.access import source_of
from api.app.auth import User
from api.app.delivery_dashboard import deferred, receipts, suppressed, throughput
from api.app.pages import gate, render
from api.app.routes.deliveries import DeliveryRow, replay
from api.app.services import services
from core.errors import ZhidaError
from core.settings import get_settings
from notifier.dispatch import quiet_hours_of
from notifier.holds import PlanHolds
from notifier.outbox import STATUSES, Outbox

__all__ = ["OPERATOR_ROUTES"]

_ROLES: Final = ("operator", "admin")
_FAILED_SHOWN = 100


def _operator(request: Request[Any, Any, Any]) -> User | Response[Any]:
    return gate(request, _ROLES)


def _local(moment: datetime) -> str:
    tz = get_settings().tz
    return moment.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M")


@get("/console/operator", include_in_schema=False)
async def operator_page(
    request: Request[Any, Any, Any],
    replayed: FromQuery[int | None] = None,
    released: FromQuery[int | None] = None,
) -> Response[Any]:
    return await to_thread.run_sync(_operator_page, request, replayed, None, released)


def _operator_page(
    request: Request[Any, Any, Any], replayed: int | None, error: str | None,
    released: int | None = None,
) -> Response[Any]:  # fmt: skip
    user = _operator(request)
    if not isinstance(user, User):
        return user
    engine = services(request).engine
    now = datetime.now(UTC)
    counts = Outbox(engine).counts()
    failed = [DeliveryRow.of(r) for r in Outbox(engine).rows("failed", limit=_FAILED_SHOWN)]
    held = deferred(engine, now=now)
    return render(
        request, "operator.html", status=400 if error else 200, user=user,
        statuses=STATUSES, counts=counts,
        totals={s: sum(c.get(s, 0) for c in counts.values()) for s in STATUSES},
        throughput=throughput(engine, now=now),
        deferred=[(d, _local(d.first_due), _local(d.last_due)) for d in held],
        suppressed=suppressed(engine), receipts=receipts(engine), failed=failed,
        replayed=replayed, error=error,
        timezone=get_settings().timezone, now=_local(now.replace(tzinfo=None)),
        guarded=[(g, _local(g.decided_at)) for g in PlanHolds(engine).recent(limit=20)],
        released=released,
    )  # fmt: skip


@post("/console/operator/replay/{row_id:int}", include_in_schema=False)
async def operator_replay(request: Request[Any, Any, Any], row_id: FromPath[int]) -> Response[Any]:
    return await to_thread.run_sync(_operator_replay, request, row_id)


def _operator_replay(request: Request[Any, Any, Any], row_id: int) -> Response[Any]:
    user = _operator(request)
    if not isinstance(user, User):
        return user
    try:
        # The API's replay handler: only a parked row, a fresh set of attempts, audited.
        replay.fn(request, row_id=row_id)
    except ZhidaError as err:
        return _operator_page(request, None, err.message)
    return Redirect(f"/console/operator?replayed={row_id}#failed", status_code=303)


@post("/console/operator/release/{plan_id:int}", include_in_schema=False)
async def operator_release(
    request: Request[Any, Any, Any], plan_id: FromPath[int]
) -> Response[Any]:
    return await to_thread.run_sync(_operator_release, request, plan_id)


def _operator_release(
    request: Request[Any, Any, Any], plan_id: int, action: str = "release"
) -> Response[Any]:
    """Release a held plan (its rows are pending again; the workers' sweeper sends them), or
    discard it (none of it is sent); audited either way."""
    user = _operator(request)
    if not isinstance(user, User):
        return user
    svc = services(request)
    holds = PlanHolds(svc.engine)
    now = datetime.now(UTC)
    settings = get_settings()
    try:
        if action == "release":
            holds.release(
                plan_id, by=user.username, now=now, quiet_hours=quiet_hours_of(settings),
                tz=settings.tz,
            )  # fmt: skip
        else:
            holds.discard(plan_id, by=user.username, now=now)
    except ZhidaError as err:
        return _operator_page(request, None, err.message)
    svc.audit.append(
        actor=user.username, role=user.role, action=f"delivery.{action}",
        entity_type="delivery_plan", entity_id=str(plan_id), source=source_of(request),
    )  # fmt: skip
    return Redirect(f"/console/operator?released={plan_id}#held", status_code=303)


@post("/console/operator/discard/{plan_id:int}", include_in_schema=False)
async def operator_discard(
    request: Request[Any, Any, Any], plan_id: FromPath[int]
) -> Response[Any]:
    return await to_thread.run_sync(_operator_release, request, plan_id, "discard")


OPERATOR_ROUTES = [operator_page, operator_replay, operator_release, operator_discard]
