"""Planning: who is told what, when and how — a pure function of the changes and the context.

Candidates (one per (subject, policy) change of a run diff) pass through ordered steps
(:data:`notifier.steps.DEFAULT_STEPS`: purpose, dedupe, consent, routing, budget, digest, quiet
hours); each step may suppress or defer a candidate and says why.  What survives is grouped into
one message per recipient — a digest — keyed by an idempotency key derived from its items.  A
subject is a unit (a person, a household, a firm); its recipient (the run diff's
``recipient_id``: a household's head, a child's guardian) is who is told, once per unit.

>>> from datetime import UTC, datetime
>>> from notifier.steps import Candidate, Contact, PlanContext
>>> now = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 22:00 in Beijing: SMS quiet hours
>>> offers = (
...     Candidate("p1", "resident", "a", "v1", "auto_grant", "newly_eligible", None, "eligible"),
...     Candidate("p1", "resident", "b", "v1", "proactive_push", "newly_eligible", None,
...               "eligible"),
...     Candidate("p2", "resident", "b", "v1", "proactive_push", "no_longer_eligible",
...               "eligible", None),
... )
>>> result = plan(offers, PlanContext(now=now, contacts={"p1": Contact("p1", phone="138")}))
>>> [(m.subject_id, m.channel, m.purpose, len(m.items)) for m in result.messages]
[('p1', 'sms', 'digest', 2)]
>>> result.messages[0].not_before.isoformat()
'2026-03-03T00:00:00+00:00'
>>> [d.decision for d in result.decisions]
['deferred', 'deferred', 'suppressed']

A household's offer and two children's reach the one person told for them, in one message:

>>> told = (
...     Candidate("h1", "household", "dibao", "v1", "proactive_push", "newly_eligible", None,
...               "eligible", recipient_id="mum"),
...     Candidate("kid1", "resident", "childcare", "v1", "proactive_push", "newly_eligible",
...               None, "eligible", recipient_id="mum"),
...     Candidate("kid2", "resident", "childcare", "v1", "proactive_push", "newly_eligible",
...               None, "eligible", recipient_id="mum"),
... )
>>> noon = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
>>> [(m.subject_id, [c.subject_id for c in m.items]) for m in plan(told,
...     PlanContext(now=noon)).messages]
[('mum', ['kid1', 'kid2', 'h1'])]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from notifier.steps import DEFAULT_STEPS, Candidate, PlanContext, Step, digest_order

__all__ = ["Plan", "PlannedMessage", "candidates_from_changes", "item_key", "plan"]


@dataclass(frozen=True)
class PlannedMessage:
    idempotency_key: str
    subject_id: str  # who is told: the recipient of its items (the items name their subjects)
    subject_type: str
    channel: str
    address: str | None
    locale: str
    not_before: datetime | None  # UTC; None: send now
    items: tuple[Candidate, ...]  # in digest order

    @property
    def purpose(self) -> str:
        purposes = {c.purpose for c in self.items}
        return self.items[0].purpose or "" if len(purposes) == 1 else "digest"


@dataclass(frozen=True)
class Plan:
    decisions: tuple[Candidate, ...]  # every candidate, with its decision and reason
    messages: tuple[PlannedMessage, ...]

    def counts(self) -> dict[str, int]:
        out = {"planned": 0, "deferred": 0, "suppressed": 0}
        for c in self.decisions:
            out[c.decision] += 1
        return out


def _sha(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:40]


def item_key(c: Candidate) -> str:
    """The once-only key of a notice: (subject, policy, version, purpose, times told before)."""
    return _sha(c.subject_id, c.policy_id, c.policy_version, c.purpose, c.sequence)


def plan(
    candidates: Iterable[Candidate], ctx: PlanContext, steps: Sequence[Step] = DEFAULT_STEPS
) -> Plan:
    """Run ``steps`` in order over ``candidates`` and group what survives into messages."""
    decided = tuple(candidates)
    for step in steps:
        decided = step(decided, ctx)
    groups: dict[tuple[str, str, datetime | None], list[Candidate]] = {}
    for c in decided:
        if c.decision != "suppressed":
            groups.setdefault((c.to, c.channel or "inbox", c.not_before), []).append(c)
    messages = []
    for (recipient, channel, not_before), items in groups.items():
        items.sort(key=lambda c: (*digest_order(c), c.subject_id))
        first = items[0]
        key = _sha(channel, recipient, *sorted(item_key(c) for c in items))
        message = PlannedMessage(
            key, recipient, first.to_type, channel, first.address, first.locale,
            not_before, tuple(items),
        )  # fmt: skip
        messages.append(message)
    return Plan(decided, tuple(sorted(messages, key=lambda m: (m.subject_id, m.channel))))


def candidates_from_changes(
    changes: Iterable[Mapping[str, Any]],
    policies: Mapping[str, Any],
    priority: Mapping[tuple[str, str], float] | None = None,
) -> list[Candidate]:
    """Candidates from run-diff rows (``matcher.runs.run_diff`` columns) and the catalog.

    A row's ``recipient_id`` (absent in diffs of runs before units) is who is told.

    ``policies`` maps policy id to a :class:`rules.Policy`; ``priority`` maps (subject, policy)
    to the ranking model's score (missing: 0, i.e. rules-only order by policy id).
    """
    priority = priority or {}
    out = []
    for row in changes:
        policy = policies.get(row["policy_id"])
        if policy is None:
            continue  # a policy no longer in the catalog is not offered
        out.append(
            Candidate(
                subject_id=row["subject_id"],
                subject_type=row["subject_type"],
                policy_id=row["policy_id"],
                policy_version=policy.content_hash,
                mode=policy.mode,
                change=str(row["change"]),
                old_status=row.get("old_status"),
                new_status=row.get("new_status"),
                old_benefit=_decimal(row.get("old_benefit")),
                new_benefit=_decimal(row.get("new_benefit")),
                category=policy.category,
                priority=priority.get((row["subject_id"], row["policy_id"]), 0.0),
                recipient_id=row.get("recipient_id") or None,
            )
        )
    return out


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))
