"""GET /api/v1/deliveries/queues: the ledger by delivery state, and the broker's queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from notifier.outbox import Outbox
from tests.api.app.world import World

QUEUES = "/api/v1/deliveries/queues"


def _rows(world: World, *delays: timedelta) -> None:
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
        {"idempotency_key": f"k{n}", "subject_id": "P1", "subject_type": "resident",
         "channel": "inbox", "address": None, "locale": "zh", "purpose": "invitation",
         "payload": {}, "not_before": now + delay}
        for n, delay in enumerate(delays)
    ]  # fmt: skip
    with world.engine.begin() as conn:
        Outbox.write(conn, rows, now=now - timedelta(minutes=5), max_attempts=3)


def test_due_and_deferred_rows_are_counted_apart(world: World) -> None:
    _rows(world, timedelta(0), timedelta(0), timedelta(hours=9))
    body = world.client.get(QUEUES, headers=world.as_("operator")).json()
    assert (body["due_now"], body["deferred"], body["sending"], body["failed"]) == (2, 1, 0, 0)
    assert body["oldest_due_seconds"] >= 0
    assert (body["broker"], body["queues"]) == ("in-process", [])


def test_with_redis_the_broker_queue_lengths_are_shown(
    world: World, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZHIDA_REDIS_URL", redis_url)
    client = redis.Redis.from_url(redis_url)
    client.rpush("dramatiq:deliveries", "a", "b")
    body = world.client.get(QUEUES, headers=world.as_("admin")).json()
    assert body["broker"] == "redis"
    assert {q["name"]: q["ready"] for q in body["queues"]}["deliveries"] == 2


def test_an_unreachable_broker_is_named_not_a_500(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZHIDA_REDIS_URL", "redis://127.0.0.1:1/0")
    body = world.client.get(QUEUES, headers=world.as_("operator")).json()
    assert body["broker"].startswith("unreachable:")
