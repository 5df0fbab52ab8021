from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from core.db import get_engine, upgrade
from core.errors import DatabaseError
from profiles.schema import load_schema
from profiles.store import ProfileStore
from profiles.validation import conform

SCHEMA = load_schema()


@pytest.fixture
def store(database_url: str) -> ProfileStore:
    engine = get_engine(database_url)
    upgrade(engine)
    return ProfileStore(engine, SCHEMA)


def residents() -> pl.DataFrame:
    raw = pl.DataFrame(
        {
            "person_id": ["p1", "p2", "p3"],
            "gender": ["female", None, "male"],
            "birth_date": [date(1940, 1, 2), None, date(2001, 5, 6)],
            "monthly_income": [3200.5, None, 0.0],
            "is_veteran": [True, None, False],
            "tags": [["new_parent", 'a"b'], [], None],
        }
    )
    return conform(raw, SCHEMA.resident, source="test")


def test_round_trip_keeps_values_types_and_unknowns(store: ProfileStore) -> None:
    frame = residents()
    store.load("resident", frame)
    back = store.read("resident").sort("person_id")
    assert back.schema == SCHEMA.resident.polars_schema()
    assert back.equals(frame)


def test_loading_twice_updates_by_key_and_adds_no_duplicates(store: ProfileStore) -> None:
    store.load("resident", residents())
    changed = residents().with_columns(pl.lit(1000.0).alias("monthly_income"))
    store.load("resident", changed)
    assert store.count("resident") == 3
    assert set(store.read("resident")["monthly_income"]) == {1000.0}


def test_events_are_appended_once(store: ProfileStore) -> None:
    events = conform(
        pl.DataFrame(
            {
                "subject_id": ["p1", "p1"],
                "subject_type": ["resident", "resident"],
                "item_code": ["birth_registration", "marriage_registration"],
                "occurred_at": [datetime(2026, 1, 2, 9, 30), datetime(2025, 3, 4, 10, 0)],
            }
        ),
        SCHEMA.event,
        source="test",
    )
    store.load("event", events)
    store.load("event", events)
    back = store.read("event").sort("occurred_at")
    assert back.equals(events.sort("occurred_at"))


def test_upsert_one_record(store: ProfileStore) -> None:
    store.load("resident", residents())
    store.upsert("resident", {"person_id": "p1", "gender": "female", "tags": ["x"]})
    store.upsert("resident", {"person_id": "p9", "gender": "male"})
    back = store.read("resident").sort("person_id")
    assert back.height == 4
    p1 = back.row(0, named=True)
    assert p1["tags"] == ["x"] and p1["monthly_income"] is None


def test_a_failed_load_leaves_nothing_behind(store: ProfileStore) -> None:
    bad = residents().with_columns(pl.lit(None, pl.String).alias("person_id"))
    with pytest.raises(DatabaseError, match="rolled back"):
        store.load("resident", bad)
    assert store.count("resident") == 0


def enterprises_without_a_key() -> pl.DataFrame:
    # Passes no validation, so the database itself refuses it: a failure after the residents.
    return pl.DataFrame(
        {f.name: [None] for f in SCHEMA.enterprise.stored_fields},
        schema=SCHEMA.enterprise.polars_schema(),
    )


def test_a_load_failing_after_the_residents_loads_nothing(store: ProfileStore) -> None:
    with pytest.raises(
        DatabaseError, match=r"while writing enterprises and was rolled back, nothing was loaded"
    ):
        store.load_all([("resident", residents()), ("enterprise", enterprises_without_a_key())])
    assert store.count("resident") == 0
    assert store.count("enterprise") == 0


def test_a_load_of_several_tables_commits_them_together(store: ProfileStore) -> None:
    assert store.load_all([("resident", residents()), ("event", conform(
        pl.DataFrame({"subject_id": ["p1"], "subject_type": ["resident"],
                      "item_code": ["birth_registration"], "occurred_at": ["2026-01-02T09:30"]}),
        SCHEMA.event, source="test"))]) == [3, 1]  # fmt: skip
    assert (store.count("resident"), store.count("event")) == (3, 1)
