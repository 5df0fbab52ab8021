"""The in-memory channel: records what it is asked to send; can be told to fail.

Unit tests and the embedded demo use it where a real channel would reach the outside world.
Like a real gateway it de-duplicates nothing — a test sees every double.

>>> from notifier.channels.base import OutboundMessage
>>> channel = MemoryChannel()
>>> msg = OutboundMessage(1, "k1", "memory", "p1", "resident", None, "zh", "标题", "正文")
>>> channel.send(msg).provider_id
'memory-1'
>>> channel.fail_next(1, permanent=True, reason="no such number")
>>> channel.send(msg)
Traceback (most recent call last):
...
notifier.channels.base.PermanentDeliveryError: memory channel: no such number
>>> [m.idempotency_key for m in channel.sent], channel.attempts
(['k1'], 2)
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from notifier.channels.base import (
    OutboundMessage,
    PermanentDeliveryError,
    SendResult,
    TransientDeliveryError,
)

__all__ = ["MemoryChannel"]


class MemoryChannel:
    """A channel that keeps every message it accepts in :attr:`sent` (thread-safe).

    ``failure_rate`` makes that share of sends raise a transient error (seeded, repeatable);
    :meth:`fail_next` queues specific failures; ``fail_addresses`` always fail permanently.
    """

    def __init__(
        self,
        name: str = "memory",
        *,
        failure_rate: float = 0.0,
        seed: int = 0,
        fail_addresses: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        self.failure_rate = failure_rate
        self.fail_addresses = fail_addresses
        self.sent: list[OutboundMessage] = []
        self.attempts = 0
        self._queued: list[tuple[bool, str]] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def fail_next(self, times: int = 1, *, permanent: bool = False, reason: str = "") -> None:
        """Make the next ``times`` sends fail (transient unless ``permanent``)."""
        default = "told to fail permanently" if permanent else "told to fail; retry later"
        with self._lock:
            self._queued.extend([(permanent, reason or default)] * times)

    def send(self, message: OutboundMessage) -> SendResult:
        with self._lock:
            self.attempts += 1
            if self._queued:
                permanent, reason = self._queued.pop(0)
                error = PermanentDeliveryError if permanent else TransientDeliveryError
                raise error(f"{self.name} channel: {reason}")
            if message.address is not None and message.address in self.fail_addresses:
                raise PermanentDeliveryError(
                    f"{self.name} channel: address {message.address!r} is refused"
                )
            if self.failure_rate and self._random.random() < self.failure_rate:
                raise TransientDeliveryError(
                    f"{self.name} channel: simulated failure ({self.failure_rate:.0%} of sends)"
                )
            self.sent.append(message)
            return SendResult(provider_id=f"{self.name}-{len(self.sent)}")

    def counts(self) -> Counter[str]:
        """How many times each idempotency key was accepted (more than 1 is a double)."""
        with self._lock:
            return Counter(m.idempotency_key for m in self.sent)

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()
            self._queued.clear()
            self.attempts = 0
