"""Delivery in the demo: plan the latest run diff and deliver it in-process to the stand-ins.

Seeds contact points for the population, starts the SMS gateway, SMTP server and webhook
receiver stand-ins on 127.0.0.1 (the SMS gateway failing a share of requests, so retries show),
plans with every channel configured, delivers on worker threads of this process over the
in-process broker (the sweeper polling the SMS gateway's delivery reports), and returns what
was granted, invited, deferred and suppressed, and why — with what the far sides themselves
received and the receipts recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from core.settings import Settings
from notifier.dispatch import PlanSummary
from rules.policy import Policy

__all__ = ["DeliveryDemo", "demo_deliveries"]


@dataclass(frozen=True)
class DeliveryDemo:
    plan: PlanSummary
    ledger: Mapping[str, Mapping[str, int]]  # channel -> status -> rows
    grants: Mapping[str, int]  # grant status -> count
    far_side: Mapping[str, Mapping[str, int]]  # what the stand-ins received (doubles: 0)
    seconds: float
    receipts: Mapping[str, int] = field(default_factory=dict)  # event -> count (delivered: …)


def demo_deliveries(
    settings: Settings,
    population: Path,
    policies: Mapping[str, Policy],
    *,
    now: datetime | None = None,
    sms_failure_rate: float = 0.1,
    seed: int = 1,
) -> DeliveryDemo:
    """Plan the latest run's diff and deliver it; needs a recorded run and its previous one."""
    import time

    import polars as pl

    from core.db import get_engine, upgrade
    from notifier.campaign import deliver_in_process, plan_run
    from notifier.channels.registry import (
        channels_from_settings,
        close_channels,
        configured_channels,
    )
    from notifier.contacts import ContactStore
    from notifier.grants import GrantStore
    from notifier.receipts import ReceiptStore
    from simulations.contacts import synthetic_contacts
    from simulations.gateways import StandIns

    engine = get_engine(settings.database_url)
    upgrade(engine)

    def ids(name: str, key: str) -> list[str]:
        path = population / f"{name}.parquet"
        return pl.read_parquet(path, columns=[key])[key].to_list() if path.is_file() else []

    started = time.perf_counter()
    with StandIns(sms_failure_rate=sms_failure_rate, seed=seed) as stand_ins:
        # Firms' department systems: the webhook stand-in (it takes any path).
        ContactStore(engine).replace(
            synthetic_contacts(
                ids("residents", "person_id"),
                ids("enterprises", "enterprise_id"),
                seed=seed,
                webhook_base=stand_ins.webhook.url,
            )
        )
        env = {**os.environ, **stand_ins.env(), "ZHIDA_DATABASE_URL": settings.database_url}
        env.pop("ZHIDA_REDIS_URL", None)  # the demo delivers in-process
        local = Settings.from_env(env)
        summary = plan_run(
            local, policies, population=population, now=now, channels=configured_channels(local)
        )
        channels = channels_from_settings(local, engine)
        try:
            ledger = deliver_in_process(local, channels, ids=summary.due_ids)
        finally:
            close_channels(channels)
        far_side = stand_ins.summary()
    return DeliveryDemo(
        summary, ledger, GrantStore(engine).counts(), far_side, time.perf_counter() - started,
        ReceiptStore(engine).counts(),
    )  # fmt: skip
