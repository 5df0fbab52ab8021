"""Step 1: what to tell, from the policy's mode and the change in the subject's outcome.

>>> from notifier.steps._base import Candidate
>>> c = Candidate("p", "resident", "x", "v", "fast_track", "newly_eligible", None, "eligible")
>>> purpose_of(c)
('fast_track_invitation', '')
>>> purpose_of(c.but(mode="proactive_push", change="no_longer_eligible", old_status="eligible",
...                  new_status=None))[0] is None
True
"""

from __future__ import annotations

from notifier.steps._base import Candidate, PlanContext

__all__ = ["PurposeStep", "purpose_of"]

_OFFER = {
    "auto_grant": "grant_notice",
    "proactive_push": "invitation",
    "fast_track": "fast_track_invitation",
}


def purpose_of(c: Candidate) -> tuple[str | None, str]:
    """The purpose for ``c``, or ``None`` and the reason nothing is to be said."""
    if c.change in ("newly_eligible", "maybe_to_eligible"):
        offer = _OFFER.get(c.mode)
        return offer, "" if offer else f"unknown mode {c.mode!r}"
    if c.change == "newly_maybe":
        return "maybe_question", ""
    if c.change == "no_longer_eligible":
        if c.mode == "auto_grant" and c.old_status == "eligible":
            return "revocation_notice", ""
        return None, "no longer eligible, but nothing was granted: there is nothing to withdraw"
    if c.change == "eligible_to_maybe":
        if c.mode == "auto_grant":
            # The grant stands until the unknown fact is settled; ask for it.
            return "maybe_question", ""
        return None, "already invited; a fact became unknown, which changes nothing to say"
    if c.change == "benefit_changed":
        if c.mode == "auto_grant" and c.new_status == "eligible":
            return "grant_notice", ""
        return None, "the amount changed but the invitation already sent still holds"
    return None, f"unknown change {c.change!r}"


class PurposeStep:
    name = "purpose"

    def __call__(
        self, candidates: tuple[Candidate, ...], ctx: PlanContext
    ) -> tuple[Candidate, ...]:
        out = []
        for c in candidates:
            if c.decision == "suppressed":
                out.append(c)
                continue
            purpose, why = purpose_of(c)
            out.append(c.but(purpose=purpose) if purpose else c.suppress(why, step=self.name))
        return tuple(out)
