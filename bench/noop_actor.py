"""A bare no-op actor on the configured Redis: the broker's ceiling for ``bench_delivery``."""

from __future__ import annotations

from core.broker import actor, configure_broker
from core.settings import get_settings

__all__ = ["noop"]


@actor(queue_name="bench_noop")
def noop(i: int) -> None:
    """Do nothing."""


broker = configure_broker(get_settings().redis_url)
