from __future__ import annotations

import pytest

from notifier.channels.base import (
    Channel,
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifier.channels.memory import MemoryChannel


def _message(key: str = "k1", address: str | None = "+8613800000000") -> OutboundMessage:
    return OutboundMessage(1, key, "memory", "p1", "resident", address, "zh", "标题", "正文")


def test_the_memory_channel_is_a_channel() -> None:
    assert isinstance(MemoryChannel(), Channel)


def test_it_records_every_accepted_send_including_doubles() -> None:
    channel = MemoryChannel()
    channel.send(_message("a"))
    channel.send(_message("a"))
    channel.send(_message("b"))
    assert channel.counts() == {"a": 2, "b": 1}


def test_queued_failures_come_first_then_sends_succeed() -> None:
    channel = MemoryChannel()
    channel.fail_next(2)
    for _ in range(2):
        with pytest.raises(TransientDeliveryError, match="retry later"):
            channel.send(_message())
    assert channel.send(_message()).provider_id == "memory-1"
    assert channel.attempts == 3


def test_a_refused_address_fails_permanently() -> None:
    channel = MemoryChannel(fail_addresses=frozenset({"+8613900000000"}))
    with pytest.raises(PermanentDeliveryError, match="refused"):
        channel.send(_message(address="+8613900000000"))
    assert channel.sent == []


def test_the_failure_rate_is_a_repeatable_share() -> None:
    def failures(seed: int) -> list[bool]:
        channel = MemoryChannel(failure_rate=0.3, seed=seed)
        out = []
        for i in range(500):
            try:
                channel.send(_message(str(i)))
                out.append(False)
            except TransientDeliveryError:
                out.append(True)
        return out

    assert failures(1) == failures(1)
    assert 100 <= sum(failures(1)) <= 200
