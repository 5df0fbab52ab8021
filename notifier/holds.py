"""Plans held for an operator: the guard's holds, an operator's holds, and their release.

A held plan keeps its outbox rows with status ``held``: no worker claims them and no sweeper
enqueues them (both take only ``pending`` rows), and the grants its revocation notices would
end keep running (``end_held``) until the plan is released.  Releasing turns the rows back to
``pending`` in one conditional update, so a release sends what was held exactly once; the rows
keep their idempotency keys.  A plan made from a wrong run can instead be discarded: nothing
of it is sent and nobody counts as told.  Every guarded plan has a row in ``plan_guards`` —
passed ones too, with the endings a deliberate act let through, for the operator page.

A deliberate act releases its own endings: when the guard holds a plan, a message whose every
item is the ending of a policy the verdict ``released`` (retired, replaced, expired, or
moved by a parameter change) stays pending and is sent; a message that also carries anything
else (a digest with another policy's ending) waits with the rest.  Held rows are not counted
against a recipient's weekly contact budget (``notifier.dispatch.load_history``) until they
are released.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import NotFoundError, ValidationError
from notifier.guard import Verdict
from notifier.outbox import naive_utc
from notifier.steps import next_open
from notifier.tables import delivery_plans, grants, notices, outbox, plan_guards

__all__ = ["GuardedPlan", "PlanHolds"]

_ENDED = "no_longer_eligible"  # the run diff's change for an offer that ended


@dataclass(frozen=True)
class GuardedPlan:
    """A plan's guard record as the operator sees it."""

    plan_id: int
    cause: str
    status: str  # passed | held | released | discarded
    reasons: tuple[str, ...]
    deliberate: tuple[str, ...]
    decided_at: datetime
    decided_by: str
    released_at: datetime | None
    released_by: str | None
    held_rows: int  # outbox rows still held
    revocations: int  # revocation notices those rows carry

    def line(self) -> str:
        """What the guard (or an operator) decided, in one line for a summary."""
        if self.status == "held":
            sent = (
                f" (sent all the same, a deliberate act's: {'; '.join(self.deliberate)})"
                if self.deliberate
                else ""
            )
            return (
                f"HELD for an operator ({self.held_rows:,} messages not sent): "
                + "; ".join(self.reasons)
                + f" — `zhida deliveries release {self.plan_id}` sends it"
                + sent
            )
        if self.status in ("released", "discarded"):
            return f"held, then {self.status} by {self.released_by}"
        let = f"; let through, deliberate: {'; '.join(self.deliberate)}" if self.deliberate else ""
        return "passed (no unusual share of offers ended, no fall in subjects)" + let


class PlanHolds:
    """The ``plan_guards`` table and the outbox rows of held plans."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def record(conn: Connection, plan_id: int, verdict: Verdict, *, now: datetime) -> int:
        """Record the guard's verdict on ``plan_id`` in the caller's transaction (the one that
        wrote the plan); a held verdict holds the plan's rows but those a deliberate act
        released (:meth:`still_pending` says which).  Returns the rows held."""
        conn.execute(
            plan_guards.insert().values(
                plan_id=plan_id,
                status="held" if verdict.held else "passed",
                reasons=json.dumps(list(verdict.reasons), ensure_ascii=False),
                deliberate=json.dumps(list(verdict.deliberate), ensure_ascii=False),
                decided_at=naive_utc(now),
                decided_by="guard",
            )
        )
        return _hold_rows(conn, plan_id, keep=verdict.released) if verdict.held else 0

    @staticmethod
    def still_pending(conn: Connection, row_ids: Sequence[int]) -> tuple[int, ...]:
        """Of ``row_ids``, those pending (not held), in order: what a held plan still sends."""
        found: set[int] = set()
        for start in range(0, len(row_ids), 5000):
            chunk = list(row_ids[start : start + 5000])
            query = sa.select(outbox.c.id).where(outbox.c.id.in_(chunk))
            found.update(conn.execute(query.where(outbox.c.status == "pending")).scalars())
        return tuple(i for i in row_ids if i in found)

    def hold(self, plan_id: int, *, by: str, note: str, now: datetime) -> int:
        """Hold any plan: its rows not yet taken by a worker wait for a release.

        Returns the rows held; rows already sending or delivered are not called back.
        """
        reason = f"held by {by}" + (f": {note}" if note else "")
        with self.engine.begin() as conn:
            _plan(conn, plan_id)
            row = conn.execute(
                sa.select(plan_guards).where(plan_guards.c.plan_id == plan_id)
            ).mappings().first()  # fmt: skip
            if row is not None and row["status"] == "held":
                raise ValidationError(
                    f"plan {plan_id} is already held ({row['decided_by']}); "
                    f"`zhida deliveries release {plan_id}` sends it"
                )
            values = {
                "status": "held",
                "decided_at": naive_utc(now),
                "decided_by": by,
                "released_at": None,
                "released_by": None,
            }
            if row is None:
                conn.execute(
                    plan_guards.insert().values(
                        plan_id=plan_id, reasons=json.dumps([reason], ensure_ascii=False),
                        deliberate="[]", **values,
                    )
                )  # fmt: skip
            else:
                reasons = [*json.loads(row["reasons"]), reason]
                conn.execute(
                    plan_guards.update()
                    .where(plan_guards.c.plan_id == plan_id)
                    .values(reasons=json.dumps(reasons, ensure_ascii=False), **values)
                )
            return _hold_rows(conn, plan_id)

    def release(
        self, plan_id: int, *, by: str, now: datetime,
        quiet_hours: Mapping[str, tuple[time, time]] | None = None, tz: ZoneInfo | None = None,
    ) -> list[int]:  # fmt: skip
        """Release a held plan: its rows are pending again; returns those due now, by id.

        One conditional update decides: of two operators releasing at once, one releases and
        the other is told it was released already.  A channel in its ``quiet_hours`` (local
        windows in ``tz``, as planning uses them) waits for the window to open: a plan
        released at 22:00 sends its SMS at 08:00.
        """
        stamp = naive_utc(now)
        with self.engine.begin() as conn:
            done = _settle(conn, plan_id, "released", stamp=stamp, by=by)
            if not done:
                row = conn.execute(
                    sa.select(plan_guards).where(plan_guards.c.plan_id == plan_id)
                ).mappings().first()  # fmt: skip
                state = (
                    "was never held"
                    if row is None or row["status"] == "passed"
                    else f"was {row['status']} by {row['released_by']} at "
                    f"{row['released_at']:%Y-%m-%d %H:%M} UTC"
                )
                raise ValidationError(
                    f"plan {plan_id} {state}; `zhida deliveries held` lists the held plans"
                )
            held = _held_ids(conn, plan_id)
            _end_grants(conn, held, "end_held", "ending")
            for start in range(0, len(held), 5000):
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(held[start : start + 5000]), outbox.c.status == "held")
                    .values(status="pending", enqueued_at=None)
                )
            for channel, window in (quiet_hours or {}).items():
                opens = next_open(now.astimezone(tz or ZoneInfo("Asia/Shanghai")), window)
                if opens is None:
                    continue
                conn.execute(
                    outbox.update()
                    .where(
                        outbox.c.id.in_(held), outbox.c.channel == channel,
                        outbox.c.next_attempt_at < naive_utc(opens),
                    )
                    .values(not_before=naive_utc(opens), next_attempt_at=naive_utc(opens))
                )  # fmt: skip
            due = conn.execute(
                sa.select(outbox.c.id)
                .where(
                    outbox.c.plan_id == plan_id,
                    outbox.c.status == "pending",
                    outbox.c.next_attempt_at <= stamp,
                )
                .order_by(outbox.c.id)
            ).scalars()
            return [int(i) for i in due]

    def discard(self, plan_id: int, *, by: str, now: datetime) -> int:
        """Settle a held plan by sending none of it (the run was wrong); returns the rows.

        Its rows are cancelled, its notices recorded as suppressed ("discarded"), so nobody
        counts as told, the grants it would have ended run on, and the grants it opened are
        discarded.  The next run's diff against the wrong one then finds its changes already
        told (the dedupe step) and sends nothing for them.
        """
        stamp = naive_utc(now)
        with self.engine.begin() as conn:
            done = _settle(conn, plan_id, "discarded", stamp=stamp, by=by)
            if not done:
                raise ValidationError(
                    f"plan {plan_id} is not held; only a held plan can be discarded "
                    "(`zhida deliveries held` lists them)"
                )
            held = _held_ids(conn, plan_id)
            _end_grants(conn, held, "end_held", "active")
            why = f"discarded with its held plan by {by}"
            for start in range(0, len(held), 5000):
                chunk = held[start : start + 5000]
                opened = (
                    sa.select(notices.c.item_key)
                    .where(notices.c.outbox_id.in_(chunk), notices.c.purpose == "grant_notice")
                    .scalar_subquery()
                )
                conn.execute(
                    grants.update()
                    .where(grants.c.notice_key.in_(opened), grants.c.status == "active")
                    .values(status="discarded")
                )
                conn.execute(
                    notices.update()
                    .where(notices.c.outbox_id.in_(chunk))
                    .values(
                        decision="suppressed", item_key=None,
                        reason=sa.literal(why + "; was: ") + notices.c.reason,
                    )
                )  # fmt: skip
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(chunk), outbox.c.status == "held")
                    .values(status="cancelled", last_error=why)
                )
            return len(held)

    def of(self, plan_id: int) -> GuardedPlan | None:
        """The guard record of ``plan_id`` (``None``: the plan was not guarded)."""
        found = self._list(plan_guards.c.plan_id == plan_id, limit=1)
        return found[0] if found else None

    def held(self) -> list[GuardedPlan]:
        """The plans waiting for an operator, oldest first."""
        return self._list(plan_guards.c.status == "held", limit=1000)

    def recent(self, limit: int = 20) -> list[GuardedPlan]:
        """The latest guard records that say something: held, released, or with endings a
        deliberate act let through (newest first)."""
        notable = sa.or_(plan_guards.c.status != "passed", plan_guards.c.deliberate != "[]")
        return self._list(notable, limit=limit, newest_first=True)

    def _list(
        self, where: sa.ColumnElement[bool], *, limit: int, newest_first: bool = False
    ) -> list[GuardedPlan]:
        held_rows = (
            sa.select(outbox.c.plan_id, sa.func.count().label("n"))
            .where(outbox.c.status == "held")
            .group_by(outbox.c.plan_id)
            .subquery()
        )
        revoking = (
            sa.select(outbox.c.plan_id, sa.func.count().label("revocations"))
            .select_from(notices.join(outbox, notices.c.outbox_id == outbox.c.id))
            .where(outbox.c.status == "held", notices.c.purpose == "revocation_notice")
            .group_by(outbox.c.plan_id)
            .subquery()
        )
        order = plan_guards.c.plan_id.desc() if newest_first else plan_guards.c.plan_id
        query = (
            sa.select(plan_guards, delivery_plans.c.cause, held_rows.c.n, revoking.c.revocations)
            .join(delivery_plans, delivery_plans.c.plan_id == plan_guards.c.plan_id)
            .outerjoin(held_rows, held_rows.c.plan_id == plan_guards.c.plan_id)
            .outerjoin(revoking, revoking.c.plan_id == plan_guards.c.plan_id)
            .where(where)
            .order_by(order)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                GuardedPlan(
                    int(m["plan_id"]),
                    str(m["cause"]),
                    str(m["status"]),
                    tuple(json.loads(m["reasons"])),
                    tuple(json.loads(m["deliberate"])),
                    m["decided_at"],
                    str(m["decided_by"]),
                    m["released_at"],
                    m["released_by"],
                    int(m["n"] or 0),
                    int(m["revocations"] or 0),
                )
                for m in conn.execute(query).mappings()
            ]


def _plan(conn: Connection, plan_id: int) -> None:
    found = conn.execute(
        sa.select(delivery_plans.c.plan_id).where(delivery_plans.c.plan_id == plan_id)
    ).first()
    if found is None:
        raise NotFoundError(f"no delivery plan {plan_id}; `zhida deliveries held` lists them")


def _settle(conn: Connection, plan_id: int, status: str, *, stamp: datetime, by: str) -> bool:
    """Move a held plan to ``status`` in one conditional update: False when it was not held
    (released or discarded already, or never held), so only one caller ever settles it."""
    _plan(conn, plan_id)
    settled = conn.execute(
        plan_guards.update()
        .where(plan_guards.c.plan_id == plan_id, plan_guards.c.status == "held")
        .values(status=status, released_at=stamp, released_by=by)
    ).rowcount
    return bool(settled)


def _held_ids(conn: Connection, plan_id: int) -> list[int]:
    query = sa.select(outbox.c.id).where(outbox.c.plan_id == plan_id, outbox.c.status == "held")
    return [int(i) for i in conn.execute(query.order_by(outbox.c.id)).scalars()]


def _hold_rows(conn: Connection, plan_id: int, keep: Sequence[str] = ()) -> int:
    """Hold the plan's rows no worker has taken, and the ends of grants they would announce.

    ``keep``: policies whose endings a deliberate act made; a row carrying only such endings
    is not held."""
    pending = sa.and_(outbox.c.plan_id == plan_id, outbox.c.status == "pending")
    if keep:
        mine = notices.c.outbox_id == outbox.c.id
        act = sa.and_(notices.c.policy_id.in_(sorted(keep)), notices.c.change == _ENDED)
        only_acts = sa.and_(
            sa.exists().where(mine, act), sa.not_(sa.exists().where(mine, sa.not_(act)))
        )
        pending = sa.and_(pending, sa.not_(only_acts))
    conn.execute(outbox.update().where(pending).values(status="held"))
    held = _held_ids(conn, plan_id)
    _end_grants(conn, held, "ending", "end_held")
    return len(held)


def _end_grants(conn: Connection, row_ids: Sequence[int], before: str, after: str) -> None:
    """Move the grants whose end the rows ``row_ids`` announce from ``before`` to ``after``."""
    for start in range(0, len(row_ids), 5000):
        keys = (
            sa.select(notices.c.item_key)
            .where(
                notices.c.outbox_id.in_(row_ids[start : start + 5000]),
                notices.c.purpose == "revocation_notice",
            )
            .scalar_subquery()
        )
        conn.execute(
            grants.update()
            .where(grants.c.end_notice_key.in_(keys), grants.c.status == before)
            .values(status=after)
        )
