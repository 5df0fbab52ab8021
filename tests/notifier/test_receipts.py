from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.db import get_engine, upgrade
from core.errors import ValidationError
from notifier.channels.inbox import inbox_messages
from notifier.receipts import (
    OUTCOME_COLUMNS,
    Receipt,
    ReceiptStore,
    delivery_receipts,
    outcomes,
)

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = get_engine(database_url)
    upgrade(engine)
    return engine


def _r(event: str, subject: str = "p1", policy: str = "bj-a", key: str | None = "k1",
       rating: str | None = None, at: datetime = AT) -> Receipt:  # fmt: skip
    return Receipt(key, subject, "resident", policy, event, at, channel="sms", rating=rating)


@pytest.mark.parametrize("table", [inbox_messages, delivery_receipts])
def test_the_migration_creates_the_tables_as_the_code_declares_them(
    engine: Engine, table: sa.Table
) -> None:
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns(table.name)}
    assert set(columns) == {c.name for c in table.columns}
    for column in table.columns:
        assert columns[column.name]["nullable"] == column.nullable, column.name


def test_receipts_are_recorded_once_each(engine: Engine) -> None:
    store = ReceiptStore(engine)
    assert store.record(_r("delivered"), _r("read")) == 2
    assert store.record(_r("delivered"), _r("read"), _r("clicked")) == 1
    assert [r.event for r in store.for_subject("p1")] == ["delivered", "read", "clicked"]


def test_a_new_rating_replaces_the_old_one(engine: Engine) -> None:
    store = ReceiptStore(engine)
    store.record(_r("rated", rating="好"))
    store.record(_r("rated", rating="差"))
    (rated,) = store.for_subject("p1")
    assert rated.rating == "bad"
    assert rated.occurred_at == AT


def test_the_outcome_log_from_the_database_has_the_ranking_columns(engine: Engine) -> None:
    store = ReceiptStore(engine)
    store.record(
        _r("delivered"), _r("read"), _r("applied"),                       # p1: took it up
        _r("delivered", subject="p2", key="k2"),                          # p2: ignored it
        _r("delivered", subject="p3", key="k3"), _r("complained", subject="p3", key="k3"),
        _r("applied", subject="p4", key=None),                            # p4: unprompted
    )  # fmt: skip
    log = store.outcome_log(round=2)
    assert tuple(log.columns) == OUTCOME_COLUMNS
    assert log.schema["round"] == pl.Int32 and log.schema["pushed"] == pl.Boolean
    rows = {r[1]: r[5:] for r in log.rows()}
    # subject -> (pushed, opened, applied, ignored, complained)
    assert rows == {
        "p1": (True, True, True, False, False),
        "p2": (True, False, False, True, False),
        "p3": (True, False, False, False, True),
        "p4": (False, False, True, False, False),
    }
    assert set(log["round"]) == {2}


def test_the_outcome_log_takes_a_time_window(engine: Engine) -> None:
    store = ReceiptStore(engine)
    store.record(
        _r("delivered"), _r("delivered", subject="p2", key="k2", at=AT + timedelta(days=8))
    )
    week = store.outcome_log(since=AT, until=AT + timedelta(days=7))
    assert week["subject_id"].to_list() == ["p1"]


def test_the_outcome_log_is_the_same_from_the_database_and_from_values(engine: Engine) -> None:
    receipts = [_r("delivered"), _r("clicked"), _r("delivered", policy="bj-b", key="k2"),
                _r("rated", rating="好")]  # fmt: skip
    ReceiptStore(engine).record(*receipts)
    assert ReceiptStore(engine).outcome_log().equals(outcomes(receipts))


def test_an_empty_outcome_log_still_has_its_columns(engine: Engine) -> None:
    log = ReceiptStore(engine).outcome_log()
    assert log.height == 0 and tuple(log.columns) == OUTCOME_COLUMNS


def test_the_outcome_log_exports_to_parquet(engine: Engine, tmp_path: Path) -> None:
    store = ReceiptStore(engine)
    store.record(_r("delivered"))
    assert store.export_outcomes(tmp_path / "log" / "outcomes.parquet") == 1
    assert pl.read_parquet(tmp_path / "log" / "outcomes.parquet")["pushed"].to_list() == [True]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"event": "liked"}, "not one of delivered, undeliverable, read"),
        ({"event": "rated"}, "needs one"),
        ({"event": "rated", "rating": "meh"}, "not 好/差"),
        ({"event": "read", "rating": "good"}, "only a 'rated' receipt"),
        ({"event": "read", "policy_id": ""}, "needs a subject_id and a policy_id"),
    ],
)
def test_malformed_receipts_are_refused_with_the_reason(kwargs: dict[str, str], match: str) -> None:
    values = {"message_key": "k", "subject_id": "p1", "subject_type": "resident",
              "policy_id": "bj-a", "occurred_at": AT, **kwargs}  # fmt: skip
    with pytest.raises(ValidationError, match=match):
        Receipt(**values)  # type: ignore[arg-type]


def test_counts_by_event_split_ratings(engine: Engine) -> None:
    store = ReceiptStore(engine)
    store.record(_r("delivered"), _r("read"), _r("rated", rating="好"),
                 _r("rated", subject="p2", key="k2", rating="差"))  # fmt: skip
    counts = store.counts()
    assert (counts["delivered"], counts["read"], counts["clicked"]) == (1, 1, 0)
    assert (counts["rated_good"], counts["rated_bad"]) == (1, 1)


def test_messages_counts_each_message_of_a_channel_once(engine: Engine) -> None:
    ReceiptStore(engine).record(
        _r("delivered"), _r("delivered", policy="bj-b"),   # one message, two policies
        _r("delivered", subject="p2", key="k2"), _r("undeliverable", subject="p3", key="k3"),
    )  # fmt: skip
    store = ReceiptStore(engine)
    assert store.messages("delivered", channel="sms") == 2
    assert store.messages("undeliverable", channel="sms") == 1
    assert store.messages("delivered", channel="email") == 0


def test_the_outcome_log_has_the_columns_the_simulation_makes_and_the_ranking_reads() -> None:
    from matcher.ranking.model import LOG_COLUMNS
    from simulations.behaviour import OUTCOME_COLUMNS as SIMULATED

    assert OUTCOME_COLUMNS == SIMULATED
    assert set(LOG_COLUMNS) <= set(OUTCOME_COLUMNS)


def test_a_delivered_message_records_one_receipt_per_policy_once(engine: Engine) -> None:
    from notifier.channels.base import OutboundMessage

    message = OutboundMessage(1, "k9", "sms", "p1", "resident", "+8613800000000", "zh", "t",
                              "b", policy_ids=("bj-a", "bj-b"))  # fmt: skip
    store = ReceiptStore(engine)
    assert store.delivered(message, at=AT) == 2
    assert store.delivered(message, at=AT) == 0
    assert store.outcome_log()["pushed"].to_list() == [True, True]
    assert {r.channel for r in store.for_subject("p1")} == {"sms"}
