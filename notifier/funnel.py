"""Which offers the deliveries told about and reached: the delivery side of the coverage funnel.

An offer due is a (subject, policy) pair a delivery plan considered telling about: newly
eligible, maybe turned eligible, or newly maybe.  It was *planned* when its notice was planned
or deferred (not suppressed), and *reached* when a message carrying it was delivered.
``zhida report funnel`` compares these stages by group (:func:`matcher.fairness.coverage_funnel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from notifier.tables import notices, outbox

__all__ = ["OFFER_CHANGES", "FunnelStore", "OfferStages"]

# The changes a plan tells a subject about (the others end or change what they already get).
OFFER_CHANGES: Final = ("newly_eligible", "maybe_to_eligible", "newly_maybe")
_PAIRS: Final = {"subject_id": pl.String, "policy_id": pl.String}


@dataclass(frozen=True)
class OfferStages:
    """Distinct ``subject_id, policy_id`` pairs at each stage of delivery."""

    offered: pl.DataFrame
    planned: pl.DataFrame
    reached: pl.DataFrame


class FunnelStore:
    """Reads the notices and the outbox for the funnel; writes nothing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def offer_stages(self) -> OfferStages:
        """The offers due, those planned (not suppressed), and those delivered."""
        offers = notices.c.change.in_(OFFER_CHANGES)
        pairs = sa.select(notices.c.subject_id, notices.c.policy_id).distinct()
        queries = (
            pairs.where(offers),
            pairs.where(offers, notices.c.decision != "suppressed"),
            pairs.select_from(notices.join(outbox, outbox.c.id == notices.c.outbox_id)).where(
                offers, outbox.c.status == "delivered"
            ),
        )
        with self.engine.connect() as conn:
            frames = [
                pl.DataFrame([tuple(r) for r in conn.execute(q)], schema=_PAIRS, orient="row")
                for q in queries
            ]
        return OfferStages(*frames)
