from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time

import pytest

from core.errors import ConfigurationError
from notifier.channels.base import TransientDeliveryError
from notifier.ratelimit import (
    MemoryRateLimiter,
    Rate,
    RateLimitError,
    RedisRateLimiter,
    parse_rates,
    take,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("elapsed", "expected_wait"),
    [(0.0, 0.25), (0.1, 0.15), (0.25, 0.0), (10.0, 0.0)],
)
def test_an_empty_bucket_refills_at_the_rate(elapsed: float, expected_wait: float) -> None:
    rate = Rate(per_second=4, burst=1)
    bucket, _ = take(None, rate, now=0.0)
    _, wait = take(bucket, rate, now=elapsed)
    assert wait == pytest.approx(expected_wait)


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    rate = Rate(per_second=100, burst=3)
    bucket, _ = take(None, rate, now=0.0)
    bucket, _ = take(bucket, rate, now=1000.0)
    assert bucket.tokens == pytest.approx(2.0)


def test_taking_more_than_the_burst_at_once_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="raise the burst"):
        take(None, Rate(per_second=1, burst=2), now=0.0, tokens=3)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="not positive"):
        Rate(per_second=0)


@pytest.mark.parametrize("text", ["sms", "sms=", "=5", "sms=fast", "sms=5/x"])
def test_malformed_rate_settings_say_what_is_expected(text: str) -> None:
    with pytest.raises(ConfigurationError, match="NAME=PER_SECOND"):
        parse_rates(text)


def test_memory_limiter_grants_the_burst_then_makes_callers_wait() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter({"sms": Rate(per_second=10, burst=3)}, clock=clock)
    waits = [limiter.try_acquire("sms") for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1)
    clock.now = 0.1
    assert limiter.try_acquire("sms") == 0.0


def test_acquire_raises_a_transient_error_when_the_wait_exceeds_the_timeout() -> None:
    limiter = MemoryRateLimiter({"sms": Rate(per_second=1, burst=1)})
    limiter.acquire("sms")
    with pytest.raises(RateLimitError, match="retried") as info:
        limiter.acquire("sms", timeout=0.01)
    assert isinstance(info.value, TransientDeliveryError)


def test_memory_limiter_holds_threads_together_to_the_rate() -> None:
    limiter = MemoryRateLimiter({"sms": Rate(per_second=200, burst=10)})
    granted: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 0.5

    def hammer() -> None:
        while time.monotonic() < stop:
            limiter.acquire("sms")
            with lock:
                granted.append(time.monotonic())

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = granted[-1] - start if granted else 0.0
    assert len(granted) <= 10 + 200 * elapsed + 2
    assert len(granted) >= 0.4 * 200 * 0.5  # it does let the rate through (slack: busy CI)


@pytest.mark.redis
def test_redis_limiter_grants_the_burst_then_makes_callers_wait(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, {"sms": Rate(per_second=10, burst=3)})
    try:
        waits = [limiter.try_acquire("sms") for _ in range(4)]
        assert waits[:3] == [0.0, 0.0, 0.0]
        assert 0.05 < waits[3] <= 0.1
        assert limiter.try_acquire("unlimited") == 0.0
    finally:
        limiter.close()


@pytest.mark.redis
def test_redis_limiters_with_different_prefixes_do_not_share_buckets(redis_url: str) -> None:
    rates = {"sms": Rate(per_second=1, burst=1)}
    a = RedisRateLimiter(redis_url, rates, prefix="a:")
    b = RedisRateLimiter(redis_url, rates, prefix="b:")
    try:
        assert a.try_acquire("sms") == 0.0
        assert b.try_acquire("sms") == 0.0
        assert a.try_acquire("sms") > 0
    finally:
        a.close()
        b.close()


def test_redis_limiter_that_cannot_reach_redis_fails_transiently() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", {"sms": Rate(per_second=1)})
    with pytest.raises(RateLimitError, match="cannot reach Redis"):
        limiter.try_acquire("sms")
    limiter.close()


_WORKER = """
import json, sys, time
from notifier.ratelimit import Rate, RedisRateLimiter
limiter = RedisRateLimiter(sys.argv[1], {"sms": Rate(per_second=50, burst=5)})
limiter.try_acquire("warm-up")  # connected and imported: ready
print("ready", flush=True)
start = float(sys.stdin.readline())
while time.time() < start:
    time.sleep(0.001)
granted = []
while time.time() < start + 1.5:
    limiter.acquire("sms")
    granted.append(time.time())
print(json.dumps(granted), flush=True)
"""


@pytest.mark.redis
@pytest.mark.slow
def test_two_processes_together_stay_under_the_shared_limit(redis_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, redis_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:  # both started and connected before either begins
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    start = time.time() + 0.2
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(f"{start!r}\n")
        p.stdin.flush()
    per_process = [json.loads(p.communicate(timeout=30)[0]) for p in procs]
    assert all(len(g) > 10 for g in per_process)  # both really took part
    granted = sorted(t for g in per_process for t in g)
    span = granted[-1] - granted[0]
    # burst + rate x time, with a little slack for the clocks of two processes
    assert len(granted) <= 5 + 50 * span + 2
    # and the limit is the binding constraint, not slowness: near the rate overall
    assert len(granted) >= 0.6 * 50 * 1.5
    # any window of 0.5 s holds at most burst + 25 grants
    for i, t in enumerate(granted):
        in_window = sum(1 for u in granted[i:] if u < t + 0.5)
        assert in_window <= 5 + 25 + 1


@pytest.mark.redis
def test_a_flushed_redis_only_refills_the_bucket(redis_url: str) -> None:
    import redis

    limiter = RedisRateLimiter(redis_url, {"sms": Rate(per_second=1, burst=1)})
    try:
        assert limiter.try_acquire("sms") == 0.0
        assert limiter.try_acquire("sms") > 0
        client = redis.Redis.from_url(redis_url)
        client.flushdb()  # the test's own database only
        client.close()
        assert limiter.try_acquire("sms") == 0.0
    finally:
        limiter.close()


@pytest.mark.redis
@pytest.mark.slow
def test_senders_sharing_the_redis_limiter_never_trip_the_gateways_own_limit(
    redis_url: str,
) -> None:
    from notifier.channels.base import OutboundMessage
    from notifier.channels.sms_http import SmsHttpChannel
    from simulations.gateways import SmsGateway

    def message(key: str) -> OutboundMessage:
        return OutboundMessage(1, key, "sms", "p1", "resident", "+8613800000000", "zh", "", "x")

    def send_all(
        channel: SmsHttpChannel, keys: list[str], limiter: RedisRateLimiter | None
    ) -> None:
        for key in keys:
            if limiter is not None:
                limiter.acquire("sms")
            with contextlib.suppress(TransientDeliveryError):  # counted from the receipts
                channel.send(message(key))

    with SmsGateway(rate_limit=20) as gateway:
        channels = [SmsHttpChannel(gateway.url) for _ in range(2)]
        limiters = [RedisRateLimiter(redis_url, {"sms": Rate(per_second=18, burst=5)})
                    for _ in range(2)]  # fmt: skip
        try:
            # Two workers without a shared limit: a burst of 60 trips the gateway.
            threads = [threading.Thread(target=send_all, args=(c, [f"u{i}-{j}" for j in range(30)],
                                                               None))
                       for i, c in enumerate(channels)]  # fmt: skip
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sum(r.status == 429 for r in gateway.received()) >= 20
            gateway.clear()
            time.sleep(1.0)  # the gateway's own bucket refills
            # The same two workers, each with its own limiter object on the shared Redis.
            threads = [threading.Thread(target=send_all, args=(c, [f"s{i}-{j}" for j in range(20)],
                                                               limiters[i]))
                       for i, c in enumerate(channels)]  # fmt: skip
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert [r.status for r in gateway.received()].count(429) == 0
            assert len(gateway.accepted()) == 40
        finally:
            for c in channels:
                c.close()
            for lim in limiters:
                lim.close()
