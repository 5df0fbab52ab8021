"""``GET /api/v1/reach``: reach of the published catalog in the latest run, aggregates only.

Counted by :func:`simulations.run_reach.reach_per_policy`, shown through
:mod:`simulations.disclosure` (counts under 10 as "<10").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Request, get

from api.app.access import allow
from api.app.services import services
from simulations.disclosure import suppress
from simulations.run_reach import reach_per_policy

__all__ = ["REACH_ROUTES", "Reach"]


@dataclass(frozen=True)
class Reach:
    policy_id: str
    eligible: int | str  # "<10" for small groups
    maybe: int | str
    run_id: int
    as_of: date


@get(
    "/api/v1/reach", guards=[allow("officer", "reviewer", "analyst", "admin")],
    sync_to_thread=True, tags=["reach"],
)  # fmt: skip
def reach(request: Request[Any, Any, Any]) -> list[Reach]:
    """Subjects eligible and maybe per policy in the latest match run (k-anonymous)."""
    run = services(request).runs.latest()
    if run is None or not run.pairs_file.is_file():
        return []
    return [
        Reach(p, suppress(int(e)), suppress(int(m)), run.run_id, run.as_of)
        for p, e, m in reach_per_policy(run.pairs_file).rows()
    ]


REACH_ROUTES = [reach]
