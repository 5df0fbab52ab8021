"""The outbox sweeper rides out a broker that is down: what it could not hand over is handed
over on the next try, not after ``stale`` seconds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import redis

from core.clock import FixedClock
from core.db import get_engine, upgrade
from notifier.outbox import Outbox
from notifier.runtime import DeliveryRuntime, plain_render
from notifier.sweeper import sweep_once

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


@pytest.fixture
def ledger(sqlite_url: str) -> Iterator[Outbox]:
    engine = get_engine(sqlite_url)
    upgrade(engine)
    yield Outbox(engine)
    engine.dispose()


def _planned(ledger: Outbox, n: int) -> list[int]:
    rows: list[dict[str, object]] = [
        {"idempotency_key": f"k{i}", "subject_id": f"p{i}", "subject_type": "resident",
         "channel": "inbox", "address": None, "locale": "zh", "purpose": "invitation",
         "payload": {"items": []}}
        for i in range(n)
    ]  # fmt: skip
    with ledger.engine.begin() as conn:
        return sorted(Outbox.write(conn, rows, now=T0, max_attempts=3).values())


def test_rows_the_broker_did_not_take_are_handed_over_on_the_next_pass(ledger: Outbox) -> None:
    ids = _planned(ledger, 3)
    rt = DeliveryRuntime(outbox=ledger, channels={}, render=plain_render, clock=FixedClock(T0))

    def down(_: Sequence[int]) -> None:
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    with pytest.raises(redis.exceptions.ConnectionError):
        sweep_once(rt, down, stale=120)
    sent: list[int] = []
    rt = DeliveryRuntime(
        outbox=ledger, channels={}, render=plain_render,
        clock=FixedClock(T0 + timedelta(seconds=5)),  # well within the 120 s of `stale`
    )  # fmt: skip
    assert sweep_once(rt, sent.extend, stale=120).enqueued == 3
    assert sent == ids
