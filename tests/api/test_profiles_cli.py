from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from api.cli import main
from profiles.store import ProfileStore
from tests.profiles.departments import (
    ENTERPRISE_ID,
    write_enterprises_xlsx,
    write_events_csv,
    write_residents_csv,
)

ROOT = Path(__file__).resolve().parents[2]


def store() -> ProfileStore:
    from core.db import get_engine, upgrade

    upgrade(get_engine())
    return ProfileStore(get_engine())


def counts() -> tuple[int, int, int]:
    s = store()
    return s.count("resident"), s.count("enterprise"), s.count("event")


def generated(tmp_path: Path) -> Path:
    out = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "300", "--enterprises", "30"]
    assert main([*argv, "--out", str(out), "--as-of", "2026-01-01"]) == 0
    return out


def test_load_a_population_twice_then_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = generated(tmp_path)
    assert main(["profiles", "load", str(out)]) == 0
    assert main(["profiles", "load", str(out)]) == 0
    assert counts()[:2] == (300, 30)
    assert "loaded 300 resident records" in capsys.readouterr().out


def test_validate_lists_problems_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "residents.csv"
    path.write_text("person_id,gender\np1,femail\n", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["profiles", "validate", str(path)])
    assert info.value.code == 1
    assert "row 1, field gender: expected one of male, female" in capsys.readouterr().out


def test_a_bad_file_loads_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "residents.csv").write_text("person_id,gender\np1,male\np2,x\n", "utf-8")
    assert main(["profiles", "load", str(tmp_path), "--audience", "resident"]) == 1
    assert "field gender" in capsys.readouterr().err
    assert counts() == (0, 0, 0)


def test_a_load_killed_after_the_residents_leaves_nothing_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlalchemy as sa

    out = generated(tmp_path)
    assert main(["db", "upgrade"]) == 0
    tables: list[str] = []
    real = sa.engine.Connection.exec_driver_sql

    def interrupted_after_the_residents(self, sql, *args, **kwargs):
        if tables == ["residents"]:
            raise KeyboardInterrupt  # Ctrl-C, as the kill, once the residents are in
        if sql.startswith("INSERT INTO"):
            tables.append(sql.split('"')[1])
        return real(self, sql, *args, **kwargs)

    monkeypatch.setattr(sa.engine.Connection, "exec_driver_sql", interrupted_after_the_residents)
    assert main(["profiles", "load", str(out)]) == 130
    monkeypatch.undo()
    assert tables == ["residents"]
    assert counts() == (0, 0, 0)
    assert "loaded" not in capsys.readouterr().out


def test_files_as_departments_send_them_load_with_chinese_headers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_residents_csv(tmp_path)  # GBK, Chinese headers, dates as 1940/3/4, 是/否
    write_enterprises_xlsx(tmp_path)  # Chinese headers, an Excel date, a sheet named 企业名录
    write_events_csv(tmp_path)  # UTF-8 with a byte-order mark
    (tmp_path / "说明.docx").write_bytes(b"")
    assert main(["profiles", "load", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "read residents.csv (CSV, GB18030 (it is not UTF-8)): 2 resident records" in err
    assert "read enterprises.xlsx (Excel, sheet '企业名录'): 1 enterprise records" in err
    assert "read events.csv (CSV, UTF-8 with BOM): 1 event records" in err
    assert (
        "ignored 说明.docx: not named residents.*, enterprises.*, events.*, households.* or "
        "employments.*" in err
    )
    residents = store().read("resident").sort("birth_date")
    first = residents.row(0, named=True)
    assert (first["name"], first["birth_date"], first["hukou_district"]) == (
        "张秀英",
        date(1940, 3, 4),
        "西城区",
    )
    assert residents["is_veteran"].to_list() == [False, True]
    assert residents["monthly_income"].to_list() == [3200.5, None]
    firm = store().read("enterprise").row(0, named=True)
    assert (firm["enterprise_id"], firm["founded_date"], firm["high_tech"]) == (
        ENTERPRISE_ID,
        date(2019, 6, 18),
        True,
    )
    assert counts() == (2, 1, 1)


def test_the_encoding_can_be_given_and_a_wrong_one_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_residents_csv(tmp_path)
    argv = ["profiles", "load", str(tmp_path), "--audience", "resident"]
    assert main([*argv, "--encoding", "utf-8"]) == 2  # unreadable as given: README, exit 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("zhida: error: cannot read ") and len(err.splitlines()) == 1
    assert "is not utf-8; give the file's encoding with --encoding" in err
    assert counts() == (0, 0, 0)
    assert main([*argv, "--encoding", "gbk"]) == 0
    assert "(CSV, GBK)" in capsys.readouterr().err
    assert counts()[0] == 2


def test_a_directory_without_residents_is_refused_unless_only_enterprises_are_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = generated(tmp_path)
    for name in ("residents.parquet", "households.parquet", "employments.parquet"):
        (out / name).unlink(missing_ok=True)  # the links name residents: they go with them
    assert main(["profiles", "load", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"zhida: error: {out} has no residents.* file: every resident would count as gone; "
        "add it, or pass --audience enterprise if only enterprises are meant\n"
    )
    assert counts() == (0, 0, 0)
    assert main(["profiles", "load", str(out), "--audience", "enterprise"]) == 0
    assert counts()[:2] == (0, 30)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([42], "residents.json row 1: expected a JSON object of field values"),
        (
            [{"person_id": "p1"}, {"person_id": "p2", "gender": {"code": "female"}}],
            "residents.json row 2, field gender: expected one value, not an object or a list, "
            'found an object {"code": "female"}',
        ),
        (
            [{"person_id": "p1", "household_size": [2, 3]}],
            "residents.json row 1, field household_size: expected one value",
        ),
    ],
    ids=["a number", "an object", "a list"],
)
def test_a_malformed_json_record_is_one_line_naming_the_row_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], records: list[object], expected: str
) -> None:
    (tmp_path / "residents.json").write_text(json.dumps(records), "utf-8")
    assert main(["profiles", "load", str(tmp_path), "--audience", "resident"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert expected in err
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"person_id": "p1"}, {"person_id": "p2"', "Expecting ',' delimiter at line 1"),
        ('{"person_id": "p1"}\n{"person_id": \n', "line 2: Expecting value at column 14"),
    ],
    ids=["an array cut short", "a line cut short"],
)
def test_a_json_file_that_does_not_parse_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "residents.json"
    path.write_text(text, "utf-8")
    assert main(["profiles", "load", str(tmp_path), "--audience", "resident"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zhida: error: cannot read {path}") and err.count("\n") == 1
    assert expected in err and "expected a JSON array of records or one JSON object" in err
    assert counts() == (0, 0, 0)
    with pytest.raises(SystemExit) as exited:
        main(["profiles", "validate", str(path)])
    assert exited.value.code == 2
    out = capsys.readouterr().out
    assert out.startswith(f"cannot read {path}") and out.count("\n") == 1


def test_validate_exits_2_for_an_unreadable_file_and_still_checks_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "residents.json").write_text('[{"person_id": "p1"}, 42]', "utf-8")
    (tmp_path / "events.json").write_text("[{", "utf-8")
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "profiles",
                "validate",
                *(str(tmp_path / n) for n in ("residents.json", "events.json")),
            ]
        )
    assert exited.value.code == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("residents.json row 2: expected a JSON object of field values, "
                             'e.g. {"person_id": "…"}, found 42')  # fmt: skip
    assert lines[1].startswith(f"cannot read {tmp_path / 'events.json'}") and len(lines) == 2


@pytest.mark.parametrize("suffix", ["parquet", "gbk.csv", "xlsx", "json"])
def test_every_format_is_validated_like_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    frame = pl.DataFrame(
        {"个人编号": ["p1", "p2", "p2"], "性别": ["female", "femail", "male"],
         "家庭人口数": ["2", "2.5", "99"]}
    )  # fmt: skip
    if suffix == "parquet":
        frame.with_columns(pl.col("家庭人口数").cast(pl.Float64)).write_parquet(
            tmp_path / "residents.parquet"
        )
    elif suffix == "gbk.csv":
        (tmp_path / "residents.csv").write_bytes(frame.write_csv().encode("gbk"))
    elif suffix == "json":
        (tmp_path / "residents.json").write_text(json.dumps(frame.to_dicts()), "utf-8")
    else:
        from tests.profiles.xlsx import write_xlsx

        write_xlsx(tmp_path / "residents.xlsx", [frame.columns, *frame.rows()])
    (path,) = tmp_path.glob("residents.*")
    with pytest.raises(SystemExit):
        main(["profiles", "validate", str(path)])
    assert capsys.readouterr().out.replace(str(path), "F").splitlines() == [
        "F row 2, field 性别: expected one of male, female, found 'femail' (did you mean "
        "'female'?)",
        "F row 2, field 家庭人口数: expected a whole number, found '2.5'",
        "F row 3, field 家庭人口数: 99 is outside 1..20",
        "F row 2, field person_id: duplicate person_id 'p2'",
        "F row 3, field person_id: duplicate person_id 'p2'",
    ]


def test_a_read_only_data_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    write_residents_csv(tmp_path)
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    command = [sys.executable, "-m", "api.cli", "profiles", "load", str(tmp_path),
               "--audience", "resident"]  # fmt: skip
    if os.geteuid() == 0:  # root writes anywhere: run it without the right to override modes
        assert shutil.which("setpriv"), "util-linux's setpriv runs the command as a plain user"
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *command]
    env = {**os.environ, "ZHIDA_DATA_DIR": str(read_only / "zhida")}
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
    finally:
        read_only.chmod(0o755)
    assert done.returncode == 2
    assert done.stderr == (
        f"zhida: error: cannot write to the data directory {read_only / 'zhida'}: Permission "
        "denied; make it writable and give it space, or set ZHIDA_DATA_DIR to a directory "
        "that is\n"
    )


def test_a_full_database_is_one_line_exit_2_and_loads_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlalchemy as sa

    from core.db import get_engine

    out = generated(tmp_path)
    store()  # migrated
    engine = get_engine()

    @sa.event.listens_for(engine, "connect")
    def no_room_left(dbapi_connection: Any, _record: object) -> None:
        # SQLite's own "disk full": the file may not grow by more than a few pages.
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 4}")

    engine.dispose()
    try:
        assert main(["profiles", "load", str(out)]) == 2
    finally:
        sa.event.remove(engine, "connect", no_room_left)
        engine.dispose()
    *read, error = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in read][:3] == [
        "read residents.parquet", "read enterprises.parquet", "read events.parquet",
    ]  # fmt: skip
    assert error.startswith("zhida: error: loading 300 residents, 30 enterprises, ")
    assert error.endswith("was rolled back, nothing was loaded: database or disk is full")
    assert counts() == (0, 0, 0)
