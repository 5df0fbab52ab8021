"""An event re-matches only as far as it reaches (matcher.live.reach), through the API on a
linked population: a tag only a person's own policy reads changes that person's offers and no
one else's; a tag no rule reads changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from matcher.runs import RunStore
from profiles.store import ProfileStore, add_missing_columns
from profiles.validation import conform
from rules.store import PolicyStore
from tests.api.app import test_ingest_links as links
from tests.api.app.world import AT, World, make_world

WED = """
title: 新婚（测试）
eligibility: '"newly_married" in tags'
"""


@pytest.fixture
def wed_world(database_url: str, tmp_path: Path) -> Iterator[tuple[World, Path]]:
    for world in make_world(database_url, tmp_path):
        add_missing_columns(world.engine, links.SCHEMA)
        catalog = links._write_catalog(tmp_path / "linked-catalog")
        (catalog / "t-wed.yaml").write_text(
            "id: t-wed\ndepartment: 北京市民政局\nmode: proactive_push\naudience: resident\n"
            "valid_from: 2020-01-01\nprovenance: modelled\nprovenance_note: a test policy\n" + WED,
            encoding="utf-8",
        )
        PolicyStore(world.engine).import_catalog(catalog, author="importer", note="seed")
        start = links._start()
        ProfileStore(world.engine, links.SCHEMA).load_all(
            [(name, conform(frame, links.SCHEMA.entity(name), source=name))
             for name, frame in start.items()]
        )  # fmt: skip
        pairs = tmp_path / "linked-pairs.parquet"
        links._batch(start, catalog).write_parquet(pairs)
        RunStore(world.engine, tmp_path / "data").record(
            pairs, as_of=links.ON, catalog_hash="d" * 64, population="q" * 64,
            started_at=AT + timedelta(hours=1), seconds=1.0, policies=len(links.POLICIES) + 1,
        )  # fmt: skip
        yield world, catalog


def test_a_tag_only_a_persons_policy_reads_changes_that_persons_offers_alone(
    wed_world: tuple[World, Path],
) -> None:
    world, catalog = wed_world
    admin = world.as_("admin")
    ids = ["dad", "mum", "gran", "lily", "aunt", "tom", "h1", "h2", "h3", "h4",
           links.FIRM_A, links.FIRM_B]  # fmt: skip
    before = links._held(world, ids)
    assert before == links._pairs(links._batch(links._start(), catalog))

    wed = {"subject_id": "mum", "subject_type": "resident", "item_code": "marriage_registration",
           "occurred_at": "2030-06-20T10:00:00"}  # fmt: skip
    response = world.client.post("/api/v1/events", json=wed, headers=admin)
    assert response.status_code == 201, response.text
    changes = [(c["policy_id"], c["change"]) for c in response.json()["changes"]]
    assert changes == [("t-wed", "maybe_to_eligible")]  # the run read no tags: unknown
    # Her household's offers (read from her household's links) and everyone else's stand.
    assert links._held(world, ids) == {**before, ("mum", "t-wed"): ("eligible", None)}

    # A second event of a kind no rule's tag looks at changes nothing for anyone.
    other = {**wed, "item_code": "retirement_approval", "occurred_at": "2030-06-21T10:00:00"}
    response = world.client.post("/api/v1/events", json=other, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["changes"] == []
    assert links._held(world, ids) == {**before, ("mum", "t-wed"): ("eligible", None)}
