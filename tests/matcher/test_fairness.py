from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from api.cli import main
from matcher.fairness import coverage_funnel, fairness_report, rates
from profiles.schema import load_schema

SCHEMA = load_schema()


def test_rates_flag_groups_under_four_fifths_of_the_best() -> None:
    frame = pl.DataFrame(
        {
            "g": ["a"] * 100 + ["b"] * 100,
            "hit": [True] * 90 + [False] * 10 + [True] * 70 + [False] * 30,
        }
    )
    r = {row["g"]: row for row in rates(frame, "g", "hit").iter_rows(named=True)}
    assert r["a"]["rate"] == 0.9 and not r["a"]["flagged"]
    assert r["b"]["ratio"] == pytest.approx(0.7778, abs=1e-4) and r["b"]["flagged"]
    assert r["b"]["ci_low"] < 0.7 < r["b"]["ci_high"]


def test_bootstrap_intervals_narrow_with_more_data() -> None:
    small = pl.DataFrame({"g": ["a"] * 20, "hit": [True, False] * 10})
    large = pl.DataFrame({"g": ["a"] * 2000, "hit": [True, False] * 1000})

    def width(frame: pl.DataFrame) -> float:
        row = rates(frame, "g", "hit").row(0, named=True)
        return float(row["ci_high"] - row["ci_low"])

    assert width(large) < width(small) / 5


def test_coverage_counts_unknowns_against_the_group_they_hit() -> None:
    people = pl.LazyFrame(
        {"person_id": ["a", "b", "c", "d"], "gender": ["male", "male", "female", "female"]},
        schema={"person_id": pl.String, "gender": SCHEMA.resident.field("gender").polars_dtype},
    )
    cols = ["subject_id", "subject_type", "policy_id", "status"]
    truth = pl.DataFrame(
        [(s, "resident", "p", "eligible") for s in "abcd"], schema=cols, orient="row"
    )
    matched = pl.DataFrame(
        [("a", "resident", "p", "eligible"), ("b", "resident", "p", "eligible"),
         ("c", "resident", "p", "eligible"), ("d", "resident", "p", "maybe")],
        schema=cols, orient="row",
    )  # fmt: skip
    report = fairness_report(matched, people, SCHEMA.resident, as_of=date(2026, 1, 1), truth=truth)
    gender = {
        r["group"]: r for r in report.filter(pl.col("dimension") == "gender").iter_rows(named=True)
    }
    assert gender["male"]["rate"] == 1.0 and gender["female"]["rate"] == 0.5
    assert gender["female"]["flagged"] and report["metric"][0] == "coverage"


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pop = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "3000", "--enterprises", "300"]
    assert main([*argv, "--out", str(pop), "--as-of", "2026-06-30"]) == 0
    catalog = str(Path(__file__).resolve().parents[2] / "rules" / "catalog")
    pairs = tmp_path / "m.parquet"
    assert (
        main(
            [
                "match",
                "--population",
                str(pop),
                "--policies",
                catalog,
                "--as-of",
                "2026-06-30",
                "--out",
                str(pairs),
            ]
        )
        == 0
    )
    csv = tmp_path / "f.csv"
    assert (
        main(
            [
                "report",
                "fairness",
                "--population",
                str(pop),
                "--as-of",
                "2026-06-30",
                "--csv",
                str(csv),
            ]
        )
        == 0
    )
    report = pl.read_csv(csv)
    assert {"district", "age_band", "gender", "hukou", "size_class", "industry"} <= set(
        report["dimension"]
    )
    assert "group(s) flagged" in capsys.readouterr().out


def test_the_funnel_shows_the_stage_where_a_group_drops_out() -> None:
    ids = [f"p{i}" for i in range(200)]
    people = pl.LazyFrame(
        {"person_id": ids, "gender": ["male", "female"] * 100},
        schema_overrides={"gender": pl.Enum(["male", "female"])},
    )
    eligible = pl.DataFrame({"subject_id": ids, "policy_id": ["x"] * 200})
    matched = eligible  # matching serves everyone alike
    women = [i for n, i in enumerate(ids) if n % 2]
    men = [i for n, i in enumerate(ids) if not n % 2]
    # The push budget keeps nine men in ten but only half the women.
    planned = eligible.filter(pl.col("subject_id").is_in(men[:90] + women[:50]))
    funnel = coverage_funnel(
        eligible,
        {"matched": matched, "planned": planned},
        people,
        SCHEMA.resident,
        as_of=date(2026, 6, 30),
    )
    by = {
        (r["stage"], r["group"]): r
        for r in funnel.filter(pl.col("dimension") == "gender").iter_rows(named=True)
    }
    assert by[("matched", "female")]["rate"] == 1.0 and not by[("matched", "female")]["flagged"]
    assert by[("planned", "male")]["rate"] == 0.9
    assert by[("planned", "female")]["rate"] == 0.5 and by[("planned", "female")]["flagged"]
