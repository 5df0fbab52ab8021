"""The values planning passes along, and the one interface every planner step implements.

A :class:`Candidate` is one (subject, policy) change from a run diff on its way to becoming a
message — or not.  Each step takes every candidate and the :class:`PlanContext` and returns the
candidates, some of them changed: given a purpose, a channel, a not-before time, or suppressed
with a reason.  A step leaves suppressed candidates alone; :func:`active` picks the others.

>>> c = Candidate("p1", "resident", "bj-x", "v1", "auto_grant", "newly_eligible", None,
...               "eligible", new_benefit=Decimal(100))
>>> c.suppress("opted out of all messages", step="consent").decision
'suppressed'
>>> c.outcome
'eligible:100'

A candidate is one unit's offer (a person, a household, a firm); ``recipient_id`` is who is
told of it (a household's head, a child's guardian), and every per-person decision (contact
points, opt-outs, the week's budget, the digest) is the recipient's:

>>> child = Candidate("kid", "resident", "bj-x", "v1", "proactive_push", "newly_eligible",
...                   None, "eligible", recipient_id="mum")
>>> (child.to, child.to_type, c.to)
('mum', 'resident', 'p1')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Final, Literal, Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "ESSENTIAL",
    "PURPOSES",
    "Candidate",
    "Contact",
    "History",
    "PlanContext",
    "Step",
    "Told",
    "active",
]

Decision = Literal["planned", "deferred", "suppressed"]

PURPOSES: Final = (
    "grant_notice",  # 免申即享: what was granted, why, how to object
    "revocation_notice",  # 免申即享: eligibility lost, benefit ends on a date
    "invitation",  # 服务找人: the reason, what to prepare, where to apply
    "fast_track_invitation",  # 直达快享: a pre-filled application
    "maybe_question",  # the one fact that would settle a maybe
)
# Administrative acts a person must be told about: never dropped by budgets or opt-outs, only
# merged into a digest (and sent to the inbox at least).
ESSENTIAL: Final = frozenset({"grant_notice", "revocation_notice"})


@dataclass(frozen=True)
class Candidate:
    subject_id: str
    subject_type: str
    policy_id: str
    policy_version: str  # the policy's content hash
    mode: str  # auto_grant | proactive_push | fast_track
    change: str  # a matcher.runs.CHANGES value
    old_status: str | None
    new_status: str | None
    old_benefit: Decimal | None = None
    new_benefit: Decimal | None = None
    category: str | None = None
    priority: float = 0.0  # from the ranking model; higher is told first
    purpose: str | None = None
    channel: str | None = None
    address: str | None = None
    locale: str = "zh"
    not_before: datetime | None = None  # UTC; None: now
    decision: Decision = "planned"
    reason: str = ""
    step: str = ""  # the step that decided the reason
    sequence: int = 0  # how many times this (subject, policy, version, purpose) was told before
    notes: tuple[str, ...] = ()  # what else steps noted (e.g. why not SMS)
    recipient_id: str | None = None  # who is told; None: the subject itself

    @property
    def to(self) -> str:
        """Who is told: the recipient, else the subject itself."""
        return self.recipient_id or self.subject_id

    @property
    def to_type(self) -> str:
        """The recipient's kind: the subject's own, or a resident told for another subject (a
        household's head, a child's guardian)."""
        return self.subject_type if self.to == self.subject_id else "resident"

    @property
    def outcome(self) -> str:
        """What the subject ends up with: status and benefit (``none`` when not eligible)."""
        if self.new_status is None:
            return "none"
        benefit = "" if self.new_benefit is None else f"{self.new_benefit.normalize():f}"
        return f"{self.new_status}:{benefit}"

    @property
    def essential(self) -> bool:
        return self.purpose in ESSENTIAL

    def suppress(self, reason: str, *, step: str) -> Candidate:
        return dataclasses.replace(self, decision="suppressed", reason=reason, step=step)

    def but(self, **changes: object) -> Candidate:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Contact:
    """How to reach a subject and what they agreed to."""

    subject_id: str
    phone: str | None = None
    email: str | None = None
    webhook_url: str | None = None
    locale: str = "zh"
    channels: tuple[str, ...] = ()  # preference order; empty: the default order
    opt_out_channels: frozenset[str] = frozenset()
    opt_out_categories: frozenset[str] = frozenset()  # "*": every invitation

    def address(self, channel: str) -> str | None:
        return {"sms": self.phone, "email": self.email, "webhook": self.webhook_url}.get(channel)


@dataclass(frozen=True)
class Told:
    """The last thing a subject was told about a policy."""

    purpose: str
    version: str
    outcome: str
    at: datetime


@dataclass(frozen=True)
class History:
    """What was told before: the last notice per (subject, policy), counts, the week's sends."""

    last: Mapping[tuple[str, str], Told] = field(default_factory=dict)
    times: Mapping[tuple[str, str, str, str], int] = field(default_factory=dict)
    sent_this_week: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanContext:
    now: datetime  # aware
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    contacts: Mapping[str, Contact] = field(default_factory=dict)
    history: History = field(default_factory=History)
    weekly_budget: int = 2  # messages per person per week, across policies and channels
    digest_max_items: int = 5  # offers per message; essential notices always fit
    # Per channel, local (start, end) of the quiet window; it may wrap midnight.
    quiet_hours: Mapping[str, tuple[time, time]] = field(
        default_factory=lambda: {"sms": (time(21, 0), time(8, 0))}
    )
    channels: frozenset[str] = frozenset({"inbox", "sms", "email", "webhook"})  # configured

    @property
    def now_utc(self) -> datetime:
        return self.now.astimezone(UTC)


class Step(Protocol):
    """One planning decision; ``name`` appears in every reason it records."""

    name: str

    def __call__(
        self, candidates: tuple[Candidate, ...], ctx: PlanContext
    ) -> tuple[Candidate, ...]: ...


def active(candidates: tuple[Candidate, ...]) -> list[Candidate]:
    """The candidates no step has suppressed."""
    return [c for c in candidates if c.decision != "suppressed"]
