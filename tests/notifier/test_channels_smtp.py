from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from notifier.channels.base import (
    Channel,
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifier.channels.smtp import SmtpChannel, message_id
from simulations.gateways import SmtpSink


def _message(key: str = "k1", address: str | None = "zhang@example.cn") -> OutboundMessage:
    return OutboundMessage(
        3, key, "email", "p1", "resident", address, "zh", "您已获得育儿补贴", "每月 500 元。"
    )


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(refuse=frozenset({"gone@example.cn"})) as s:
        yield s


@pytest.fixture
def channel(sink: SmtpSink) -> Iterator[SmtpChannel]:
    ch = SmtpChannel(sink.host, sink.port, mail_from="noreply@zhida.gov.cn", timeout=5)
    yield ch
    ch.close()


def test_a_message_arrives_with_the_idempotency_key_as_message_id(
    sink: SmtpSink, channel: SmtpChannel
) -> None:
    assert isinstance(channel, Channel)
    result = channel.send(_message())
    (received,) = sink.received()
    assert received.message_id == result.provider_id == "<k1@zhida.gov.cn>"
    assert received.subject == "您已获得育儿补贴"
    assert received.body.strip() == "每月 500 元。"
    assert received.rcpt_tos == ("zhang@example.cn",)
    assert received.mail_from == "noreply@zhida.gov.cn"


def test_a_retry_carries_the_same_message_id_so_doubles_are_visible(
    sink: SmtpSink, channel: SmtpChannel
) -> None:
    channel.send(_message())
    channel.send(_message())
    assert sink.accepted_counts() == {"<k1@zhida.gov.cn>": 2}


def test_one_connection_per_thread_is_reused_across_sends(
    sink: SmtpSink, channel: SmtpChannel
) -> None:
    for i in range(5):
        channel.send(_message(f"k{i}"))
    first = channel._local.smtp
    channel.send(_message("k9"))
    assert channel._local.smtp is first
    assert len(sink.received()) == 6


def test_threads_share_the_channel_and_close_closes_every_connection(
    sink: SmtpSink, channel: SmtpChannel
) -> None:
    def work(n: int) -> None:
        for i in range(10):
            channel.send(_message(f"t{n}-{i}"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sink.accepted_counts()) == 40
    assert len(channel._open) == 4
    channel.close()
    assert channel._open == set()
    channel.send(_message("after"))  # and it goes on with a fresh connection
    assert len(sink.received()) == 41


def test_a_temporary_refusal_is_transient(sink: SmtpSink, channel: SmtpChannel) -> None:
    sink.failure_rate = 1.0
    with pytest.raises(TransientDeliveryError, match="451"):
        channel.send(_message())
    sink.failure_rate = 0.0
    channel.send(_message())  # the next attempt opens a fresh connection and succeeds
    assert len(sink.received()) == 1


def test_an_unknown_mailbox_is_permanent(channel: SmtpChannel) -> None:
    with pytest.raises(PermanentDeliveryError, match=r"refused gone@example\.cn: 550"):
        channel.send(_message(address="gone@example.cn"))


@pytest.mark.parametrize("address", [None, "", "zhang", "zhang@", "a b@example.cn"])
def test_a_malformed_address_fails_before_connecting(
    sink: SmtpSink, channel: SmtpChannel, address: str | None
) -> None:
    with pytest.raises(PermanentDeliveryError, match="not an e-mail address"):
        channel.send(_message(address=address))
    assert sink.received() == []


def test_an_unreachable_server_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        channel = SmtpChannel("127.0.0.1", s.getsockname()[1], timeout=2)
        with pytest.raises(TransientDeliveryError, match="cannot be reached"):
            channel.send(_message())


def test_a_server_that_went_away_between_sends_is_reconnected_once_up_again() -> None:
    with SmtpSink() as first:
        port = first.port
        channel = SmtpChannel(first.host, port, timeout=5)
        channel.send(_message("a"))
    with pytest.raises(TransientDeliveryError):
        channel.send(_message("b"))
    with SmtpSink(port=port) as second:
        channel.send(_message("c"))
        assert [r.message_id for r in second.received()] == ["<c@zhida.local>"]
    channel.close()


@pytest.mark.parametrize(
    ("key", "expected"),
    [("abc", "<abc@d.cn>"), ("a.b-c_d", "<a.b-c_d@d.cn>"), ("a..b", None), ("x" * 65, None)],
)
def test_message_ids_use_the_key_where_rfc_5322_allows(key: str, expected: str | None) -> None:
    mid = message_id(key, "d.cn")
    if expected is None:
        assert mid.startswith("<k-") and mid == message_id(key, "d.cn")
    else:
        assert mid == expected


def test_an_idle_connection_is_checked_and_reopened_before_it_carries_a_message() -> None:
    with SmtpSink() as first:
        port = first.port
        channel = SmtpChannel(first.host, port, timeout=5, idle_check=0.0)
        channel.send(_message("a"))
    with SmtpSink(port=port) as second:
        channel.send(_message("b"))  # NOOP finds the old connection dead; no error, no loss
        assert [r.message_id for r in second.received()] == ["<b@zhida.local>"]
    channel.close()


def test_lookup_asks_the_relay_whether_it_took_the_message_id(sink: SmtpSink) -> None:
    asking = SmtpChannel(sink.host, sink.port, mail_from="noreply@zhida.gov.cn",
                         status_url=sink.status_url)  # fmt: skip
    try:
        assert asking.lookup("k1") is False
        asking.send(_message("k1"))
        assert asking.lookup("k1") is True
        assert asking.lookup("subject 7/policy x") is False  # a hashed Message-ID, quoted
    finally:
        asking.close()


def test_without_a_status_url_lookup_cannot_say_and_doubt_parks(channel: SmtpChannel) -> None:
    assert channel.lookup("k1") is None
    assert channel.in_doubt == "park" and "ZHIDA_SMTP_STATUS_URL" in channel.doubt_hint


def test_an_unreachable_status_url_cannot_say() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = SmtpChannel("127.0.0.1", 1, status_url=f"http://127.0.0.1:{port}/status")
    assert channel.lookup("k1") is None
