"""One way to load a subject: files, the database, and the database over files agree."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from core.db import get_engine, upgrade
from core.errors import NotFoundError
from matcher.batch import match_frame
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
from profiles.store import ProfileStore, add_missing_columns
from rules.evaluator import evaluate
from rules.language import parse_rule
from rules.loader import load_catalog
from rules.policy import Policy
from tests.populations import Populations

SCHEMA = load_schema()
Key = tuple[str, str]
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
    add_missing_columns(engine, SCHEMA)  # as `zhida serve` does at start
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
    add_missing_columns(engine, SCHEMA)  # as `zhida serve` does at start
    source = LayeredSource(DatabaseSource(engine, SCHEMA), None)
    assert find_subject(source, "P404") is None
    with pytest.raises(NotFoundError, match=r"PUT /api/v1/profiles/resident/P404.*--population"):
        require_subject(source, "P404")


def _live_statuses(source: object, ids: list[str], policies: list[Policy]) -> dict[Key, str]:
    """Each subject's status for each policy of its kind, evaluated one subject at a time on
    the record the live source gives (with its links)."""
    library = tag_library(SCHEMA)
    out: dict[Key, str] = {}
    for sid, subject in load_subjects(source, ids).items():  # type: ignore[arg-type]
        record = subject.derived(AS_OF, library)
        for policy in policies:
            if policy.audience != subject.entity.name:
                continue
            result = evaluate(parse_rule(policy.eligibility, subject.entity), record, as_of=AS_OF)
            if result is not False:
                out[(sid, policy.id)] = "eligible" if result else "maybe"
    return out


def _linked_policies() -> list[Policy]:
    """The catalog's policies in force that read what links give (household fields and
    aggregates, household income and size, children under 3, staff)."""
    catalog = load_catalog([Path(__file__).resolve().parents[2] / "rules" / "catalog"])
    reads = {"household_income_per_capita", "household_size", "children_under_3", "employees"}
    chosen = []
    for p in catalog.in_force(AS_OF):
        if p.audience not in ("resident", "enterprise"):
            continue
        rule = parse_rule(p.eligibility, SCHEMA.entity(p.audience))
        if rule.groups or rule.fields & reads:
            chosen.append(p)
    return chosen


def _batch_statuses(population: Path, policies: list[Policy], ids: set[str]) -> dict[Key, str]:
    frames = attach_tags(scan_population(population, SCHEMA), population, SCHEMA, as_of=AS_OF)
    pairs = match_frame(frames, policies, SCHEMA, as_of=AS_OF)
    return {
        (s, p): st
        for s, p, st in pairs.select(
            "subject_id", "policy_id", pl.col("status").cast(pl.String)
        ).rows()
        if s in ids
    }


def test_a_live_subject_reads_its_links_as_the_batch_run_does(
    population: Path, database_url: str
) -> None:
    """Files, the database and the database over files give each subject its household,
    members and staff: its match for every policy reading links is the batch run's."""
    from profiles.validation import conform

    policies = _linked_policies()
    assert {p.id for p in policies} >= {"bj-dibao-invitation", "bj-market-rent-subsidy"}
    residents = pl.read_parquet(population / "residents.parquet")
    homes = residents.filter(pl.col("household_size") > 1)["household_id"].unique().sort()
    people = residents.filter(pl.col("household_id").is_in(homes.head(40).to_list()))
    firms = pl.read_parquet(population / "enterprises.parquet")["enterprise_id"].to_list()
    ids = [*people["person_id"].to_list(), *firms]
    expected = _batch_statuses(population, policies, set(ids))
    assert "eligible" in expected.values()  # the comparison has something to compare

    engine = get_engine(database_url)
    upgrade(engine)
    add_missing_columns(engine, SCHEMA)  # as `zhida serve` does at start
    files = [("resident", "residents"), ("enterprise", "enterprises"),
             ("household", "households"), ("employment", "employments"),
             ("event", "events")]  # fmt: skip
    read = {name: pl.read_parquet(population / f"{file}.parquet") for name, file in files}
    ProfileStore(engine, SCHEMA).load_all(
        [(name, conform(frame, SCHEMA.entity(name), source=name)) for name, frame in read.items()]
    )
    database = DatabaseSource(engine, SCHEMA)
    for source in (
        FileSource(population, SCHEMA),
        FileSource(population, SCHEMA, indexed=True),
        database,
        LayeredSource(database, FileSource(population, SCHEMA)),
    ):
        assert _live_statuses(source, ids, policies) == expected, type(source).__name__


def test_without_link_files_the_typed_in_household_fields_stand(tmp_path: Path) -> None:
    pl.DataFrame(
        {"person_id": ["P1"], "household_id": ["H1"], "household_size": [3],
         "household_income_per_capita": [900.0], "birth_date": [date(1990, 1, 1)]}
    ).write_parquet(tmp_path / "residents.parquet")  # fmt: skip
    subject = require_subject(FileSource(tmp_path, SCHEMA), "P1")
    record = subject.derived(AS_OF, tag_library(SCHEMA))
    assert subject.groups is None
    assert (record["household_size"], record["household_income_per_capita"]) == (3, 900.0)


def test_a_household_member_ingested_later_counts_in_the_household(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The database over files: a baby sent after the files were loaded is a member, a member
    the database has moved out is not, and the household's size and income count so."""
    pl.DataFrame(
        {"person_id": ["M1", "F1"], "household_id": ["H1", "H1"],
         "relation_to_head": ["head", "spouse"],
         "birth_date": [date(1990, 1, 1)] * 2, "monthly_income": [3000.0, 6000.0]}
    ).write_parquet(tmp_path / "residents.parquet")  # fmt: skip
    pl.DataFrame({"household_id": ["H1"]}).write_parquet(tmp_path / "households.parquet")
    engine = get_engine(sqlite_url)
    upgrade(engine)
    add_missing_columns(engine, SCHEMA)  # as `zhida serve` does at start
    store = ProfileStore(engine, SCHEMA)
    store.upsert(
        "resident",
        {"person_id": "B1", "household_id": "H1", "relation_to_head": "child",
         "mother_id": "M1", "birth_date": date(2026, 5, 1)},
    )  # fmt: skip
    store.upsert(
        "resident",
        {"person_id": "F1", "household_id": "H2", "relation_to_head": "head",
         "birth_date": date(1990, 1, 1), "monthly_income": 6000.0},
    )  # fmt: skip
    files = FileSource(tmp_path, SCHEMA)
    filed = require_subject(files, "M1").derived(AS_OF, tag_library(SCHEMA))
    assert (filed["household_size"], filed["household_income_per_capita"]) == (2, 4500.0)
    assert filed["children_under_3"] == 0
    source = LayeredSource(DatabaseSource(engine, SCHEMA), files)
    mother = require_subject(source, "M1").derived(AS_OF, tag_library(SCHEMA))
    assert mother["household_size"] == 2
    assert mother["household_income_per_capita"] == 1500.0
    assert mother["children_under_3"] == 1
    assert sorted(m["person_id"] for m in mother["@members"]) == ["B1", "M1"]


def test_a_member_whose_death_is_registered_leaves_the_household(
    sqlite_url: str, tmp_path: Path
) -> None:
    pl.DataFrame(
        {"person_id": ["M1", "F1"], "household_id": ["H1", "H1"],
         "relation_to_head": ["head", "spouse"],
         "birth_date": [date(1950, 1, 1)] * 2, "monthly_income": [3000.0, 0.0]}
    ).write_parquet(tmp_path / "residents.parquet")  # fmt: skip
    pl.DataFrame({"household_id": ["H1"]}).write_parquet(tmp_path / "households.parquet")
    engine = get_engine(sqlite_url)
    upgrade(engine)
    add_missing_columns(engine, SCHEMA)
    source = LayeredSource(DatabaseSource(engine, SCHEMA), FileSource(tmp_path, SCHEMA))
    before = require_subject(source, "M1").derived(AS_OF, tag_library(SCHEMA))
    assert (before["household_size"], before["household_income_per_capita"]) == (2, 1500.0)
    death = {
        "subject_id": ["F1"],
        "subject_type": ["resident"],
        "item_code": ["death_registration"],
        "occurred_at": [datetime(2026, 6, 1, 9, 0)],
    }
    ProfileStore(engine, SCHEMA).load("event", pl.DataFrame(death))  # fmt: skip
    after = require_subject(source, "M1").derived(AS_OF, tag_library(SCHEMA))
    assert (after["household_size"], after["household_income_per_capita"]) == (1, 3000.0)
    assert [m["person_id"] for m in after["@members"]] == ["M1"]
