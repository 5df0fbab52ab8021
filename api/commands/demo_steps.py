"""The later steps of ``zhida demo``: ranking, a sharded run, delivery, simulations, the console.

Each step takes what the earlier steps produced and prints what a person would want to see;
``api/commands/demo.py`` calls them in order.
"""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

__all__ = [
    "console_step",
    "delivery_step",
    "funnel_step",
    "ranking_step",
    "sharding_step",
    "simulation_step",
    "timeline_step",
]


def ranking_step(
    console: Any, matches: Any, population_dir: Path, in_force: Any, schema: Any, *,
    as_of: date, seed: int,
) -> None:  # fmt: skip
    """Simulate two campaigns, train the ranking and uplift models, show a few orderings."""
    from api.commands.rank_offers import demo_lines

    with console.status("simulating campaigns and training the ranking models…"):
        lines = demo_lines(matches, population_dir, in_force, schema, as_of=as_of, seed=seed)
    for line in lines:
        console.print(line)


def sharding_step(
    console: Any, population_dir: Path, catalog: Any, matches_path: Path, out: Path, *,
    as_of: date,
) -> None:  # fmt: skip
    """Run the same match as shards through the queue (in-process here) and compare."""
    import polars as pl

    from core.broker import configure_broker, run_in_process
    from core.db import get_engine
    from matcher.runs import RunStore
    from matcher.shards import SHARD_QUEUE, ShardStore, start_run

    engine = get_engine()
    broker = configure_broker(None)
    started = time.perf_counter()
    run_key = start_run(
        engine, population_dir=population_dir, policies=catalog.in_force(as_of),
        catalog_hash=catalog.content_hash, as_of=as_of, shard_rows=15_000,
    )  # fmt: skip
    run_in_process(broker, [SHARD_QUEUE])
    store = ShardStore(engine)
    run = store.run(run_key)
    progress = store.progress(run_key)
    if run.run_id is None:
        console.print(f"[red]sharded run {run_key} did not complete: {progress}[/]")
        return
    from core.settings import get_settings

    recorded = RunStore(engine, get_settings().data_dir).get(run.run_id)
    key = ["subject_id", "policy_id"]
    same = (
        pl.read_parquet(recorded.pairs_file)
        .sort(key)
        .equals(pl.read_parquet(matches_path).sort(key))
    )
    console.print(
        f"{run.shards} shards (one queue message each) landed in the database in "
        f"{time.perf_counter() - started:.1f}s and were recorded as run {run.run_id}; "
        f"pairs {'identical to' if same else '[red]DIFFERENT from[/]'} the single-process run. "
        "With ZHIDA_REDIS_URL set, `zhida match --distributed` spreads the shards over "
        "`zhida worker` processes on any machine."
    )


def simulation_step(
    console: Any, population_dir: Path, catalog_dir: Path, out: Path, schema: Any, *,
    as_of: date,
) -> None:  # fmt: skip
    """A draft reform — the old-age allowance from 75 instead of 80 — simulated before issue."""
    import polars as pl

    from matcher.runs import population_snapshot
    from rules.loader import load_catalog
    from simulations.reach import ALL, simulate_reach
    from simulations.report import write_reach_report

    draft = out / "draft-catalog"
    shutil.rmtree(draft, ignore_errors=True)
    shutil.copytree(catalog_dir, draft)
    allowance = draft / "bj-elderly-allowance.yaml"
    allowance.write_text(allowance.read_text().replace("age >= 80", "age >= 75"))
    baseline = load_catalog([catalog_dir], schema)
    reform = load_catalog([draft], schema)
    started = time.perf_counter()
    reach = simulate_reach(population_dir, baseline, reform, schema, as_of=as_of)
    elapsed = time.perf_counter() - started
    total = reach.policies.filter(pl.col("policy_id") == ALL).row(0, named=True)
    console.print(
        "draft: 高龄老年人津贴 from age 75 instead of 80 → "
        f"{total['eligible_before']:,} → {total['eligible_after']:,} eligible "
        f"({total['newly_eligible']:,} newly), cost per year "
        f"{total['cost_year_before']:,.0f} → {total['cost_year_after']:,.0f} CNY, "
        f"{total['eligible_unreachable']:,} eligible without a phone or e-mail on file "
        f"({elapsed:.1f}s)"
    )
    by_district = (
        reach.groups.filter((pl.col("policy_id") == ALL) & (pl.col("dimension") == "district"))
        .sort("newly_eligible", descending=True)
        .head(3)
    )
    for r in by_district.iter_rows(named=True):
        console.print(f"  {r['group']}: +{r['newly_eligible']:,} eligible")
    stamp = {
        "as of": as_of.isoformat(),
        "baseline catalog": baseline.content_hash[:16],
        "reform catalog": reform.content_hash[:16],
        "population snapshot": population_snapshot(population_dir)[:16],
    }
    paths = write_reach_report(reach, out / "simulation", stamp=stamp, png=True)
    console.print(f"report with charts: {paths[-1]}  (zhida simulate reach --help)")
    _print_pngs(console, paths)


def delivery_step(console: Any, population_dir: Path, catalog: Any, *, seed: int) -> None:
    """Plan the run diff and deliver in-process to the SMS, SMTP and webhook stand-ins."""
    from core.settings import get_settings
    from simulations.delivery_demo import demo_deliveries

    with console.status("planning and delivering (SMS gateway failing 10 % of requests)…"):
        result = demo_deliveries(get_settings(), population_dir, catalog.by_id, seed=seed)
    plan = result.plan
    decisions = ", ".join(f"{n:,} {d}" for d, n in sorted(plan.decisions.items()))
    console.print(f"plan {plan.plan_id} ({plan.cause}): {decisions}; {plan.messages:,} messages")
    from core.db import get_engine
    from notifier.holds import PlanHolds

    if guarded := PlanHolds(get_engine(get_settings().database_url)).of(plan.plan_id):
        console.print(f"  mass-change guard: {guarded.line()}")
    if plan.ordered_by:
        console.print(f"  offers in order of priority by {plan.ordered_by}")
    if plan.by_purpose:
        told = ", ".join(f"{n:,} {p}" for p, n in sorted(plan.by_purpose.items()))
        console.print(f"  told, by purpose: {told}")
    if plan.by_channel:
        channels = ", ".join(f"{n:,} {c}" for c, n in sorted(plan.by_channel.items()))
        console.print(f"  messages, by channel: {channels}")
    for reason, n in sorted(plan.reasons.items(), key=lambda r: -r[1])[:4]:
        console.print(f"  not told, or told later — {reason}: {n:,}")
    for channel, statuses in sorted(result.ledger.items()):
        counts = ", ".join(f"{n:,} {s}" for s, n in sorted(statuses.items()))
        console.print(f"  ledger {channel}: {counts}")
    for side, received in sorted(result.far_side.items()):
        console.print(
            f"  {side} received: " + ", ".join(f"{n:,} {k}" for k, n in sorted(received.items()))
        )
    reached, undeliverable = _handset_reports()
    sent = result.ledger.get("sms", {}).get("delivered", 0)
    console.print(
        f"  SMS delivery reports (polled from the gateway): {reached:,} of {sent:,} sent "
        f"reached the handset, {undeliverable:,} undeliverable, "
        f"{max(sent - reached - undeliverable, 0):,} not reported yet (zhida deliveries reports)"
    )
    if result.receipts.get("delivered"):
        console.print(
            f"  receipts: {result.receipts['delivered']:,} delivered (inbox, and the SMS "
            "gateway's delivery reports) — the ranking model's outcome log"
        )
    if result.grants:
        grants = ", ".join(f"{n:,} {s}" for s, n in sorted(result.grants.items()))
        console.print(f"  grants (免申即享): {grants}")
    console.print(
        f"delivered in {result.seconds:.1f}s; ask why someone was (not) told: "
        "zhida deliveries why <subject_id>"
    )


def _handset_reports() -> tuple[int, int]:
    """SMS messages the gateway reported as reached, and as not reached, the handset."""
    from core.db import get_engine
    from notifier.receipts import ReceiptStore

    store = ReceiptStore(get_engine())
    reached = store.messages("delivered", channel="sms")
    return reached, store.messages("undeliverable", channel="sms")


def funnel_step(console: Any, population_dir: Path, schema: Any, *, as_of: date) -> None:
    """Of the offers due, the share planned and reached, by group (the four-fifths flag)."""
    import polars as pl

    from api.commands.report import _delivery_stages
    from matcher.fairness import coverage_funnel

    _, offers, planned, reached = _delivery_stages()
    if not offers.height:
        console.print("no offers were due in this plan")
        return
    funnel = coverage_funnel(
        offers, {"planned": planned, "reached": reached},
        pl.scan_parquet(population_dir / "residents.parquet"), schema.resident, as_of=as_of,
    )  # fmt: skip
    for stage in ("planned", "reached"):
        part = funnel.filter((pl.col("stage") == stage) & (pl.col("dimension") == "age_band"))
        bands = ", ".join(f"{r['group']} {r['rate']:.0%}" for r in part.iter_rows(named=True))
        flagged = funnel.filter((pl.col("stage") == stage) & pl.col("flagged")).height
        console.print(f"  {stage:<8} by age band: {bands}; {flagged} group(s) flagged")


def timeline_step(
    console: Any, catalog: Any, schema: Any, out: Path, *, as_of: date, seed: int,
    residents: int = 5_000,
) -> None:  # fmt: skip
    """Three months of a smaller population, day by day, with and without proactive push."""
    from matcher.runs import population_snapshot
    from simulations.population import GenerationSpec, generate_population
    from simulations.report import write_timeline_report
    from simulations.timeline import simulate_timeline, summary_lines

    small = out / "population-timeline"
    generate_population(GenerationSpec(residents, residents // 10, seed=seed, as_of=as_of), small)
    started = time.perf_counter()
    with console.status(f"3 months of {residents:,} residents, 3 seeds, with and without push…"):
        timeline = simulate_timeline(
            small, catalog, schema, as_of=as_of, months=3, seeds=range(seed, seed + 3)
        )
    for line in summary_lines(timeline):
        console.print(line)
    stamp = {
        "as of": as_of.isoformat(),
        "catalog": catalog.content_hash[:16],
        "population snapshot": population_snapshot(small)[:16],
    }
    paths = write_timeline_report(timeline, out / "timeline", stamp=stamp, png=True)
    console.print(
        f"({time.perf_counter() - started:.0f}s) report with charts: {paths[-1]}  "
        "(zhida simulate timeline --help)"
    )
    _print_pngs(console, paths)


def _print_pngs(console: Any, paths: list[Path]) -> None:
    pngs = [p for p in paths if p.suffix == ".png"]
    if pngs:
        console.print(
            f"  {len(pngs)} PNG chart(s) beside it: " + ", ".join(p.name for p in pngs),
            soft_wrap=True,
        )


def console_step(console: Any, matches: Any, population_dir: Path) -> list[Any]:
    """Seed one demo user per role and say how to open the console and the API; the users."""
    import polars as pl

    from api.app.audit import AuditLog
    from api.app.checkpoints import Checkpoints
    from api.app.demo import demo_lines, seed_demo_users
    from core.db import get_engine

    engine = get_engine()
    residents = matches.filter(pl.col("subject_type") == "resident")
    firms = matches.filter(pl.col("subject_type") == "enterprise")
    busiest = (
        residents.group_by("subject_id").len().sort("len", "subject_id", descending=[True, False])
    )
    resident = busiest["subject_id"][0]
    enterprise = firms["subject_id"].sort()[0] if firms.height else resident
    users = seed_demo_users(engine, resident_id=resident, enterprise_id=enterprise)
    for line in demo_lines(users, "http://127.0.0.1:8000"):
        console.print(line, soft_wrap=True)
    # Held to the checkpoints as `zhida audit verify` holds it (the seeding wrote them).
    log = AuditLog(engine, Checkpoints.configured())
    points, bad = log.checkpoints.read() if log.checkpoints is not None else ([], [])
    entries, head, broken = log.verify(points)
    state = "intact" if not broken and not bad else (
        f"[red]{len(broken)} broken link(s), {len(bad)} bad checkpoint line(s)[/]"
    )  # fmt: skip
    console.print(f"audit log {state}: {entries} entries, head {head[:16]}, {len(points)} "
                  "checkpoint(s) hold (zhida audit verify)")  # fmt: skip
    console.print(
        f"start the server with: zhida serve --population {population_dir}", soft_wrap=True
    )
    return users
