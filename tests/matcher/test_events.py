"""Event-driven matching agrees with batch: replay a day of events one by one."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from matcher.batch import match_frame
from matcher.events import EventMatcher, RuleIndex
from matcher.live.source import FileSource, load_subjects
from matcher.population import attach_tags, scan_population
from profiles.schema import load_schema
from profiles.tagging import load_tags
from profiles.tagging.single import subject_tags
from rules.loader import load_catalog
from tests.populations import Populations

SCHEMA = load_schema()
CATALOG = load_catalog([Path(__file__).resolve().parents[2] / "rules" / "catalog"])
TAGS = load_tags()
AS_OF = date(2026, 6, 30)


def _pairs(frame: pl.DataFrame) -> dict[tuple[str, str], tuple[str, Decimal | None]]:
    return {
        (s, p): (st, b)
        for s, p, st, b in frame.select(
            "subject_id", "policy_id", pl.col("status").cast(pl.String), "benefit"
        ).rows()
    }


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(2000, 0, seed=5, as_of=AS_OF + timedelta(days=1))


def test_replaying_a_day_of_events_equals_the_batch_run(population: Path, tmp_path: Path) -> None:
    residents = pl.read_parquet(population / "residents.parquet")
    events = pl.read_parquet(population / "events.parquet").filter(
        pl.col("subject_type") == "resident"
    )
    # "A day" of a 2,000-person town is thin: replay the last 60 days' events instead.
    cut = AS_OF - timedelta(days=60)
    day = events.filter(
        (pl.col("occurred_at").dt.date() > cut) & (pl.col("occurred_at").dt.date() <= AS_OF)
    ).sort("occurred_at")
    before = events.filter(pl.col("occurred_at").dt.date() <= cut)
    assert day.height > 0
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    residents.write_parquet(earlier / "residents.parquet")
    before.write_parquet(earlier / "events.parquet")
    for links in ("households.parquet", "employments.parquet"):
        shutil.copy(population / links, earlier / links)

    def batch(directory: Path) -> pl.DataFrame:
        frames = attach_tags(
            scan_population(directory, SCHEMA), directory, SCHEMA, as_of=AS_OF, tags=TAGS
        )
        return match_frame(frames, CATALOG.in_force(AS_OF), SCHEMA, as_of=AS_OF)

    start = _pairs(batch(earlier))
    matcher = EventMatcher(CATALOG.policies, TAGS, SCHEMA, entity="resident", as_of=AS_OF)
    history = before.partition_by("subject_id", as_dict=True)
    by_subject: dict[str, dict[str, tuple[str, Decimal | None]]] = {}
    for (subject, policy), status in start.items():
        by_subject.setdefault(subject, {})[policy] = status
    # Each resident as the live source gives it: with its household, members and children.
    subjects = load_subjects(FileSource(earlier, SCHEMA), residents["person_id"].to_list())
    for pid, loaded in subjects.items():
        past = history.get((pid,), pl.DataFrame(schema=events.schema)).to_dicts()
        matcher.load(pid, loaded.linked(loaded.record, AS_OF), past, by_subject.get(pid, {}))
    changes = [c for event in day.iter_rows(named=True) for c in matcher.on_event(event)]
    assert changes, "a day of events changes something"
    replayed = {(s, p): v for s, m in matcher.matches.items() for p, v in m.items()}
    assert replayed == _pairs(batch(population.parent / population.name))


def test_single_subject_tags_equal_the_batch(population: Path) -> None:
    from profiles.tagging import compute_tags

    residents = pl.read_parquet(population / "residents.parquet").head(300)
    events = pl.read_parquet(population / "events.parquet")
    batch = compute_tags(
        residents.lazy(), events.lazy(), TAGS, entity=SCHEMA.resident, as_of=AS_OF
    ).collect()
    grouped = events.partition_by("subject_id", as_dict=True)
    by_id = dict(zip(batch["subject_id"], batch["tags"], strict=True))
    for record in residents.iter_rows(named=True):
        tags = by_id[record["person_id"]]
        mine = grouped.get((record["person_id"],), pl.DataFrame(schema=events.schema)).to_dicts()
        assert subject_tags(record, mine, TAGS, entity=SCHEMA.resident, as_of=AS_OF) == set(tags)


def test_the_index_names_only_policies_reading_a_change() -> None:
    index = RuleIndex.build(CATALOG.in_force(AS_OF), SCHEMA.resident)
    assert index.affected((), {"new_parent"}) == {"bj-maternity-allowance"}
    assert "bj-elderly-allowance" in index.affected({"birth_date"}, ())
    assert index.affected({"email"}, ()) == set()


def test_a_profile_change_rematches_and_names_the_change() -> None:
    matcher = EventMatcher(CATALOG.policies, TAGS, SCHEMA, entity="resident", as_of=AS_OF)
    matcher.load(
        "p1", {"person_id": "p1", "birth_date": date(1950, 1, 1), "hukou_city": "北京市"}, [], {}
    )
    changes = matcher.on_profile_change("p1", {"birth_date": date(1940, 1, 1)})
    kinds = {(c.policy_id, c.change) for c in changes}
    assert ("bj-elderly-allowance", "newly_eligible") in kinds
