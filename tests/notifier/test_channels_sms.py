from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from core.errors import ConfigurationError
from notifier.channels.base import (
    Channel,
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifier.channels.sms_http import SmsHttpChannel, classify_status
from simulations.gateways import SmsGateway


def _message(key: str = "k1", address: str | None = "+8613800000000") -> OutboundMessage:
    return OutboundMessage(7, key, "sms", "p1", "resident", address, "zh", "", "【直达】您好")


_OPEN: list[SmsHttpChannel] = []


@pytest.fixture(autouse=True)
def _close_channels() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with SmsGateway(token="t0ken") as gw:
        yield gw


def _open(url: str, **kwargs: object) -> SmsHttpChannel:
    channel = SmsHttpChannel(url, **kwargs)  # type: ignore[arg-type]
    _OPEN.append(channel)
    return channel


def _channel(gw: SmsGateway, **kwargs: object) -> SmsHttpChannel:
    return _open(gw.url, token="t0ken", sender="直达", **kwargs)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, "ok"), (202, "ok"), (400, "permanent"), (401, "permanent"), (404, "permanent"),
     (408, "transient"), (429, "transient"), (500, "transient"), (503, "transient")],
)  # fmt: skip
def test_gateway_statuses_are_classified(status: int, verdict: str) -> None:
    assert classify_status(status) == verdict


def test_a_message_reaches_the_gateway_with_its_idempotency_key(gateway: SmsGateway) -> None:
    channel = _channel(gateway)
    assert isinstance(channel, Channel)
    result = channel.send(_message())
    (receipt,) = gateway.accepted()
    assert result.provider_id == "gw-1"
    assert (receipt.to, receipt.text, receipt.sender) == ("+8613800000000", "【直达】您好", "直达")
    assert receipt.idempotency_key == "k1"


def test_a_gateway_failure_is_transient(gateway: SmsGateway) -> None:
    gateway.failure_rate = 1.0
    with pytest.raises(TransientDeliveryError, match="answered 503"):
        _channel(gateway).send(_message())


def test_a_bad_token_is_permanent_with_the_gateways_answer(gateway: SmsGateway) -> None:
    channel = _open(gateway.url, token="wrong")
    with pytest.raises(PermanentDeliveryError, match=r"401.*bearer token"):
        channel.send(_message())


def test_a_number_the_gateway_refuses_is_permanent(gateway: SmsGateway) -> None:
    gateway.refuse = frozenset({"+8613900000000"})
    with pytest.raises(PermanentDeliveryError, match=r"answered 400.*no such subscriber"):
        _channel(gateway).send(_message(address="+86 139-0000-0000"))


@pytest.mark.parametrize("address", [None, "", "call me", "010-abc"])
def test_a_missing_or_malformed_number_fails_before_any_request(
    gateway: SmsGateway, address: str | None
) -> None:
    with pytest.raises(PermanentDeliveryError, match="not a phone number"):
        _channel(gateway).send(_message(address=address))
    assert gateway.received() == []


def test_a_slow_gateway_times_out_transiently(gateway: SmsGateway) -> None:
    gateway.delay = 0.5
    with pytest.raises(TransientDeliveryError, match="did not answer in time"):
        _channel(gateway, timeout=0.1).send(_message())


def test_connection_refused_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        channel = _open(f"http://127.0.0.1:{port}/sms")
        with pytest.raises(TransientDeliveryError, match="cannot be reached"):
            channel.send(_message())


def test_a_lost_answer_is_transient_and_the_retry_is_a_double_at_the_gateway(
    gateway: SmsGateway,
) -> None:
    channel = _channel(gateway)
    gateway.lost_answer_rate = 1.0
    with pytest.raises(TransientDeliveryError):
        channel.send(_message())
    gateway.lost_answer_rate = 0.0
    channel.send(_message())
    # the gateway de-duplicates nothing: the ledger's exactly-once must not rely on it
    assert gateway.accepted_counts() == {"k1": 2}


@pytest.mark.parametrize("url", ["", "sms.example.cn/send", "ftp://x/y", "http://"])
def test_a_malformed_gateway_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="ZHIDA_SMS_GATEWAY_URL"):
        SmsHttpChannel(url)


def test_an_unreadable_success_answer_still_counts_as_sent() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="OK"))
    channel = _open("http://gw.test/sms", transport=transport)
    assert channel.send(_message()).provider_id is None


def test_lookup_asks_the_gateway_whether_it_took_a_message(gateway: SmsGateway) -> None:
    channel = _channel(gateway, status_url=gateway.status_url)
    assert channel.lookup("k1") is False
    channel.send(_message("k1"))
    assert channel.lookup("k1") is True
    assert channel.lookup("a key/with spaces") is False  # quoted into the path


def test_lookup_without_a_status_url_or_an_answer_is_unknown(gateway: SmsGateway) -> None:
    assert _channel(gateway).lookup("k1") is None
    assert _channel(gateway, status_url="http://127.0.0.1:1/status").lookup("k1") is None
