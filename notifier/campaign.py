"""Plan from the latest run diff and deliver in-process: what ``zhida demo`` and
``zhida deliveries plan`` call.

On the embedded default (no ``ZHIDA_REDIS_URL``) the same ``deliver`` actor runs on worker
threads of this process over the in-process broker; with Redis, planning only enqueues and
``zhida worker`` delivers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.clock import Clock, SystemClock
from core.errors import NotFoundError
from core.settings import Settings
from notifier.actors import (
    QUEUE,
    DeliveryRuntime,
    configure_delivery,
    deliver,
    enqueue,
    send_batches,
)
from notifier.channels.base import Channel
from notifier.dispatch import PlanSummary, plan_changes
from notifier.outbox import Outbox
from notifier.priority import run_priority
from notifier.sweeper import sweep_once
from rules.policy import Policy

__all__ = ["CampaignSummary", "deliver_in_process", "plan_run"]


@dataclass(frozen=True)
class CampaignSummary:
    plan: PlanSummary
    ledger: Mapping[str, Mapping[str, int]]  # channel -> status -> rows, after delivering
    grants: Mapping[str, int]  # grant status -> count


def plan_run(
    settings: Settings,
    policies: Mapping[str, Policy],
    *,
    run_id: int | None = None,
    against: int | None = None,
    population: Path | None = None,
    now: datetime | None = None,
    priority: Mapping[tuple[str, str], float] | None = None,
    channels: frozenset[str] | None = None,
) -> PlanSummary:
    """Plan the diff of ``run_id`` (default: the latest run) against its previous run.

    Without ``priority``, offers are ordered by the ranking model when personalisation is on
    (``ZHIDA_PERSONALISATION``), ``population`` gives the profiles and a model is trained, and
    by the rules alone otherwise; the summary's ``ordered_by`` says which.
    """
    from core.db import get_engine
    from matcher.runs import RunStore

    engine = get_engine(settings.database_url)
    store = RunStore(engine, settings.data_dir)
    run = store.get(run_id) if run_id is not None else store.latest()
    if run is None:
        raise NotFoundError("no match runs yet; `zhida match ... --out FILE` records one")
    base = against if against is not None else run.previous_run_id
    changes = store.diff(run.run_id, base).collect()
    ordered_by = "given"
    if priority is None:
        ranking = run_priority(
            settings, run, policies, subjects=changes["subject_id"].unique().to_list(),
            population=population,
        )  # fmt: skip
        priority, ordered_by = ranking.priority, ranking.how
    explain = None
    if population is not None:
        from notifier.evidence import PopulationEvidence

        evidence = PopulationEvidence(population, policies, as_of=run.as_of)
        evidence.load(changes["subject_id"].unique().to_list())
        explain = evidence
    summary = plan_changes(
        engine, changes.iter_rows(named=True), policies, cause=f"run {run.run_id} vs {base}",
        run_id=run.run_id, as_of=run.as_of, now=now or SystemClock().now(), settings=settings,
        priority=priority, explain=explain,
        channels=channels or frozenset({"inbox", "sms", "email", "webhook"}),
    )  # fmt: skip
    return dataclasses.replace(summary, ordered_by=ordered_by)


def deliver_in_process(
    settings: Settings,
    channels: Mapping[str, Channel],
    *,
    ids: Sequence[int] = (),
    clock: Clock | None = None,
    threads: int = 1,
    passes: int = 3,
) -> Mapping[str, Mapping[str, int]]:
    """Deliver ``ids`` and whatever else is due with in-process workers; the ledger's counts.

    One worker thread by default: SQLite takes one writer at a time, and more threads only
    queue on its lock.  A few sweeper passes follow, so rows whose short back-off has passed
    get another go; rows deferred to a later window (quiet hours) stay pending for a worker to
    send then.
    """
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from core.broker import configure_broker
    from core.db import get_engine

    broker = configure_broker(None)
    outbox = Outbox(get_engine(settings.database_url))
    rt = DeliveryRuntime(
        outbox=outbox, channels=channels, clock=clock or SystemClock(),
        backoff=min(settings.retry_backoff, 0.5),
        send_retries=lambda row_id, delay: deliver.send_with_options(
            args=(row_id,), delay=int(delay * 1000)
        ),
    )  # fmt: skip
    configure_delivery(rt)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()

    def drain() -> None:
        assert isinstance(broker, StubBroker)
        broker.join(QUEUE, fail_fast=False)
        worker.join()

    try:
        enqueue(ids)
        for _ in range(passes):
            drain()
            result = sweep_once(rt, send_batches, stale=0.0)
            if not result.enqueued:
                break
        drain()
    finally:
        worker.stop()
        configure_delivery(None)
    return outbox.counts()
