"""Reach of the published catalog in the latest run: aggregates only, small groups suppressed.

>>> suppress(9), suppress(10), suppress(0)
('<10', 10, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import polars as pl
from litestar import Request, get

from api.app.access import allow
from api.app.services import services

__all__ = ["K_ANONYMITY", "REACH_ROUTES", "Reach", "suppress"]

# Counts under this many subjects are shown as "<10": a group so small could name a person.
K_ANONYMITY: Final = 10


def suppress(count: int, k: int = K_ANONYMITY) -> int | str:
    """A count, or ``"<k"`` when it is positive and under ``k`` (zero is not identifying)."""
    return f"<{k}" if 0 < count < k else count


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
    counts = (
        pl.scan_parquet(run.pairs_file)
        .group_by("policy_id")
        .agg(
            (pl.col("status").cast(pl.String) == "eligible").sum().alias("eligible"),
            (pl.col("status").cast(pl.String) == "maybe").sum().alias("maybe"),
        )
        .sort("policy_id")
        .collect()
    )
    return [
        Reach(p, suppress(int(e)), suppress(int(m)), run.run_id, run.as_of)
        for p, e, m in counts.rows()
    ]


REACH_ROUTES = [reach]
