from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from core.errors import InputFileError, ValidationError
from profiles.readers import read_records
from tests.profiles.xlsx import write_xlsx

CSV = "个人编号,户籍城市\np1,北京市\n"


@pytest.mark.parametrize(
    ("data", "how"),
    [
        (CSV.encode("utf-8"), "CSV, UTF-8"),
        (b"\xef\xbb\xbf" + CSV.encode("utf-8"), "CSV, UTF-8 with BOM"),
        (CSV.encode("gbk"), "CSV, GB18030 (it is not UTF-8)"),
        (CSV.encode("gb18030"), "CSV, GB18030 (it is not UTF-8)"),
    ],
    ids=["utf-8", "utf-8 with bom", "gbk", "gb18030"],
)
def test_a_csvs_encoding_is_detected(tmp_path: Path, data: bytes, how: str) -> None:
    path = tmp_path / "residents.csv"
    path.write_bytes(data)
    records = read_records(path)
    assert records.how == how
    assert records.frame.columns == ["个人编号", "户籍城市"]
    assert records.frame.row(0) == ("p1", "北京市")


def test_a_gbk_header_over_ascii_values_is_still_detected(tmp_path: Path) -> None:
    # polars alone reads such a header without complaint, as mojibake.
    path = tmp_path / "residents.csv"
    path.write_bytes("个人编号,性别\np1,male\n".encode("gbk"))
    assert read_records(path).frame.columns == ["个人编号", "性别"]


def test_gbk_after_a_long_ascii_start_is_still_detected(tmp_path: Path) -> None:
    path = tmp_path / "residents.csv"
    rows = "".join(f"p{i},Beijing\n" for i in range(120_000))  # over a MiB of plain ASCII
    path.write_bytes(f"person_id,hukou_city\n{rows}p-last,北京市\n".encode("gbk"))
    records = read_records(path)
    assert records.how == "CSV, GB18030 (it is not UTF-8)"
    assert records.frame["hukou_city"][-1] == "北京市"


def test_a_given_encoding_is_used_and_a_wrong_one_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "residents.csv"
    path.write_bytes("person_id,hukou_city\np1,Beijing\np2,北京市\n".encode("big5"))
    assert read_records(path, encoding="big5").frame["hukou_city"].to_list() == [
        "Beijing",
        "北京市",
    ]
    with pytest.raises(InputFileError, match=r"on line 3 is not utf-8; give the file's encod"):
        read_records(path, encoding="utf-8")
    with pytest.raises(InputFileError, match=r"unknown encoding 'gbkk'; expected e\.g\. utf-8"):
        read_records(path, encoding="gbkk")


def test_an_excel_sheet_is_read_as_text_with_dates_as_dates(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "events.xlsx",
        [["办事主体编号", "办理时间", "出生日期", "家庭人口数"],
         ["110102194003041234", datetime(2026, 3, 1, 9, 30), date(1940, 3, 4), 2]],
        sheet="办件",
    )  # fmt: skip
    records = read_records(path)
    assert records.how == "Excel, sheet '办件'"
    assert records.frame.row(0) == (
        "110102194003041234", "2026-03-01 09:30:00", "1940-03-04 00:00:00", "2",
    )  # fmt: skip


def test_json_lines_and_arrays_read_the_same_values_as_text(tmp_path: Path) -> None:
    rows = [{"person_id": "p1", "household_size": 2, "is_veteran": True, "tags": ["a"]},
            {"person_id": "p2", "household_size": "3", "tags": "b; c"}]  # fmt: skip
    lines, array = tmp_path / "residents.jsonl", tmp_path / "residents.json"
    lines.write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    array.write_text(json.dumps(rows), "utf-8")
    for path in (lines, array):
        frame = read_records(path).frame
        assert frame.to_dicts() == [
            {"person_id": "p1", "household_size": "2", "is_veteran": "true", "tags": ["a"]},
            {"person_id": "p2", "household_size": "3", "is_veteran": None, "tags": ["b", "c"]},
        ]


def test_every_malformed_json_record_is_named_by_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "residents.json"
    path.write_text(json.dumps([{"person_id": "p1"}, 42, {"person_id": "p3", "name": {"a": 1}}]))
    with pytest.raises(ValidationError) as info:
        read_records(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path} row 2: expected a JSON object of field values, e.g. "
        '{"person_id": "…"}, found 42',
        f"{path} row 3, field name: expected one value, not an object or a list, found an "
        'object {"a": 1}',
    ]


def test_broken_json_is_one_line_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "residents.jsonl"
    path.write_text('{"person_id": "p1"}\n{"person_id": \n', "utf-8")
    with pytest.raises(InputFileError, match=r"residents\.jsonl line 2: Expecting value"):
        read_records(path)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("residents.xlsx", b"not a workbook", r"as an Excel workbook \(calamine error"),
        ("residents.json", b"\xff\xfe{}", r"residents\.json: JSON must be UTF-8"),
        ("residents.parquet", b"PAR1\x00\x00", r"cannot read .*residents\.parquet: "),
    ],
    ids=["excel", "json", "parquet"],
)
def test_a_damaged_file_is_one_line(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputFileError, match=expected) as info:
        read_records(path)
    assert "\n" not in str(info.value) and str(info.value).count("cannot read") <= 1
