from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from profiles.schema import load_schema
from profiles.tagging import compute_tags, load_tags, tags_for_subject, window_start
from profiles.tagging.definitions import Window

SCHEMA = load_schema()
TAGS = load_tags()
AS_OF = date(2026, 6, 30)


def residents(**cols: list[object]) -> pl.LazyFrame:
    stored = SCHEMA.resident.polars_schema()
    n = len(next(iter(cols.values())))
    data = {k: cols.get(k, [None] * n) for k in stored}
    return pl.LazyFrame(data, schema=stored)


def events(rows: list[tuple[str, str, datetime]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        [
            {"subject_id": s, "subject_type": "resident", "item_code": i, "occurred_at": t}
            for s, i, t in rows
        ],
        schema=SCHEMA.event.polars_schema(),
    )


def tags_of(frame: pl.LazyFrame, log: pl.LazyFrame) -> dict[str, set[str]]:
    out = compute_tags(frame, log, TAGS, entity=SCHEMA.resident, as_of=AS_OF).collect()
    return {row["subject_id"]: set(row["tags"]) for row in out.iter_rows(named=True)}


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2025, 7, 1, 9), True),  # 364 days before: inside the 12-month window
        (datetime(2025, 6, 30, 9), False),  # exactly 12 months before: outside
        (datetime(2026, 6, 30, 16), True),  # on the as-of day
        (datetime(2026, 7, 1, 9), False),  # after the as-of date: not yet
    ],
)
def test_windows_end_on_the_as_of_date(when: datetime, expected: bool) -> None:
    got = tags_of(residents(person_id=["a"]), events([("a", "birth_registration", when)]))
    assert ("new_parent" in got["a"]) is expected


def test_no_events_means_a_known_empty_set_not_unknown() -> None:
    got = tags_of(residents(person_id=["a"], birth_date=[date(1990, 1, 1)]), events([]))
    assert got["a"] == {"lapsed_insurance"}  # working age, no insurance payment: known facts


def test_recency_and_first_event_conditions() -> None:
    log = events(
        [
            ("a", "unemployment_registration", datetime(2026, 5, 1)),
            ("b", "unemployment_registration", datetime(2026, 5, 1)),
            ("b", "reemployment_registration", datetime(2026, 6, 1)),
            ("c", "disability_certification", datetime(2026, 1, 1)),
            ("d", "disability_certification", datetime(2026, 1, 1)),
            ("d", "disability_certification", datetime(2015, 1, 1)),
        ]
    )
    got = tags_of(residents(person_id=["a", "b", "c", "d"]), log)
    assert "newly_unemployed" in got["a"] and "newly_unemployed" not in got["b"]
    assert "reemployed" in got["b"]
    assert "newly_disabled" in got["c"] and "newly_disabled" not in got["d"]


def test_profile_field_conditions_use_the_age_at_the_as_of_date() -> None:
    frame = residents(
        person_id=["a", "b", "c"], birth_date=[date(1947, 1, 1), date(1946, 1, 1), None]
    )
    got = tags_of(frame, events([]))
    assert "approaching_80" in got["a"]
    assert "approaching_80" not in got["b"] and "approaching_80" not in got["c"]


def test_counts_at_least() -> None:
    log = events([("a", "medical_insurance_claim", datetime(2026, m, 1)) for m in (1, 2, 3)])
    log2 = events([("a", "medical_insurance_claim", datetime(2026, m, 1)) for m in (1, 2)])
    assert "frequent_medical_claims" in tags_of(residents(person_id=["a"]), log)["a"]
    assert "frequent_medical_claims" not in tags_of(residents(person_id=["a"]), log2)["a"]


def test_window_start_handles_month_ends() -> None:
    assert window_start(date(2026, 3, 31), Window(months=1)) == date(2026, 2, 28)
    assert window_start(date(2024, 2, 29), Window(years=1)) == date(2023, 2, 28)


def test_incremental_equals_batch_when_events_are_replayed_one_by_one(tmp_path: object) -> None:
    from simulations.population import GenerationSpec, generate_population

    out = tmp_path / "pop"  # type: ignore[operator]
    generate_population(GenerationSpec(150, 0, seed=3, as_of=AS_OF), out)
    people = pl.read_parquet(out / "residents.parquet")
    log = pl.read_parquet(out / "events.parquet").sort("occurred_at")
    batch = tags_of(people.lazy(), log.lazy())
    seen: dict[str, list[dict[str, object]]] = {}
    records = {r["person_id"]: r for r in people.iter_rows(named=True)}
    incremental: dict[str, set[str]] = {}
    for event in log.iter_rows(named=True):  # one event at a time, in time order
        history = seen.setdefault(event["subject_id"], [])
        history.append(event)
        incremental[event["subject_id"]] = set(
            tags_for_subject(
                records[event["subject_id"]], history, TAGS, entity=SCHEMA.resident, as_of=AS_OF
            )
        )
    for person, tags in incremental.items():
        assert tags == batch[person], person
