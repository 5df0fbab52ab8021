from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from notifier.channels.base import (
    Channel,
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifier.channels.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookChannel,
    WebhookSignatureError,
    payload,
    sign,
    verify,
)
from simulations.gateways import WebhookReceiver

SECRET = "department-shared-secret"


def _message(address: str | None, key: str = "k1") -> OutboundMessage:
    return OutboundMessage(
        5, key, "webhook", "91110108MA01XXXX0X", "enterprise", address, "zh",
        "稳岗返还", "贵单位符合稳岗返还条件。",
        template_id="OPENTM-401", params={"policy": "稳岗返还", "amount": "12000"},
    )  # fmt: skip


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as r:
        yield r


@pytest.fixture
def channel() -> Iterator[WebhookChannel]:
    ch = WebhookChannel(SECRET, timeout=5)
    yield ch
    ch.close()


def test_a_signed_template_message_is_verified_and_kept_by_the_receiver(
    receiver: WebhookReceiver, channel: WebhookChannel
) -> None:
    assert isinstance(channel, Channel)
    channel.send(_message(receiver.url))
    (got,) = receiver.received()
    assert got.idempotency_key == "k1"
    assert got.document["template_id"] == "OPENTM-401"
    assert got.document["params"] == {"policy": "稳岗返还", "amount": "12000"}
    assert got.document["body"] == "贵单位符合稳岗返还条件。"
    assert receiver.refused == []


def test_a_wrong_secret_is_refused_by_the_receiver_and_is_permanent(
    receiver: WebhookReceiver,
) -> None:
    channel = WebhookChannel("not-the-secret")
    with pytest.raises(PermanentDeliveryError, match=r"401.*signature does not match"):
        channel.send(_message(receiver.url))
    channel.close()
    assert receiver.received() == []


def test_a_clock_far_off_makes_a_stale_timestamp_the_receiver_refuses(
    receiver: WebhookReceiver,
) -> None:
    channel = WebhookChannel(SECRET, clock=lambda: 1_000_000_000.0)
    with pytest.raises(PermanentDeliveryError, match="replayed or delayed"):
        channel.send(_message(receiver.url))
    channel.close()


def test_a_receiver_failure_is_transient(
    receiver: WebhookReceiver, channel: WebhookChannel
) -> None:
    receiver.failure_rate = 1.0
    with pytest.raises(TransientDeliveryError, match="503"):
        channel.send(_message(receiver.url))


@pytest.mark.parametrize(
    "url", [None, "", "not a url", "ftp://dept.example.cn/hook", "http://", "//dept/hook"]
)
def test_a_malformed_url_is_permanent_with_a_clear_reason(
    channel: WebhookChannel, url: str | None
) -> None:
    with pytest.raises(PermanentDeliveryError, match=r"webhook URL .* is malformed"):
        channel.send(_message(url))


def test_an_unreachable_receiver_is_transient(channel: WebhookChannel) -> None:
    with pytest.raises(TransientDeliveryError, match="cannot be reached"):
        channel.send(_message("http://127.0.0.1:1/hook"))


def test_the_signature_covers_the_exact_bytes_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    channel = WebhookChannel(
        SECRET, clock=lambda: 1_700_000_000.5, transport=httpx.MockTransport(handler)
    )
    channel.send(_message("https://dept.example.cn/hook"))
    (request,) = seen
    assert request.headers[TIMESTAMP_HEADER] == "1700000000"
    assert request.content == payload(_message("https://dept.example.cn/hook"))
    assert request.headers[SIGNATURE_HEADER] == sign(
        SECRET.encode(), 1_700_000_000, request.content
    )
    assert json.loads(request.content)["id"] == "k1"


@pytest.mark.parametrize(
    ("timestamp", "signature", "now", "match"),
    [
        (None, "v1=x", 0, "lacks"),
        ("1000", None, 1000, "lacks"),
        ("soon", "v1=x", 1000, "whole seconds"),
        ("1000", "SIG", 1301, "replayed"),
        ("1000", "SIG", 699, "replayed"),
        ("1000", "v1=00", 1000, "does not match"),
    ],
)
def test_verify_refuses_with_the_reason(
    timestamp: str | None, signature: str | None, now: float, match: str
) -> None:
    body = b"{}"
    if signature == "SIG":
        signature = sign(b"k", 1000, body)
    with pytest.raises(WebhookSignatureError, match=match):
        verify(b"k", body, timestamp=timestamp, signature=signature, now=now)
