"""Privacy budgets for an admin: who spent how much of their ε, and audited resets.

``GET /api/v1/privacy/budgets`` lists every user who ever received a noisy release, with the ε
spent today (UTC) and since their last reset beside the caps; ``GET …/budgets/{username}`` is
one user (also their own, for any staff role); ``POST …/budgets/{username}/reset`` with a
reason starts a user's budget afresh and is an audit entry naming who, why and what was spent.
The budgets are :mod:`simulations.budget`'s; the parameters :mod:`simulations.privacy`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath, JSONBody

from api.app.access import allow, current_user, source_of
from api.app.errors import ForbiddenError
from api.app.services import services
from core.errors import ValidationError
from simulations.budget import Spent

__all__ = ["PRIVACY_ROUTES", "Budget", "ResetIn"]


@dataclass(frozen=True)
class Budget:
    username: str
    spent_today: float  # ε spent since 00:00 UTC (and since the last reset)
    spent_lifetime: float  # ε spent since the last reset
    left_today: float  # what may still be spent today
    daily_cap: float
    lifetime_cap: float
    releases: int  # noisy answers received since the last reset
    last_reset: datetime | None
    epsilon_per_figure: float
    unit: str  # the privacy unit: one subject

    @classmethod
    def of(cls, s: Spent, epsilon: float, unit: str) -> Budget:
        return cls(
            s.username, s.today, s.lifetime, round(s.left, 6), s.daily_cap, s.lifetime_cap,
            s.releases, s.last_reset, epsilon, unit,
        )  # fmt: skip


@dataclass(frozen=True)
class ResetIn:
    reason: str  # why the budget is reset (kept in the audit log)


@get("/api/v1/privacy/budgets", guards=[allow("admin")], sync_to_thread=True, tags=["privacy"])
def list_budgets(request: Request[Any, Any, Any]) -> list[Budget]:
    """Every user's privacy budget, most spent today first (admins only)."""
    privacy = services(request).privacy
    p = privacy.params
    return [Budget.of(s, p.epsilon, p.unit) for s in privacy.budgets()]


@get(
    "/api/v1/privacy/budgets/{username:str}",
    guards=[allow("officer", "reviewer", "analyst", "admin")], sync_to_thread=True,
    tags=["privacy"],
)  # fmt: skip
def one_budget(request: Request[Any, Any, Any], username: FromPath[str]) -> Budget:
    """One user's privacy budget: their own, or anyone's for an admin."""
    user = current_user(request)
    if user.role != "admin" and user.username != username:
        raise ForbiddenError("only an admin sees another user's privacy budget")
    privacy = services(request).privacy
    p = privacy.params
    return Budget.of(privacy.spent(username), p.epsilon, p.unit)


@post(
    "/api/v1/privacy/budgets/{username:str}/reset", guards=[allow("admin")], status_code=200,
    sync_to_thread=True, tags=["privacy"],
)  # fmt: skip
def reset_budget(
    request: Request[Any, Any, Any], username: FromPath[str], data: JSONBody[ResetIn]
) -> Budget:
    """Start a user's privacy budget afresh (audited with the reason and what was spent)."""
    reason = data.reason.strip()
    if len(reason) < 10:
        raise ValidationError(
            "a reset needs a reason of at least 10 characters (it is kept in the audit log); "
            "say why this user may learn more"
        )
    svc, admin = services(request), current_user(request)
    before = svc.privacy.reset(username, admin.username, reason)
    svc.audit.append(
        actor=admin.username, role=admin.role, action="privacy.reset", entity_type="user",
        entity_id=username, source=source_of(request),
        details={"reason": reason, "spent_today": before.today,
                 "spent_lifetime": before.lifetime, "releases": before.releases},
    )  # fmt: skip
    p = svc.privacy.params
    return Budget.of(svc.privacy.spent(username), p.epsilon, p.unit)


PRIVACY_ROUTES = [list_budgets, one_budget, reset_budget]
