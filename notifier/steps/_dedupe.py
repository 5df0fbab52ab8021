"""Step 2: never the same (subject, policy, version, purpose) twice, and nothing for a new
version that leaves the subject's outcome as it was.

A subject who lost a grant and later regains it is told again: the last thing told differs.

>>> from datetime import UTC, datetime
>>> from notifier.steps._base import Candidate, History, PlanContext, Told
>>> c = Candidate("p", "resident", "x", "v2", "auto_grant", "newly_eligible", None, "eligible",
...               purpose="grant_notice")
>>> told = Told("grant_notice", "v1", "eligible:", datetime(2026, 1, 1, tzinfo=UTC))
>>> ctx = PlanContext(now=datetime(2026, 2, 1, tzinfo=UTC), history=History({("p", "x"): told}))
>>> DedupeStep()((c,), ctx)[0].reason[:40]
'policy version changed (v1 → v2) but the'
"""

from __future__ import annotations

from notifier.steps._base import Candidate, PlanContext

__all__ = ["DedupeStep"]


class DedupeStep:
    name = "dedupe"

    def __call__(
        self, candidates: tuple[Candidate, ...], ctx: PlanContext
    ) -> tuple[Candidate, ...]:
        seen: set[tuple[str, str, str, str]] = set()
        out = []
        for c in candidates:
            if c.decision == "suppressed" or c.purpose is None:
                out.append(c)
                continue
            key = (c.subject_id, c.policy_id, c.policy_version, c.purpose)
            last = ctx.history.last.get((c.subject_id, c.policy_id))
            when = f" on {last.at.astimezone(ctx.tz):%Y-%m-%d}" if last else ""
            if key in seen:
                out.append(c.suppress("the same change appears twice in this plan", step=self.name))
            elif last and last.purpose == c.purpose and last.version == c.policy_version:
                out.append(
                    c.suppress(f"already told ({c.purpose}){when}, same version", step=self.name)
                )
            elif last and last.purpose == c.purpose and last.outcome == c.outcome:
                out.append(
                    c.suppress(
                        f"policy version changed ({last.version[:8]} → {c.policy_version[:8]}) "
                        f"but the outcome is the same as told{when}; nothing new to say",
                        step=self.name,
                    )
                )
            else:
                out.append(c.but(sequence=ctx.history.times.get(key, 0)))
            seen.add(key)
        return tuple(out)
