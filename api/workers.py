"""What a Dramatiq worker process loads: the broker from the settings and every actor module.

``zhida worker`` starts ``dramatiq api.workers``; the module configures the broker named by
``ZHIDA_REDIS_URL`` and imports each module of :data:`ACTOR_MODULES`, declaring its actors.
Add a module here when a package declares new actors.
"""

from __future__ import annotations

import importlib

import dramatiq

from core.broker import configure_broker
from core.settings import get_settings

__all__ = ["ACTOR_MODULES", "QUEUES", "broker", "load_actors"]

# notifier.campaign declares no actor; it registers how sharded runs that plan are recorded.
ACTOR_MODULES: tuple[str, ...] = ("matcher.shards", "notifier.actors", "notifier.campaign")
# The queues a worker consumes by default (every actor's queue).
QUEUES: tuple[str, ...] = ("match_shards", "deliveries")


def load_actors() -> None:
    """Import every actor module (a module not written yet is skipped)."""
    for name in ACTOR_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


load_actors()
broker: dramatiq.Broker = configure_broker(get_settings().redis_url)
