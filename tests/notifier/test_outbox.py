"""The outbox ledger on SQLite and PostgreSQL: claims, attempts, back-off, parking, sweeping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core.db import get_engine, upgrade
from notifier.outbox import Outbox, backoff
from notifier.tables import delivery_attempts, outbox

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def row(key: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "idempotency_key": key, "subject_id": "p1", "subject_type": "resident",
        "channel": "sms", "address": "+8613800000000", "locale": "zh",
        "purpose": "invitation", "payload": {"items": []},
    }  # fmt: skip
    base.update(kw)
    return base


@pytest.fixture
def ledger(database_url: str) -> Iterator[Outbox]:
    engine = get_engine(database_url)
    upgrade(engine)
    yield Outbox(engine)
    engine.dispose()


def write(ledger: Outbox, *rows: dict[str, object], attempts: int = 3) -> dict[str, int]:
    with ledger.engine.begin() as conn:
        return Outbox.write(conn, list(rows), now=T0, max_attempts=attempts)


def test_writing_the_same_key_twice_keeps_one_row(ledger: Outbox) -> None:
    first = write(ledger, row("k1"), row("k2"))
    again = write(ledger, row("k1"))
    assert again == {"k1": first["k1"]}
    assert len(ledger.rows()) == 2


def test_a_row_is_claimed_once_and_the_attempt_counted_before_sending(ledger: Outbox) -> None:
    rid = write(ledger, row("k1"))["k1"]
    taken = ledger.claim(rid, now=T0, lease=30)
    assert taken is not None and taken.attempts == 1 and taken.status == "sending"
    assert ledger.claim(rid, now=T0, lease=30) is None  # a duplicate queue message
    assert ledger.get(rid).attempts == 1


def test_a_row_is_not_claimed_before_its_not_before_time(ledger: Outbox) -> None:
    rid = write(ledger, row("k1", not_before=T0 + timedelta(hours=8)))["k1"]
    assert ledger.claim(rid, now=T0, lease=30) is None
    assert ledger.claim(rid, now=T0 + timedelta(hours=8), lease=30) is not None


def test_delivered_is_recorded_only_by_the_attempt_that_claimed(ledger: Outbox) -> None:
    rid = write(ledger, row("k1"))["k1"]
    taken = ledger.claim(rid, now=T0, lease=30)
    assert taken is not None
    assert ledger.delivered(taken, provider_id="gw-1", now=T0)
    assert not ledger.delivered(taken, provider_id="gw-2", now=T0)
    done = ledger.get(rid)
    assert (done.status, done.provider_id) == ("delivered", "gw-1")


def test_a_transient_failure_backs_off_then_the_last_attempt_parks(ledger: Outbox) -> None:
    rid = write(ledger, row("k1"), attempts=2)["k1"]
    taken = ledger.claim(rid, now=T0, lease=30)
    assert taken is not None
    retry_at = ledger.attempt_failed(taken, "503", permanent=False, now=T0, base=30)
    assert retry_at == (T0 + timedelta(seconds=30)).replace(tzinfo=None)
    assert ledger.claim(rid, now=T0 + timedelta(seconds=29), lease=30) is None
    taken = ledger.claim(rid, now=T0 + timedelta(seconds=30), lease=30)
    assert taken is not None and taken.attempts == 2
    assert ledger.attempt_failed(taken, "503", permanent=False, now=T0, base=30) is None
    parked = ledger.get(rid)
    assert parked.status == "failed" and "attempt 2 of 2: parked" in (parked.last_error or "")
    assert [r.id for r in ledger.rows("failed")] == [rid]


def test_a_permanent_failure_parks_at_once_with_the_reason(ledger: Outbox) -> None:
    rid = write(ledger, row("k1"), attempts=5)["k1"]
    taken = ledger.claim(rid, now=T0, lease=30)
    assert taken is not None
    ledger.attempt_failed(taken, "malformed webhook URL", permanent=True, now=T0, base=30)
    parked = ledger.get(rid)
    assert (parked.status, parked.last_error) == ("failed", "malformed webhook URL")
    with ledger.engine.connect() as conn:
        outcomes = conn.execute(sa.select(delivery_attempts.c.outcome)).scalars().all()
    assert outcomes == ["permanent"]


def test_a_claim_whose_worker_died_is_taken_again_after_its_lease(ledger: Outbox) -> None:
    rid = write(ledger, row("k1"))["k1"]
    assert ledger.claim(rid, now=T0, lease=30) is not None  # ...and the worker is killed
    assert ledger.claim(rid, now=T0 + timedelta(seconds=29), lease=30) is None
    again = ledger.claim(rid, now=T0 + timedelta(seconds=31), lease=30)
    assert again is not None and again.attempts == 2
    assert "attempt 1 lost" in (again.last_error or "")
    with ledger.engine.connect() as conn:
        lost = conn.execute(sa.select(delivery_attempts.c.attempt, delivery_attempts.c.outcome))
        assert lost.all() == [(1, "lost")]


def test_a_lost_last_attempt_is_parked_by_the_sweeper(ledger: Outbox) -> None:
    rid = write(ledger, row("k1"), attempts=1)["k1"]
    assert ledger.claim(rid, now=T0, lease=30) is not None
    assert ledger.claim(rid, now=T0 + timedelta(minutes=1), lease=30) is None
    assert ledger.park_lost(now=T0 + timedelta(minutes=1)) == 1
    assert ledger.get(rid).status == "failed"


def test_due_hands_out_never_enqueued_stale_and_abandoned_rows_only(ledger: Outbox) -> None:
    t1 = T0 + timedelta(minutes=10)
    ids = write(
        ledger, row("new"), row("queued"), row("stale"), row("done"), row("dead"),
        row("later", not_before=T0 + timedelta(hours=1)),
    )  # fmt: skip
    ledger.mark_enqueued([ids["queued"]], now=t1 - timedelta(minutes=1))
    ledger.mark_enqueued([ids["stale"], ids["dead"]], now=t1 - timedelta(minutes=5))
    done = ledger.claim(ids["done"], now=T0, lease=30)
    assert done is not None and ledger.delivered(done, provider_id=None, now=T0)
    assert ledger.claim(ids["dead"], now=T0, lease=30) is not None  # and its worker dies
    due = ledger.due(now=t1, stale=120)
    assert sorted(due) == sorted([ids["new"], ids["stale"], ids["dead"]])
    assert ledger.due(now=t1, stale=120) == []  # marked enqueued now


def test_replay_gives_parked_rows_new_attempts_and_names_missing_ones(ledger: Outbox) -> None:
    from core.errors import NotFoundError

    rid = write(ledger, row("k1"), attempts=1)["k1"]
    taken = ledger.claim(rid, now=T0, lease=30)
    assert taken is not None
    ledger.attempt_failed(taken, "503", permanent=False, now=T0, base=1)
    assert ledger.replay([rid], now=T0, attempts=3) == [rid]
    again = ledger.get(rid)
    assert (again.status, again.max_attempts) == ("pending", 4)
    with pytest.raises(NotFoundError, match="not parked"):
        ledger.replay([rid, 999], now=T0, attempts=3)


def test_counts_by_channel_and_status(ledger: Outbox) -> None:
    write(ledger, row("a"), row("b", channel="email"))
    assert ledger.counts() == {"sms": {"pending": 1}, "email": {"pending": 1}}


@pytest.mark.parametrize(("attempt", "seconds"), [(1, 30), (2, 60), (5, 480), (20, 3600)])
def test_backoff_doubles_up_to_an_hour(attempt: int, seconds: float) -> None:
    assert backoff(attempt, 30.0) == seconds


def test_the_table_is_the_one_the_migration_made(ledger: Outbox) -> None:
    columns = {c["name"] for c in sa.inspect(ledger.engine).get_columns("outbox")}
    assert set(outbox.c.keys()) == columns
