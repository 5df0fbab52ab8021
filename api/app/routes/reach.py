"""``GET /api/v1/reach``: reach of the published catalog in the latest run, aggregates only.

Released by :func:`simulations.run_release.private_per_policy`: every count noisy, the noisy
ones under 10 shown as "<10", the same answer for everyone per run, charged once to each
user's privacy budget (:mod:`simulations.budget`; a spent budget is a 429).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Request, get

from api.app.access import allow, current_user
from api.app.services import Services, services
from matcher.runs import Run

__all__ = ["REACH_ROUTES", "Reach", "released_reach"]


@dataclass(frozen=True)
class Reach:
    policy_id: str
    eligible: int | str  # noisy; "<10" for small groups
    maybe: int | str
    run_id: int
    as_of: date


def released_reach(svc: Services, username: str, run: Run) -> list[dict[str, Any]]:
    """The run's per-policy release for ``username`` (kept once per run, charged once)."""
    from simulations.run_release import private_per_policy, reach_epsilon, run_policies

    params = svc.privacy.params
    policies = run_policies(run.pairs_file, svc.runs.rule_hashes(run.run_id))
    key = f"reach:{run.run_id}:{params.fingerprint}"
    figures, _ = svc.privacy.answer(
        username, key, "reach", reach_epsilon(len(policies), params),
        lambda: {"rows": private_per_policy(run.pairs_file, policies, params)},
    )  # fmt: skip
    rows: list[dict[str, Any]] = figures["rows"]
    return rows


@get(
    "/api/v1/reach", guards=[allow("officer", "reviewer", "analyst", "admin")],
    sync_to_thread=True, tags=["reach"],
)  # fmt: skip
def reach(request: Request[Any, Any, Any]) -> list[Reach]:
    """Subjects eligible and maybe per policy in the latest match run (noisy, k-anonymous)."""
    svc = services(request)
    run = svc.runs.latest()
    if run is None or not run.pairs_file.is_file():
        return []
    rows = released_reach(svc, current_user(request).username, run)
    return [Reach(r["policy_id"], r["eligible"], r["maybe"], run.run_id, run.as_of) for r in rows]


REACH_ROUTES = [reach]
