"""Reach in Beijing's numbers: weighted totals and sampling intervals beside the sample's counts."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from api.cli import main
from profiles.schema import load_schema
from rules.loader import load_catalog
from simulations.reach import ALL, simulate_reach
from simulations.reach_release import private_reach
from tests.populations import Populations
from tests.scalars import number

AS_OF = date(2026, 6, 30)
SCHEMA = load_schema()
ALLOWANCE = """\
id: test-elderly
title: 高龄津贴
department: 测试局
audience: resident
mode: auto_grant
eligibility: age >= {age} and hukou_city == "北京市"
benefit: '100'
benefit_period: month
valid_from: 2016-01-01
provenance: modelled
provenance_note: 'a test amount'
"""
AGE = (
    "(2026 - year(birth_date) - CASE WHEN month(birth_date) * 100 + day(birth_date) > 630 "
    "THEN 1 ELSE 0 END)"
)


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(4000, 100, seed=13, as_of=AS_OF)


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("catalogs")
    for name, age in (("baseline", 80), ("reform", 75)):
        (root / name).mkdir()
        (root / name / "test-elderly.yaml").write_text(ALLOWANCE.format(age=age))
    return root / "baseline", root / "reform"


def _reach(population: Path, catalogs: tuple[Path, Path]):
    baseline, reform = (load_catalog([c], SCHEMA) for c in catalogs)
    return simulate_reach(population, baseline, reform, SCHEMA, as_of=AS_OF), baseline, reform


def _weighted(population: Path, where: str) -> tuple[int, float, float]:
    """count, Σ weight and Σ w(w-1) of the residents satisfying ``where``, by DuckDB."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW r AS SELECT * FROM read_parquet('{population}/residents.parquet')")
    row = con.execute(
        f"SELECT count(*), sum(weight), sum(weight * (weight - 1)) FROM r WHERE {where}"
    ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1]), float(row[2])


def test_beijing_figures_are_the_eligible_residents_weights(
    population: Path, catalogs: tuple[Path, Path]
) -> None:
    reach, _, _ = _reach(population, catalogs)
    assert reach.beijing is not None
    rows = {r["measure"]: r for r in reach.beijing.filter(policy_id=ALL).iter_rows(named=True)}
    count, weight, extra = _weighted(population, f"{AGE} >= 75 AND hukou_city = '北京市'")
    after = rows["eligible_after"]
    assert after["sample"] == count
    assert after["beijing"] == pytest.approx(weight, rel=1e-9)
    half = 1.959964 * math.sqrt(extra)
    assert (after["low"], after["high"]) == pytest.approx((weight - half, weight + half))
    new = rows["newly_eligible"]
    assert new["beijing"] == pytest.approx(
        _weighted(population, f"{AGE} BETWEEN 75 AND 79 AND hukou_city = '北京市'")[1]
    )
    # 100 CNY a month: a year of the eligible's weights
    assert rows["cost_year_after"]["beijing"] == pytest.approx(1200 * weight, rel=1e-9)
    assert rows["cost_year_delta"]["beijing"] == pytest.approx(1200 * new["beijing"], rel=1e-9)


def test_an_unweighted_population_has_no_beijing_figures(
    population: Path, catalogs: tuple[Path, Path], tmp_path: Path
) -> None:
    for name in ("residents", "enterprises", "events"):
        frame = pl.read_parquet(population / f"{name}.parquet")
        frame.drop("weight", strict=False).write_parquet(tmp_path / f"{name}.parquet")
    reach, _, _ = _reach(tmp_path, catalogs)
    assert reach.beijing is None
    assert reach.policies.height  # the sample's figures are unchanged


def test_released_beijing_figures_scale_the_noisy_counts(
    population: Path, catalogs: tuple[Path, Path]
) -> None:
    reach, baseline, reform = _reach(population, catalogs)
    domain = pl.DataFrame(schema={"dimension": pl.String, "group": pl.String})
    released = private_reach(reach, baseline, reform, {}, {}, domain)
    assert released.beijing is not None
    noisy = released.policies.filter(policy_id="test-elderly").row(0, named=True)
    row = released.beijing.filter(policy_id="test-elderly", measure="eligible_after").row(
        0, named=True
    )
    mean = reach.mean_weights["resident"]
    assert row["sample"] == noisy["eligible_after"]
    assert row["beijing"] == pytest.approx(noisy["eligible_after"] * mean)
    assert reach.beijing is not None
    exact = reach.beijing.filter(policy_id="test-elderly", measure="eligible_after")
    assert row["beijing"] != exact["beijing"].item()  # never the exact weighted sum


def test_the_cli_prints_beijing_figures_with_intervals_and_modelled_inputs(
    population: Path, catalogs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, reform = catalogs
    argv = ["simulate", "reach", "--population", str(population), "--baseline", str(baseline)]
    argv += ["--reform", str(reform), "--as-of", "2026-06-30", "--no-contacts"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Beijing scale" in out
    assert "95 % sampling interval" in out
    assert "modelled inputs: the synthetic population" in out
    assert "policy test-elderly (modelled): a test amount" in out  # the policy's own note
    row = next(line for line in out.splitlines() if line.startswith("│ test-elderly"))
    assert row.rstrip(" │").endswith("modelled")  # the per-policy table's source column


def test_the_analyst_summary_carries_released_beijing_rows(
    population: Path, catalogs: tuple[Path, Path]
) -> None:
    from simulations.reach_job import reach_summary

    baseline, reform = (load_catalog([c], SCHEMA) for c in catalogs)
    summary = reach_summary(population, baseline, reform, AS_OF)
    rows = {r["measure"]: r for r in summary["beijing"]}
    assert set(rows) == {
        "eligible_before", "eligible_after", "newly_eligible", "no_longer_eligible",
        "cost_year_before", "cost_year_after", "cost_year_delta",
    }  # fmt: skip
    after = rows["eligible_after"]
    low, high = (float(v.replace(",", "")) for v in after["interval"].split(" – "))
    assert low < float(after["beijing"].replace(",", "")) < high
    assert summary["beijing_modelled"][0].startswith("the synthetic population")
    assert "policy test-elderly (modelled): a test amount" in summary["beijing_modelled"]
    assert [c["provenance"] for c in summary["changes"]] == ["modelled"]  # as the policy says


def test_a_dry_run_shows_the_draft_at_beijing_scale(
    population: Path, catalogs: tuple[Path, Path]
) -> None:
    from simulations.preview import Published, compute_dry_run

    baseline, reform = (load_catalog([c], SCHEMA) for c in catalogs)
    draft = reform.by_id["test-elderly"]
    figures = compute_dry_run(
        draft, Published(baseline, {"test-elderly": 1}), population, as_of=AS_OF
    )
    beijing = figures["beijing"]
    mean = number(pl.read_parquet(population / "residents.parquet")["weight"].mean())
    assert beijing["mean_weight"] == pytest.approx(mean, abs=0.01)
    eligible = float(beijing["eligible"].replace(",", ""))
    assert eligible == pytest.approx(figures["eligible"] * mean, abs=1)
    low, high = (float(v.replace(",", "")) for v in beijing["eligible_interval"].split(" – "))
    assert low < eligible < high


def test_a_timeline_release_reports_the_push_effect_at_beijing_scale() -> None:
    from simulations.scaling import scaled_summary
    from simulations.timeline_release import Release, release_lines

    summary = pl.DataFrame(
        {"arm": ["push", "no_push", "effect"], "metric": ["granted"] * 3,
         "mean": [120.0, 100.0, 20.0], "lo": [110.0, 90.0, 6.0], "hi": [130.0, 110.0, 34.0]}
    )  # fmt: skip
    empty = pl.DataFrame(schema={"arm": pl.String, "date": pl.Date, "messages": pl.Float64})
    plain = Release(AS_OF, AS_OF, (1,), ("push", "no_push"), empty, empty, summary, 1.5)
    assert not any("Beijing" in line for line in release_lines(plain))
    scaled = scaled_summary(summary, 200.0)
    assert scaled is not None
    effect = scaled.filter(arm="effect").row(0, named=True)
    assert effect["beijing"] == pytest.approx(4_000.0)
    # the noise's half-width scaled, and the sampling's, combined
    half = math.hypot(14.0 * 200, 1.959964 * math.sqrt(20.0 * 200 * 199))
    assert (effect["lo"], effect["hi"]) == pytest.approx((4_000 - half, 4_000 + half))
    weighted = Release(AS_OF, AS_OF, (1,), ("push", "no_push"), empty, empty, summary, 1.5,
                       beijing=scaled)  # fmt: skip
    line = next(line for line in release_lines(weighted) if "Beijing" in line)
    assert "4,000 more grants" in line


def test_a_sample_of_the_population_still_adds_up_to_beijing(
    population: Path, tmp_path: Path
) -> None:
    from simulations.sampling import sample_population

    out = sample_population(population, tmp_path / "sample", 1_000)
    for name in ("residents", "enterprises"):
        full = pl.read_parquet(population / f"{name}.parquet")["weight"]
        part = pl.read_parquet(out / f"{name}.parquet")["weight"]
        assert part.len() < full.len()
        assert part.sum() == pytest.approx(full.sum(), rel=0.05)  # a random 1,000 of 4,000
