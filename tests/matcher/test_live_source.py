"""One way to load a subject: files, the database, and the database over files agree."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from core.db import get_engine, upgrade
from core.errors import NotFoundError
from matcher.live.source import (
    DatabaseSource,
    FileSource,
    LayeredSource,
    find_subject,
    load_subjects,
    require_subject,
    tag_library,
)
from matcher.population import attach_tags, scan_population
from profiles.schema import load_schema
from profiles.store import ProfileStore
from tests.populations import Populations

SCHEMA = load_schema()
AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(400, 20, seed=3, as_of=AS_OF)


def test_a_file_subjects_tags_equal_the_batch_computation(population: Path) -> None:
    frames = attach_tags(scan_population(population, SCHEMA), population, SCHEMA, as_of=AS_OF)
    batch = frames["resident"].select("person_id", "tags").collect()
    expected = {pid: sorted(tags or []) for pid, tags in batch.rows()}
    subjects = load_subjects(FileSource(population, SCHEMA), list(expected))
    assert len(subjects) == len(expected)
    library = tag_library(SCHEMA)
    got = {pid: s.tagged(AS_OF, library)["tags"] for pid, s in subjects.items()}
    assert got == expected
    assert any(got.values())  # the population has tagged residents: the test can fail


def test_a_file_sources_bulk_tags_equal_the_per_subject_ones(population: Path) -> None:
    source = FileSource(population, SCHEMA)
    ids = pl.read_parquet(population / "residents.parquet")["person_id"].to_list()[:150]
    library = tag_library(SCHEMA)
    one_by_one = {pid: s.tagged(AS_OF, library) for pid, s in load_subjects(source, ids).items()}
    bulk = {pid: record for pid, (_, record) in source.tagged(ids, AS_OF).items()}
    assert bulk == one_by_one and len(bulk) == 150


def test_an_indexed_file_source_reads_what_the_scans_read(population: Path) -> None:
    residents = pl.read_parquet(population / "residents.parquet")["person_id"].to_list()
    firms = pl.read_parquet(population / "enterprises.parquet")["enterprise_id"].to_list()
    ids = [*residents[::7], *firms[:5], "nobody"]
    scanned = load_subjects(FileSource(population, SCHEMA), ids)
    indexed = FileSource(population, SCHEMA, indexed=True)
    assert load_subjects(indexed, ids) == scanned and len(scanned) == len(ids) - 1
    assert any(s.events for s in scanned.values())  # events were compared too
    assert load_subjects(indexed, ids[:1]) == {ids[0]: scanned[ids[0]]}


def test_an_indexed_file_source_reads_a_replaced_file_again(tmp_path: Path) -> None:
    def write(city: str) -> None:
        pl.DataFrame({"person_id": ["P1"], "hukou_city": [city]}).write_parquet(
            tmp_path / "residents.parquet"
        )

    write("北京市")
    source = FileSource(tmp_path, SCHEMA, indexed=True)
    assert require_subject(source, "P1").record["hukou_city"] == "北京市"
    write("上海市 ")  # another size: a new file
    assert require_subject(source, "P1").record["hukou_city"].strip() == "上海市"


def test_a_firm_is_found_without_saying_its_kind(population: Path) -> None:
    firm = pl.read_parquet(population / "enterprises.parquet")["enterprise_id"][0]
    subject = require_subject(FileSource(population, SCHEMA), firm)
    assert (subject.entity.name, subject.subject_id) == ("enterprise", firm)


def test_without_an_events_file_the_records_own_tags_are_kept(tmp_path: Path) -> None:
    pl.DataFrame({"person_id": ["P1"], "tags": [["veteran_family"]]}).write_parquet(
        tmp_path / "residents.parquet"
    )
    subject = require_subject(FileSource(tmp_path, SCHEMA), "P1")
    assert subject.events is None
    assert subject.tagged(AS_OF, tag_library(SCHEMA))["tags"] == ["veteran_family"]


def test_the_database_record_wins_and_the_events_of_both_count_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    born = datetime(2026, 6, 1, 9, 0)
    pl.DataFrame(
        {"person_id": ["P1", "P2"], "hukou_city": ["北京市", "北京市"],
         "birth_date": [date(1990, 1, 1)] * 2}
    ).write_parquet(tmp_path / "residents.parquet")  # fmt: skip
    pl.DataFrame(
        {"subject_id": ["P1"], "subject_type": ["resident"], "item_code": ["birth_registration"],
         "occurred_at": [born]}
    ).write_parquet(tmp_path / "events.parquet")  # fmt: skip
    engine = get_engine(sqlite_url)
    upgrade(engine)
    store = ProfileStore(engine, SCHEMA)
    store.upsert("resident", {"person_id": "P1", "hukou_city": "上海市"})
    store.load(
        "event",
        pl.DataFrame(
            {"subject_id": ["P1", "P1"], "subject_type": ["resident"] * 2,
             "item_code": ["birth_registration", "marriage_registration"],
             "occurred_at": [born, born - timedelta(days=30)]}
        ),
    )  # fmt: skip
    source = LayeredSource(DatabaseSource(engine, SCHEMA), FileSource(tmp_path, SCHEMA))
    both = load_subjects(source, ["P1", "P2"])
    assert both["P1"].record["hukou_city"] == "上海市"  # ingested after the file
    assert both["P2"].record["hukou_city"] == "北京市"  # only in the file
    assert both["P1"].events is not None
    assert [e["item_code"] for e in both["P1"].events] == [
        "marriage_registration", "birth_registration",
    ]  # fmt: skip
    assert "new_parent" in both["P1"].tagged(AS_OF, tag_library(SCHEMA))["tags"]


def test_a_subject_nowhere_is_none_or_an_error_saying_what_to_do(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    upgrade(engine)
    source = LayeredSource(DatabaseSource(engine, SCHEMA), None)
    assert find_subject(source, "P404") is None
    with pytest.raises(NotFoundError, match=r"PUT /api/v1/profiles/resident/P404.*--population"):
        require_subject(source, "P404")
