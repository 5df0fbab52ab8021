"""Bad links are refused with the file, row and field, and nothing is loaded or matched."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from core.db import get_engine, upgrade
from core.errors import ValidationError
from matcher.population import read_database, scan_population
from profiles.link_checks import check_links
from profiles.schema import load_schema
from profiles.store import ProfileStore
from profiles.validation import conform

SCHEMA = load_schema()
FIRM = "91110108MA01ABCD1X"
OTHER_FIRM = "91110108MA01ABCD2Y"

Frames = dict[str, pl.DataFrame]


def population() -> Frames:
    """Two households, a firm and two jobs, every link sound."""
    raw = {
        "resident": pl.DataFrame(
            {
                "person_id": ["dad", "mum", "kid", "gran"],
                "household_id": ["h1", "h1", "h1", "h2"],
                "relation_to_head": ["head", "spouse", "child", "head"],
                "birth_date": ["1985-01-01", "1987-01-01", "2015-01-01", "1940-01-01"],
                "mother_id": [None, None, "mum", None],
                "monthly_income": [5000, 3000, None, 1500],
            }
        ),
        "household": pl.DataFrame(
            {"household_id": ["h1", "h2"], "contact_person_id": ["mum", None]}
        ),
        "enterprise": pl.DataFrame({"enterprise_id": [FIRM]}),
        "employment": pl.DataFrame(
            {
                "person_id": ["dad", "mum"],
                "enterprise_id": [FIRM, FIRM],
                "hired_on": ["2020-01-01", "2021-01-01"],
                "left_on": [None, None],
            }
        ),
    }
    return {name: conform(frame, SCHEMA.entity(name), source=name) for name, frame in raw.items()}


def set_cell(frames: Frames, entity: str, row: int, field: str, value: object) -> Frames:
    """``frames`` with one value changed (``row`` counted from 1, as the messages count)."""
    frame = frames[entity]
    column = frame[field].to_list()
    column[row - 1] = value
    dtype = frame.schema[field]
    series = pl.Series(field, column, dtype=dtype)
    return {**frames, entity: frame.with_columns(series)}


def drop_row(frames: Frames, entity: str, row: int) -> Frames:
    frame = frames[entity]
    return {**frames, entity: frame.filter(pl.int_range(pl.len()) != row - 1)}


# Each case: how the population is spoilt, and the (entity's file, row, field, words) refused.
CASES: dict[str, tuple[Callable[[Frames], Frames], tuple[str, int, str, str]]] = {
    "a member of a household that does not exist": (
        lambda f: set_cell(f, "resident", 4, "household_id", "h9"),
        ("resident", 4, "household_id", "household 'h9' is in no households file"),
    ),
    "a household with no head": (
        lambda f: set_cell(f, "resident", 4, "relation_to_head", "sibling"),
        ("household", 2, "household_id", "household 'h2' has no head"),
    ),
    "a household with two heads": (
        lambda f: set_cell(f, "resident", 2, "relation_to_head", "head"),
        ("resident", 1, "relation_to_head", "household 'h1' has 2 heads"),
    ),
    "a child older than the head": (
        lambda f: set_cell(f, "resident", 3, "birth_date", date(1984, 1, 1)),
        ("resident", 3, "birth_date", "before the head dad"),
    ),
    "a child older than the spouse only": (
        lambda f: set_cell(f, "resident", 3, "birth_date", date(1986, 1, 1)),
        ("resident", 3, "birth_date", "before the spouse mum"),
    ),
    "a child older than the mother it names": (
        lambda f: set_cell(
            set_cell(f, "resident", 3, "relation_to_head", "other"),
            "resident",
            3,
            "birth_date",
            date(1986, 1, 1),
        ),
        ("resident", 3, "birth_date", "not after the mother mum"),
    ),
    "an employment at an unknown firm": (
        lambda f: set_cell(f, "employment", 2, "enterprise_id", OTHER_FIRM),
        ("employment", 2, "enterprise_id", f"{OTHER_FIRM!r} is in no enterprises file"),
    ),
    "an employment of an unknown person": (
        lambda f: set_cell(f, "employment", 1, "person_id", "ghost"),
        ("employment", 1, "person_id", "'ghost' is in no residents file"),
    ),
    "an employment ending before it starts": (
        lambda f: set_cell(f, "employment", 1, "left_on", date(2019, 1, 1)),
        ("employment", 1, "left_on", "before being hired on 2020-01-01"),
    ),
    "a contact who is no resident": (
        lambda f: set_cell(f, "household", 1, "contact_person_id", "ghost"),
        ("household", 1, "contact_person_id", "contact 'ghost' is no resident"),
    ),
}

FILES = {
    "resident": "residents.parquet",
    "household": "households.parquet",
    "enterprise": "enterprises.parquet",
    "employment": "employments.parquet",
}


def test_a_sound_population_passes() -> None:
    check_links(population(), FILES)


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_link_is_refused_naming_file_row_and_field(case: str) -> None:
    spoil, (entity, row, field, words) = CASES[case]
    with pytest.raises(ValidationError) as info:
        check_links(spoil(population()), FILES)
    problem = info.value.problems[0]
    assert (problem.source, problem.row, problem.field) == (FILES[entity], row, field)
    assert words in problem.message
    assert info.value.total == len(info.value.problems) >= 1


def test_a_population_without_links_is_not_checked() -> None:
    residents = population()["resident"].with_columns(pl.lit(None, pl.String).alias("household_id"))
    check_links({"resident": residents}, FILES)


def test_households_named_without_any_households_are_read_flat() -> None:
    # No households file: the household_id is not a link yet (a sample of residents, say).
    check_links({"resident": population()["resident"]}, FILES)


def test_households_named_in_a_load_are_checked_against_the_stored_households() -> None:
    frames = set_cell(population(), "resident", 4, "household_id", "h9")
    with pytest.raises(ValidationError, match="household 'h9' is in no households file"):
        check_links(
            {"resident": frames["resident"]}, FILES, existing={"household": frames["household"]}
        )


def test_an_employment_without_an_enterprises_file_is_refused() -> None:
    frames = population()
    del frames["enterprise"]
    with pytest.raises(ValidationError, match="is in no enterprises file"):
        check_links(frames, FILES)


# --- the store: refused on SQLite and PostgreSQL, nothing written ---


@pytest.fixture
def store(database_url: str) -> ProfileStore:
    engine = get_engine(database_url)
    upgrade(engine)
    return ProfileStore(engine, SCHEMA)


def counts(store: ProfileStore) -> list[int]:
    return [store.count(name) for name in FILES]


@pytest.mark.parametrize("case", list(CASES))
def test_the_store_refuses_a_bad_link_and_writes_nothing(store: ProfileStore, case: str) -> None:
    spoil, (entity, row, field, _) = CASES[case]
    frames = spoil(population())
    with pytest.raises(ValidationError) as info:
        store.load_all(list(frames.items()), sources=FILES)
    problem = info.value.problems[0]
    assert (problem.source, problem.row, problem.field) == (FILES[entity], row, field)
    assert counts(store) == [0, 0, 0, 0]


def test_the_store_loads_and_reads_back_households_and_employments(store: ProfileStore) -> None:
    frames = population()
    store.load_all(list(frames.items()))
    assert counts(store) == [4, 2, 1, 2]
    for name in ("household", "employment"):
        back = store.read(name).sort(pl.all())
        assert back.equals(frames[name].sort(pl.all())), name
    # A job that ends is loaded again with its end date: updated, not added.
    ended = frames["employment"].with_columns(pl.lit(date(2026, 3, 1)).alias("left_on"))
    store.load("employment", ended)
    assert store.count("employment") == 2
    assert set(store.read("employment")["left_on"]) == {date(2026, 3, 1)}


def test_a_later_load_is_checked_against_what_the_database_holds(store: ProfileStore) -> None:
    frames = population()
    store.load_all(list(frames.items()))
    # A new job at the firm already loaded, of a person already loaded: fine.
    job = conform(
        pl.DataFrame({"person_id": ["gran"], "enterprise_id": [FIRM], "hired_on": ["2026-01-05"]}),
        SCHEMA.employment,
        source="employments.csv",
    )
    store.load("employment", job)
    assert store.count("employment") == 3
    # A second head moving into h1, loaded alone: the head already stored makes two.
    newcomer = conform(
        pl.DataFrame(
            {"person_id": ["uncle"], "household_id": ["h1"], "relation_to_head": ["head"]}
        ),
        SCHEMA.resident,
        source="residents.csv",
    )
    with pytest.raises(ValidationError) as info:
        store.load_all([("resident", newcomer)], sources={"resident": "residents.csv"})
    sources = {(p.source, p.row) for p in info.value.problems}
    assert sources == {("residents.csv", 1), ("the database", None)}
    assert store.count("resident") == 4


def test_a_head_moving_out_leaves_a_stored_household_headless(store: ProfileStore) -> None:
    store.load_all(list(population().items()))
    moved = population()["resident"].filter(pl.col("person_id") == "gran")
    moved = moved.with_columns(pl.lit(None, pl.String).alias("household_id"))
    with pytest.raises(ValidationError) as info:
        store.load("resident", moved)
    problem = info.value.problems[0]
    assert (problem.source, problem.row, problem.field) == ("the database", None, "household_id")
    assert "household 'h2' has no head" in problem.message
    assert (
        store.read("resident").filter(pl.col("person_id") == "gran")["household_id"].item() == "h2"
    )


# --- population directories (matching) ---


def write(directory: Path, frames: Frames) -> Path:
    directory.mkdir()
    for name, frame in frames.items():
        frame.write_parquet(directory / FILES[name])
    return directory


def test_a_population_directory_returns_its_links(tmp_path: Path) -> None:
    frames = scan_population(write(tmp_path / "pop", population()), SCHEMA)
    assert sorted(frames) == ["employment", "enterprise", "household", "resident"]
    assert frames["household"].collect().height == 2


def test_a_population_directory_with_a_bad_link_is_refused_before_matching(
    tmp_path: Path,
) -> None:
    spoil, _ = CASES["a household with two heads"]
    directory = write(tmp_path / "pop", spoil(population()))
    with pytest.raises(ValidationError) as info:
        scan_population(directory, SCHEMA)
    problem = info.value.problems[0]
    assert problem.source.endswith("residents.parquet")
    assert (problem.row, problem.field) == (1, "relation_to_head")


def test_a_population_directory_without_links_reads_as_before(tmp_path: Path) -> None:
    frames = population()
    flat = {"resident": frames["resident"].with_columns(pl.lit(None, pl.String).alias(
        "household_id")), "enterprise": frames["enterprise"]}  # fmt: skip
    got = scan_population(write(tmp_path / "pop", flat), SCHEMA)
    assert sorted(got) == ["enterprise", "resident"]


def test_the_database_returns_its_links(store: ProfileStore) -> None:
    store.load_all(list(population().items()))
    frames, _events = read_database(store.engine, SCHEMA)
    assert sorted(frames) == ["employment", "enterprise", "household", "resident"]
