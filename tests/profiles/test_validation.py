from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from core.errors import ValidationError
from profiles.readers import read_records
from profiles.schema import load_schema
from profiles.validation import conform

RESIDENT = load_schema().resident


def problems(frame: pl.DataFrame) -> list[str]:
    with pytest.raises(ValidationError) as info:
        conform(frame, RESIDENT, source="r.csv")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [
        (
            "household_size",
            ["2", "x"],
            "r.csv row 2, field household_size: expected a whole number, found 'x'",
        ),
        ("household_size", ["2", "2.5"], "expected a whole number, found '2.5'"),
        ("household_size", ["2", "99"], "r.csv row 2, field household_size: 99 is outside 1..20"),
        (
            "gender",
            ["male", "femail"],
            "expected one of male, female, found 'femail' (did you mean 'female'?)",
        ),
        (
            "birth_date",
            ["2000-01-01", "2000-02-30"],
            "expected a date YYYY-MM-DD, found '2000-02-30'",
        ),
        ("is_veteran", ["true", "perhaps"], "expected true or false, found 'perhaps'"),
        ("person_id", ["p1", ""], "r.csv row 2, field person_id: a value is required"),
        ("person_id", ["p1", "p1"], "r.csv row 2, field person_id: duplicate person_id 'p1'"),
    ],
)
def test_bad_values_name_row_field_and_expectation(
    column: str, values: list[str], expected: str
) -> None:
    frame = pl.DataFrame({"person_id": ["p1", "p2"], column: values})
    assert any(expected in p for p in problems(frame))


def test_unknown_and_derived_columns_are_errors() -> None:
    frame = pl.DataFrame({"person_id": ["p1"], "genderr": ["male"], "age": [3]})
    found = problems(frame)
    assert any("r.csv field genderr: unknown field for residents; did you mean 'gender'?" in p
               for p in found)  # fmt: skip
    assert any("age is derived from birth_date" in p for p in found)


def test_absent_fields_are_unknown_and_text_is_typed() -> None:
    frame = pl.DataFrame(
        {"person_id": ["p1"], "birth_date": ["1950-03-04"], "is_veteran": ["是"], "tags": ["a; b"]}
    )
    out = conform(frame, RESIDENT, source="r.csv")
    assert out.schema == RESIDENT.polars_schema()
    row = out.row(0, named=True)
    assert row["birth_date"] == date(1950, 3, 4)
    assert row["is_veteran"] is True
    assert row["tags"] == ["a", "b"]
    assert row["monthly_income"] is None


def test_many_problems_are_counted_and_a_few_listed() -> None:
    frame = pl.DataFrame({"person_id": [f"p{i}" for i in range(100)], "gender": ["x"] * 100})
    with pytest.raises(ValidationError) as info:
        conform(frame, RESIDENT, source="r.csv")
    assert info.value.total == 100
    assert len(info.value.problems) == 20
    assert str(info.value).startswith("100 problems: r.csv row 1, field gender")


@pytest.mark.parametrize("suffix", ["parquet", "csv", "json"])
def test_files_of_each_format_read_the_same(tmp_path: Path, suffix: str) -> None:
    frame = pl.DataFrame({"person_id": ["p1", "p2"], "household_size": [2, None]})
    path = tmp_path / f"residents.{suffix}"
    if suffix == "parquet":
        frame.write_parquet(path)
    elif suffix == "csv":
        frame.write_csv(path)
    else:
        frame.write_json(path)
    out = conform(read_records(path).frame, RESIDENT, source=str(path))
    assert out["household_size"].to_list() == [2, None]


def test_chinese_field_names_are_accepted_as_headers_and_named_in_problems() -> None:
    frame = pl.DataFrame({"个人编号": ["p1", "p2"], "出生日期": ["1950-03-04", "1950-02-30"]})
    assert problems(frame) == [
        "r.csv row 2, field 出生日期: expected a date YYYY-MM-DD, found '1950-02-30'"
    ]
    out = conform(frame.head(1), RESIDENT, source="r.csv")
    assert out.row(0, named=True)["birth_date"] == date(1950, 3, 4)


def test_a_field_given_under_both_names_is_an_error() -> None:
    frame = pl.DataFrame({"person_id": ["p1"], "个人编号": ["p1"]})
    assert problems(frame) == [
        "r.csv field 个人编号: 个人编号 and person_id are the same field; keep one of the columns"
    ]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("gender", {"code": "female"}, 'expected one of male, female, found an object {"code"'),
        ("monthly_income", {"cny": 1}, 'expected a number, found an object {"cny": 1}'),
        ("name", [1], "expected text, found a list [1]"),
        ("tags", [{"a": 1}], 'expected a list of tags, found a list [{"a": 1}]'),
    ],
)
def test_an_object_or_list_where_one_value_belongs_is_a_problem_not_a_crash(
    column: str, value: object, expected: str
) -> None:
    frame = pl.DataFrame([{"person_id": "p1", column: value}])
    (found,) = problems(frame)
    assert found.startswith(f"r.csv row 1, field {column}: {expected}")


def test_excel_numbers_and_dates_are_typed_as_text_ones_are() -> None:
    frame = pl.DataFrame(
        {
            "person_id": ["p1", "p2", "p3"],
            "household_size": [2.0, 3.0, None],
            "birth_date": ["1950-03-04 00:00:00", "1950/3/5", None],
        }
    )
    out = conform(frame, RESIDENT, source="r.xlsx")
    assert out["household_size"].to_list() == [2, 3, None]
    assert out["birth_date"].to_list() == [date(1950, 3, 4), date(1950, 3, 5), None]
    bad = frame.with_columns(pl.Series("household_size", [2.0, 2.5, None]))
    with pytest.raises(ValidationError, match=r"row 2, field household_size: expected a whole"):
        conform(bad, RESIDENT, source="r.xlsx")


def test_an_enum_may_be_written_as_its_chinese_or_english_label() -> None:
    raw = pl.DataFrame(
        {"person_id": ["a", "b", "c"], "relation_to_head": ["户主", "grandchild", "孙子女"],
         "gender": ["女", "male", "男"]}
    )  # fmt: skip
    out = conform(raw, load_schema().resident, source="r.csv")
    assert out["relation_to_head"].to_list() == ["head", "grandchild", "grandchild"]
    assert out["gender"].to_list() == ["female", "male", "male"]
    # Labels match as written; "Male" is neither a value nor a label.
    with pytest.raises(ValidationError, match="row 3, field gender"):
        conform(raw.with_columns(pl.Series("gender", ["女", "male", "Male"])),
                load_schema().resident, source="r.csv")  # fmt: skip
