"""Rate limits per channel gateway: token buckets shared across threads, workers and processes.

A gateway allows ``rate`` messages per second with bursts of up to ``burst``.  The bucket's
arithmetic is one pure function, :func:`take`; two limiters apply it with the same interface:

- :class:`MemoryRateLimiter` — one process (unit tests, the embedded default);
- :class:`RedisRateLimiter` — every worker in every process that shares the Redis: the same
  arithmetic runs as one atomic Lua script on the server, against the server's clock, so two
  workers can neither both take the last token nor disagree about the time.

:meth:`RateLimiter.try_acquire` answers at once (0.0, or the seconds to wait);
:meth:`RateLimiter.acquire` sleeps until the tokens are granted, or raises
:class:`RateLimitError` (a transient delivery error: the worker retries later) when it would have
to wait longer than ``timeout``.

>>> limiter = MemoryRateLimiter({"sms": Rate(per_second=2, burst=2)}, clock=lambda: 0.0)
>>> [limiter.try_acquire("sms") for _ in range(3)]
[0.0, 0.0, 0.5]
>>> limiter.try_acquire("email")  # no limit configured: always granted
0.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from core.errors import ConfigurationError
from notifier.channels.base import TransientDeliveryError

__all__ = [
    "Bucket",
    "MemoryRateLimiter",
    "Rate",
    "RateLimitError",
    "RateLimiter",
    "RedisRateLimiter",
    "parse_rates",
    "take",
]


class RateLimitError(TransientDeliveryError):
    """The gateway's rate limit would make this send wait longer than allowed; retry later."""


@dataclass(frozen=True)
class Rate:
    """``per_second`` tokens are added each second, up to ``burst`` (default: a second's worth)."""

    per_second: float
    burst: float = 0.0

    def __post_init__(self) -> None:
        if not self.per_second > 0:
            raise ConfigurationError(
                f"rate limit {self.per_second!r} messages per second is not positive; "
                "give a number above 0, or no limit at all"
            )
        if self.burst <= 0:
            object.__setattr__(self, "burst", max(1.0, self.per_second))


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: float  # seconds on the limiter's clock when ``tokens`` was measured


def take(
    bucket: Bucket | None, rate: Rate, now: float, tokens: float = 1.0
) -> tuple[Bucket, float]:
    """Refill ``bucket`` to ``now`` and take ``tokens`` if there are enough.

    Returns the new bucket and 0.0 when granted, or the unchanged (refilled) bucket and the
    seconds until enough tokens will be there.  A new bucket starts full.

    >>> rate = Rate(per_second=10, burst=2)
    >>> b, wait = take(None, rate, now=100.0)
    >>> b, wait
    (Bucket(tokens=1.0, at=100.0), 0.0)
    >>> b, wait = take(b, rate, now=100.0)
    >>> b, wait = take(b, rate, now=100.0)
    >>> round(wait, 3)
    0.1
    >>> take(b, rate, now=100.1)[1]
    0.0
    """
    if tokens > rate.burst:
        raise ConfigurationError(
            f"cannot take {tokens} tokens at once from a bucket of {rate.burst}; "
            "raise the burst or take fewer"
        )
    if bucket is None:
        level = rate.burst
    else:
        level = min(rate.burst, bucket.tokens + max(0.0, now - bucket.at) * rate.per_second)
    if level + 1e-9 >= tokens:  # a nanotoken short is float rounding, not a wait
        return Bucket(max(0.0, level - tokens), now), 0.0
    return Bucket(level, now), (tokens - level) / rate.per_second


class RateLimiter(Protocol):
    """Token buckets by key (a channel gateway's name); keys without a :class:`Rate` are free."""

    def try_acquire(self, key: str, tokens: float = 1.0) -> float:
        """Take ``tokens`` now and return 0.0, or take nothing and return the seconds to wait."""
        ...

    def acquire(self, key: str, tokens: float = 1.0, timeout: float | None = None) -> None:
        """Wait until ``tokens`` are taken; :class:`RateLimitError` past ``timeout`` seconds."""
        ...


class _Acquire:
    rates: Mapping[str, Rate]

    def try_acquire(self, key: str, tokens: float = 1.0) -> float:
        raise NotImplementedError

    def acquire(self, key: str, tokens: float = 1.0, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = self.try_acquire(key, tokens)
            if wait <= 0:
                return
            if deadline is not None and time.monotonic() + wait > deadline:
                raise RateLimitError(
                    f"rate limit of {key!r} ({self.rates[key].per_second:g}/s) would delay "
                    f"this message by {wait:.2f}s, more than the {timeout:g}s allowed; "
                    "it will be retried"
                )
            time.sleep(wait)


class MemoryRateLimiter(_Acquire):
    """Token buckets in this process (thread-safe)."""

    def __init__(
        self, rates: Mapping[str, Rate], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rates = dict(rates)
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def try_acquire(self, key: str, tokens: float = 1.0) -> float:
        rate = self.rates.get(key)
        if rate is None:
            return 0.0
        with self._lock:
            bucket, wait = take(self._buckets.get(key), rate, self._clock(), tokens)
            self._buckets[key] = bucket
        return wait


# The same arithmetic as ``take``, atomic on the server and on the server's clock.
# KEYS[1]: the bucket hash; ARGV: per_second, burst, tokens.  Returns the wait in
# microseconds (0: granted) as an integer, because Lua numbers come back truncated.
_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local level = burst
if state[1] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  level = math.min(burst, tonumber(state[1]) + elapsed * rate)
end
local wait = 0
if level + 1e-9 >= want then
  level = math.max(0, level - want)
else
  wait = (want - level) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(level), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return math.ceil(wait * 1000000)
"""


class RedisRateLimiter(_Acquire):
    """Token buckets in Redis, shared by every process that uses the same Redis and prefix."""

    def __init__(
        self, redis_url: str, rates: Mapping[str, Rate], prefix: str = "zhida:ratelimit:"
    ) -> None:
        import redis

        self.rates = dict(rates)
        self.prefix = prefix
        self._client = redis.Redis.from_url(redis_url)
        self._script = self._client.register_script(_TAKE_LUA)

    def try_acquire(self, key: str, tokens: float = 1.0) -> float:
        import redis

        rate = self.rates.get(key)
        if rate is None:
            return 0.0
        if tokens > rate.burst:
            take(None, rate, 0.0, tokens)  # raises the same error as the in-memory limiter
        try:
            micros = self._script(
                keys=[self.prefix + key], args=[rate.per_second, rate.burst, tokens]
            )
        except redis.RedisError as exc:
            raise RateLimitError(
                f"rate limiter for {key!r} cannot reach Redis ({exc}); the message will be "
                "retried — check ZHIDA_REDIS_URL and that Redis is running"
            ) from exc
        return int(micros) / 1_000_000

    def close(self) -> None:
        self._client.close()


def parse_rates(text: str) -> dict[str, Rate]:
    """Rates from ``ZHIDA_RATE_LIMITS`` text: ``name=per_second[/burst]``, comma-separated.

    >>> parse_rates("sms=50, email=10/20")
    {'sms': Rate(per_second=50.0, burst=50.0), 'email': Rate(per_second=10.0, burst=20.0)}
    >>> parse_rates("")
    {}
    """
    rates: dict[str, Rate] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        per_second, _, burst = value.partition("/")
        try:
            if not sep or not name.strip():
                raise ValueError
            rates[name.strip()] = Rate(float(per_second), float(burst) if burst else 0.0)
        except ValueError:
            raise ConfigurationError(
                f"rate limit {item.strip()!r} is malformed; expected NAME=PER_SECOND or "
                "NAME=PER_SECOND/BURST, e.g. 'sms=50,email=10/20'"
            ) from None
    return rates
