"""Batch ingestion: POST /api/v1/events/batch answers each item as the single path would."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from matcher.live.ledger import subject_match_changes
from notifier.tables import notices, outbox
from profiles.store import ProfileStore
from rules.store import PolicyStore
from tests.api.app.test_ingest import ELDER, PARENT, _at_once, _ingest_world, _second_server
from tests.api.app.world import CATALOG, World

BATCH = "/api/v1/events/batch"
SUBJECTS = {"P7": PARENT, "P8": ELDER, "P9": PARENT}


def _event(subject: str, minutes: int, item: str = "birth_registration") -> dict[str, Any]:
    at = datetime.now(UTC).replace(microsecond=0, tzinfo=None) - timedelta(minutes=minutes)
    return {"subject_id": subject, "subject_type": "resident", "item_code": item,
            "occurred_at": at.isoformat()}  # fmt: skip


def _profiles(world: World) -> None:
    for subject, record in SUBJECTS.items():
        response = world.client.put(
            f"/api/v1/profiles/resident/{subject}", json=record, headers=world.as_("admin")
        )
        assert response.status_code == 201, response.text


def _mixed() -> list[dict[str, Any]]:
    """A marriage and births of two employed parents (one of them told twice: the second
    plan reads the first's notices), an elder's event, a second birth changing nothing, and
    one event sent twice."""
    births = [_event("P9", 5), _event("P7", 4), _event("P9", 3)]
    married = _event("P9", 6, "marriage_registration")
    return [married, *births, _event("P8", 2, "disability_certification"), births[1],
            _event("P7", 1)]  # fmt: skip


def _tables(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """The ledger, the notices and the outbox, as comparable rows (ids and times left out)."""
    t, n, o = subject_match_changes, notices, outbox
    queries = {
        "changes": sa.select(t.c.subject_id, t.c.policy_id, t.c.change, t.c.old_status,
                             t.c.new_status, t.c.old_benefit, t.c.new_benefit, t.c.cause)
        .order_by(t.c.id),
        "notices": sa.select(n.c.subject_id, n.c.policy_id, n.c.purpose, n.c.decision,
                             n.c.reason, n.c.item_key).order_by(n.c.id),
        "outbox": sa.select(o.c.subject_id, o.c.channel, o.c.purpose, o.c.idempotency_key,
                            o.c.status).order_by(o.c.id),
    }  # fmt: skip
    with world.engine.connect() as conn:
        found = {name: [tuple(r) for r in conn.execute(q)] for name, q in queries.items()}
    # A profile's cause carries the time it was received; the events' are their ids.
    found["changes"] = [(*r[:7], r[7].split(" ")[0] if r[7].startswith("profile") else r[7])
                        for r in found["changes"]]  # fmt: skip
    return found


@pytest.fixture(params=["sqlite", "postgres"])
def worlds(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[World, World]]:
    """A world on the database under test for the batch, and one on SQLite for the replay."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
    for batch in _ingest_world(url, tmp_path / "batch"):
        for single in _ingest_world(f"sqlite:///{tmp_path / 'single.db'}", tmp_path / "single"):
            for world in (batch, single):  # a marriage makes a second change for P9
                _publish(world, "bj-premarital-health-check", tmp_path / "premarital")
            yield batch, single


def _publish(world: World, policy: str, directory: Path) -> None:
    directory.mkdir(exist_ok=True)
    shutil.copy(CATALOG / f"{policy}.yaml", directory)
    PolicyStore(world.engine).import_catalog(directory, author="importer", note="seed")


def test_a_batch_equals_the_same_events_sent_one_by_one(worlds: tuple[World, World]) -> None:
    batch_world, single_world = worlds
    events = _mixed()
    for world in worlds:
        _profiles(world)
    response = batch_world.client.post(BATCH, json=events, headers=batch_world.as_("admin"))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    singles = [
        single_world.client.post("/api/v1/events", json=e, headers=single_world.as_("admin"))
        for e in events
    ]
    assert [i["status"] for i in items] == [s.status_code for s in singles]
    assert [i["result"] for i in items] == [s.json() for s in singles]
    planned = [i["result"] for i in items if sum(i["result"]["planned"].values())]
    assert [p["subject_id"] for p in planned if not p["duplicate"]] == ["P9", "P9", "P7"]
    # The same rows; notices and outbox rows of different subjects may be numbered in
    # another order (a batch plans the subjects told once before those told twice).
    batch_rows, single_rows = _tables(batch_world), _tables(single_world)
    assert batch_rows["changes"] == single_rows["changes"]
    for table in ("notices", "outbox"):
        assert sorted(batch_rows[table]) == sorted(single_rows[table]), table
    assert response.json()["stored"] == 6 and response.json()["duplicates"] == 1


def test_a_resent_batch_is_answered_as_duplicates_and_stores_nothing_new(
    sqlite_url: str, tmp_path: Path
) -> None:
    for world in _ingest_world(sqlite_url, tmp_path):
        _profiles(world)
        events = _mixed()
        first = world.client.post(BATCH, json=events, headers=world.as_("admin")).json()
        before = _tables(world)
        again = world.client.post(BATCH, json=events, headers=world.as_("admin")).json()
        assert (again["stored"], again["duplicates"]) == (0, len(events))
        assert [i["result"]["cause"] for i in again["items"]] == [
            i["result"]["cause"] for i in first["items"]
        ]
        assert _tables(world) == before


def test_bad_items_are_refused_by_index_and_the_good_ones_stored(
    sqlite_url: str, tmp_path: Path
) -> None:
    for world in _ingest_world(sqlite_url, tmp_path):
        _profiles(world)
        events = [
            _event("P9", 5),
            {**_event("P9", 4), "item_code": "birth_registraton"},
            _event("P5", 3),  # nobody sent P5's profile
            42,
            {**_event("P7", 2), "occured_at": "2026-01-01T00:00:00"},
            _event("P7", 1),
        ]
        response = world.client.post(BATCH, json=events, headers=world.as_("admin"))
        assert response.status_code == 207, response.text
        body = response.json()
        assert [i["status"] for i in body["items"]] == [201, 422, 404, 422, 422, 201]
        assert (body["stored"], body["refused"]) == (2, 4)
        typo = body["items"][1]["error"]
        assert typo["problems"][0]["field"] == "item_code"
        assert "birth_registration" in typo["problems"][0]["message"]
        assert "PUT /api/v1/profiles/resident/P5" in body["items"][2]["error"]["message"]
        assert "JSON object" in body["items"][3]["error"]["message"]
        assert "occurred_at" in body["items"][4]["error"]["message"]
        assert ProfileStore(world.engine).count("event") == 2


def test_a_batch_that_is_not_an_array_or_too_long_is_one_clear_error(
    sqlite_url: str, tmp_path: Path
) -> None:
    for world in _ingest_world(sqlite_url, tmp_path):
        one = world.client.post(BATCH, json=_event("P9", 1), headers=world.as_("admin"))
        assert one.status_code == 422, one.text
        assert "application/x-ndjson" in one.json()["error"]["message"]
        many = world.client.post(BATCH, json=[{}] * 5001, headers=world.as_("admin"))
        assert many.status_code == 422 and "at most 5000" in many.json()["error"]["message"]
        denied = world.client.post(BATCH, json=[], headers=world.as_("resident"))
        assert denied.status_code == 403


@pytest.fixture
def replay_world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    yield from _ingest_world(sqlite_url, tmp_path / "replay")


@pytest.fixture
def pg_world(postgres_url: str, tmp_path: Path) -> Iterator[World]:
    yield from _ingest_world(postgres_url, tmp_path)


def test_on_postgresql_4_concurrent_batches_of_overlapping_subjects_equal_a_sequential_replay(
    pg_world: World, replay_world: World, tmp_path: Path
) -> None:
    world, replay = pg_world, replay_world
    # Four clients, each a batch of every subject's events: each subject in all four batches.
    batches = [
        [_event(s, 10 * b + k, item) for s in SUBJECTS for k, item in
         enumerate(("birth_registration", "disability_certification", "birth_registration"))]
        for b in range(4)
    ]  # fmt: skip
    for w in (world, replay):
        _profiles(w)
    for batch in batches:  # the sequential replay, one event at a time
        for event in batch:
            answer = replay.client.post("/api/v1/events", json=event, headers=replay.as_("admin"))
            assert answer.status_code == 201, answer.text
    headers = world.as_("admin")
    with _second_server(world, tmp_path) as other:
        calls = [
            functools.partial((world.client, other)[i % 2].post, BATCH, json=b, headers=headers)
            for i, b in enumerate(batches)
        ]
        answers = _at_once(calls)
    assert [a.status_code for a in answers] == [200] * 4, [a.text[:300] for a in answers]
    assert ProfileStore(world.engine).count("event") == 4 * 3 * len(SUBJECTS)

    def log(w: World) -> list[tuple[Any, ...]]:
        return sorted(r[:7] for r in _tables(w)["changes"])

    assert log(world) == log(replay) and log(world)
    told = sum(len(i["result"]["changes"]) for a in answers for i in a.json()["items"])
    by_events = [r for r in _tables(world)["changes"] if r[7].startswith("event ")]
    assert told == len(by_events)  # each change answered once
    assert len(_tables(world)["outbox"]) == len(_tables(replay)["outbox"])


def test_a_failure_half_way_stores_none_of_the_batch_and_a_resend_stores_it_once(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import notifier.dispatch

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the planner fell over")

    for world in _ingest_world(sqlite_url, tmp_path):
        _profiles(world)
        before = _tables(world)
        events = _mixed()
        monkeypatch.setattr(notifier.dispatch, "plan_causes", broken)
        failed = world.client.post(BATCH, json=events, headers=world.as_("admin"))
        assert failed.status_code == 500 and "Traceback" not in failed.text
        assert ProfileStore(world.engine).count("event") == 0
        assert _tables(world) == before
        monkeypatch.undo()
        again = world.client.post(BATCH, json=events, headers=world.as_("admin")).json()
        assert (again["stored"], again["duplicates"]) == (6, 1)
        assert ProfileStore(world.engine).count("event") == 6


def test_ndjson_batch_is_answered_like_the_json_array(tmp_path: Path) -> None:
    """The same events as NDJSON (one object per line, as departments' exports stream them)
    are stored and answered exactly as the JSON array; a torn last line refuses the whole
    body with the line number and stores nothing."""
    events = _mixed()
    answers = []
    for kind in ("array", "ndjson"):
        for world in _ingest_world(f"sqlite:///{tmp_path / kind}.db", tmp_path / kind):
            _profiles(world)
            if kind == "array":
                response = world.client.post(BATCH, json=events, headers=world.as_("admin"))
            else:
                before = _tables(world)
                torn = "\n".join(json.dumps(e) for e in events) + '\n{"subject_id": "P7"'
                refused = world.client.post(
                    BATCH, content=torn.encode(),
                    headers={**world.as_("admin"), "Content-Type": "application/x-ndjson"},
                )  # fmt: skip
                assert refused.status_code == 422, refused.text
                assert f"line {len(events) + 1} of the NDJSON body" in refused.text
                assert _tables(world) == before
                body = "\n\n".join(json.dumps(e) for e in events) + "\n"
                response = world.client.post(
                    BATCH, content=body.encode(),
                    headers={**world.as_("admin"), "Content-Type": "application/x-ndjson"},
                )  # fmt: skip
            assert response.status_code == 200, response.text
            answers.append((
                [(i["index"], i["status"]) for i in response.json()["items"]],
                _tables(world),
            ))  # fmt: skip
    assert answers[0] == answers[1]
    assert answers[0][0][-2][1] == 200  # the event sent twice is a duplicate, in both forms
