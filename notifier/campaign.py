"""Plan from the latest run diff and deliver in-process: what ``zhida demo`` and
``zhida deliveries plan`` call.

A run is recorded with its plan in one transaction by :func:`record_and_plan` (``zhida match
--plan``); a sharded run that asked for planning (``zhida match --distributed --plan``) is
recorded the same way by whichever process finishes it, through :func:`plan_shard_run`, which
this module registers with :mod:`matcher.shards` on import (workers import it).

On the embedded default (no ``ZHIDA_REDIS_URL``) the same ``deliver`` actor runs on worker
threads of this process over the in-process broker; with Redis, planning only enqueues and
``zhida worker`` delivers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy.exc import IntegrityError

from core.clock import Clock, SystemClock
from core.errors import DeliveryError, NotFoundError
from core.settings import Settings, get_settings
from matcher.shards import Finishing, register_planner
from notifier.actors import QUEUE, deliver, enqueue, send_batches
from notifier.channels.base import Channel
from notifier.dispatch import Explain, PlanConflictError, PlanSummary, plan_changes
from notifier.guard import Verdict, guard_run
from notifier.holds import PlanHolds
from notifier.outbox import Outbox
from notifier.priority import run_priority
from notifier.render import render_row
from notifier.reports import poll_reports
from notifier.runtime import DeliveryRuntime, configure_delivery
from notifier.sweeper import sweep_once
from notifier.tables import delivery_plans
from rules.policy import Policy

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from matcher.runs import Run

__all__ = [
    "CampaignSummary",
    "deliver_in_process",
    "plan_run",
    "plan_shard_run",
    "record_and_plan",
    "run_plan",
]


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
    verdict = None
    if base is not None:
        verdict, counts = guard_run(
            settings, engine, store, store.get(base), run.pairs_file, changes, as_of=run.as_of,
            policies=policies, run_id=run.run_id,
        )  # fmt: skip
        if base == run.previous_run_id:
            store.keep_endings(run.run_id, counts)
    ordered_by = "given"
    if priority is None:
        ranking = run_priority(
            settings, run.pairs_file, run.as_of, policies,
            subjects=changes["subject_id"].unique().to_list(), population=population,
        )  # fmt: skip
        priority, ordered_by = ranking.priority, ranking.how
    explain = _evidence(population, policies, run.as_of, changes)
    moment = now or SystemClock().now()
    try:
        # The plan and the guard's hold in one transaction: no worker sees a held row pending.
        with engine.begin() as conn:
            summary = plan_changes(
                engine, changes.iter_rows(named=True), policies,
                cause=f"run {run.run_id} vs {base}", run_id=run.run_id, as_of=run.as_of,
                now=moment, settings=settings, priority=priority, explain=explain,
                channels=channels or frozenset({"inbox", "sms", "email", "webhook"}), conn=conn,
            )  # fmt: skip
            summary = _guarded(conn, summary, verdict, moment)
    except IntegrityError as exc:
        raise PlanConflictError(
            f"run {run.run_id} vs {base} was being planned by someone else at the same time; "
            "nothing was recorded twice — run the command again to see their plan"
        ) from exc
    return dataclasses.replace(summary, ordered_by=ordered_by)


def _guarded(
    conn: Connection, summary: PlanSummary, verdict: Verdict | None, now: datetime
) -> PlanSummary:
    """Record the guard's verdict on a new plan; a held plan has no rows due."""
    if verdict is None or summary.already_planned:
        return summary
    PlanHolds.record(conn, summary.plan_id, verdict, now=now)
    if not verdict.held:
        return summary
    # Held, but the endings a deliberate act made are sent (notifier.holds).
    return dataclasses.replace(summary, due_ids=PlanHolds.still_pending(conn, summary.due_ids))


def record_and_plan(
    settings: Settings,
    pairs_file: Path,
    policies: Mapping[str, Policy],
    *,
    as_of: date,
    catalog_hash: str,
    population_id: str,
    started_at: datetime,
    seconds: float,
    rule_hashes: Mapping[str, str] | None = None,
    population: Path | None = None,
    now: datetime | None = None,
    channels: frozenset[str] | None = None,
    first: Callable[[Connection, Run], object] | None = None,
    parameters: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[Run, PlanSummary | None]:
    """Record a match run and plan its diff against the previous run in one transaction.

    The run, its plan, the outbox rows, the notices, grants and drafts are committed together
    or not at all (DESIGN: the outbox is written with the match results that caused it).
    The first run has nothing to compare with: recorded, and ``None`` for the plan.
    ``first(conn, run)`` runs in that transaction before the plan is written (a sharded run's
    complete mark, which fails when another finisher recorded it first). ``parameters``: the
    parameter versions the run read (default: those its policies in force on ``as_of`` read).
    """
    from core.db import get_engine
    from matcher.runs import RunStore, run_diff

    engine = get_engine(settings.database_url)
    store = RunStore(engine, settings.data_dir)
    previous = store.latest()
    if parameters is None:
        from rules.parameter_use import run_record

        parameters = run_record([p for p in policies.values() if p.in_force(as_of)], as_of)
    if previous is None:  # the first run: nothing changed yet
        run = store.record(
            pairs_file, as_of=as_of, catalog_hash=catalog_hash, population=population_id,
            started_at=started_at, seconds=seconds, policies=len(rule_hashes or policies),
            rule_hashes=rule_hashes, within=first, parameters=parameters,
        )  # fmt: skip
        return run, None
    # What can be decided before the transaction is: the diff, the order, the reasons.
    changes = run_diff(pl.scan_parquet(previous.pairs_file), pl.scan_parquet(pairs_file)).collect()
    subjects = changes["subject_id"].unique().to_list()
    ranking = run_priority(
        settings, pairs_file, as_of, policies, subjects=subjects, population=population
    )
    explain = _evidence(population, policies, as_of, changes)
    verdict, counts = guard_run(
        settings, engine, store, previous, pairs_file, changes, as_of=as_of, policies=policies,
        parameters=parameters,
    )  # fmt: skip
    planned: list[PlanSummary] = []

    def plan_in(conn: Connection, run: Run) -> None:
        if first is not None:
            first(conn, run)
        if run.previous_run_id != previous.run_id:
            raise PlanConflictError(
                f"run {run.previous_run_id} was recorded while run {run.run_id} was being "
                "planned; nothing was recorded — run the command again"
            )
        moment = now or SystemClock().now()
        summary = plan_changes(
            engine, changes.iter_rows(named=True), policies,
            cause=f"run {run.run_id} vs {previous.run_id}", run_id=run.run_id, as_of=as_of,
            now=moment, settings=settings, priority=ranking.priority,
            explain=explain, channels=channels or frozenset({"inbox", "sms", "email", "webhook"}),
            conn=conn,
        )  # fmt: skip
        summary = _guarded(conn, summary, verdict, moment)
        planned.append(dataclasses.replace(summary, ordered_by=ranking.how))

    run = store.record(
        pairs_file, as_of=as_of, catalog_hash=catalog_hash, population=population_id,
        started_at=started_at, seconds=seconds, policies=len(rule_hashes or policies),
        rule_hashes=rule_hashes, within=plan_in, parameters=parameters,
    )  # fmt: skip
    store.keep_endings(run.run_id, counts)  # the next runs' history, without reading pairs
    return run, planned[0]


def plan_shard_run(finishing: Finishing) -> int:
    """Record a finished sharded run and plan its diff in one transaction; returns the run id.

    The rows due now are handed to the broker after the commit (the sweeper would find them
    anyway: the ledger, not the queue, is the truth).
    """
    from core.db import get_engine

    settings = get_settings()
    run = finishing.run
    recorded, summary = record_and_plan(
        settings, finishing.pairs_file, {p.id: p for p in finishing.plan.policies},
        as_of=run.as_of, catalog_hash=run.catalog_hash, population_id=run.population,
        started_at=finishing.started_at, seconds=finishing.seconds,
        rule_hashes=run.rule_hashes, population=run.population_dir,
        channels=finishing.plan.channels,
        first=lambda conn, r: finishing.complete(conn, r.run_id),
    )  # fmt: skip
    if summary is not None and summary.due_ids:
        enqueue(summary.due_ids, outbox=Outbox(get_engine(settings.database_url)))
    return recorded.run_id


register_planner(plan_shard_run)


def run_plan(settings: Settings, run_id: int) -> PlanSummary | None:
    """What was planned for ``run_id`` when it was recorded (``None``: nothing was)."""
    import sqlalchemy as sa

    from core.db import get_engine

    with get_engine(settings.database_url).connect() as conn:
        done = conn.execute(
            sa.select(delivery_plans).where(delivery_plans.c.run_id == run_id)
        ).mappings().first()  # fmt: skip
    if done is None:
        return None
    planned = done["items"] - done["deferred"] - done["suppressed"]
    return PlanSummary(
        str(done["cause"]), int(done["plan_id"]), False,
        {"planned": planned, "deferred": done["deferred"], "suppressed": done["suppressed"]},
        int(done["messages"]),
    )  # fmt: skip


def _evidence(
    population: Path | None, policies: Mapping[str, Policy], as_of: date, changes: pl.DataFrame
) -> Explain | None:
    """Why each change's subject qualifies; a household's offer (its members' rule, counted
    once) is explained on the record of its recipient, the head it is told to."""
    if population is None:
        return None
    from notifier.evidence import PopulationEvidence

    evidence = PopulationEvidence(population, policies, as_of=as_of)
    told_for: dict[tuple[str, str], str] = {}
    if "recipient_id" in changes.columns:
        households = changes.filter(pl.col("subject_type").cast(pl.String) == "household")
        told_for = {
            (str(s), str(p)): str(r)
            for s, p, r in households.select("subject_id", "policy_id", "recipient_id").rows()
            if r is not None
        }
    evidence.load([*changes["subject_id"].unique().to_list(), *told_for.values()])
    if not told_for:
        return evidence

    def explain(subject_id: str, policy_id: str) -> Mapping[str, Any]:
        return evidence(told_for.get((subject_id, policy_id), subject_id), policy_id)

    return explain


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
    send then.  Messages are rendered from the templates, as a worker does, and the gateways'
    delivery reports are polled at the end.
    """
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from core.broker import configure_broker
    from core.db import get_engine

    broker = configure_broker(None)
    outbox = Outbox(get_engine(settings.database_url))
    rt = DeliveryRuntime(
        outbox=outbox, channels=channels, clock=clock or SystemClock(),
        render=functools.partial(render_row, settings=settings),
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
        with contextlib.suppress(DeliveryError):  # the reports of the last sends, if any yet
            poll_reports(outbox.engine, channels, now=rt.clock.now())
    finally:
        worker.stop()
        configure_delivery(None)
    return outbox.counts()
