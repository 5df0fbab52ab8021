"""Evidence for notices reads a subject as the batch run matched it: with its household."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from notifier.evidence import PopulationEvidence
from rules.policy import Policy

ON = date(2026, 6, 30)


def test_a_members_evidence_reads_the_households_income_per_capita(tmp_path: Path) -> None:
    pl.DataFrame(
        {"person_id": ["M1", "F1", "B1"], "household_id": ["H1"] * 3,
         "relation_to_head": ["head", "spouse", "child"],
         "birth_date": [date(1990, 1, 1), date(1989, 1, 1), date(2026, 1, 1)],
         "monthly_income": [3000.0, 0.0, None],
         "household_income_per_capita": [9000.0, 9000.0, 9000.0]}  # typed in, stale
    ).write_parquet(tmp_path / "residents.parquet")  # fmt: skip
    pl.DataFrame({"household_id": ["H1"]}).write_parquet(tmp_path / "households.parquet")
    dibao = Policy(
        id="dibao", title="低保", department="d", audience="resident", mode="proactive_push",
        eligibility="household_income_per_capita < 1450", valid_from=date(2020, 1, 1),
    )  # fmt: skip
    evidence = PopulationEvidence(tmp_path, {"dibao": dibao}, as_of=ON)
    evidence.load(["F1"])
    why = evidence("F1", "dibao")
    assert why["status"] == "eligible"
    assert why["clauses"][0]["values"] == {"household_income_per_capita": 1000.0}
