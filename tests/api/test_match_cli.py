from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from api.cli import main
from rules.loader import load_catalog
from tests.populations import Populations

ROOT = Path(__file__).resolve().parents[2]
CATALOG = str(ROOT / "rules" / "catalog")


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(3000, 300, seed=2, as_of=date(2026, 6, 30))


def test_match_writes_the_contract_columns(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.parquet"
    argv = ["match", "--population", str(population), "--policies", CATALOG]
    assert main([*argv, "--as-of", "2026-06-30", "--out", str(out)]) == 0
    pairs = pl.read_parquet(out)
    # The summary counts the matches under modelled policies (provenance: modelled), only them.
    ids = [p.id for p in load_catalog([Path(CATALOG)]).policies if p.modelled]
    under = pairs.filter(pl.col("policy_id").is_in(ids)).height
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("modelled: "))
    assert line.startswith(f"modelled: {under:,} of the matches") and under < pairs.height
    assert "bj-tekun-support" in line and "bj-dibao-invitation" not in line  # cited
    assert pairs.columns == [
        "subject_id", "subject_type", "policy_id", "status", "benefit", "unit", "recipient_id",
    ]  # fmt: skip
    assert set(pairs["status"]) == {"eligible", "maybe"}
    assert "bj-elderly-allowance-2010" not in set(pairs["policy_id"])  # not in force
    assert pairs.filter(pl.col("subject_type") == "enterprise").height > 0


HOUSEHOLD_POLICIES = {
    "dibao.yaml": """\
id: t-dibao
title: 低保
department: 民政局
audience: resident
mode: proactive_push
unit: household
eligibility: household_income_per_capita < 1450
benefit: (1450 - household_income_per_capita) * household_size
benefit_period: month
valid_from: 2024-07-01
""",
    "childcare.yaml": """\
id: t-childcare
title: 育儿补贴
department: 卫健委
audience: resident
mode: proactive_push
recipient: guardian
eligibility: age < 3
benefit: '3600'
benefit_period: year
valid_from: 2025-01-01
""",
}


def test_match_counts_a_household_once_and_names_who_is_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    population, catalog, out = tmp_path / "pop", tmp_path / "catalog", tmp_path / "m.parquet"
    population.mkdir()
    catalog.mkdir()
    for name, text in HOUSEHOLD_POLICIES.items():
        (catalog / name).write_text(text, encoding="utf-8")
    pl.DataFrame(
        {
            "person_id": ["P1", "P2", "P3"],
            "birth_date": [date(1990, 1, 1), date(1991, 1, 1), date(2025, 5, 1)],
            "household_id": ["H1"] * 3,
            "relation_to_head": ["head", "spouse", "child"],
            "mother_id": [None, None, "P2"],
            "father_id": [None, None, "P1"],
            # With links the household's figures come from its members (profiles.links): 3,000
            # a month for three (the baby earns nothing by rule), 1,000 per capita.
            "monthly_income": [2000.0, 1000.0, None],
        }
    ).write_parquet(population / "residents.parquet")
    pl.DataFrame({"household_id": ["H1"]}).write_parquet(population / "households.parquet")
    argv = ["match", "--population", str(population), "--policies", str(catalog)]
    argv += ["--audience", "resident", "--as-of", "2026-06-30", "--out", str(out), "--no-record"]
    assert main(argv) == 0
    pairs = pl.read_parquet(out).sort("policy_id")
    assert pairs.select(
        "subject_id", "subject_type", "policy_id", "unit", "recipient_id"
    ).rows() == [
        ("P3", "resident", "t-childcare", "person", "P2"),  # the mother, once
        ("H1", "household", "t-dibao", "household", "P1"),  # the head, once for three
    ]
    assert str(pairs["benefit"][1]) == "1350.00"  # (1450 - 1000) x 3, not x 9
    assert "1 of them households', each counted once" in capsys.readouterr().out


def test_explain_prints_json_with_clauses(
    population: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    residents = pl.read_parquet(population / "residents.parquet")
    old = residents.filter(pl.col("birth_date") < pl.date(1940, 1, 1))["person_id"][0]
    capsys.readouterr()
    argv = ["explain", "--population", str(population), "--policies", CATALOG]
    argv += ["--policy", "bj-elderly-card", "--subject", old, "--as-of", "2026-06-30"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "eligible"
    assert data["clauses"][0]["text"] == "age >= 60"
    assert (data["provenance"], data["provenance_note"]) == ("cited", None)
    argv[argv.index("bj-elderly-card")] = "bj-retiree-community-service"
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["provenance"] == "modelled" and "not verified" in data["provenance_note"]


def test_explain_shows_the_events_behind_a_tag_the_rule_reads(
    population: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = pl.read_parquet(population / "events.parquet")
    births = events.filter(
        (pl.col("item_code") == "birth_registration")
        & (pl.col("occurred_at") >= pl.datetime(2026, 1, 1))
    )
    parent = births["subject_id"][0]
    capsys.readouterr()
    argv = ["explain", "--population", str(population), "--policies", CATALOG]
    argv += ["--policy", "bj-maternity-allowance", "--subject", parent, "--as-of", "2026-06-30"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    (evidence,) = data["tag_evidence"]
    assert evidence["tag"] == "new_parent"
    assert evidence["has"] is True
    assert evidence["name_zh"] == "新生儿父母"
    assert {"item_code": "birth_registration", "date": str(births["occurred_at"][0].date())} in (
        evidence["events"]
    )


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--policy", "nope", "--subject", "P000000001"], "no policy 'nope'"),
        (["--policy", "bj-elderly-card", "--subject", "nobody"], "no resident or enterprise"),
        (["--policy", "cn-graduate-hire-subsidy", "--subject", "P000000001"], "is for enterprises"),
    ],
)
def test_explain_errors_are_one_line(
    population: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    argv = ["explain", "--population", str(population), "--policies", CATALOG, *extra]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_validate_reports_file_line_col_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x.yaml").write_text("id: x\ntitle: t\n", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["policies", "validate", str(tmp_path)])
    assert info.value.code == 1
    assert f"{tmp_path}/x.yaml:1:1: missing required key" in capsys.readouterr().out


def test_validate_the_built_in_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policies", "validate", CATALOG]) == 0
    assert "policies OK" in capsys.readouterr().out


def test_a_population_with_a_bad_value_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pl.DataFrame({"person_id": ["a"], "gender": ["robot"]}).write_parquet(
        tmp_path / "residents.parquet"
    )
    argv = ["match", "--population", str(tmp_path), "--policies", CATALOG, "--audience", "resident"]
    assert main([*argv, "--out", str(tmp_path / "m.parquet")]) == 1
    assert "does not fit the schema" in capsys.readouterr().err
    assert not (tmp_path / "m.parquet").exists()


def test_overlap_and_list_commands(population: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["policies", "overlap", CATALOG, "--population", str(population)]
    assert main([*argv, "--as-of", "2026-06-30"]) == 0
    out = capsys.readouterr().out
    assert "contained      bj-elderly-allowance ⊆ bj-elderly-card" in out
    assert main(["policies", "list", CATALOG]) == 0
    assert "age, hukou_city" in capsys.readouterr().out


@pytest.mark.slow  # the whole demo, end to end
def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["demo", "--residents", "3000", "--enterprises", "300", "--as-of", "2026-06-30"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "matches (" in out and "Overlap check" in out
    assert "source: cited (the legal text) or modelled" in out  # the reach table's column
    assert pl.read_parquet(tmp_path / "matches.parquet").height > 0
    assert "ndcg@5" in out and "uplift@20%" in out  # ranking
    assert "0 doubles" in out and "delivered" in out  # delivery to the stand-ins
    assert "identical to the single-process run" in out  # shards
    assert (tmp_path / "simulation" / "report.html").is_file()  # 政策推演
    assert (tmp_path / "simulation" / "cost_per_year.png").is_file()
    assert (tmp_path / "timeline" / "push_load.png").is_file()
    assert "SMS delivery reports (polled from the gateway)" in out
    # Whose benefit, who is told: a household's 低保 once to its head, a child's to one guardian.
    said = " ".join(out.split())  # the console wraps long lines at its width
    assert "counted once per household" in said
    assert "(its contact person or head)" in said and "members are told nothing of it" in said
    assert "1 message to" in said and "is told nothing of it" in said
    # The API in use: a dry-run, the test panel and an ingested birth registration.
    assert "officer POST /api/v1/policies/dry-run" in out and "cached" in out
    assert "officer POST /api/v1/policies/test" in out
    assert "POST /api/v1/events: birth_registration of resident" in out
    assert "newly_eligible" in out and "notice " in out


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_match_from_the_database_equals_match_from_the_files(
    population: Path,
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend == "postgres":
        monkeypatch.setenv("ZHIDA_DATABASE_URL", request.getfixturevalue("postgres_url"))
    assert main(["profiles", "load", str(population)]) == 0
    argv = ["match", "--policies", CATALOG, "--as-of", "2026-06-30"]
    assert main([*argv, "--population", str(population), "--out", str(tmp_path / "f.parquet")]) == 0
    assert main([*argv, "--from-database", "--out", str(tmp_path / "d.parquet")]) == 0
    files = pl.read_parquet(tmp_path / "f.parquet").sort("subject_id", "policy_id")
    database = pl.read_parquet(tmp_path / "d.parquet").sort("subject_id", "policy_id")
    assert database.equals(files)


def test_match_needs_exactly_one_population_source(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["match", "--policies", CATALOG, "--out", "x.parquet"]
    assert main(argv) == 1
    assert "--population DIR" in capsys.readouterr().err


def _runs() -> int:
    """How many runs are recorded in the test's database (none if it was never created)."""
    import sqlalchemy as sa

    from core.db import get_engine

    engine = get_engine()
    if not sa.inspect(engine).has_table("match_runs"):
        return 0
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM match_runs")).scalar_one())


def _one_line(err: str) -> bool:
    return err.startswith("zhida: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_a_directory_without_residents_is_refused_before_anything_is_recorded(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["match", "--policies", CATALOG, "--as-of", "2026-06-30", "--plan"]
    assert main([*argv, "--population", str(population), "--out", str(tmp_path / "a.parquet")]) == 0
    firms = tmp_path / "firms"
    firms.mkdir()
    for name in ("enterprises.parquet", "events.parquet"):
        shutil.copy(population / name, firms / name)
    capsys.readouterr()
    assert main([*argv, "--population", str(firms), "--out", str(tmp_path / "b.parquet")]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and "residents.parquet" in err and "--audience enterprise" in err
    assert _runs() == 1  # no run that would end every resident's offers
    assert not (tmp_path / "b.parquet").exists()


def test_audience_enterprise_matches_a_directory_of_enterprises_only(
    population: Path, tmp_path: Path
) -> None:
    firms = tmp_path / "firms"
    firms.mkdir()
    shutil.copy(population / "enterprises.parquet", firms / "enterprises.parquet")
    argv = ["match", "--population", str(firms), "--policies", CATALOG, "--as-of", "2026-06-30"]
    out = tmp_path / "m.parquet"
    assert main([*argv, "--audience", "enterprise", "--no-record", "--out", str(out)]) == 0
    assert set(pl.read_parquet(out)["subject_type"]) == {"enterprise"}


def test_an_unwritable_out_is_one_line_exit_2_and_nothing_is_recorded(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    out = tmp_path / "a-file" / "m.parquet"
    argv = ["match", "--population", str(population), "--policies", CATALOG, "--plan"]
    assert main([*argv, "--as-of", "2026-06-30", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and f"cannot write {out}" in err
    assert _runs() == 0


def test_a_full_disk_under_out_is_one_line_exit_2_and_leaves_no_tmp(
    population: Path, tmp_path: Path
) -> None:
    # A file-size limit makes the write fail as a full disk does (EFBIG instead of ENOSPC).
    limit = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
        "from api.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    out = tmp_path / "m.parquet"
    argv = ["match", "--population", str(population), "--policies", CATALOG, "--no-record"]
    done = subprocess.run(
        # -B: under the size limit Python would write truncated .pyc files for every later run
        [sys.executable, "-B", "-c", limit, *argv, "--as-of", "2026-06-30", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert _one_line(done.stderr) and f"zhida: error: cannot write {out}" in done.stderr
    assert not out.exists() and not (tmp_path / "m.parquet.tmp").exists()


def test_a_truncated_parquet_is_one_line_exit_2(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = shutil.copytree(population, tmp_path / "cut")
    data = (cut / "residents.parquet").read_bytes()
    (cut / "residents.parquet").write_bytes(data[: len(data) // 2])  # an interrupted copy
    argv = ["match", "--population", str(cut), "--policies", CATALOG, "--as-of", "2026-06-30"]
    assert main([*argv, "--out", str(tmp_path / "m.parquet")]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and "residents.parquet is not a readable Parquet file" in err
    assert "truncated" in err and _runs() == 0


def test_a_tmp_file_left_by_a_killed_write_is_removed_by_the_next_run(
    population: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m.parquet"
    (tmp_path / "m.parquet.tmp").write_bytes(b"PAR1 half a file")  # what a SIGKILL leaves
    argv = ["match", "--population", str(population), "--policies", CATALOG, "--no-record"]
    assert main([*argv, "--as-of", "2026-06-30", "--out", str(out)]) == 0
    assert pl.read_parquet(out).height > 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("m.")) == ["m.parquet"]


def test_a_failed_match_leaves_no_tmp_file(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pl.DataFrame({"person_id": ["a"], "gender": ["robot"]}).write_parquet(
        tmp_path / "residents.parquet"
    )
    argv = ["match", "--population", str(tmp_path), "--policies", CATALOG, "--audience", "resident"]
    assert main([*argv, "--no-record", "--out", str(tmp_path / "m.parquet")]) == 1
    assert not (tmp_path / "m.parquet.tmp").exists() and not (tmp_path / "m.parquet").exists()


def test_a_write_in_progress_is_not_destroyed_by_a_second_one(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl

    out = tmp_path / "m.parquet"
    with (tmp_path / "m.parquet.tmp").open("wb") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)  # another process writing OUT
        argv = ["match", "--population", str(population), "--policies", CATALOG]
        assert main([*argv, "--as-of", "2026-06-30", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and "another process is writing" in err
    assert (tmp_path / "m.parquet.tmp").exists() and _runs() == 0


def test_distributed_plan_with_an_unwritable_out_records_and_sends_nothing(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlalchemy as sa

    from core.db import get_engine

    argv = ["match", "--population", str(population), "--policies", CATALOG, "--distributed",
            "--shard-rows", "1500", "--plan"]  # fmt: skip
    assert main([*argv, "--as-of", "2025-06-30", "--out", str(tmp_path / "a.parquet")]) == 0
    (tmp_path / "a-file").write_text("not a directory")
    capsys.readouterr()
    bad = tmp_path / "a-file" / "b.parquet"
    assert main([*argv, "--as-of", "2026-06-30", "--out", str(bad)]) == 2
    assert _one_line(capsys.readouterr().err)
    with get_engine().connect() as conn:
        shard_runs = conn.execute(sa.text("SELECT count(*) FROM shard_runs")).scalar_one()
        outbox = conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one()
    assert (_runs(), shard_runs, outbox) == (1, 1, 0)  # neither started, recorded nor sent


def test_a_run_of_enterprises_only_leaves_the_residents_offers_as_they_were(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.db import get_engine
    from core.settings import get_settings
    from matcher.runs import RunStore

    argv = ["match", "--policies", CATALOG, "--plan"]
    everyone = [*argv, "--population", str(population), "--as-of", "2026-01-31"]
    assert main([*everyone, "--out", str(tmp_path / "a.parquet")]) == 0
    firms = tmp_path / "firms"
    firms.mkdir()
    for name in ("enterprises.parquet", "events.parquet"):
        shutil.copy(population / name, firms / name)
    only_firms = [*argv, "--population", str(firms), "--as-of", "2026-06-30"]
    capsys.readouterr()
    out = tmp_path / "b.parquet"
    assert main([*only_firms, "--audience", "enterprise", "--out", str(out)]) == 0
    assert "the residents' pairs of run 1 carried forward" in capsys.readouterr().out
    assert set(pl.read_parquet(out)["subject_type"]) == {"enterprise"}
    runs = RunStore(get_engine(), get_settings().data_dir)
    changed = runs.diff(2).collect()
    assert changed.height > 0 and set(changed["subject_type"]) == {"enterprise"}
    kept = pl.read_parquet(runs.get(2).pairs_file).filter(pl.col("subject_type") == "resident")
    before = pl.read_parquet(runs.get(1).pairs_file).filter(pl.col("subject_type") == "resident")
    assert kept.sort("subject_id", "policy_id").equals(before.sort("subject_id", "policy_id"))


def test_a_distributed_run_of_one_audience_is_refused(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["match", "--population", str(population), "--policies", CATALOG, "--distributed"]
    assert main([*argv, "--audience", "enterprise", "--out", str(tmp_path / "m.parquet")]) == 1
    assert _one_line(capsys.readouterr().err) and _runs() == 0


def test_a_database_without_residents_is_refused_as_a_directory_is(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    firms = tmp_path / "firms"
    firms.mkdir()
    shutil.copy(population / "enterprises.parquet", firms / "enterprises.parquet")
    assert main(["profiles", "load", str(firms), "--audience", "enterprise"]) == 0
    argv = ["match", "--from-database", "--policies", CATALOG, "--as-of", "2026-06-30"]
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "a.parquet")]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and "no residents" in err and "--audience enterprise" in err
    assert main([*argv, "--audience", "enterprise", "--out", str(tmp_path / "b.parquet")]) == 0


def test_a_data_directory_that_cannot_be_written_is_one_line_exit_2_before_matching(
    population: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    monkeypatch.setenv("ZHIDA_DATA_DIR", str(tmp_path / "a-file" / "data"))
    argv = [
        "match",
        "--population",
        str(population),
        "--policies",
        CATALOG,
        "--as-of",
        "2026-06-30",
    ]
    out = tmp_path / "m.parquet"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and "cannot write to the data directory" in err and "--no-record" in err
    assert not out.exists()  # refused before matching, not after
    assert main([*argv, "--no-record", "--out", str(out)]) == 0
