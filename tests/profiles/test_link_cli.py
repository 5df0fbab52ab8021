"""``zhida profiles validate|load`` with households and employments, as departments send them."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import main
from profiles.store import ProfileStore

RESIDENTS = """person_id,户编号,与户主关系,出生日期,月收入
dad,h1,户主,1985-01-01,5000
mum,h1,配偶,1987-01-01,3000
kid,h1,子女,2015-01-01,
gran,h2,户主,1940-01-01,1500
"""
HOUSEHOLDS = "户编号,住房类型,联系人编号\nh1,公租房,mum\nh2,自有住房,\n"
ENTERPRISES = "统一社会信用代码\n91110108MA01ABCD1X\n"
EMPLOYMENTS = "个人编号,统一社会信用代码,招用日期,离职日期\ndad,91110108MA01ABCD1X,2020-01-01,\n"


def store() -> ProfileStore:
    from core.db import get_engine, upgrade

    upgrade(get_engine())
    return ProfileStore(get_engine())


def directory(tmp_path: Path, residents: str = RESIDENTS) -> Path:
    for name, text in (
        ("residents.csv", residents),
        ("households.csv", HOUSEHOLDS),
        ("enterprises.csv", ENTERPRISES),
        ("employments.csv", EMPLOYMENTS),
    ):
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def two_heads() -> str:
    return RESIDENTS.replace("mum,h1,配偶", "mum,h1,户主")


def test_files_validated_together_are_checked_against_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = directory(tmp_path, two_heads())
    files = [str(d / n) for n in ("residents.csv", "households.csv")]
    with pytest.raises(SystemExit) as info:
        main(["profiles", "validate", *files])
    assert info.value.code == 1
    out = capsys.readouterr().out
    assert "residents.csv: 4 resident records OK" in out  # each file by itself is fine
    assert "links between the files:" in out
    assert f"{d / 'residents.csv'} row 1, field relation_to_head: household 'h1' has 2 heads" in out


def test_a_sound_linked_directory_validates_and_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = directory(tmp_path)
    files = sorted(str(p) for p in d.iterdir())
    main(["profiles", "validate", *files])  # returns without SystemExit: no problem
    assert main(["profiles", "load", str(d)]) == 0
    s = store()
    assert [s.count(n) for n in ("resident", "household", "enterprise", "employment")] == [
        4, 2, 1, 1,
    ]  # fmt: skip
    assert set(s.read("household")["housing"].to_list()) == {"public_rental", "owned"}
    assert "loaded 2 household records from households.csv" in capsys.readouterr().out


def test_a_directory_with_a_bad_link_loads_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = directory(tmp_path, two_heads())
    assert main(["profiles", "load", str(d)]) == 1
    err = capsys.readouterr().err
    assert "residents.csv row 1, field relation_to_head: household 'h1' has 2 heads" in err
    assert "Traceback" not in err
    s = store()
    assert [s.count(n) for n in ("resident", "household", "enterprise", "employment")] == [
        0, 0, 0, 0,
    ]  # fmt: skip
