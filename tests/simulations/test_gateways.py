from __future__ import annotations

import smtplib
from email.message import EmailMessage

import httpx
import pytest

from simulations.gateways import SmsGateway, SmtpSink

PHONE = "+8613800000000"


_CLIENT = httpx.Client(timeout=5)  # one client: a new one per request costs ~40 ms of TLS setup


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
