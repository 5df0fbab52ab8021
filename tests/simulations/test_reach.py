from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from api.cli import main
from profiles.schema import load_schema
from rules.loader import load_catalog
from simulations.reach import ALL, simulate_reach

AS_OF = date(2026, 6, 30)
CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
SCHEMA = load_schema()
NEW_POLICY = """\
id: test-unemployed-top-up
title: 失业人员临时补贴
department: 测试局
audience: resident
mode: proactive_push
eligibility: 'employment_status == "unemployed" and monthly_income < 2000'
benefit: '500'
benefit_period: month
valid_from: 2026-01-01
"""
# Whole years at the as-of date, as profiles.derive computes them, written independently.
AGE = (
    "(2026 - year(birth_date) - CASE WHEN month(birth_date) * 100 + day(birth_date) > 630 "
    "THEN 1 ELSE 0 END)"
)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pop")
    args = ["population", "generate", "--residents", "6000", "--enterprises", "300"]
    assert main([*args, "--seed", "11", "--as-of", AS_OF.isoformat(), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def reform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    draft = tmp_path_factory.mktemp("reform") / "catalog"
    shutil.copytree(CATALOG, draft)
    allowance = draft / "bj-elderly-allowance.yaml"
    allowance.write_text(allowance.read_text().replace("age >= 80", "age >= 75"))
    (draft / "test-unemployed-top-up.yaml").write_text(NEW_POLICY)
    (draft / "bj-winter-heating-subsidy.yaml").unlink()
    return draft


def _sql(population: Path, query: str) -> int | Decimal:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW r AS SELECT * FROM read_parquet('{population}/residents.parquet')")
    value = con.execute(query).fetchone()
    assert value is not None
    return value[0]  # type: ignore[no-any-return]


def test_reach_equals_an_independent_sql_count(population: Path, reform: Path) -> None:
    reach = simulate_reach(
        population, load_catalog([CATALOG], SCHEMA), load_catalog([reform], SCHEMA), SCHEMA,
        as_of=AS_OF,
    )  # fmt: skip
    rows = {r["policy_id"]: r for r in reach.policies.iter_rows(named=True)}
    assert {c.policy_id: c.change for c in reach.changes} == {
        "bj-elderly-allowance": "changed",
        "test-unemployed-top-up": "added",
        "bj-winter-heating-subsidy": "removed",
    }
    beijing = "hukou_city = '北京市'"
    allowance = rows["bj-elderly-allowance"]
    assert allowance["eligible_before"] == _sql(
        population, f"SELECT count(*) FROM r WHERE {AGE} >= 80 AND {beijing}"
    )
    assert allowance["eligible_after"] == _sql(
        population, f"SELECT count(*) FROM r WHERE {AGE} >= 75 AND {beijing}"
    )
    assert allowance["newly_eligible"] == _sql(
        population, f"SELECT count(*) FROM r WHERE {AGE} BETWEEN 75 AND 79 AND {beijing}"
    )
    yearly = _sql(
        population,
        f"SELECT sum(12 * CASE WHEN {AGE} >= 100 THEN 800 WHEN {AGE} >= 90 THEN 500 ELSE 100 "
        f"END) FROM r WHERE {AGE} >= 75 AND {beijing}",
    )
    assert allowance["cost_year_after"] == Decimal(yearly)
    unreachable = _sql(
        population,
        f"SELECT count(*) FROM r WHERE {AGE} >= 75 AND {beijing} "
        "AND (phone IS NULL OR phone = '') AND (email IS NULL OR email = '')",
    )
    assert allowance["eligible_unreachable"] == unreachable
    top_up = rows["test-unemployed-top-up"]
    where = "employment_status = 'unemployed' AND monthly_income < 2000"
    assert top_up["eligible_after"] == _sql(population, f"SELECT count(*) FROM r WHERE {where}")
    # SQL's NULL logic is Kleene's: an unknown condition is NULL, a maybe.
    unknown = f"SELECT count(*) FROM r WHERE ({where}) IS NULL"
    assert top_up["maybe_after"] == _sql(population, unknown) > 0
    assert top_up["eligible_before"] == 0 and top_up["cost_year_before"] == 0
    assert rows["bj-winter-heating-subsidy"]["eligible_after"] == 0
    total = rows[ALL]
    changed = [r for pid, r in rows.items() if pid != ALL]
    assert total["eligible_after"] == sum(r["eligible_after"] for r in changed)
    assert total["cost_year_after"] == sum(r["cost_year_after"] for r in changed)


def test_groups_add_up_to_the_policy_where_the_group_is_known(
    population: Path, reform: Path
) -> None:
    reach = simulate_reach(
        population, load_catalog([CATALOG], SCHEMA), load_catalog([reform], SCHEMA), SCHEMA,
        as_of=AS_OF,
    )  # fmt: skip
    gender = reach.groups.filter(
        (pl.col("policy_id") == "bj-elderly-allowance") & (pl.col("dimension") == "gender")
    )
    known = _sql(
        population,
        f"SELECT count(*) FROM r WHERE {AGE} >= 75 AND hukou_city = '北京市' "
        "AND gender IS NOT NULL",
    )
    assert gender["eligible_after"].sum() == known
    women = _sql(
        population,
        f"SELECT count(*) FROM r WHERE {AGE} >= 75 AND hukou_city = '北京市' AND gender = 'female'",
    )
    assert gender.filter(pl.col("group") == "female")["eligible_after"].item() == women
    overlap = reach.overlap.filter(pl.col("policy_id") == "bj-elderly-allowance")
    card = overlap.filter(pl.col("other_policy") == "bj-elderly-card")
    assert card["share"].item() == 1.0  # everyone 75+ with a Beijing hukou is 60+ too


def test_cli_prints_the_reach_and_writes_the_report(
    population: Path, reform: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reach"
    argv = ["simulate", "reach", "--population", str(population), "--baseline", str(CATALOG)]
    argv += ["--reform", str(reform), "--as-of", AS_OF.isoformat(), "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "test-unemployed-top-up" in printed and "newly_eligible" in printed
    page = (out / "report.html").read_text()
    assert page.count("<svg") >= 5  # cost per policy and eligible by each dimension
    assert "bj-elderly-allowance" in page
    csv = pl.read_csv(out / "policies.csv")
    assert set(csv["policy_id"]) >= {"bj-elderly-allowance", ALL}


def test_a_reform_with_a_broken_rule_is_refused_with_its_position(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "draft"
    shutil.copytree(CATALOG, draft)
    broken = draft / "bj-elderly-allowance.yaml"
    broken.write_text(broken.read_text().replace("age >= 80", "agee >= 80"))
    argv = ["simulate", "reach", "--population", str(population), "--baseline", str(CATALOG)]
    assert main([*argv, "--reform", str(draft), "--as-of", AS_OF.isoformat()]) == 1
    err = capsys.readouterr().err
    assert "bj-elderly-allowance.yaml:" in err and "did you mean 'age'" in err
