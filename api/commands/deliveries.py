"""``zhida deliveries``: plan a run diff into the outbox, watch it, and act on what failed.

\b
  zhida deliveries plan [--run ID] [--population DIR]   plan the latest run diff; deliver
  zhida deliveries status                               the ledger by channel and status
  zhida deliveries held                                 plans held for an operator, and why
  zhida deliveries hold PLAN_ID [--note TEXT]           hold a plan's unsent rows
  zhida deliveries release PLAN_ID                      send a held plan (once)
  zhida deliveries discard PLAN_ID                      send none of a held plan
  zhida deliveries reports                              poll the SMS delivery reports now
  zhida deliveries failed                               parked rows and why
  zhida deliveries replay ID... | --all                 give parked rows new attempts
  zhida deliveries cancel ID...                         keep parked rows undelivered
  zhida deliveries why SUBJECT [--policy ID]            why was SUBJECT (not) told
  zhida deliveries contacts --population DIR            synthetic contact points for a population
  zhida deliveries object GRANT_ID TEXT [--decline]     record an objection to a grant
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

__all__ = ["deliver_planned", "register"]

CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"


def _engine() -> Any:
    from core.db import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    return engine


def _deliver(ids: list[int]) -> None:
    """Hand rows to the workers: Redis when configured, else in-process here and now."""
    from core.settings import get_settings
    from notifier.channels.registry import channels_from_settings, close_channels

    settings = get_settings()
    if settings.redis_url:
        from core.broker import configure_broker
        from notifier.actors import enqueue

        configure_broker(settings.redis_url)
        click.echo(f"{enqueue(ids)} row(s) handed to the workers (`zhida worker` delivers them)")
        return
    from notifier.campaign import deliver_in_process

    channels = channels_from_settings(settings, _engine())
    try:
        counts = deliver_in_process(settings, channels, ids=ids)
    finally:
        close_channels(channels)
    _print_counts(counts)


def _print_counts(counts: dict[str, dict[str, int]] | Any) -> None:
    for channel, by_status in sorted(counts.items()):
        click.echo(
            f"  {channel:<8} " + ", ".join(f"{n:,} {s}" for s, n in sorted(by_status.items()))
        )


@click.group("deliveries")
def deliveries_group() -> None:
    """The outbox ledger: plan, deliver, watch, replay (see `zhida worker`)."""


@deliveries_group.command("plan")
@click.option("--run", "run_id", type=int, default=None, help="Run to plan (default: latest).")
@click.option("--against", type=int, default=None, help="Compare with this run instead.")
@click.option(
    "--policies", type=click.Path(exists=True, path_type=Path), default=CATALOG,
    show_default=True, help="The catalog the runs were matched against.",
)  # fmt: skip
@click.option(
    "--population", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Population directory: quote the reason clause by clause (and keep it as evidence).",
)  # fmt: skip
@click.option("--no-deliver", is_flag=True, help="Only plan and record; deliver later.")
def plan_cmd(
    run_id: int | None, against: int | None, policies: Path, population: Path | None,
    no_deliver: bool,
) -> None:  # fmt: skip
    """Plan who is told what from a run diff, record it in the outbox, and deliver it.

    \b
    When a person has more offers than one message carries, the most important go first:
    by the ranking model (ZHIDA_PERSONALISATION=on, --population for the profiles, a model
    from `zhida rank train`), else by the rules alone; the output says which.
    Example:
      zhida deliveries plan --population pop/
    """
    from core.settings import get_settings
    from notifier.campaign import plan_run
    from notifier.channels.registry import configured_channels
    from rules.loader import load_catalog

    _engine()
    settings = get_settings()
    catalog = load_catalog([policies])
    summary = plan_run(
        settings, catalog.by_id, run_id=run_id, against=against, population=population,
        channels=configured_channels(settings),
    )  # fmt: skip
    deliver_planned(summary, deliver=not no_deliver)


def deliver_planned(summary: Any, *, deliver: bool = True) -> None:
    """Say what a plan decided, and hand its due rows to the workers (``zhida match --plan``
    calls it too)."""
    if summary.already_planned:
        click.echo(f"{summary.cause} was planned before (plan {summary.plan_id}); nothing new")
        return
    d = summary.decisions
    click.echo(
        f"plan {summary.plan_id} ({summary.cause}): {summary.messages:,} messages; "
        f"{d['planned']:,} planned, {d['deferred']:,} deferred, {d['suppressed']:,} suppressed"
    )
    if summary.ordered_by:
        click.echo(f"  offers in order of priority by {summary.ordered_by}")
    for reason, n in sorted(summary.reasons.items(), key=lambda kv: -kv[1])[:8]:
        click.echo(f"  {n:>7,}  {reason}")
    if _say_guarded(summary.plan_id):
        return  # held: nothing of it is sent until an operator releases it
    if deliver:
        _deliver(list(summary.due_ids))


def _say_guarded(plan_id: int) -> bool:
    """Say what the mass-change guard decided about a plan; True if it is held."""
    from notifier.holds import PlanHolds

    guarded = PlanHolds(_engine()).of(plan_id)
    if guarded is None:
        return False
    for line in guarded.deliberate:
        click.echo(f"  guard: let through, a deliberate act: {line}")
    if guarded.status != "held":
        click.echo("  guard: passed (no unusual endings, no fall in subjects)")
        return False
    click.echo(
        f"  guard: HELD for an operator, {guarded.held_rows:,} message(s) carrying "
        f"{guarded.revocations:,} revocation notice(s) not sent:"
    )
    for reason in guarded.reasons:
        click.echo(f"    {reason}")
    click.echo(
        f"  check the run, then `zhida deliveries release {plan_id}` to send it "
        "(`zhida deliveries held` lists held plans)"
    )
    return True


@deliveries_group.command("reports")
def reports_cmd() -> None:
    """Poll the gateways' delivery reports now and record them as receipts.

    \b
    Workers poll them on every sweep; this is for deployments without workers (cron).
    Needs ZHIDA_SMS_REPORTS_URL, e.g.:
      ZHIDA_SMS_REPORTS_URL=https://sms.example.gov.cn/reports zhida deliveries reports
    """
    from core.errors import ConfigurationError
    from core.settings import get_settings
    from notifier.channels.registry import channels_from_settings, close_channels
    from notifier.reports import poll_reports

    settings = get_settings()
    if not (settings.sms_gateway_url and settings.sms_reports_url):
        raise ConfigurationError(
            "no delivery reports to poll: set ZHIDA_SMS_GATEWAY_URL and ZHIDA_SMS_REPORTS_URL "
            "(the gateway's delivery-report query)"
        )
    engine = _engine()
    channels = channels_from_settings(settings, engine, names=("sms",))
    try:
        got = poll_reports(engine, channels, now=datetime.now(UTC))
    finally:
        close_channels(channels)
    click.echo(
        f"{got.delivered:,} delivered, {got.failed:,} not delivered"
        + (f", {got.unknown:,} for messages not in this ledger" if got.unknown else "")
    )


@deliveries_group.command("status")
def status_cmd() -> None:
    """The ledger: rows by channel and status, grants by status, and receipts by event."""
    from notifier.grants import GrantStore
    from notifier.outbox import Outbox
    from notifier.receipts import ReceiptStore

    engine = _engine()
    counts = Outbox(engine).counts()
    if not counts:
        click.echo("the outbox is empty; `zhida deliveries plan` fills it from a run diff")
        return
    _print_counts(counts)
    grants = GrantStore(engine).counts()
    if grants:
        click.echo("grants: " + ", ".join(f"{n:,} {s}" for s, n in sorted(grants.items())))
    receipts = {e: n for e, n in ReceiptStore(engine).counts().items() if n}
    if receipts:  # per (message, policy); "undeliverable": the gateway's report said so
        click.echo("receipts: " + ", ".join(f"{n:,} {e}" for e, n in receipts.items()))
    from notifier.holds import PlanHolds

    for held in PlanHolds(engine).held():
        click.echo(
            f"held: plan {held.plan_id} ({held.cause}), {held.held_rows:,} row(s); "
            f"`zhida deliveries held` says why"
        )


def _operator_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return "operator"


@deliveries_group.command("held")
@click.option("--all", "every", is_flag=True, help="Also released plans and deliberate endings.")
def held_cmd(every: bool) -> None:
    """Plans held for an operator (by the mass-change guard or by hand), and why."""
    from notifier.holds import PlanHolds

    holds = PlanHolds(_engine())
    plans = holds.recent(limit=50) if every else holds.held()
    if not plans:
        click.echo("no plan is held" if not every else "the guard has noted nothing yet")
    for p in plans:
        by = "the mass-change guard" if p.decided_by == "guard" else p.decided_by
        when = f"{p.decided_at:%Y-%m-%d %H:%M} UTC"
        said = "passed the mass-change guard" if p.status == "passed" else f"held by {by}"
        if p.released_by:
            said += f", then {p.status} by {p.released_by} at {p.released_at:%Y-%m-%d %H:%M} UTC"
        elif p.status == "held":
            said += f" at {when}; {p.held_rows:,} row(s) carrying {p.revocations:,} revocations"
        click.echo(f"plan {p.plan_id} ({p.cause}): {said}")
        for reason in p.reasons:
            click.echo(f"    {reason}")
        for line in p.deliberate:
            click.echo(f"    let through, a deliberate act: {line}")


@deliveries_group.command("hold")
@click.argument("plan_id", type=int)
@click.option("--note", default="", help="Why, for the operator who releases it.")
def hold_cmd(plan_id: int, note: str) -> None:
    """Hold PLAN_ID: its rows no worker has taken yet wait until `zhida deliveries release`."""
    from notifier.holds import PlanHolds

    rows = PlanHolds(_engine()).hold(plan_id, by=_operator_name(), note=note, now=datetime.now(UTC))
    click.echo(
        f"plan {plan_id} held: {rows:,} row(s) wait for `zhida deliveries release {plan_id}`"
    )


@deliveries_group.command("release")
@click.argument("plan_id", type=int)
@click.option("--no-deliver", is_flag=True, help="Only release; the workers deliver later.")
def release_cmd(plan_id: int, no_deliver: bool) -> None:
    """Release a held plan: what was held is sent, once (the rows keep their keys)."""
    from core.settings import get_settings
    from notifier.dispatch import quiet_hours_of
    from notifier.holds import PlanHolds

    settings = get_settings()
    due = PlanHolds(_engine()).release(
        plan_id, by=_operator_name(), now=datetime.now(UTC),
        quiet_hours=quiet_hours_of(settings), tz=settings.tz,
    )  # fmt: skip
    click.echo(f"plan {plan_id} released: {len(due):,} row(s) due now")
    if due and not no_deliver:
        _deliver(due)


@deliveries_group.command("failed")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
def failed_cmd(limit: int) -> None:
    """Rows parked as failed, with the reason; they stay until replayed or cancelled."""
    from notifier.outbox import Outbox

    rows = Outbox(_engine()).rows("failed", limit=limit)
    if not rows:
        click.echo("no failed deliveries")
    for r in rows:
        click.echo(
            f"{r.id}  {r.channel:<7} {r.subject_id}  {r.purpose}  attempts {r.attempts}/"
            f"{r.max_attempts}  {r.last_error}"
        )


@deliveries_group.command("replay")
@click.argument("ids", type=int, nargs=-1)
@click.option("--all", "every", is_flag=True, help="Replay every parked row.")
@click.option("--attempts", type=click.IntRange(1), default=3, show_default=True)
def replay_cmd(ids: tuple[int, ...], every: bool, attempts: int) -> None:
    """Give parked rows new attempts, due now, and deliver them."""
    from core.errors import ValidationError
    from notifier.outbox import Outbox

    if bool(ids) == every:
        raise ValidationError("name the rows to replay (see `zhida deliveries failed`) or --all")
    replayed = Outbox(_engine()).replay(
        None if every else ids, now=datetime.now(UTC), attempts=attempts
    )
    click.echo(f"{len(replayed)} row(s) replayed")
    if replayed:
        _deliver(replayed)


@deliveries_group.command("cancel")
@click.argument("ids", type=int, nargs=-1, required=True)
def cancel_cmd(ids: tuple[int, ...]) -> None:
    """Cancel parked rows: they stay in the ledger, marked cancelled, and are not delivered."""
    from notifier.outbox import Outbox

    click.echo(f"{Outbox(_engine()).cancel(ids)} row(s) cancelled")


@deliveries_group.command("why")
@click.argument("subject_id")
@click.option("--policy", default=None, help="Only this policy.")
def why_cmd(subject_id: str, policy: str | None) -> None:
    """Why was SUBJECT_ID told — or not told — about each policy, and what became of it;
    with what it was told for others (its household's as the head, its child's as a guardian),
    each marked "told for"."""
    from core.errors import NotFoundError
    from notifier.notices import NoticeLog
    from notifier.receipts import ReceiptStore

    entries = NoticeLog(_engine()).history(subject_id, policy_id=policy or None)
    if not entries:
        raise NotFoundError(f"nothing was planned for {subject_id!r}; check the id")
    received: dict[tuple[str | None, str], list[str]] = {}
    for r in ReceiptStore(_engine()).for_subject(subject_id):
        detail = f" ({r.detail})" if r.event == "undeliverable" and r.detail else ""
        received.setdefault((r.message_key, r.policy_id), []).append(r.event + detail)
    for e in entries:
        via = f" → {e.channel} {e.status}" if e.channel else ""
        about = f" (told for {e.subject_id})" if e.subject_id not in (None, subject_id) else ""
        click.echo(
            f"{e.decided_at:%Y-%m-%d %H:%M} {e.policy_id}{about}: {e.change}, "
            f"{e.purpose or '-'}: {e.decision}{via}"
        )
        click.echo(f"    {e.reason}")
        if events := received.get((e.message_key, e.policy_id)):
            click.echo(f"    receipts: {', '.join(events)}")


@deliveries_group.command("contacts")
@click.option(
    "--population", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option("--seed", type=int, default=1, show_default=True)
def contacts_cmd(population: Path, seed: int) -> None:
    """Give every subject of a (synthetic) population seeded contact points and preferences."""
    import polars as pl

    from notifier.contacts import ContactStore
    from simulations.contacts import synthetic_contacts

    def ids(name: str, key: str) -> list[str]:
        path = population / f"{name}.parquet"
        return pl.read_parquet(path, columns=[key])[key].to_list() if path.is_file() else []

    rows = synthetic_contacts(
        ids("residents", "person_id"), ids("enterprises", "enterprise_id"), seed=seed
    )
    click.echo(f"{ContactStore(_engine()).replace(rows):,} contact points recorded")


@deliveries_group.command("object")
@click.argument("grant_id", type=int)
@click.argument("text")
@click.option("--decline", is_flag=True, help="The subject declines the grant.")
def object_cmd(grant_id: int, text: str, decline: bool) -> None:
    """Record an objection to (or a decline of) grant GRANT_ID; it goes to the department."""
    from notifier.grants import GrantStore

    done = GrantStore(_engine()).object(
        grant_id, text, kind="decline" if decline else "objection", now=datetime.now(UTC)
    )
    click.echo(f"{done.kind} {done.id} on grant {grant_id} routed to {done.department}")


@deliveries_group.command("discard")
@click.argument("plan_id", type=int)
def discard_cmd(plan_id: int) -> None:
    """Discard a held plan made from a wrong run: none of it is sent, nobody counts as told.

    \b
    Its rows are cancelled, the grants it would have ended run on; the next run (over the
    right files) is compared with the wrong one, and what it finds already told is not sent.
    """
    from notifier.holds import PlanHolds

    rows = PlanHolds(_engine()).discard(plan_id, by=_operator_name(), now=datetime.now(UTC))
    click.echo(f"plan {plan_id} discarded: {rows:,} row(s) cancelled, nothing sent")


def register(group: click.Group) -> None:
    group.add_command(deliveries_group)
