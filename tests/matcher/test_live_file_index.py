"""The population file index: a subject's links read by lookups equal the filtered scans."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from matcher.live.file_index import LinkedRows
from matcher.live.source import FileSource, load_subjects
from profiles.schema import load_schema
from tests.populations import Populations

SCHEMA = load_schema()


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(400, 20, seed=3, as_of=date(2026, 6, 30))


def _sorted(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.sort(key, *(c for c in frame.columns if c != key), nulls_last=True)


def test_an_indexed_source_reads_households_children_and_staff_as_the_scans_do(
    population: Path,
) -> None:
    residents = pl.read_parquet(population / "residents.parquet")
    mothers = residents["mother_id"].drop_nulls().unique().sort().head(10).to_list()
    crowded = residents.filter(pl.col("household_size") > 2)["person_id"].head(10).to_list()
    firms = pl.read_parquet(population / "enterprises.parquet")["enterprise_id"].head(5)
    ids = [*mothers, *crowded, *firms.to_list(), "P-nobody"]
    scanned, indexed = FileSource(population, SCHEMA), FileSource(population, SCHEMA, indexed=True)
    records = scanned.records(ids)
    assert records == indexed.records(ids) and load_subjects(indexed, ids)
    by_scan, by_index = scanned.groups(records), indexed.groups(records)
    assert by_scan is not None and by_index is not None
    assert (
        by_index.frames.keys() == by_scan.frames.keys() == {"resident", "household", "employment"}
    )
    keys = {"resident": "person_id", "household": "household_id", "employment": "person_id"}
    for name, frame in by_scan.frames.items():
        assert frame.height > 0, name  # the comparison has rows to compare
        assert _sorted(by_index.frames[name], keys[name]).equals(_sorted(frame, keys[name])), name


def test_linked_rows_are_each_row_once_in_the_frames_order() -> None:
    frame = pl.DataFrame(
        {"person_id": ["a", "b", "c", "d"], "household_id": ["h2", "h1", "h2", None],
         "mother_id": [None, "a", "a", "b"]}
    )  # fmt: skip
    rows = LinkedRows.of(frame, ("household_id", "mother_id", "father_id"))
    assert sorted(rows.by) == ["household_id", "mother_id"]  # no father_id column
    found = rows.where({"household_id": {"h2"}, "mother_id": {"a"}, "father_id": {"x"}})
    assert found["person_id"].to_list() == ["a", "b", "c"]
    assert rows.where({"household_id": set()}).height == 0
    assert rows.where({"household_id": {"h9"}}).columns == frame.columns


def test_an_indexed_source_finds_the_deaths_the_scan_finds(tmp_path: Path) -> None:
    pl.DataFrame({"person_id": ["P1", "P2", "P3"]}).write_parquet(tmp_path / "residents.parquet")
    pl.DataFrame(
        {"subject_id": ["P1", "P2", "P2", "P3"], "subject_type": ["resident"] * 4,
         "item_code": ["birth_registration", "marriage_registration", "death_registration",
                       "death_registration"],
         "occurred_at": [datetime(2026, 1, d, 9) for d in (1, 2, 3, 4)]}
    ).write_parquet(tmp_path / "events.parquet")  # fmt: skip
    asked = ["P1", "P2", "P9"]
    assert FileSource(tmp_path, SCHEMA, indexed=True).deaths(asked) == {"P2"}
    assert FileSource(tmp_path, SCHEMA).deaths(asked) == {"P2"}
