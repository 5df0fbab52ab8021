"""``zhida parameters list|history|validate`` and ``zhida simulate reach --parameter``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from api.cli import main
from profiles.schema import load_schema
from rules.loader import load_catalog
from rules.parameters import builtin_library
from simulations.reach import simulate_reach

POLICY = """\
id: bj-dibao-test
title: 低保申请邀请
department: 北京市民政局
audience: resident
mode: proactive_push
eligibility: 'hukou_city == "北京市" and household_income_per_capita < 参数.低保标准'
benefit: '(parameters.dibao_standard - household_income_per_capita) * household_size'
benefit_period: month
valid_from: 2023-07-01
"""


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    directory = tmp_path / "catalog"
    directory.mkdir()
    (directory / "bj-dibao-test.yaml").write_text(POLICY, encoding="utf-8")
    return directory


@pytest.fixture
def population(tmp_path: Path) -> Path:
    """Three Beijing residents: under both standards, between them, above both."""
    directory = tmp_path / "pop"
    directory.mkdir()
    pl.DataFrame(
        {
            "person_id": ["P1", "P2", "P3"],
            "hukou_city": ["北京市"] * 3,
            "household_income_per_capita": [1400.0, 1470.0, 1600.0],
            "household_size": [2, 3, 1],
        }
    ).write_parquet(directory / "residents.parquet")
    return directory


def test_list_shows_the_value_in_force_and_its_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parameters", "list", "--as-of", "2026-01-01"]) == 0
    out = capsys.readouterr().out
    assert "dibao_standard" in out and "1450" in out and "京民社救发〔2024〕80号" in out
    assert main(["parameters", "list", "--as-of", "2024-06-30"]) == 0
    out = capsys.readouterr().out
    assert "1395" in out and "modelled" in out and "1450" not in out


def test_history_lists_every_value_and_the_policies_reading_it(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["parameters", "history", "低保标准", "--policies", str(catalog)]) == 0
    out = capsys.readouterr().out
    assert "2024-07-01 – open-ended: 1450" in out
    assert "2023-07-01 – 2024-06-30: 1395" in out
    assert "read by: bj-dibao-test" in out


def test_history_of_an_unknown_name_suggests_the_nearest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["parameters", "history", "dibao"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zhida: error: unknown parameter 'dibao'; did you mean 'dibao_standard'")
    assert "Traceback" not in err


def test_validate_the_builtin_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parameters", "validate"]) == 0
    assert "parameters OK" in capsys.readouterr().out


def test_validate_refuses_overlapping_values_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(
        "name: x\nname_zh: 某参数\nunit: CNY\ndescription: d\nvalues:\n"
        "  - {from: 2024-01-01, amount: 1, source: modelled, reason: a test value only}\n"
        "  - {from: 2024-06-01, amount: 2, source: modelled, reason: a test value only}\n",
        encoding="utf-8",
    )
    with pytest.raises(SystemExit) as exited:
        main(["parameters", "validate", str(bad)])
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert f"{bad}:7: the value from 2024-06-01 overlaps" in out and "1 problem found" in out


def test_a_parameter_change_is_a_reform(population: Path, catalog: Path) -> None:
    on = date(2026, 1, 1)
    baseline = load_catalog([catalog])
    reformed = builtin_library().with_override("dibao_standard=1500", on=on)
    reach = simulate_reach(
        population, baseline, baseline, load_schema(), as_of=on, tags=False,
        parameters=(builtin_library(), reformed),
    )  # fmt: skip
    [change] = reach.changes
    assert change.new_eligibility is not None
    assert change.new_eligibility.endswith("# parameters.dibao_standard: 1450 → 1500")
    row = reach.policies.filter(pl.col("policy_id") == "bj-dibao-test").row(0, named=True)
    assert (row["eligible_before"], row["eligible_after"], row["newly_eligible"]) == (1, 2, 1)
    # before: P1 (1450 - 1400) * 2 = 100 a month; after: P1 200 + P2 (1500 - 1470) * 3 = 290
    assert Decimal(row["cost_year_before"]) == Decimal(1200)
    assert Decimal(row["cost_year_after"]) == Decimal(290 * 12)


def test_simulate_reach_with_only_a_parameter(
    population: Path, catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "reach", "--population", str(population), "--baseline", str(catalog)]
    argv += ["--as-of", "2026-01-01", "--no-contacts", "--parameter", "dibao_standard=1500"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "1 changed policies" in out and "1450 → 1500" in out
    assert main([*argv[:-1], "dibao_standard=lots"]) == 1
    assert "'lots' is not a number" in capsys.readouterr().err


@pytest.mark.parametrize(("plan", "backend"), [(False, "sqlite"), (True, "postgres")])
def test_a_run_records_the_parameter_versions_it_read(
    population: Path,
    catalog: Path,
    tmp_path: Path,
    plan: bool,
    backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.db import get_engine
    from core.settings import get_settings
    from matcher.runs import RunStore

    if backend == "postgres":
        monkeypatch.setenv("ZHIDA_DATABASE_URL", request.getfixturevalue("postgres_url"))
    argv = ["match", "--population", str(population), "--policies", str(catalog)]
    argv += ["--audience", "resident", "--out", str(tmp_path / "m.parquet")]
    argv += ["--plan"] if plan else []
    assert main([*argv, "--as-of", "2024-06-30"]) == 0
    assert main([*argv, "--as-of", "2024-07-01"]) == 0
    store = RunStore(get_engine(get_settings().database_url), get_settings().data_dir)
    first, second = sorted(run.run_id for run in store.list())
    assert store.parameters(first) == {"dibao_standard": ("2023-07-01", "1395")}
    assert store.parameters(second) == {"dibao_standard": ("2024-07-01", "1450")}
    if not plan:  # the command prints what the run kept
        capsys.readouterr()
        assert main(["runs", "parameters", str(first)]) == 0
        assert capsys.readouterr().out == "dibao_standard  from 2023-07-01  1395\n"
