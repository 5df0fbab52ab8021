from __future__ import annotations

import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulations.gateways import SmsGateway, SmtpSink, StandIns, simulate_responses

PHONE = "+8613800000000"


_CLIENT = httpx.Client(timeout=5)  # one client: a new one per request costs ~40 ms of TLS setup


@pytest.fixture(autouse=True, scope="module")
def _close_client() -> Iterator[None]:
    yield
    _CLIENT.close()


def _post(gw: SmsGateway, key: str, *, token: str | None = None, **payload: str) -> httpx.Response:
    headers = {"Idempotency-Key": key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"to": PHONE, "text": "您好", **payload}
    return _CLIENT.post(gw.url, json=body, headers=headers)


def test_the_sms_gateway_accepts_and_counts_every_request_including_doubles() -> None:
    with SmsGateway() as gw:
        assert _post(gw, "a").json() == {"id": "gw-1"}
        assert _post(gw, "a").status_code == 200
        assert _post(gw, "b").status_code == 200
        assert gw.accepted_counts() == {"a": 2, "b": 1}
        assert [r.text for r in gw.accepted()] == ["您好"] * 3


def test_the_sms_gateway_fails_the_configured_share_of_requests() -> None:
    with SmsGateway(failure_rate=0.3, seed=7) as gw:
        statuses = [_post(gw, str(i)).status_code for i in range(200)]
    failed = statuses.count(503)
    assert set(statuses) == {200, 503}
    assert 40 <= failed <= 80
    assert len(gw.accepted()) == 200 - failed
    assert len(gw.received()) == 200


def test_a_lost_answer_is_counted_as_accepted_though_the_sender_saw_an_error() -> None:
    with SmsGateway(lost_answer_rate=1.0) as gw:
        assert _post(gw, "k").status_code == 500
        assert gw.accepted_counts() == {"k": 1}


def test_the_sms_gateway_refuses_a_wrong_token_and_a_bad_number() -> None:
    with SmsGateway(token="secret") as gw:
        assert _post(gw, "k", token="wrong").status_code == 401
        assert _post(gw, "k", token="secret", to="not-a-phone").status_code == 400
        bad_json = _CLIENT.post(gw.url, content=b"{", headers={"Authorization": "Bearer secret"})
        assert bad_json.status_code == 400
        assert gw.accepted() == []


def test_a_slow_gateway_makes_a_short_client_timeout_expire() -> None:
    with SmsGateway(delay=0.5) as gw, pytest.raises(httpx.TimeoutException):
        httpx.post(gw.url, json={"to": PHONE, "text": "x"}, timeout=0.1)


def test_the_receipts_are_served_over_http_and_can_be_cleared() -> None:
    with SmsGateway() as gw:
        _post(gw, "k")
        base = gw.url.removesuffix("/sms")
        received = _CLIENT.get(f"{base}/received").json()
        assert [(r["idempotency_key"], r["status"], r["accepted"]) for r in received] == [
            ("k", 200, True)
        ]
        _CLIENT.delete(f"{base}/received")
        assert gw.received() == []


def _mail(message_id: str, to: str = "zhang@example.cn") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "noreply@zhida.local"
    msg["To"] = to
    msg["Subject"] = "育儿补贴"
    msg["Message-ID"] = message_id
    msg.set_content("您已获得育儿补贴。")
    return msg


def test_the_smtp_sink_keeps_every_message_it_accepts() -> None:
    with SmtpSink() as sink, smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
        smtp.send_message(_mail("<k1@zhida>"))
        smtp.send_message(_mail("<k1@zhida>"))
    (first, _second) = sink.received()
    assert first.subject == "育儿补贴"
    assert first.body.strip() == "您已获得育儿补贴。"
    assert first.rcpt_tos == ("zhang@example.cn",)
    assert sink.accepted_counts() == {"<k1@zhida>": 2}


def test_the_smtp_sink_refuses_temporarily_and_permanently() -> None:
    with SmtpSink(failure_rate=1.0, refuse=frozenset({"gone@example.cn"})) as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            with pytest.raises(smtplib.SMTPDataError) as temporary:
                smtp.send_message(_mail("<k2@zhida>"))
            assert temporary.value.smtp_code == 451
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                smtp.send_message(_mail("<k3@zhida>", to="gone@example.cn"))
            assert refused.value.recipients["gone@example.cn"][0] == 550
        assert sink.received() == []


def test_the_status_query_counts_what_was_accepted_under_a_key() -> None:
    with SmsGateway(lost_answer_rate=1.0) as gw:
        _post(gw, "k/1")
        answer = _CLIENT.get(f"{gw.status_url}/k%2F1").json()
        assert answer == {"key": "k/1", "accepted": True, "count": 1}
        assert _CLIENT.get(f"{gw.status_url}/nope").json()["accepted"] is False


def test_stand_ins_point_every_channel_at_themselves_and_count_doubles(tmp_path: Path) -> None:
    from core.settings import Settings
    from notifier.channels.base import OutboundMessage
    from notifier.channels.registry import channels_from_settings, close_channels

    with StandIns() as world:
        settings = Settings.from_env({"ZHIDA_DATA_DIR": str(tmp_path), **world.env()})
        channels = channels_from_settings(settings, names=("sms", "email", "webhook"))
        addresses = {"sms": "+8613800000000", "email": "a@example.cn", "webhook": world.webhook.url}
        try:
            for name, channel in channels.items():
                message = OutboundMessage(1, f"k-{name}", name, "p1", "resident",
                                          addresses[name], "zh", "标题", "正文")  # fmt: skip
                channel.send(message)
                if name == "sms":
                    channel.send(message)  # a double, as a worker without the ledger would
        finally:
            close_channels(channels)
        summary = world.summary()
    assert summary["sms"] == {"requests": 2, "accepted": 2, "refused": 0, "doubles": 1}
    assert summary["email"] == {"accepted": 1, "doubles": 0}
    assert summary["webhook"] == {"accepted": 1, "refused": 0, "doubles": 0}


def test_stopping_stand_ins_that_never_started_returns_at_once() -> None:
    StandIns().stop()


@pytest.mark.slow
def test_the_stand_ins_run_as_a_process_of_their_own() -> None:
    import json
    import signal
    import subprocess
    import sys

    with subprocess.Popen(
        [sys.executable, "-m", "simulations.gateways", "--token", "t"],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            where = json.loads(proc.stdout.readline())
            answer = _CLIENT.post(
                where["sms_url"],
                json={"to": PHONE, "text": "x"},
                headers={"Authorization": "Bearer t", "Idempotency-Key": "p1"},
            )
            assert answer.status_code == 200
            received = _CLIENT.get(where["sms_url"].removesuffix("/sms") + "/received").json()
            assert [r["idempotency_key"] for r in received] == ["p1"]
            with smtplib.SMTP(where["smtp_host"], where["smtp_port"], timeout=5) as smtp:
                smtp.send_message(_mail("<p2@zhida>"))
        finally:
            proc.send_signal(signal.SIGINT)  # the process ends cleanly on Ctrl-C
        assert proc.wait(timeout=10) == 0


def test_the_sms_gateway_polices_its_own_rate_limit() -> None:
    with SmsGateway(rate_limit=5) as gw:
        statuses = [_post(gw, str(i)).status_code for i in range(10)]
    assert statuses[:5] == [200] * 5
    assert statuses.count(429) >= 4
    assert len(gw.accepted()) == statuses.count(200)


def _delivered_world(database_url: str) -> Any:
    from core.db import get_engine, upgrade
    from notifier.channels.base import OutboundMessage
    from notifier.channels.inbox import InboxChannel
    from notifier.receipts import Receipt, ReceiptStore

    engine = get_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        for i in range(200):
            message = OutboundMessage(i, f"in-{i}", "inbox", f"R{i}", "resident", None, "zh",
                                      "t", "b", policy_ids=("bj-a",))  # fmt: skip
            InboxChannel.write(conn, message, now=AT)
    ReceiptStore(engine).record(
        *(Receipt(f"sms-{i}", f"S{i}", "resident", "bj-b", "delivered", AT, channel="sms")
          for i in range(200))
    )  # fmt: skip
    return engine


AT = datetime(2026, 3, 2, tzinfo=UTC)


def _inbox(engine: Any) -> list[Any]:
    import sqlalchemy as sa

    from notifier.channels.inbox import inbox_messages

    with engine.connect() as conn:
        query = sa.select(inbox_messages.c.idempotency_key, inbox_messages.c.read_at)
        return list(conn.execute(query).all())


def _all_receipts(engine: Any) -> list[Any]:
    import sqlalchemy as sa

    from notifier.receipts import delivery_receipts

    with engine.connect() as conn:
        return list(conn.execute(sa.select(delivery_receipts)).all())


def test_simulated_responses_become_receipts_and_the_outcome_log(database_url: str) -> None:
    from notifier.channels.inbox import InboxStore
    from notifier.receipts import ReceiptStore

    engine = _delivered_world(database_url)
    counts = simulate_responses(engine, seed=3, now=AT)
    store = ReceiptStore(engine)
    recorded = store.counts()
    for event in ("read", "clicked", "applied", "complained", "rated_good", "rated_bad"):
        assert recorded[event] == counts.get(event, 0), event
    assert 180 <= counts["read"] <= 300  # 60 % of 400
    assert counts["applied"] < counts["clicked"] < counts["read"]
    # inbox reads went through the message centre: exactly those messages are read now
    inbox_read = {key for key, read_at in _inbox(engine) if read_at is not None}
    read_receipts = {r.message_key for r in _all_receipts(engine) if r.event == "read"}
    assert 80 <= len(inbox_read) <= 160
    assert inbox_read == {k for k in read_receipts if k.startswith("in-")}
    assert InboxStore(engine).unread_count("R0") in (0, 1)
    log = store.outcome_log()
    assert log["opened"].sum() == counts["read"]
    assert log["pushed"].all()


def test_simulated_responses_are_repeatable_by_seed(tmp_path: Path) -> None:
    first = simulate_responses(_delivered_world(f"sqlite:///{tmp_path / 'a.db'}"), seed=5, now=AT)
    again = simulate_responses(_delivered_world(f"sqlite:///{tmp_path / 'b.db'}"), seed=5, now=AT)
    assert first == again


def test_an_sms_answer_lost_on_the_way_is_a_hang_up_after_taking_the_message() -> None:
    with SmsGateway(hang_up_rate=1.0) as gw:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(gw.url, json={"to": PHONE, "text": "您好"}, headers={"Idempotency-Key": "k"})
        assert gw.accepted_counts() == {"k": 1}
        assert [r.status for r in gw.received()] == [0]


def test_an_smtp_answer_lost_on_the_way_drops_the_connection_after_keeping_the_message(
) -> None:  # fmt: skip
    with SmtpSink(hang_up_rate=1.0) as sink:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "a@zhida.local", "b@mail.example.cn", "s"
        mail["Message-ID"] = "<k@zhida.local>"
        mail.set_content("您好")
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp, pytest.raises(
            smtplib.SMTPServerDisconnected
        ):  # fmt: skip
            smtp.send_message(mail)
        assert sink.accepted_counts() == {"<k@zhida.local>": 1} and sink.hung_up == 1


def test_a_webhook_answer_lost_on_the_way_is_kept_and_the_receiver_says_so_when_asked() -> None:
    from notifier.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
    from simulations.gateways import WebhookReceiver

    with WebhookReceiver("s3cret", hang_up_rate=1.0) as receiver:
        body = b'{"id": "k"}'
        now = int(datetime.now(UTC).timestamp())
        headers = {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign(b"s3cret", now, body),
                   "Idempotency-Key": "k"}  # fmt: skip
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(receiver.url, content=body, headers=headers)
        asked = {**headers, SIGNATURE_HEADER: sign(b"s3cret", now, b"k")}
        answer = _CLIENT.get(receiver.url, headers=asked)
        assert answer.json() == {"key": "k", "accepted": True, "count": 1}
        unsigned = _CLIENT.get(receiver.url, headers={"Idempotency-Key": "k"})
        assert unsigned.status_code == 401  # only the sender may ask
        assert receiver.hung_up == 1
