from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from matcher.batch import match_population
from matcher.needed_tags import event_tagger
from matcher.population import EventTagger, scan_population
from profiles.schema import load_schema
from rules.loader import load_catalog
from rules.policy import Policy
from tests.populations import Populations

SCHEMA = load_schema()
AS_OF = date(2026, 6, 30)
CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(2000, 200, seed=4, as_of=AS_OF)


def policy(eligibility: str) -> Policy:
    return Policy(
        id="p", title="t", department="d", audience="resident", mode="auto_grant",
        eligibility=eligibility, valid_from=date(2026, 1, 1),
    )  # fmt: skip


def test_no_tagger_at_all_when_no_rule_reads_a_tag(population: Path) -> None:
    assert event_tagger(population, SCHEMA, [policy("age >= 60")], as_of=AS_OF) is None


def test_only_the_tags_read_are_computed_from_their_own_events(population: Path) -> None:
    tagger = event_tagger(population, SCHEMA, [policy('"new_parent" in tags')], as_of=AS_OF)
    assert tagger is not None and [t.id for t in tagger.library] == ["new_parent"]
    assert tagger.events is not None
    items = set(tagger.events.select(pl.col("item_code").cast(pl.String)).collect().to_series())
    assert items == {"birth_registration"}


def test_a_rule_that_could_read_any_tag_gets_every_tag(population: Path) -> None:
    tagger = event_tagger(population, SCHEMA, [policy("residence_district in tags")], as_of=AS_OF)
    every = EventTagger(population, SCHEMA, as_of=AS_OF)
    assert tagger is not None and len(tagger.library) == len(every.library)


def test_events_from_the_database_are_narrowed_as_a_file_is(population: Path) -> None:
    events = pl.scan_parquet(population / "events.parquet")
    tagger = event_tagger(events, SCHEMA, [policy('"new_parent" in tags')], as_of=AS_OF)
    assert tagger is not None and tagger.events is not None
    assert tagger.events.collect().height < events.collect().height


def test_the_tags_read_give_the_pairs_all_tags_give(population: Path) -> None:
    in_force = load_catalog([CATALOG], SCHEMA).in_force(AS_OF)
    frames = scan_population(population, SCHEMA)
    needed = event_tagger(population, SCHEMA, in_force, as_of=AS_OF)
    every = EventTagger.for_population(population, SCHEMA, as_of=AS_OF)
    assert needed is not None and every is not None
    assert len(needed.library) < len(every.library)

    def pairs(tagger: EventTagger | None) -> pl.DataFrame:
        batches = match_population(frames, in_force, SCHEMA, as_of=AS_OF, tagger=tagger)
        return pl.concat(batches).sort("subject_id", "policy_id")

    assert pairs(needed).equals(pairs(every))
