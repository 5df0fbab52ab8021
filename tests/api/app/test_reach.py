from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from matcher.runs import RunStore
from simulations.privacy import PrivacyParameters
from tests.api.app.world import World


def test_reach_counts_per_policy_with_small_groups_suppressed(world: World, tmp_path: Path) -> None:
    pairs = tmp_path / "big.parquet"
    n = 25
    pl.DataFrame(
        {
            "subject_id": [f"P{i}" for i in range(n)] + ["P0", "P1"],
            "subject_type": ["resident"] * (n + 2),
            "policy_id": ["bj-a"] * n + ["bj-b", "bj-b"],
            "status": ["eligible"] * 20 + ["maybe"] * 5 + ["eligible", "maybe"],
            "benefit": [None] * (n + 2),
        },
        schema_overrides={"benefit": pl.Float64},
    ).write_parquet(pairs)
    svc = world.client.app.state["services"]
    # What is counted: an ε so large the noise rounds to nothing (test_privacy.py checks the
    # released figures at the published parameters).
    svc.privacy.params = PrivacyParameters(epsilon=1e9, daily_cap=1e15, lifetime_cap=1e15)
    data_dir = svc.data_dir
    RunStore(world.engine, data_dir).record(
        pairs, as_of=date(2026, 4, 1), catalog_hash="e" * 64, population="p" * 64,
        started_at=datetime(2026, 4, 1, tzinfo=UTC), seconds=1.0, policies=2,
    )  # fmt: skip
    response = world.client.get("/api/v1/reach", headers=world.as_("analyst"))
    rows = [(r["policy_id"], r["eligible"], r["maybe"]) for r in response.json()]
    assert rows == [("bj-a", 20, "<10"), ("bj-b", "<10", "<10")]
    assert "P1" not in response.text
