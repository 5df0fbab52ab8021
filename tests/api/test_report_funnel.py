from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from api.cli import main

CATALOG = str(Path(__file__).resolve().parents[2] / "rules" / "catalog")


@pytest.fixture
def delivered(tmp_path: Path) -> Path:
    pop = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "2000", "--enterprises", "200"]
    assert main([*argv, "--seed", "4", "--as-of", "2026-06-30", "--out", str(pop)]) == 0
    for day in ("2026-03-31", "2026-06-30"):
        argv = ["match", "--population", str(pop), "--policies", CATALOG, "--as-of", day]
        assert main([*argv, "--out", str(tmp_path / f"{day}.parquet")]) == 0
    assert main(["deliveries", "contacts", "--population", str(pop)]) == 0
    assert main(["deliveries", "plan", "--population", str(pop)]) == 0
    return pop


def test_the_funnel_follows_offers_to_delivery_by_group(
    delivered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    out = tmp_path / "funnel.csv"
    argv = ["report", "funnel", "--population", str(delivered), "--as-of", "2026-06-30"]
    assert main([*argv, "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("planned ") and "\nreached " in printed
    funnel = pl.read_csv(out)
    assert set(funnel["stage"]) == {"planned", "reached"}
    assert {"district", "age_band", "gender", "hukou"} <= set(funnel["dimension"])
    by_stage = (
        funnel.filter(pl.col("dimension") == "gender")
        .group_by("stage")
        .agg(pl.col("hits").sum(), pl.col("n").sum())
    )
    hits = dict(by_stage.select("stage", "hits").rows())
    assert 0 < hits["reached"] <= hits["planned"]  # nobody is reached who was not planned


def test_with_the_truth_the_funnel_starts_at_matching(
    delivered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = tmp_path / "2026-06-30.parquet"  # the run's own pairs stand in for the truth
    argv = ["report", "funnel", "--population", str(delivered), "--as-of", "2026-06-30"]
    capsys.readouterr()
    assert main([*argv, "--truth", str(truth)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("matched  100.0% of the truly eligible")


def test_without_plans_the_funnel_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pop = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "200", "--enterprises", "20"]
    assert main([*argv, "--out", str(pop)]) == 0
    argv = ["match", "--population", str(pop), "--policies", CATALOG]
    assert main([*argv, "--out", str(tmp_path / "m.parquet")]) == 0
    assert main(["report", "funnel", "--population", str(pop)]) == 1
    assert "zhida deliveries plan" in capsys.readouterr().err
