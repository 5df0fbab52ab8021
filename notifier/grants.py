"""免申即享 grants: the record of what was granted and why, its end, and objections to it.

A grant is opened when a subject becomes eligible for an ``auto_grant`` policy, in the same
transaction as the notice that tells them; it carries the policy version, the benefit, the start
date and the evidence (the explanation, clause by clause).  Losing eligibility never claws back
silently: the grant gets an end date a notice period ahead and the subject a notice saying so.
An objection (or a decline) within the window is recorded and routed to the department, whose
officer answers it; the subject reads the answer.

>>> from datetime import date
>>> objection_deadline(date(2026, 3, 1), None), end_date_after(date(2026, 3, 1))
(datetime.date(2026, 3, 31), datetime.date(2026, 3, 31))
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import NotFoundError, ValidationError
from notifier.tables import grants, objections

__all__ = [
    "DEFAULT_NOTICE_DAYS",
    "Grant",
    "GrantStore",
    "Objection",
    "end_date_after",
    "objection_deadline",
]

# Days between a revocation notice and the end of the benefit, and the default objection
# window (行政复议 gives 60 days to apply for review; 30 days to object to the grant office is
# the modelled default a policy's `objection_days` overrides).
DEFAULT_NOTICE_DAYS = 30


def objection_deadline(start: date, days: int | None) -> date:
    return start + timedelta(days=days if days is not None else DEFAULT_NOTICE_DAYS)


def end_date_after(notified: date, days: int = DEFAULT_NOTICE_DAYS) -> date:
    """The last day a lost grant is still paid: a notice period after the notice."""
    return notified + timedelta(days=days)


@dataclass(frozen=True)
class Grant:
    id: int
    subject_id: str
    policy_id: str
    policy_version: str
    benefit: Decimal | None
    benefit_period: str | None
    start_date: date
    end_date: date | None
    objection_until: date
    status: str  # active | ending | objected
    department: str
    evidence: Mapping[str, Any]


@dataclass(frozen=True)
class Objection:
    id: int
    grant_id: int
    kind: str  # objection | decline
    text: str
    received_at: datetime
    department: str
    status: str  # routed | answered
    answer: str | None = None  # the department's answer, which the subject reads
    answered_by: str | None = None
    answered_at: datetime | None = None


def _objection(m: Mapping[Any, Any]) -> Objection:
    return Objection(
        int(m["id"]), int(m["grant_id"]), m["kind"], m["text"], m["received_at"],
        m["department"], m["status"], m["answer"], m["answered_by"], m["answered_at"],
    )  # fmt: skip


def _grant(m: Mapping[Any, Any]) -> Grant:
    return Grant(
        id=int(m["id"]), subject_id=m["subject_id"], policy_id=m["policy_id"],
        policy_version=m["policy_version"],
        benefit=None if m["benefit"] is None else Decimal(m["benefit"]),
        benefit_period=m["benefit_period"], start_date=m["start_date"], end_date=m["end_date"],
        objection_until=m["objection_until"], status=m["status"], department=m["department"],
        evidence=json.loads(m["evidence"]),
    )  # fmt: skip


class GrantStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def open(
        conn: Connection, *, subject_id: str, subject_type: str, policy_id: str,
        policy_version: str, benefit: Decimal | None, benefit_period: str | None,
        start: date, objection_until: date, department: str, evidence: Mapping[str, Any],
        notice_key: str, now: datetime,
    ) -> None:  # fmt: skip
        """Record a grant in the caller's transaction (the one that plans its notice).

        A grant already open for the subject and policy is amended (new version and benefit
        from ``start``) rather than doubled.
        """
        current = conn.execute(
            sa.select(grants.c.id).where(
                grants.c.subject_id == subject_id,
                grants.c.policy_id == policy_id,
                grants.c.status.in_(("active", "objected")),
            )
        ).first()
        if current is not None:
            conn.execute(
                grants.update()
                .where(grants.c.id == current[0])
                .values(status="superseded", end_date=start - timedelta(days=1))
            )
        conn.execute(
            grants.insert().values(
                subject_id=subject_id,
                subject_type=subject_type,
                policy_id=policy_id,
                policy_version=policy_version,
                benefit=benefit,
                benefit_period=benefit_period,
                start_date=start,
                objection_until=objection_until,
                evidence=json.dumps(evidence, ensure_ascii=False, default=str),
                status="active",
                department=department,
                notice_key=notice_key,
                created_at=now.astimezone(UTC).replace(tzinfo=None),
            )
        )

    @staticmethod
    def end(
        conn: Connection, *, subject_id: str, policy_id: str, end_date: date, notice_key: str
    ) -> bool:
        """Give the open grant of (subject, policy) an end date; False if none is open."""
        return bool(
            conn.execute(
                grants.update()
                .where(
                    grants.c.subject_id == subject_id,
                    grants.c.policy_id == policy_id,
                    grants.c.status.in_(("active", "objected")),
                )
                .values(status="ending", end_date=end_date, end_notice_key=notice_key)
            ).rowcount
        )

    def of(self, subject_id: str) -> list[Grant]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(grants).where(grants.c.subject_id == subject_id).order_by(grants.c.id)
            ).mappings()
            return [_grant(r) for r in rows]

    def get(self, grant_id: int) -> Grant:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(grants).where(grants.c.id == grant_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no grant {grant_id}")
        return _grant(row)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(grants.c.status, sa.func.count()).group_by(grants.c.status)
            )
            return {s: int(n) for s, n in rows}

    def object(self, grant_id: int, text: str, *, kind: str, now: datetime) -> Objection:
        """Record an objection to (or a decline of) a grant and route it to its department."""
        if kind not in ("objection", "decline"):
            raise ValidationError(f"kind {kind!r} is not 'objection' or 'decline'")
        if not text.strip():
            raise ValidationError("an objection needs a text saying what is wrong")
        grant = self.get(grant_id)
        received = now.astimezone(UTC).replace(tzinfo=None)
        with self.engine.begin() as conn:
            new_id = conn.execute(
                objections.insert().values(
                    grant_id=grant_id,
                    kind=kind,
                    text=text,
                    received_at=received,
                    department=grant.department,
                    status="routed",
                )
            ).inserted_primary_key
            conn.execute(grants.update().where(grants.c.id == grant_id).values(status="objected"))
        assert new_id is not None
        return Objection(int(new_id[0]), grant_id, kind, text, received, grant.department, "routed")

    def objections(self, department: str | None = None) -> list[Objection]:
        query = sa.select(objections).order_by(objections.c.id)
        if department is not None:
            query = query.where(objections.c.department == department)
        with self.engine.connect() as conn:
            return [_objection(m) for m in conn.execute(query).mappings()]

    def objections_of(self, subject_id: str) -> list[Objection]:
        """The objections and declines a subject made to its grants, oldest first."""
        query = (
            sa.select(objections)
            .join(grants, grants.c.id == objections.c.grant_id)
            .where(grants.c.subject_id == subject_id)
            .order_by(objections.c.id)
        )
        with self.engine.connect() as conn:
            return [_objection(m) for m in conn.execute(query).mappings()]

    def objection(self, objection_id: int) -> Objection:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(objections).where(objections.c.id == objection_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"no objection {objection_id}; list the objections routed to you")
        return _objection(row)

    def answer(self, objection_id: int, text: str, *, by: str, now: datetime) -> Objection:
        """Record the department's answer to an objection; the subject reads it.

        An answer may be corrected: answering again replaces the text, who and when.
        """
        if not text.strip():
            raise ValidationError(
                "an answer needs a text telling the resident what was decided and why"
            )
        self.objection(objection_id)  # a clear 404 for an id that does not exist
        with self.engine.begin() as conn:
            conn.execute(
                objections.update()
                .where(objections.c.id == objection_id)
                .values(
                    answer=text.strip(),
                    answered_by=by,
                    answered_at=now.astimezone(UTC).replace(tzinfo=None),
                    status="answered",
                )
            )
        return self.objection(objection_id)
