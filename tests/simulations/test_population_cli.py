from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from api.cli import main


def test_generate_then_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "500", "--enterprises", "50"]
    assert main([*argv, "--out", str(out), "--as-of", "2026-01-01"]) == 0
    assert pl.read_parquet(out / "residents.parquet").height == 500
    assert main(["population", "summary", str(out)]) == 0
    assert "500 residents" in capsys.readouterr().out


def test_summary_shows_household_sizes_and_compositions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "3000", "--enterprises", "300"]
    assert main([*argv, "--out", str(out), "--as-of", "2026-01-01"]) == 0
    capsys.readouterr()
    assert main(["population", "summary", str(out)]) == 0
    text = capsys.readouterr().out
    households = pl.read_parquet(out / "households.parquet").height
    assert f"{households:,} households" in text
    for needle in ("Household sizes", "Household compositions", "couple with children",
                   "three generations", "How residents aged 60+ live", "alone"):  # fmt: skip
        assert needle in text, needle


def test_summary_of_a_population_without_links_has_no_household_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "300", "--enterprises", "30"]
    assert main([*argv, "--out", str(out), "--as-of", "2026-01-01"]) == 0
    (out / "households.parquet").unlink()
    (out / "employments.parquet").unlink()
    capsys.readouterr()
    assert main(["population", "summary", str(out)]) == 0
    text = capsys.readouterr().out
    assert "300 residents" in text
    assert "Household sizes" not in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--residents", "-5"], "must be zero or more"),
        (["--unknown", "salary=0.1"], "no resident, enterprise, household or employment field"),
        (["--unknown", "monthly_income=2"], "expected a share from 0 to 1"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code = main(["population", "generate", "--out", str(tmp_path / "x"), *args])
    err = capsys.readouterr().err
    assert code == 1
    assert needle in err
    assert err.count("\n") == 1


def test_a_household_field_can_be_made_unknown(tmp_path: Path) -> None:
    argv = ["population", "generate", "--residents", "400", "--enterprises", "40"]
    argv += ["--unknown", "declared_assets=1", "--out", str(tmp_path)]
    assert main(argv) == 0
    households = pl.read_parquet(tmp_path / "households.parquet")
    assert households["declared_assets"].null_count() == households.height
    assert households["household_id"].null_count() == 0


def test_summary_of_a_missing_directory_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["population", "summary", str(tmp_path / "nowhere")]) == 1
    assert "zhida population generate" in capsys.readouterr().err


@pytest.mark.parametrize(("residents", "enterprises"), [(0, 0), (0, 5), (5, 0)])
def test_empty_parts_of_a_population_are_fine(
    tmp_path: Path, residents: int, enterprises: int
) -> None:
    argv = ["population", "generate", "--residents", str(residents)]
    argv += ["--enterprises", str(enterprises), "--out", str(tmp_path)]
    assert main(argv) == 0
    assert pl.read_parquet(tmp_path / "residents.parquet").height == residents
    assert pl.read_parquet(tmp_path / "enterprises.parquet").height == enterprises
