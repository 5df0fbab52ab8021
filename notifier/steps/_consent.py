"""Step 3: opt-outs per category (and "*" for every invitation).

Grant and revocation notices are administrative acts: an opt-out cannot silence them, so they
are kept (the routing step still honours channel opt-outs and falls back to the inbox).

>>> from datetime import UTC, datetime
>>> from notifier.steps._base import Candidate, Contact, PlanContext
>>> c = Candidate("p", "resident", "x", "v", "proactive_push", "newly_eligible", None,
...               "eligible", category="就业", purpose="invitation")
>>> ctx = PlanContext(now=datetime(2026, 1, 1, tzinfo=UTC),
...                   contacts={"p": Contact("p", opt_out_categories=frozenset({"就业"}))})
>>> ConsentStep()((c,), ctx)[0].reason
'opted out of invitations in category 就业'
"""

from __future__ import annotations

from notifier.steps._base import Candidate, PlanContext

__all__ = ["ConsentStep"]


class ConsentStep:
    name = "consent"

    def __call__(
        self, candidates: tuple[Candidate, ...], ctx: PlanContext
    ) -> tuple[Candidate, ...]:
        out = []
        for c in candidates:
            contact = ctx.contacts.get(c.to)
            if c.decision == "suppressed" or contact is None or c.essential:
                out.append(c)
            elif "*" in contact.opt_out_categories:
                out.append(c.suppress("opted out of all invitations", step=self.name))
            elif c.category and c.category in contact.opt_out_categories:
                out.append(
                    c.suppress(f"opted out of invitations in category {c.category}", step=self.name)
                )
            else:
                out.append(c)
        return tuple(out)
