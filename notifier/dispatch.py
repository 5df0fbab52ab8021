"""From a run diff to the ledger: plan who is told what, and record it all in one transaction.

The edge around the pure :func:`notifier.planner.plan`: it reads what planning needs (contact
points, what each subject was told before, the week's sends), plans, and writes — in one
database transaction — the plan's record (its cause is unique, so a diff is planned once), the
outbox rows, every decision with its reason (``notices``), the grants opened and ended, and the
pre-filled application drafts.  Handing the due rows to the broker comes after the commit.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import ZhidaError
from core.settings import Settings
from notifier.contacts import ContactStore
from notifier.evidence import reason_lines
from notifier.grants import GrantStore, end_date_after, objection_deadline
from notifier.outbox import Outbox, naive_utc
from notifier.planner import Plan, PlannedMessage, candidates_from_changes, item_key, plan
from notifier.steps import DEFAULT_STEPS, Candidate, History, PlanContext, Step, Told
from notifier.tables import application_drafts, delivery_plans, notices, outbox
from rules.policy import Policy

__all__ = [
    "Explain",
    "PlanConflictError",
    "PlanSummary",
    "load_history",
    "plan_causes",
    "plan_changes",
    "quiet_hours_of",
]


class PlanConflictError(ZhidaError, RuntimeError):
    """Another planner recorded the same cause first."""


# (subject_id, policy_id) -> the explanation as a dict ({} when unknown)
Explain = Callable[[str, str], Mapping[str, Any]]


@dataclass(frozen=True)
class PlanSummary:
    cause: str
    plan_id: int
    already_planned: bool
    decisions: Mapping[str, int]  # planned / deferred / suppressed
    messages: int
    by_purpose: Mapping[str, int] = field(default_factory=dict)  # items told, by purpose
    by_channel: Mapping[str, int] = field(default_factory=dict)  # messages, by channel
    reasons: Mapping[str, int] = field(default_factory=dict)  # "step: reason" -> items
    due_ids: tuple[int, ...] = ()  # outbox rows to hand to the broker now
    ordered_by: str = ""  # what set the priority of offers: "model v3", "rules only (...)"


def quiet_hours_of(settings: Settings) -> dict[str, tuple[time, time]]:
    return {
        channel: (time.fromisoformat(start), time.fromisoformat(end))
        for channel, start, end in settings.quiet_hours
    }


def load_history(
    conn: Connection,
    subject_ids: Iterable[str],
    now: datetime,
    recipients: Iterable[str] = (),
) -> History:
    """What the subjects were told before, and how many messages each had this week.

    The notices are the subjects' (a unit's: a household's, a child's); the week's messages are
    counted for the ``recipients`` too (who is told for them), as for the subjects themselves.
    """
    ids = sorted(set(subject_ids) | set(recipients))
    last: dict[tuple[str, str], Told] = {}
    times: Counter[tuple[str, str, str, str]] = Counter()
    week: dict[str, int] = {}
    since = naive_utc(now) - timedelta(days=7)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        told = conn.execute(
            sa.select(
                notices.c.subject_id,
                notices.c.policy_id,
                notices.c.policy_version,
                notices.c.purpose,
                notices.c.outcome,
                notices.c.decided_at,
            )
            .where(notices.c.subject_id.in_(chunk), notices.c.decision != "suppressed")
            .order_by(notices.c.id)
        )
        for subject, policy, version, purpose, outcome, at in told:
            last[(subject, policy)] = Told(purpose, version, outcome, at.replace(tzinfo=UTC))
            times[(subject, policy, version, purpose)] += 1
        sent = conn.execute(
            sa.select(outbox.c.subject_id, sa.func.count())
            .where(
                outbox.c.subject_id.in_(chunk),
                outbox.c.created_at >= since,
                # A held plan's rows are not sent until released: they use no budget yet.
                outbox.c.status.not_in(("cancelled", "held")),
            )
            .group_by(outbox.c.subject_id)
        )
        week.update((s, int(n)) for s, n in sent)
    return History(last, dict(times), week)


def _sha(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _item_payload(
    c: Candidate, policy: Policy, evidence: Mapping[str, Any], as_of: date
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "subject_id": c.subject_id, "subject_type": c.subject_type,  # whose offer it is
        "policy_id": c.policy_id, "policy_version": c.policy_version, "purpose": c.purpose,
        "change": c.change, "title": policy.title, "title_en": policy.title_en,
        "department": policy.department, "mode": policy.mode, "summary": policy.summary,
        "summary_en": policy.summary_en,
        "benefit": None if c.new_benefit is None else str(c.new_benefit),
        "old_benefit": None if c.old_benefit is None else str(c.old_benefit),
        "benefit_period": policy.benefit_period, "materials": list(policy.materials),
        "application_conditions": list(policy.application_conditions),
        "where": policy.where, "apply_url": policy.apply_url, "contact": policy.contact,
        "reason": reason_lines(evidence), "settle": list(evidence.get("settle", [])),
        "item_key": item_key(c),
    }  # fmt: skip
    if c.purpose == "grant_notice":
        item["start_date"] = as_of.isoformat()
        item["objection_until"] = objection_deadline(as_of, policy.objection_days).isoformat()
    elif c.purpose == "revocation_notice":
        item["end_date"] = end_date_after(as_of).isoformat()
    elif c.purpose == "fast_track_invitation":
        item["draft_token"] = _sha("draft", item_key(c))[:24]
    return item


def plan_changes(
    engine: Engine,
    changes: Iterable[Mapping[str, Any]],
    policies: Mapping[str, Policy],
    *,
    cause: str,
    as_of: date,
    now: datetime,
    settings: Settings,
    run_id: int | None = None,
    priority: Mapping[tuple[str, str], float] | None = None,
    explain: Explain | None = None,
    channels: frozenset[str] = frozenset({"inbox", "sms", "email", "webhook"}),
    steps: Sequence[Step] = DEFAULT_STEPS,
    conn: Connection | None = None,
) -> PlanSummary:
    """Plan ``changes`` (run-diff rows) and record everything; a ``cause`` is planned once.

    With ``conn``, everything is read and written in the caller's transaction — the one that
    records the run whose diff this is (:func:`notifier.campaign.record_and_plan`): the run and
    its outbox rows are committed together or not at all.  Without, in a transaction of its own.
    """
    if conn is None:
        with engine.connect() as own:
            done = _planned(own, cause)
    else:
        done = _planned(conn, cause)
    if done is not None:
        return done
    candidates = candidates_from_changes(changes, policies, priority)
    subjects = {c.subject_id for c in candidates}
    recipients = {c.to for c in candidates}
    with contextlib.ExitStack() as stack:
        reader = conn if conn is not None else stack.enter_context(engine.connect())
        history = load_history(reader, subjects, now, recipients)
        contacts = ContactStore(engine).load(recipients, conn=reader)
    ctx = PlanContext(
        now=now, tz=settings.tz, contacts=contacts, history=history,
        weekly_budget=settings.contact_budget, quiet_hours=quiet_hours_of(settings),
        channels=channels,
    )  # fmt: skip
    result = plan(candidates, ctx, steps)
    explain = explain or (lambda _s, _p: {})
    evidence = {
        (c.subject_id, c.policy_id): explain(c.subject_id, c.policy_id)
        for m in result.messages
        for c in m.items
    }
    if conn is not None:
        return _record(conn, result, policies, evidence, cause, run_id, as_of, now, settings)
    try:
        with engine.begin() as own:
            return _record(own, result, policies, evidence, cause, run_id, as_of, now, settings)
    except sa.exc.IntegrityError as exc:
        # Two planners raced on the same cause (or key); the one that committed stands.
        raise PlanConflictError(
            f"{cause!r} was being planned by someone else at the same time; nothing was "
            "recorded twice — run the command again to see their plan"
        ) from exc


def plan_causes(
    engine: Engine,
    causes: Sequence[tuple[str, Sequence[Mapping[str, Any]], Explain | None]],
    policies: Mapping[str, Policy],
    *,
    as_of: date,
    now: datetime,
    settings: Settings,
    conn: Connection,
    run_id: int | None = None,
    channels: frozenset[str] = frozenset({"inbox", "sms", "email", "webhook"}),
    steps: Sequence[Step] = DEFAULT_STEPS,
) -> list[PlanSummary]:
    """:func:`plan_changes` of many causes (``(cause, changes, explain)``, in order) in the
    caller's transaction, each planned as it would have been alone after the ones before it.

    The planner's steps decide subject by subject (dedupe, caps and budgets read the subject's
    own history), so causes of different subjects are planned together: a cause waits for a
    later wave only when an earlier cause of the same batch told one of its subjects.  Each
    wave reads its subjects' history and contact points once, and all the plans are recorded
    with one statement per table (:func:`_record_many`), not ten statements a cause.
    """
    planned = dict.fromkeys((c for c, _, _ in causes), None) | _planned_many(conn, causes)
    waves: list[list[tuple[str, list[Candidate], Explain | None]]] = []
    wave_of: dict[str, int] = {}  # subject -> the last wave that told it
    for cause, changes, explain in causes:
        if planned[cause] is not None:
            continue
        candidates = candidates_from_changes(changes, policies)
        # A recipient told for several subjects (a mother for two children) is one person.
        subjects = {c.subject_id for c in candidates} | {c.to for c in candidates}
        wave = max((wave_of[s] + 1 for s in subjects if s in wave_of), default=0)
        while len(waves) <= wave:
            waves.append([])
        waves[wave].append((cause, candidates, explain))
        for subject in subjects:
            wave_of[subject] = wave
    contacts_store = ContactStore(engine)
    for wave_causes in waves:
        subjects = {c.subject_id for _, cands, _ in wave_causes for c in cands}
        recipients = {c.to for _, cands, _ in wave_causes for c in cands}
        ctx = PlanContext(
            now=now, tz=settings.tz, contacts=contacts_store.load(recipients, conn=conn),
            history=load_history(conn, subjects, now, recipients),
            weekly_budget=settings.contact_budget,
            quiet_hours=quiet_hours_of(settings), channels=channels,
        )  # fmt: skip
        recorded: list[Planned] = []
        for cause, candidates, explain in wave_causes:
            result = plan(candidates, ctx, steps)
            why = explain or (lambda _s, _p: {})
            evidence = {
                (c.subject_id, c.policy_id): why(c.subject_id, c.policy_id)
                for m in result.messages
                for c in m.items
            }
            recorded.append((cause, result, evidence))
        for summary in _record_many(conn, recorded, policies, run_id, as_of, now, settings):
            planned[summary.cause] = summary
    return [p for p in planned.values() if p is not None]


def _planned_many(
    conn: Connection, causes: Sequence[tuple[str, Any, Any]]
) -> dict[str, PlanSummary]:
    """The summaries of those of ``causes`` planned before."""
    names = [c for c, _, _ in causes]
    out = {}
    for start in range(0, len(names), 5000):
        query = sa.select(delivery_plans.c.cause).where(
            delivery_plans.c.cause.in_(names[start : start + 5000])
        )
        for cause in conn.execute(query).scalars():
            summary = _planned(conn, cause)
            assert summary is not None
            out[cause] = summary
    return out


def _planned(conn: Connection, cause: str) -> PlanSummary | None:
    """The summary of ``cause``'s plan if it was planned before."""
    done = conn.execute(
        sa.select(delivery_plans).where(delivery_plans.c.cause == cause)
    ).mappings().first()  # fmt: skip
    if done is None:
        return None
    return PlanSummary(
        cause, int(done["plan_id"]), True,
        {"planned": done["items"] - done["deferred"] - done["suppressed"],
         "deferred": done["deferred"], "suppressed": done["suppressed"]},
        int(done["messages"]),
    )  # fmt: skip


def _record(
    conn: Connection, result: Plan, policies: Mapping[str, Policy],
    evidence: Mapping[tuple[str, str], Mapping[str, Any]], cause: str, run_id: int | None,
    as_of: date, now: datetime, settings: Settings,
) -> PlanSummary:  # fmt: skip
    (summary,) = _record_many(
        conn, [(cause, result, evidence)], policies, run_id, as_of, now, settings
    )
    return summary


Planned = tuple[str, Plan, Mapping[tuple[str, str], Mapping[str, Any]]]  # cause, plan, evidence


def _record_many(
    conn: Connection, plans: Sequence[Planned], policies: Mapping[str, Policy],
    run_id: int | None, as_of: date, now: datetime, settings: Settings,
) -> list[PlanSummary]:  # fmt: skip
    """Record each plan under its cause: one statement per table for all of them (the plans'
    rows in order, so ids are as if they had been recorded one after the other)."""
    stamp = naive_utc(now)
    plan_rows = [
        {"cause": cause, "run_id": run_id, "planned_at": stamp, "items": len(result.decisions),
         "messages": len(result.messages), "deferred": result.counts()["deferred"],
         "suppressed": result.counts()["suppressed"]}
        for cause, result, _ in plans
    ]  # fmt: skip
    returning = delivery_plans.insert().returning(
        delivery_plans.c.plan_id, sort_by_parameter_order=True
    )
    plan_ids = [int(i) for i in conn.execute(returning, plan_rows).scalars()]
    rows = []
    for plan_id, (_, result, evidence) in zip(plan_ids, plans, strict=True):
        for m in result.messages:
            items = [
                _item_payload(c, policies[c.policy_id],
                              evidence.get((c.subject_id, c.policy_id), {}), as_of)
                for c in m.items
            ]  # fmt: skip
            rows.append(_outbox_row(m, plan_id, items))
    ids = Outbox.write(conn, rows, now=now, max_attempts=settings.delivery_attempts)
    grants = GrantStore
    drafts = []
    notice_rows = []
    summaries = []
    for plan_id, (cause, result, evidence) in zip(plan_ids, plans, strict=True):
        message_of = {item_key(c): m.idempotency_key for m in result.messages for c in m.items}
        for c in result.decisions:
            told = c.decision != "suppressed"
            key = item_key(c) if told else None
            policy = policies[c.policy_id]
            ev = evidence.get((c.subject_id, c.policy_id), {})
            if told and c.purpose == "grant_notice":
                grants.open(
                    conn, subject_id=c.subject_id, subject_type=c.subject_type,
                    policy_id=c.policy_id, policy_version=c.policy_version,
                    benefit=c.new_benefit, benefit_period=policy.benefit_period, start=as_of,
                    objection_until=objection_deadline(as_of, policy.objection_days),
                    department=policy.department, evidence=ev, notice_key=key or "", now=now,
                )  # fmt: skip
            elif told and c.purpose == "revocation_notice":
                grants.end(
                    conn, subject_id=c.subject_id, policy_id=c.policy_id,
                    end_date=end_date_after(as_of), notice_key=key or "",
                )  # fmt: skip
            elif told and c.purpose == "fast_track_invitation":
                fields = {
                    name: value
                    for clause in ev.get("clauses", [])
                    for name, value in clause.get("values", {}).items()
                }
                drafts.append(
                    {
                        "token": _sha("draft", key)[:24],
                        "subject_id": c.subject_id,
                        "policy_id": c.policy_id,
                        "policy_version": c.policy_version,
                        "fields": _json(fields),
                        "created_at": stamp,
                    }
                )
            notice_rows.append(
                {
                    "plan_id": plan_id,
                    "subject_id": c.subject_id,
                    "subject_type": c.subject_type,
                    "policy_id": c.policy_id,
                    "policy_version": c.policy_version,
                    "change": c.change,
                    "purpose": c.purpose,
                    "outcome": c.outcome,
                    "decision": c.decision,
                    "reason": _reason(c),
                    "item_key": key,
                    "outbox_id": ids.get(message_of[key]) if key else None,
                    "decided_at": stamp,
                }
            )
        due = tuple(
            ids[m.idempotency_key]
            for m in result.messages
            if m.not_before is None or m.not_before <= now
        )
        summaries.append(PlanSummary(
            cause, plan_id, False, result.counts(), len(result.messages),
            by_purpose=dict(Counter(c.purpose or "" for c in result.decisions
                                    if c.decision != "suppressed")),
            by_channel=dict(Counter(m.channel for m in result.messages)),
            reasons=dict(Counter(f"{c.step}: {_gist(c.reason)}" for c in result.decisions
                                 if c.decision != "planned")),
            due_ids=due,
        ))  # fmt: skip
    if drafts:
        conn.execute(application_drafts.insert(), drafts)
    if notice_rows:
        conn.execute(notices.insert(), notice_rows)
    return summaries


def _outbox_row(m: PlannedMessage, plan_id: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "idempotency_key": m.idempotency_key, "plan_id": plan_id, "subject_id": m.subject_id,
        "subject_type": m.subject_type, "channel": m.channel, "address": m.address,
        "locale": m.locale, "purpose": m.purpose, "not_before": m.not_before,
        "payload": {"subject_id": m.subject_id, "items": items},
    }  # fmt: skip


def _reason(c: Candidate) -> str:
    parts = [c.reason or ("planned" if c.decision == "planned" else c.decision)]
    parts += list(c.notes)
    return "; ".join(p for p in parts if p)


def _gist(reason: str) -> str:
    """A reason without its dates and figures, so equal reasons count together."""
    for marker in (": deferred to", " on 20", " (", " since "):
        reason = reason.split(marker, maxsplit=1)[0]
    return reason


def _json(value: Any) -> str:
    import json

    def plain(v: Any) -> Any:
        return str(v) if isinstance(v, Decimal | date) else v

    return json.dumps(value, ensure_ascii=False, default=plain)
