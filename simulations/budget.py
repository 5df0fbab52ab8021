"""Privacy budgets: what each user has spent, the releases they were charged for, and resets.

A *release* is one answer made of noisy figures (a dry-run of one document on one population
snapshot, catalog and date; a run's reach per policy; a run's reach by group).  It is noised
once and kept (``privacy_releases``), so the same question asked again gets the same answer —
asking again teaches nothing new and costs nothing.  The first time a user receives a release
their budget is charged its ε (``privacy_spend``, one row per user and release); a user whose
spend today (UTC) or since their last reset would pass the caps of
:class:`simulations.privacy.PrivacyParameters` is refused (:class:`BudgetSpentError`, 429) with
what is left.  Only an admin resets a user's budget (``privacy_resets``; the API audits it).
Migration 0013 creates the tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.errors import ValidationError, ZhidaError
from simulations.privacy import DEFAULT, PrivacyParameters

__all__ = [
    "REASON_MIN",
    "BudgetSpentError",
    "NotRunError",
    "PrivacyBudget",
    "Spent",
    "check_reason",
    "metadata",
    "privacy_releases",
    "privacy_resets",
    "privacy_spend",
]

metadata = sa.MetaData()
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

privacy_releases = sa.Table(
    "privacy_releases",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),  # dry_run | reach | reach_by_group | …
    sa.Column("epsilon", sa.Float, nullable=False),
    sa.Column("figures", sa.Text, nullable=False),  # JSON, as released
    sa.Column("created_at", sa.DateTime, nullable=False),
)

privacy_spend = sa.Table(
    "privacy_spend",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("release_key", sa.String(200), nullable=False),
    sa.Column("epsilon", sa.Float, nullable=False),
    sa.Column("spent_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("username", "release_key", name="uq_privacy_spend_user_release"),
)

privacy_resets = sa.Table(
    "privacy_resets",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("reset_by", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reset_at", sa.DateTime, nullable=False),
)

_EPOCH: Final = datetime(1970, 1, 1)


class BudgetSpentError(ZhidaError, PermissionError):
    """A release would take a user past their daily or lifetime privacy budget."""

    http_status = 429


class NotRunError(ZhidaError, LookupError):
    """A preview asked for without an explicit run, whose figures this user has not received."""

    http_status = 409


@dataclass(frozen=True)
class Spent:
    """One user's privacy budget: ε spent today (UTC) and since their last reset."""

    username: str
    today: float
    lifetime: float
    daily_cap: float
    lifetime_cap: float
    releases: int
    last_reset: datetime | None

    @property
    def left(self) -> float:
        """The ε this user may still spend today."""
        return max(0.0, min(self.daily_cap - self.today, self.lifetime_cap - self.lifetime))


# The shortest reason a reset takes: it is kept in the audit log, so it must say something.
REASON_MIN: Final = 10


def check_reason(reason: str) -> str:
    """``reason`` stripped, or a :class:`ValidationError` saying what a reset needs.

    >>> check_reason("  auditor asked for a new quarter  ")
    'auditor asked for a new quarter'
    >>> check_reason("because")
    Traceback (most recent call last):
    ...
    core.errors.ValidationError: a reset needs a reason of at least 10 characters (it is kept in \
the audit log); say why this user may learn more
    """
    reason = reason.strip()
    if len(reason) < REASON_MIN:
        raise ValidationError(
            f"a reset needs a reason of at least {REASON_MIN} characters (it is kept in the "
            "audit log); say why this user may learn more"
        )
    return reason


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class PrivacyBudget:
    """The releases kept and the budgets spent, in the database."""

    def __init__(self, engine: Engine, params: PrivacyParameters = DEFAULT) -> None:
        self.engine = engine
        self.params = params

    def release(self, key: str) -> dict[str, Any] | None:
        """The figures of a kept release, None when it was never made."""
        with self.engine.connect() as conn:
            text = conn.execute(
                sa.select(privacy_releases.c.figures).where(privacy_releases.c.key == key)
            ).scalar()
        return json.loads(text) if text is not None else None

    def keep(self, key: str, kind: str, epsilon: float, figures: dict[str, Any]) -> dict[str, Any]:
        """Keep a release; when another request kept one under ``key`` first, that one wins
        (everyone sees the same noisy figures)."""
        text = json.dumps(figures, ensure_ascii=False, default=str)
        row = {
            "key": key, "kind": kind, "epsilon": epsilon, "created_at": _now(), "figures": text,
        }  # fmt: skip
        try:
            with self.engine.begin() as conn:
                conn.execute(privacy_releases.insert().values(**row))
        except IntegrityError:
            first = self.release(key)
            assert first is not None
            return first
        kept: dict[str, Any] = json.loads(text)
        return kept

    def charged(self, username: str, key: str) -> bool:
        """Whether ``username`` already received (and paid for) release ``key``."""
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(privacy_spend.c.id).where(
                        privacy_spend.c.username == username, privacy_spend.c.release_key == key
                    )
                ).first()
                is not None
            )

    def spent(self, username: str, now: datetime | None = None) -> Spent:
        """What ``username`` has spent today and since their last reset."""
        now = now or _now()
        with self.engine.connect() as conn:
            reset = conn.execute(
                sa.select(sa.func.max(privacy_resets.c.reset_at)).where(
                    privacy_resets.c.username == username
                )
            ).scalar()
            since = reset or _EPOCH
            day = datetime.combine(now.date(), datetime.min.time())
            mine = privacy_spend.c.username == username
            lifetime, count = conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(privacy_spend.c.epsilon), 0.0),
                    sa.func.count(privacy_spend.c.id),
                ).where(mine, privacy_spend.c.spent_at >= since)
            ).one()
            today = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(privacy_spend.c.epsilon), 0.0)).where(
                    mine, privacy_spend.c.spent_at >= max(since, day)
                )
            ).scalar()
        return Spent(
            username, round(float(today or 0), 6), round(float(lifetime or 0), 6),
            self.params.daily_cap, self.params.lifetime_cap, int(count), reset,
        )  # fmt: skip

    def afford(self, username: str, epsilon: float, now: datetime | None = None) -> None:
        """Raise :class:`BudgetSpentError` when ``epsilon`` more would pass a cap."""
        s = self.spent(username, now)
        if s.today + epsilon > s.daily_cap + 1e-9:
            raise BudgetSpentError(
                f"your privacy budget for today is spent: this answer costs ε={epsilon:g} and "
                f"{max(0.0, s.daily_cap - s.today):.2f} of the daily {s.daily_cap:g} is left "
                "until 00:00 UTC; answers you already received are shown again free"
            )
        if s.lifetime + epsilon > s.lifetime_cap + 1e-9:
            raise BudgetSpentError(
                f"your lifetime privacy budget is spent: this answer costs ε={epsilon:g} and "
                f"{max(0.0, s.lifetime_cap - s.lifetime):.2f} of {s.lifetime_cap:g} is left; "
                "only an admin can reset it (POST /api/v1/privacy/budgets/{user}/reset, audited)"
            )

    def charge(self, username: str, key: str, epsilon: float, now: datetime | None = None) -> bool:
        """Charge ``username`` for release ``key`` once; False when already charged."""
        if self.charged(username, key):
            return False
        self.afford(username, epsilon, now)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    privacy_spend.insert().values(
                        username=username, release_key=key, epsilon=epsilon,
                        spent_at=now or _now(),
                    )
                )  # fmt: skip
        except IntegrityError:
            return False  # a concurrent identical request charged it
        return True

    def answer(
        self,
        username: str,
        key: str,
        kind: str,
        epsilon: float,
        compute: Callable[[], dict[str, Any]],
        *,
        run: bool = True,
    ) -> tuple[dict[str, Any], bool]:
        """The release ``key`` for ``username`` and whether it was kept from before: the kept
        figures if any (charging a user who had not received them), else — on an explicit
        ``run`` that the budget affords — ``compute()``'s figures, kept and charged."""
        kept = self.release(key)
        if kept is not None and self.charged(username, key):
            return kept, True
        if not run:
            raise NotRunError(
                f"this has not been run for you yet: run it explicitly (it costs ε={epsilon:g} "
                f"of your privacy budget, {self.spent(username).left:.2f} left today)"
            )
        self.afford(username, epsilon)
        figures = kept if kept is not None else self.keep(key, kind, epsilon, compute())
        self.charge(username, key, epsilon)
        return figures, kept is not None

    def budgets(self, now: datetime | None = None) -> list[Spent]:
        """Every user who ever spent budget, most spent today first."""
        with self.engine.connect() as conn:
            users = conn.execute(sa.select(privacy_spend.c.username).distinct()).scalars().all()
        found = [self.spent(u, now) for u in users]
        return sorted(found, key=lambda s: (-s.today, s.username))

    def reset(self, username: str, by: str, reason: str, now: datetime | None = None) -> Spent:
        """Start ``username``'s budget afresh (the caller audits it); returns the budget
        before the reset.  A reason under :data:`REASON_MIN` characters is refused."""
        reason = check_reason(reason)
        before = self.spent(username, now)
        with self.engine.begin() as conn:
            conn.execute(
                privacy_resets.insert().values(
                    username=username, reset_by=by, reason=reason, reset_at=now or _now()
                )
            )
        return before
