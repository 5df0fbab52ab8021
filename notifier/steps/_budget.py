"""Step 5: one contact budget per person per week, across policies and channels.

The person is the recipient: a mother told of two children's offers has one budget.

A person already sent ``weekly_budget`` messages in the last seven days gets no invitation
now; grant and revocation notices are never dropped — they go out, merged into one message.

>>> from datetime import UTC, datetime
>>> from notifier.steps._base import Candidate, History, PlanContext
>>> c = Candidate("p", "resident", "x", "v", "proactive_push", "newly_eligible", None,
...               "eligible", purpose="invitation")
>>> ctx = PlanContext(now=datetime(2026, 1, 1, tzinfo=UTC), history=History(
...     sent_this_week={"p": 2}))
>>> BudgetStep()((c, c.but(purpose="grant_notice")), ctx)[0].reason
'weekly contact budget used: 2 of 2 messages in the last 7 days'
>>> BudgetStep()((c, c.but(purpose="grant_notice")), ctx)[1].decision
'planned'
"""

from __future__ import annotations

from notifier.steps._base import Candidate, PlanContext

__all__ = ["BudgetStep"]


class BudgetStep:
    name = "budget"

    def __call__(
        self, candidates: tuple[Candidate, ...], ctx: PlanContext
    ) -> tuple[Candidate, ...]:
        out = []
        for c in candidates:
            used = ctx.history.sent_this_week.get(c.to, 0)
            if c.decision == "suppressed" or c.essential or used < ctx.weekly_budget:
                out.append(c)
            else:
                out.append(
                    c.suppress(
                        f"weekly contact budget used: {used} of {ctx.weekly_budget} messages "
                        "in the last 7 days",
                        step=self.name,
                    )
                )
        return tuple(out)
