from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from api.cli import main
from matcher.diff import reach_diff, subject_changes

CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"


def pairs(rows: list[tuple[str, str, str, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"subject_id": pl.String, "policy_id": pl.String, "status": pl.String,
                "benefit": pl.Decimal(18, 2)},
        orient="row",
    )  # fmt: skip


def test_gains_losses_and_benefit_changes() -> None:
    old = pairs(
        [("a", "p", "eligible", 100), ("b", "p", "eligible", 100), ("c", "p", "maybe", None)]
    )
    new = pairs([("b", "p", "eligible", 150), ("c", "p", "eligible", 150)])
    changes = subject_changes(old, new).select("subject_id", "change").rows()
    assert changes == [("a", "lost"), ("b", "benefit_changed"), ("c", "gained")]
    row = reach_diff(old, new).row(0, named=True)
    assert (row["eligible_old"], row["eligible_new"], row["gained"], row["lost"]) == (2, 2, 1, 1)
    assert row["cost_delta"] == Decimal("100.00")


def test_diff_command_reports_who_gains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pop = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "2000", "--enterprises", "10"]
    assert main([*argv, "--out", str(pop), "--as-of", "2026-06-30"]) == 0
    new = tmp_path / "new"
    new.mkdir()
    for path in CATALOG.glob("*.yaml"):
        (new / path.name).write_text(
            path.read_text("utf-8").replace("age >= 80 and", "age >= 75 and"), "utf-8"
        )
    out = tmp_path / "changes.parquet"
    argv = ["policies", "diff", str(CATALOG), str(new), "--population", str(pop)]
    assert main([*argv, "--as-of", "2026-06-30", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "changed  bj-elderly-allowance" in printed
    changes = pl.read_parquet(out)
    assert set(changes["change"]) == {"gained"}
    assert changes.height > 0


def test_diff_command_computes_tags_from_the_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pop = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "3000", "--enterprises", "10"]
    assert main([*argv, "--out", str(pop), "--as-of", "2026-06-30"]) == 0
    new = tmp_path / "new"
    new.mkdir()
    rule = '"new_parent" in tags and employment_status == "employed"'
    for path in CATALOG.glob("*.yaml"):  # any new parent, employed or not
        text = path.read_text("utf-8").replace(rule, '"new_parent" in tags')
        (new / path.name).write_text(text, "utf-8")
    out = tmp_path / "changes.parquet"
    argv = ["policies", "diff", str(CATALOG), str(new), "--population", str(pop)]
    assert main([*argv, "--as-of", "2026-06-30", "--out", str(out)]) == 0
    assert "changed  bj-maternity-allowance" in capsys.readouterr().out
    gained = pl.read_parquet(out).filter(pl.col("change") == "gained")
    assert gained.height > 0  # the stored tags column is empty: only computed tags give these
