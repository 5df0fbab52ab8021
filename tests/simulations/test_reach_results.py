"""The console's kept reach results: only their owner (or an admin) reads them back."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from simulations.reach_results import ReachResults, reach_csv

RESULT = {
    "as_of": "2026-06-30",
    "total": {"eligible_before": "<10", "eligible_after": 40, "maybe_after": 0,
              "newly_eligible": 37, "no_longer_eligible": 0, "eligible_unreachable": "<10",
              "cost_year_before": "—", "cost_year_after": "48000"},
    "groups": [],
}  # fmt: skip


def test_the_owner_reads_back_what_was_kept(tmp_path: Path) -> None:
    results = ReachResults(tmp_path)
    sim_id = results.keep("ana", RESULT)
    assert results.load(sim_id, reader="ana") == {"owner": "ana", **RESULT}


@pytest.mark.parametrize(("reader", "admin", "found"), [("bo", False, False), ("root", True, True)])
def test_another_analyst_finds_nothing_an_admin_finds_it(
    tmp_path: Path, reader: str, admin: bool, found: bool
) -> None:
    results = ReachResults(tmp_path)
    sim_id = results.keep("ana", RESULT)
    assert (results.load(sim_id, reader=reader, admin=admin) is not None) is found


@pytest.mark.parametrize("sim_id", ["0123456789abcdef", "../../etc/passwd", "ABCDEF0123456789"])
def test_an_unknown_or_malformed_id_finds_nothing(tmp_path: Path, sim_id: str) -> None:
    assert ReachResults(tmp_path).load(sim_id, reader="ana", admin=True) is None


def test_the_csv_has_the_total_with_its_withheld_figures_as_shown(tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(reach_csv(RESULT))))
    assert [r["dimension"] for r in rows] == ["total"]
    assert rows[0]["eligible_before"] == "<10" and rows[0]["cost_year_before"] == "—"
