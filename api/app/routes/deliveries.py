"""Delivery operations for operators: the ledger by channel and status, parked rows, replay.

Addresses (phone numbers, e-mail, webhook URLs) are masked: an operator needs to see that a
row failed and why, not whom it was for.  A replay is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter

from api.app.access import allow, current_user, source_of
from api.app.masking import mask
from api.app.services import services
from core.settings import get_settings
from notifier.outbox import LedgerRow, Outbox

__all__ = ["DELIVERY_ROUTES", "DeliveryRow"]

_operators = allow("operator", "admin")


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    channel: str
    status: str
    purpose: str
    address: str | None  # masked
    attempts: int
    max_attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime

    @classmethod
    def of(cls, r: LedgerRow) -> DeliveryRow:
        return cls(
            r.id, r.channel, r.status, r.purpose, mask(r.address), r.attempts, r.max_attempts,
            r.last_error, r.created_at, r.next_attempt_at,
        )  # fmt: skip


@get("/api/v1/deliveries/summary", guards=[_operators], sync_to_thread=True, tags=["deliveries"])
def summary(request: Request[Any, Any, Any]) -> dict[str, dict[str, int]]:
    """Ledger rows by channel, then by status (pending, sending, delivered, failed, cancelled)."""
    return Outbox(services(request).engine).counts()


@get("/api/v1/deliveries/failed", guards=[_operators], sync_to_thread=True, tags=["deliveries"])
def failed(
    request: Request[Any, Any, Any], limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100
) -> list[DeliveryRow]:
    """Rows parked after their last attempt failed, oldest first, with the last error."""
    rows = Outbox(services(request).engine).rows("failed", limit=limit)
    return [DeliveryRow.of(r) for r in rows]


@post(
    "/api/v1/deliveries/{row_id:int}/replay",
    guards=[_operators], sync_to_thread=True, status_code=200, tags=["deliveries"],
)  # fmt: skip
def replay(request: Request[Any, Any, Any], row_id: FromPath[int]) -> DeliveryRow:
    """Give a parked row a fresh set of attempts, due now (the sweeper enqueues it)."""
    svc = services(request)
    outbox = Outbox(svc.engine)
    outbox.replay([row_id], now=datetime.now(UTC), attempts=get_settings().delivery_attempts)
    user = current_user(request)
    svc.audit.append(
        actor=user.username, role=user.role, action="delivery.replay", entity_type="outbox",
        entity_id=str(row_id), source=source_of(request),
    )  # fmt: skip
    return DeliveryRow.of(outbox.get(row_id))


DELIVERY_ROUTES = [summary, failed, replay]
