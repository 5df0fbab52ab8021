"""Ingestion: profiles and service events, checked field by field, and the offers they change."""

from __future__ import annotations

import functools
import itertools
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from matcher.live.ledger import subject_match_changes
from notifier.tables import notices, outbox
from profiles.store import ProfileStore
from rules.store import PolicyStore
from tests.api.app.world import CATALOG, World, make_world

NINE = "/api/v1/profiles/resident/P9"
ELDER = {"gender": "female", "birth_date": "1940-01-01", "hukou_city": "北京市",
         "employment_status": "retired", "phone": "13800000009"}  # fmt: skip
PARENT = {"gender": "female", "birth_date": "1994-05-01", "hukou_city": "北京市",
          "employment_status": "employed"}  # fmt: skip


def _ingest_world(url: str, directory: Path) -> Iterator[World]:
    """The API tests' world with the maternity allowance published too."""
    directory.mkdir(exist_ok=True)
    for world in make_world(url, directory):
        more = directory / "more"
        more.mkdir()
        shutil.copy(CATALOG / "bj-maternity-allowance.yaml", more)
        PolicyStore(world.engine).import_catalog(more, author="importer", note="seed")
        yield world


@pytest.fixture
def ingest_world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    yield from _ingest_world(sqlite_url, tmp_path)


def _count(world: World, table: sa.Table, subject: str) -> int:
    with world.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.subject_id == subject)
            ).scalar_one()
        )


def _event(item: str = "birth_registration", **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    return {"subject_id": "P9", "subject_type": "resident", "item_code": item,
            "occurred_at": now.isoformat(), **extra}  # fmt: skip


def test_a_new_elder_is_granted_the_allowance_and_told(ingest_world: World) -> None:
    world = ingest_world
    response = world.client.put(NINE, json=ELDER, headers=world.as_("admin"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] is True and body["cause"].startswith("profile P9 ")
    (change,) = [c for c in body["changes"] if c["policy_id"] == "bj-elderly-allowance"]
    assert (change["change"], change["new_status"], change["new_benefit"]) == (
        "newly_eligible", "eligible", "100.00",
    )  # fmt: skip
    assert body["messages"] >= 1 and body["planned"]["planned"] >= 1
    assert _count(world, outbox, "P9") == body["messages"]
    with world.engine.connect() as conn:
        query = sa.select(notices.c.purpose).where(notices.c.subject_id == "P9")
        purposes = {r.purpose for r in conn.execute(query)}
    assert "grant_notice" in purposes  # auto_grant: 免申即享
    assert ProfileStore(world.engine).count("resident") == 1


def test_bad_fields_are_each_named_and_nothing_is_stored(ingest_world: World) -> None:
    world = ingest_world
    bad = {**ELDER, "gender": "femail", "birth_date": "1940-13-01", "agee": 3}
    response = world.client.put(NINE, json=bad, headers=world.as_("admin"))
    assert response.status_code == 422
    error = response.json()["error"]
    messages = [p["message"] for p in error["problems"]]
    assert any(m.startswith("gender:") and "'female'" in m for m in messages)
    assert any(m.startswith("birth_date:") and "YYYY-MM-DD" in m for m in messages)
    assert any(m.startswith("agee:") and "'age'" in m for m in messages)
    assert "was not stored" in error["message"]
    assert ProfileStore(world.engine).count("resident") == 0
    assert _count(world, subject_match_changes, "P9") == 0


def test_a_derived_field_or_a_different_key_is_refused(ingest_world: World) -> None:
    world = ingest_world
    derived = world.client.put(NINE, json={**ELDER, "age": 86}, headers=world.as_("admin"))
    assert derived.status_code == 422 and "derived" in derived.json()["error"]["message"]
    other = world.client.put(NINE, json={**ELDER, "person_id": "P8"}, headers=world.as_("admin"))
    assert other.status_code == 422 and "differs" in other.json()["error"]["message"]
    kind = world.client.put("/api/v1/profiles/robot/P9", json=ELDER, headers=world.as_("admin"))
    assert kind.status_code == 404


def test_moving_the_hukou_away_ends_the_grant_with_a_revocation_notice(ingest_world: World) -> None:
    world = ingest_world
    world.client.put(NINE, json=ELDER, headers=world.as_("admin"))
    moved = world.client.put(
        NINE, json={**ELDER, "hukou_city": "上海市"}, headers=world.as_("admin")
    )
    assert moved.status_code == 200
    body = moved.json()
    assert body["created"] is False
    assert [(c["policy_id"], c["change"]) for c in body["changes"]] == [
        ("bj-elderly-allowance", "no_longer_eligible")
    ]
    with world.engine.connect() as conn:
        purposes = [r.purpose for r in conn.execute(
            sa.select(notices.c.purpose).where(notices.c.subject_id == "P9").order_by(notices.c.id)
        )]  # fmt: skip
    assert purposes[-1] == "revocation_notice"


def test_a_birth_makes_an_employed_parent_eligible_for_the_maternity_allowance(
    ingest_world: World,
) -> None:
    world = ingest_world
    assert world.client.put(NINE, json=PARENT, headers=world.as_("admin")).status_code == 201
    before = _count(world, outbox, "P9")
    response = world.client.post("/api/v1/events", json=_event(), headers=world.as_("admin"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["cause"].startswith("event ")
    assert [(c["policy_id"], c["change"], c["new_status"]) for c in body["changes"]] == [
        ("bj-maternity-allowance", "newly_eligible", "eligible")
    ]
    assert body["messages"] == 1 and _count(world, outbox, "P9") == before + 1
    # The resident's own changes since the latest run; an admin's read is audited.
    changes = world.client.get("/api/v1/subjects/P9/changes", headers=world.as_("admin")).json()
    assert [c["change"] for c in changes][-1] == "newly_eligible"
    assert changes[-1]["cause"] == body["cause"]


def test_a_failure_while_planning_stores_neither_the_event_nor_its_changes(
    ingest_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event, the changes it caused and their outbox rows commit together or not at all."""
    import notifier.dispatch

    world = ingest_world
    assert world.client.put(NINE, json=PARENT, headers=world.as_("admin")).status_code == 201
    before = {t.name: _count(world, t, "P9") for t in (outbox, subject_match_changes)}

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the planner fell over")

    monkeypatch.setattr(notifier.dispatch, "plan_changes", broken)
    response = world.client.post("/api/v1/events", json=_event(), headers=world.as_("admin"))
    assert response.status_code == 500
    assert "Traceback" not in response.text
    events = ProfileStore(world.engine).tables["event"]
    assert _count(world, events, "P9") == 0
    assert {t.name: _count(world, t, "P9") for t in (outbox, subject_match_changes)} == before
    monkeypatch.undo()  # the client sends it again: now stored, changed and told once
    again = world.client.post("/api/v1/events", json=_event(), headers=world.as_("admin"))
    assert again.status_code == 201, again.text
    assert again.json()["messages"] == 1


def test_the_same_event_twice_is_stored_and_told_once(ingest_world: World) -> None:
    world = ingest_world
    world.client.put(NINE, json=PARENT, headers=world.as_("admin"))
    event = _event()
    first = world.client.post("/api/v1/events", json=event, headers=world.as_("admin")).json()
    told = _count(world, outbox, "P9")
    again = world.client.post("/api/v1/events", json=event, headers=world.as_("admin"))
    assert again.status_code == 200
    body = again.json()
    assert body["duplicate"] is True and body["cause"] == first["cause"]
    assert body["changes"] == first["changes"]
    assert _count(world, outbox, "P9") == told
    assert ProfileStore(world.engine).count("event") == 1


def test_a_later_event_starts_from_the_changes_already_made(ingest_world: World) -> None:
    world = ingest_world
    world.client.put(NINE, json=PARENT, headers=world.as_("admin"))
    world.client.post("/api/v1/events", json=_event(), headers=world.as_("admin"))
    # A second birth changes no tag: the parent is already eligible, nothing new to tell.
    later = _event()  # an hour earlier: another event (a second birth), not a resend
    later["occurred_at"] = (
        datetime.fromisoformat(later["occurred_at"]) - timedelta(hours=1)
    ).isoformat()
    body = world.client.post("/api/v1/events", json=later, headers=world.as_("admin")).json()
    assert body["changes"] == [] and body["messages"] == 0


def test_a_bad_event_or_an_unknown_subject_is_refused_and_nothing_is_stored(
    ingest_world: World,
) -> None:
    world = ingest_world
    typo = world.client.post(
        "/api/v1/events", json=_event("birth_registraton"), headers=world.as_("admin")
    )
    assert typo.status_code == 422
    (problem,) = typo.json()["error"]["problems"]
    assert (
        problem["message"].startswith("item_code:") and "birth_registration" in problem["message"]
    )
    unknown = world.client.post("/api/v1/events", json=_event(), headers=world.as_("admin"))
    assert unknown.status_code == 404 and "PUT /api/v1/profiles" in unknown.text
    not_json = world.client.post("/api/v1/events", content=b"[1, 2", headers=world.as_("admin"))
    assert not_json.status_code == 400
    assert ProfileStore(world.engine).count("event") == 0


def test_a_resident_reads_only_their_own_changes(ingest_world: World) -> None:
    world = ingest_world
    world.client.put(NINE, json=PARENT, headers=world.as_("admin"))
    theirs = world.client.get("/api/v1/subjects/P9/changes", headers=world.as_("resident"))
    assert theirs.status_code == 404
    own = world.client.get("/api/v1/subjects/P1/changes", headers=world.as_("resident"))
    assert own.status_code == 200 and own.json() == []


def test_writes_are_audited(ingest_world: World) -> None:
    from api.app.audit import AuditLog

    world = ingest_world
    world.client.put(NINE, json=PARENT, headers=world.as_("admin"))
    world.client.post("/api/v1/events", json=_event(), headers=world.as_("admin"))
    actions = [e.action for e in AuditLog(world.engine).entries(entity_type="subject")]
    assert "profile.write" in actions and "event.ingest" in actions


@pytest.fixture
def pg_ingest_world(postgres_url: str, tmp_path: Path) -> Iterator[World]:
    yield from _ingest_world(postgres_url, tmp_path)


def test_on_postgresql_a_birth_changes_the_offer_once_and_a_too_long_id_is_a_422(
    pg_ingest_world: World,
) -> None:
    world = pg_ingest_world
    assert world.client.put(NINE, json=PARENT, headers=world.as_("admin")).status_code == 201
    event = _event()
    first = world.client.post("/api/v1/events", json=event, headers=world.as_("admin")).json()
    assert [c["change"] for c in first["changes"]] == ["newly_eligible"]
    again = world.client.post("/api/v1/events", json=event, headers=world.as_("admin")).json()
    assert again["duplicate"] is True and _count(world, outbox, "P9") == first["messages"]
    long_id = "/api/v1/profiles/resident/" + "P" * 100  # ids are at most 64 characters
    response = world.client.put(long_id, json=PARENT, headers=world.as_("admin"))
    assert response.status_code == 422, response.text
    assert "1 to 64 characters" in response.json()["error"]["message"]
    assert ProfileStore(world.engine).count("resident") == 1


def test_a_subject_of_the_served_population_starts_from_its_file_and_the_latest_run(
    sqlite_url: str, tmp_path: Path
) -> None:
    import polars as pl

    population = tmp_path / "pop"
    population.mkdir()
    pl.DataFrame(
        {"person_id": ["P1"], "birth_date": [datetime(1940, 5, 1).date()], "hukou_city": ["北京市"]}
    ).write_parquet(population / "residents.parquet")
    for world in make_world(sqlite_url, tmp_path, population):
        # The latest run has P1 eligible for the allowance; the file knows P1: not a new subject.
        moved = {"birth_date": "1940-05-01", "hukou_city": "上海市"}
        response = world.client.put(
            "/api/v1/profiles/resident/P1", json=moved, headers=world.as_("admin")
        )
        assert response.status_code == 200, response.text
        assert [(c["policy_id"], c["change"]) for c in response.json()["changes"]] == [
            ("bj-elderly-allowance", "no_longer_eligible")
        ]


def _offers(world: World, subject: str) -> dict[str, dict[str, Any]]:
    response = world.client.get(f"/api/v1/subjects/{subject}/offers", headers=world.as_("admin"))
    assert response.status_code == 200, response.text
    return {o["policy_id"]: o for o in response.json()}


def _offers_follow_what_was_ingested_since_the_run(world: World) -> None:
    # The latest run has P1 eligible for the allowance; moving the hukou away ends it now.
    assert _offers(world, "P1")["bj-elderly-allowance"]["status"] == "eligible"
    moved = {"birth_date": "1940-05-01", "hukou_city": "上海市"}
    response = world.client.put(
        "/api/v1/profiles/resident/P1", json=moved, headers=world.as_("admin")
    )
    assert response.status_code == 201, response.text
    after = _offers(world, "P1")
    assert "bj-elderly-allowance" not in after
    assert after["bj-elderly-card"]["cause"] is None  # untouched: still the run's
    # P9 is in no run; a birth makes the employed parent newly eligible for the allowance.
    world.client.put(NINE, json=PARENT, headers=world.as_("admin"))
    assert "bj-maternity-allowance" not in _offers(world, "P9")
    event = world.client.post("/api/v1/events", json=_event(), headers=world.as_("admin")).json()
    (change,) = event["changes"]
    offer = _offers(world, "P9")["bj-maternity-allowance"]
    assert (offer["status"], offer["benefit"], offer["cause"]) == (
        change["new_status"], change["new_benefit"], event["cause"],
    )  # fmt: skip


def test_my_offers_add_a_newly_eligible_offer_and_drop_an_ended_one(ingest_world: World) -> None:
    _offers_follow_what_was_ingested_since_the_run(ingest_world)


def test_on_postgresql_my_offers_follow_what_was_ingested(pg_ingest_world: World) -> None:
    _offers_follow_what_was_ingested_since_the_run(pg_ingest_world)


def test_the_message_centre_shows_the_offers_as_of_the_ingested_changes(
    ingest_world: World,
) -> None:
    from tests.api.app.test_console_subject import login

    world = ingest_world
    login(world, "resident")  # P1
    assert 'data-policy="bj-elderly-allowance"' in world.client.get("/console").text
    world.client.put(
        "/api/v1/profiles/resident/P1", json={"birth_date": "1940-05-01", "hukou_city": "上海市"},
        headers=world.as_("admin"),
    )  # fmt: skip
    page = world.client.get("/console").text
    assert 'data-policy="bj-elderly-allowance"' not in page
    assert 'data-policy="bj-elderly-card"' in page


@contextmanager
def _second_server(world: World, tmp_path: Path) -> Iterator[TestClient]:  # type: ignore[type-arg]
    """Another server process's app over the same database: its own in-process locks."""
    from api.app.app import create_app
    from tests.api.app.world import FAST

    app = create_app(world.engine, data_dir=tmp_path / "data", secure_cookies=False, hasher=FAST)
    with TestClient(app) as client:
        yield client


def _at_once(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` from as many threads at once, released together."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _ledger(world: World, subject: str) -> list[dict[str, Any]]:
    t = subject_match_changes
    query = sa.select(t).where(t.c.subject_id == subject).order_by(t.c.id)
    with world.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def test_on_postgresql_30_concurrent_puts_of_one_subject_record_a_sequential_replay(
    pg_ingest_world: World, tmp_path: Path
) -> None:
    """Issue 13: concurrent PUTs answered 500 (DELETE then INSERT) and logged stale changes."""
    world = pg_ingest_world
    headers = world.as_("admin")
    with _second_server(world, tmp_path) as other:
        calls = [
            functools.partial(
                (world.client, other)[i % 2].put,
                NINE,
                headers=headers,
                json={**ELDER, "hukou_city": ("北京市", "上海市")[(i // 2) % 2]},
            )
            for i in range(30)
        ]
        answers = _at_once(calls)
    assert sorted(a.status_code for a in answers) == [200] * 29 + [201], [
        a.text for a in answers if a.status_code not in (200, 201)
    ]
    # A sequential replay's log: each change starts where the previous one left the offer.
    rows = [r for r in _ledger(world, "P9") if r["policy_id"] == "bj-elderly-allowance"]
    assert rows and rows[0]["change"] == "newly_eligible"
    for before, after in itertools.pairwise(rows):
        assert (after["old_status"], after["old_benefit"]) == (
            before["new_status"], before["new_benefit"],
        )  # fmt: skip
        assert after["change"] != before["change"]  # eligible, ended, eligible, ...
    told = sum(len(a.json()["changes"]) for a in answers)
    assert told == len(_ledger(world, "P9"))  # each change answered once
    with world.engine.connect() as conn:
        table = ProfileStore(world.engine).tables["resident"]
        city = conn.execute(sa.select(table.c.hukou_city)).scalar_one()
    offers = _offers(world, "P9")
    assert ("bj-elderly-allowance" in offers) == (city == "北京市")


def _events(n: int) -> list[dict[str, Any]]:
    base = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    return [
        _event(occurred_at=(base - timedelta(minutes=i)).isoformat()) for i in range(n)
    ]  # fmt: skip


@pytest.fixture
def replay_world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    """A second world, on SQLite, for a sequential replay of what another receives at once."""
    yield from _ingest_world(sqlite_url, tmp_path / "replay")


def test_on_postgresql_30_concurrent_events_of_one_subject_are_each_stored_and_told_once(
    pg_ingest_world: World, replay_world: World, tmp_path: Path
) -> None:
    """Issue 13: of two concurrent events one answered 500 and was lost; 30 logged 5 changes
    where a sequential replay logs 3."""
    world, replay = pg_ingest_world, replay_world
    events = _events(30)
    for w in (world, replay):
        assert w.client.put(NINE, json=PARENT, headers=w.as_("admin")).status_code == 201
    for event in events:  # the sequential replay, on another database
        response = replay.client.post("/api/v1/events", json=event, headers=replay.as_("admin"))
        assert response.status_code == 201, response.text
    headers = world.as_("admin")
    with _second_server(world, tmp_path) as other:
        calls = [
            functools.partial(
                (world.client, other)[i % 2].post, "/api/v1/events", json=event, headers=headers
            )
            for i, event in enumerate(events)
        ]
        answers = _at_once(calls)
    assert [a.status_code for a in answers] == [201] * 30, [a.text for a in answers]
    assert ProfileStore(world.engine).count("event") == 30

    def log(w: World) -> list[tuple[str, str]]:
        return sorted((r["policy_id"], r["change"]) for r in _ledger(w, "P9"))

    assert log(world) == log(replay) and log(world)
    assert _count(world, outbox, "P9") == _count(replay, outbox, "P9")


def test_on_postgresql_the_same_event_sent_ten_times_at_once_is_stored_and_told_once(
    pg_ingest_world: World, tmp_path: Path
) -> None:
    world = pg_ingest_world
    assert world.client.put(NINE, json=PARENT, headers=world.as_("admin")).status_code == 201
    event, headers = _event(), world.as_("admin")
    with _second_server(world, tmp_path) as other:
        calls = [
            functools.partial(
                (world.client, other)[i % 2].post, "/api/v1/events", json=event, headers=headers
            )
            for i in range(10)
        ]
        answers = _at_once(calls)
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
    first = next(a.json() for a in answers if a.status_code == 201)
    assert {a.json()["cause"] for a in answers} == {first["cause"]}
    assert all(a.json()["changes"] == first["changes"] for a in answers)
    assert ProfileStore(world.engine).count("event") == 1
    assert _count(world, outbox, "P9") == first["messages"] == 1
