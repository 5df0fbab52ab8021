from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from api.app.audit import AuditLog
from matcher.runs import RunStore
from tests.api.app.world import World

PATHS = ["offers", "inbox", "grants", "preferences"]


def test_a_resident_reads_their_offers_from_the_latest_run(world: World) -> None:
    response = world.client.get("/api/v1/subjects/P1/offers", headers=world.as_("resident"))
    assert response.status_code == 200
    offers = [(o["policy_id"], o["status"], o["benefit"]) for o in response.json()]
    assert offers == [
        ("bj-elderly-allowance", "eligible", "100.0"),
        ("bj-elderly-card", "maybe", None),
    ]


@pytest.mark.parametrize("what", PATHS)
def test_a_resident_cannot_read_another_residents_data_by_changing_the_id(
    world: World, what: str
) -> None:
    own = world.client.get(f"/api/v1/subjects/P1/{what}", headers=world.as_("resident"))
    other = world.client.get(f"/api/v1/subjects/P2/{what}", headers=world.as_("resident"))
    missing = world.client.get(f"/api/v1/subjects/NOBODY/{what}", headers=world.as_("resident"))
    assert own.status_code == 200
    # Another's id answers exactly like an id that does not exist: nothing to probe.
    assert other.status_code == missing.status_code == 404
    assert "P2" not in other.text.replace("'P2'", "")  # only the id it was asked about
    assert other.json()["error"]["type"] == "NotFoundError"


def test_a_resident_cannot_touch_another_residents_message_or_grant(world: World) -> None:
    h = world.as_("resident")
    theirs_msg, theirs_grant = world.messages["P2"], world.grants["P2"]
    read = world.client.post(f"/api/v1/subjects/P1/inbox/{theirs_msg}/read", headers=h)
    objection = world.client.post(
        f"/api/v1/subjects/P1/grants/{theirs_grant}/objection", headers=h,
        json={"text": "不是我的", "kind": "objection"},
    )  # fmt: skip
    assert read.status_code == objection.status_code == 404
    # and P2's data is unchanged
    inbox = world.client.get("/api/v1/subjects/P2/inbox", headers=world.as_("resident2")).json()
    grants = world.client.get("/api/v1/subjects/P2/grants", headers=world.as_("resident2")).json()
    assert inbox[0]["read_at"] is None
    assert grants[0]["status"] == "active"


def test_a_resident_marks_their_message_read_and_objects_to_their_grant(world: World) -> None:
    h = world.as_("resident")
    read = world.client.post(f"/api/v1/subjects/P1/inbox/{world.messages['P1']}/read", headers=h)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    objected = world.client.post(
        f"/api/v1/subjects/P1/grants/{world.grants['P1']}/objection", headers=h,
        json={"text": "我已不在本市居住", "kind": "decline"},
    )  # fmt: skip
    assert objected.status_code == 201
    assert (objected.json()["kind"], objected.json()["department"]) == ("decline", "北京市民政局")
    grants = world.client.get("/api/v1/subjects/P1/grants", headers=h).json()
    assert grants[0]["status"] == "objected"
    (entry,) = AuditLog(world.engine).entries(entity_type="grant")
    assert (entry.actor, entry.action) == ("resident", "grant.decline")


def test_an_empty_objection_is_a_422_saying_what_is_missing(world: World) -> None:
    response = world.client.post(
        f"/api/v1/subjects/P1/grants/{world.grants['P1']}/objection",
        headers=world.as_("resident"), json={"text": "  "},
    )  # fmt: skip
    assert response.status_code == 422
    assert "needs a text" in response.json()["error"]["message"]


def test_opting_out_of_sms_is_stored_and_read_back(world: World) -> None:
    h = world.as_("resident")
    assert world.client.get("/api/v1/subjects/P1/preferences", headers=h).json() == {
        "channels": [], "opt_out_channels": [], "opt_out_categories": [], "locale": "zh",
    }  # fmt: skip
    body = {"channels": ["inbox", "email"], "opt_out_channels": ["sms"],
            "opt_out_categories": ["就业"], "locale": "en"}  # fmt: skip
    assert world.client.put("/api/v1/subjects/P1/preferences", headers=h, json=body).status_code
    assert world.client.get("/api/v1/subjects/P1/preferences", headers=h).json() == body
    from notifier.contacts import ContactStore

    contact = ContactStore(world.engine).load(["P1"])["P1"]
    assert contact.opt_out_channels == frozenset({"sms"})


def test_an_unknown_channel_in_preferences_is_refused_and_nothing_is_stored(world: World) -> None:
    h = world.as_("resident")
    body = {"opt_out_channels": ["pigeon"]}
    response = world.client.put("/api/v1/subjects/P1/preferences", headers=h, json=body)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "'pigeon' is not one of inbox, sms, email, webhook" in message
    stored = world.client.get("/api/v1/subjects/P1/preferences", headers=h).json()
    assert stored["opt_out_channels"] == []


def test_an_admin_reading_a_subject_is_an_audited_profile_read(world: World) -> None:
    response = world.client.get("/api/v1/subjects/P2/grants", headers=world.as_("admin"))
    assert response.status_code == 200
    (entry,) = AuditLog(world.engine).entries(entity_type="subject")
    assert (entry.actor, entry.action, entry.entity_id, entry.details) == (
        "admin", "profile.read", "P2", {"what": "grants"},
    )  # fmt: skip


def test_a_resident_reading_their_own_data_leaves_no_profile_read(world: World) -> None:
    world.client.get("/api/v1/subjects/P1/grants", headers=world.as_("resident"))
    assert AuditLog(world.engine).entries(entity_type="subject") == []


def test_offers_follow_the_newest_run_once_it_is_recorded(world: World, tmp_path: Path) -> None:
    h = world.as_("resident")
    assert len(world.client.get("/api/v1/subjects/P1/offers", headers=h).json()) == 2
    pairs = tmp_path / "second.parquet"
    pl.DataFrame(
        {"subject_id": ["P1"], "subject_type": ["resident"], "policy_id": ["bj-new"],
         "status": ["maybe"], "benefit": [None]},
        schema_overrides={"benefit": pl.Float64},
    ).write_parquet(pairs)  # fmt: skip
    data_dir = world.client.app.state["services"].data_dir
    RunStore(world.engine, data_dir).record(
        pairs, as_of=date(2026, 4, 1), catalog_hash="d" * 64, population="p" * 64,
        started_at=datetime(2026, 4, 1, tzinfo=UTC), seconds=1.0, policies=1,
    )  # fmt: skip
    offers = world.client.get("/api/v1/subjects/P1/offers", headers=h).json()
    assert [(o["policy_id"], o["as_of"]) for o in offers] == [("bj-new", "2026-04-01")]


def test_an_officer_sees_the_objections_routed_to_their_department_only(world: World) -> None:
    world.client.post(
        f"/api/v1/subjects/P1/grants/{world.grants['P1']}/objection",
        headers=world.as_("resident"), json={"text": "金额有误"},
    )  # fmt: skip
    mine = world.client.get("/api/v1/objections", headers=world.as_("officer")).json()
    assert [(o["grant_id"], o["text"]) for o in mine] == [(world.grants["P1"], "金额有误")]
    other = world.client.get("/api/v1/objections", headers=world.as_("officer2")).json()
    assert other == []


def test_an_opt_out_category_with_a_comma_is_refused(world: World) -> None:
    body = {"opt_out_categories": ["就业,养老"]}
    h = world.as_("resident")
    response = world.client.put("/api/v1/subjects/P1/preferences", headers=h, json=body)
    assert response.status_code == 422
    assert "one category" in response.json()["error"]["message"]
