from __future__ import annotations

from datetime import datetime

from api.app.audit import AuditLog
from notifier.tables import outbox
from tests.api.app.world import World

AT = datetime(2026, 3, 2, 1, 0)


def _park(world: World) -> int:
    with world.engine.begin() as conn:
        new = conn.execute(
            outbox.insert().values(
                idempotency_key="k-sms-1",
                subject_id="P1",
                subject_type="resident",
                channel="sms",
                address="+8613800001234",
                locale="zh",
                purpose="invitation",
                payload="{}",
                status="failed",
                attempts=8,
                max_attempts=8,
                not_before=AT,
                next_attempt_at=AT,
                last_error="gateway 503",
                created_at=AT,
            )
        ).inserted_primary_key
    assert new is not None
    return int(new[0])


def test_an_operator_sees_parked_rows_with_masked_addresses_and_replays_one(
    world: World,
) -> None:
    row_id = _park(world)
    h = world.as_("operator")
    assert world.client.get("/api/v1/deliveries/summary", headers=h).json() == {
        "sms": {"failed": 1}
    }
    (row,) = world.client.get("/api/v1/deliveries/failed", headers=h).json()
    assert (row["id"], row["last_error"], row["address"]) == (
        row_id,
        "gateway 503",
        "+861******1234",
    )
    assert "13800001234" not in world.client.get("/api/v1/deliveries/failed", headers=h).text
    replayed = world.client.post(f"/api/v1/deliveries/{row_id}/replay", headers=h)
    assert replayed.status_code == 200
    assert (replayed.json()["status"], replayed.json()["max_attempts"]) == ("pending", 16)
    (entry,) = AuditLog(world.engine).entries(entity_type="outbox")
    assert (entry.actor, entry.action, entry.entity_id) == (
        "operator",
        "delivery.replay",
        str(row_id),
    )


def test_replaying_a_row_that_is_not_parked_is_a_404_saying_where_to_look(world: World) -> None:
    response = world.client.post("/api/v1/deliveries/12345/replay", headers=world.as_("operator"))
    assert response.status_code == 404
    assert "zhida deliveries failed" in response.json()["error"]["message"]


def test_a_resident_rates_the_service_and_a_new_rating_replaces_the_old(world: World) -> None:
    from notifier.receipts import ReceiptStore

    h = world.as_("resident")
    url = "/api/v1/subjects/P1/feedback"
    first = world.client.post(
        url, headers=h, json={"policy_id": "bj-elderly-allowance", "rating": "差"}
    )
    assert first.status_code == 201 and first.json()["rating"] == "bad"
    world.client.post(url, headers=h, json={"policy_id": "bj-elderly-allowance", "rating": "好"})
    rated = [r for r in ReceiptStore(world.engine).for_subject("P1") if r.event == "rated"]
    assert [r.rating for r in rated] == ["good"]
    bad = world.client.post(
        url, headers=h, json={"policy_id": "bj-elderly-allowance", "rating": "meh"}
    )
    assert bad.status_code == 422 and "好/差" in bad.json()["error"]["message"]
