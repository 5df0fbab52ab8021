"""Step 6: several offers for one person in one message, the most important first.

The person is the recipient: a household's offer and a child's reach the one who is told in
one message with their own offers.

The order is essential notices, then priority (the ranking model's, or rules-only when
personalisation is off), then policy id.  Beyond ``digest_max_items`` further invitations are
dropped with the reason; essential notices always fit.

>>> from datetime import UTC, datetime
>>> from notifier.steps._base import Candidate, PlanContext
>>> offers = tuple(Candidate("p", "resident", f"x{i}", "v", "proactive_push", "newly_eligible",
...                None, "eligible", purpose="invitation", priority=i) for i in range(3))
>>> out = DigestStep()(offers, PlanContext(now=datetime(2026, 1, 1, tzinfo=UTC),
...                                        digest_max_items=2))
>>> [(c.policy_id, c.decision) for c in out]
[('x2', 'planned'), ('x1', 'planned'), ('x0', 'suppressed')]
"""

from __future__ import annotations

from collections import defaultdict

from notifier.steps._base import Candidate, PlanContext

__all__ = ["DigestStep", "digest_order"]


def digest_order(c: Candidate) -> tuple[bool, float, str]:
    return (not c.essential, -c.priority, c.policy_id)


class DigestStep:
    name = "digest"

    def __call__(
        self, candidates: tuple[Candidate, ...], ctx: PlanContext
    ) -> tuple[Candidate, ...]:
        by_subject: dict[str, list[Candidate]] = defaultdict(list)
        done: list[Candidate] = []
        for c in candidates:
            (done if c.decision == "suppressed" else by_subject[c.to]).append(c)
        out = []
        for items in by_subject.values():
            items.sort(key=digest_order)
            for rank, c in enumerate(items):
                if rank < ctx.digest_max_items or c.essential:
                    out.append(c)
                else:
                    out.append(
                        c.suppress(
                            f"digest limit: {ctx.digest_max_items} more important offers are "
                            "in this message",
                            step=self.name,
                        )
                    )
        return tuple(out + done)
