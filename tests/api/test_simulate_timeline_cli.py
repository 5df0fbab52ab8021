"""zhida simulate timeline prints and writes only what the API releases: noisy, bounded."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from api.cli import main
from tests.populations import Populations

AS_OF = date(2026, 6, 30)
CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(1200, 60, seed=5, as_of=AS_OF)


def test_the_timeline_command_shows_the_release_not_the_exact_counts(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "timeline"
    argv = ["simulate", "timeline", "--population", str(population), "--policies", str(CATALOG),
            "--months", "1", "--seeds", "2", "--as-of", AS_OF.isoformat(),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "with privacy noise" in printed and "the push causes" in printed
    assert {p.name for p in out.iterdir()} == {"daily.csv", "monthly.csv", "summary.csv",
                                              "report.html"}  # fmt: skip
    summary = pl.read_csv(out / "summary.csv")
    assert "budget" not in set(summary["metric"])  # benefits paid are not released
    # Every released figure sits in its noise interval; the exact per-seed tables are absent.
    shown = summary.filter(pl.col("lo").is_not_null())
    assert shown.height and (shown["lo"] <= shown["mean"]).all()
    assert (shown["mean"] <= shown["hi"]).all()
    assert "seed" not in pl.read_csv(out / "daily.csv").columns
    assert "differential-privacy noise" in (out / "report.html").read_text(encoding="utf-8")


def test_the_timeline_command_refuses_a_rule_reading_an_identifier(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "probe.yaml").write_text(
        policy.replace("age >= 80", 'person_id == "P000000002"'), encoding="utf-8"
    )
    argv = ["simulate", "timeline", "--population", str(population), "--policies", str(catalog),
            "--months", "1", "--seeds", "1", "--as-of", AS_OF.isoformat()]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("zhida: error:") and "person_id" in err
    assert len(err.strip().splitlines()) == 1
