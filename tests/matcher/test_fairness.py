from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from api.cli import main
from matcher.fairness import (
    GROUPS,
    coverage_funnel,
    dimensions,
    disparities,
    fairness_report,
    rates,
)
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
    assert {"district", "age_band", "gender", "hukou", "disability", "size_class",
            "industry"} <= set(report["dimension"])  # fmt: skip
    out = capsys.readouterr().out
    assert "group(s) flagged" in out and "Between groups (fairlearn MetricFrame" in out
    assert set(report["section"]) == {"coverage", "between groups"}
    assert "exposure in the top-k: no ranked offers" in out
    # The CSV leaves the system: an audited data export with the file's hash.
    import hashlib

    from api.app.audit import AuditLog
    from core.db import get_engine

    (entry,) = [e for e in AuditLog(get_engine()).entries() if e.action == "data.export"]
    assert (entry.entity_type, entry.role, entry.actor[:4]) == ("fairness_report", "cli", "cli:")
    assert entry.details["sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert entry.details["rows"] == report.height

    # With ranked offers, each group's exposure in the top-k pushes joins the report.
    ranked = tmp_path / "ranked.parquet"
    argv = ["rank", "offers", "--population", str(pop), "--pairs", str(pairs), "--policies",
            catalog, "--as-of", "2026-06-30", "--rules-only", "--out", str(ranked)]  # fmt: skip
    assert main(argv) == 0
    argv = ["report", "fairness", "--population", str(pop), "--pairs", str(pairs), "--as-of",
            "2026-06-30", "--ranked", str(ranked), "--top-share", "0.1",
            "--csv", str(csv)]  # fmt: skip
    assert main(argv) == 0
    assert "Exposure in the top 10% pushes" in capsys.readouterr().out
    exposure = pl.read_csv(csv).filter(pl.col("section") == "exposure top-k")
    offers = pl.read_parquet(ranked).filter(pl.col("ranked"))
    gender = exposure.filter((pl.col("dimension") == "gender") & (pl.col("subjects") == "resident"))
    assert int(gender["top"].sum()) == round(
        offers.filter(pl.col("subject_type") == "resident").height * 0.1
    )
    assert gender["share_top"].sum() == pytest.approx(1.0, abs=1e-3)
    assert len([e for e in AuditLog(get_engine()).entries() if e.action == "data.export"]) == 2


def test_report_refuses_a_ranked_file_that_is_not_ranked_offers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pop = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "200", "--enterprises", "20"]
    assert main([*argv, "--out", str(pop), "--as-of", "2026-06-30"]) == 0
    pairs = tmp_path / "m.parquet"
    catalog = str(Path(__file__).resolve().parents[2] / "rules" / "catalog")
    argv = ["match", "--population", str(pop), "--policies", catalog, "--out", str(pairs)]
    assert main([*argv, "--as-of", "2026-06-30"]) == 0
    capsys.readouterr()
    csv = tmp_path / "f.csv"
    argv = ["report", "fairness", "--population", str(pop), "--pairs", str(pairs),
            "--ranked", str(pairs), "--csv", str(csv)]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("zhida: error: ranked offers file") and "zhida rank offers" in err
    assert len(err.strip().splitlines()) == 1 and not csv.exists()


def test_rates_by_group_agree_with_counting_them() -> None:
    rng = np.random.default_rng(7)
    frame = pl.DataFrame(
        {
            "g": [None if g == "-" else g for g in rng.choice(["a", "b", "c", "-"], 5000)],
            "hit": rng.random(5000) < 0.6,
        }
    )
    table = rates(frame, "g", "hit")
    counted = (
        frame.drop_nulls("g").group_by("g").agg(pl.len().alias("n"), pl.col("hit").sum())
        .sort("g")
    )  # fmt: skip
    assert table["g"].to_list() == counted["g"].to_list() == ["a", "b", "c"]
    assert table["n"].to_list() == counted["n"].to_list()
    assert table["hits"].to_list() == counted["hit"].to_list()
    p = counted["hit"].to_numpy() / counted["n"].to_numpy()
    assert table["rate"].to_list() == pytest.approx(p.tolist(), abs=1e-4)
    assert table["ratio"].to_list() == pytest.approx((p / p.max()).tolist(), abs=1e-4)
    assert table["difference"].to_list() == pytest.approx((p.max() - p).tolist(), abs=1e-4)


def test_disparities_give_each_dimensions_best_minus_worst_and_worst_over_best() -> None:
    frame = pl.DataFrame(
        {
            "sex": ["f"] * 50 + ["m"] * 50,
            "band": (["young"] * 25 + ["old"] * 25) * 2,
            # Women hit 30 of 50, men 45 of 50; the young 40 of 50, the old 35 of 50.
            "hit": [True] * 20
            + [False] * 5
            + [True] * 10
            + [False] * 15
            + [True] * 20
            + [False] * 5
            + [True] * 25,
        }
    )
    table = {
        r["dimension"]: r for r in disparities(frame, ["sex", "band"], "hit").iter_rows(named=True)
    }
    assert (table["sex"]["lowest"], table["sex"]["highest"]) == ("f", "m")
    assert table["sex"]["difference"] == pytest.approx(0.9 - 0.6)
    assert table["sex"]["ratio"] == pytest.approx(0.6 / 0.9, abs=1e-4) and table["sex"]["flagged"]
    assert table["band"]["ratio"] == pytest.approx(0.7 / 0.8, abs=1e-4)
    assert not table["band"]["flagged"]


def test_disability_is_a_fairness_dimension_but_not_a_reach_group() -> None:
    assert "disability" in dimensions("resident") and "disability" not in GROUPS["resident"]
    people = pl.LazyFrame(
        {"person_id": ["a", "b", "c", "d"], "disability_grade": [0, 1, 4, None]},
        schema_overrides={
            "disability_grade": SCHEMA.resident.field("disability_grade").polars_dtype
        },
    )
    from matcher.fairness import people_groups

    groups = people_groups(people, SCHEMA.resident, date(2026, 6, 30))
    assert groups["disability"].to_list() == [
        "无 none",
        "一二级 grade 1-2",
        "三四级 grade 3-4",
        None,
    ]


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
