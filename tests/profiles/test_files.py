from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InputFileError
from profiles.files import PopulationFilesError, population_files, require_population_files


def directory(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def test_files_are_read_residents_first_and_the_rest_ignored_with_a_reason(
    tmp_path: Path,
) -> None:
    d = directory(
        tmp_path, "events.csv", "residents.xlsx", "enterprises.parquet", "residents.txt",
        "notes.md", "~$residents.xlsx", ".hidden",
    )  # fmt: skip
    read, ignored = population_files(d)
    assert [(p.name, e) for p, e in read] == [
        ("residents.xlsx", "resident"), ("enterprises.parquet", "enterprise"),
        ("events.csv", "event"),
    ]  # fmt: skip
    reasons = {i.path.name: i.reason for i in ignored}
    assert reasons.keys() == {"residents.txt", "notes.md"}
    assert reasons["residents.txt"].startswith("not a readable format")
    assert reasons["notes.md"] == (
        "not named residents.*, enterprises.*, events.*, households.* or employments.*"
    )


def test_a_directory_without_residents_is_refused_naming_the_way_out(tmp_path: Path) -> None:
    d = directory(tmp_path, "enterprises.parquet", "events.parquet")
    with pytest.raises(PopulationFilesError) as info:
        require_population_files(d, ("resident", "enterprise"), (".parquet",))
    assert str(info.value) == (
        f"{d} has no residents.parquet file: every resident would count as gone; add it, "
        "or pass --audience enterprise if only enterprises are meant"
    )
    assert info.value.exit_code == 2


def test_an_enterprise_audience_needs_no_residents(tmp_path: Path) -> None:
    require_population_files(directory(tmp_path, "enterprises.parquet"), ("enterprise",))


def test_a_residents_file_of_another_format_counts_unless_only_parquet_is_read(
    tmp_path: Path,
) -> None:
    d = directory(tmp_path, "residents.csv", "enterprises.parquet")
    require_population_files(d)
    with pytest.raises(PopulationFilesError, match=r"no residents\.parquet file"):
        require_population_files(d, suffixes=(".parquet",))


def test_a_missing_directory_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        require_population_files(tmp_path / "nope")
