"""Notifier: push planning, the outbox ledger, workers, channels.

Planning is pure (:func:`plan` over :class:`Candidate` values and a :class:`PlanContext`, in
the ordered :data:`DEFAULT_STEPS`); :func:`plan_changes` is its edge that records a plan in
the ledger; the ``deliver`` actor (``notifier.actors``, imported by workers) sends it.
"""

from notifier.contacts import ContactStore
from notifier.dispatch import PlanSummary, plan_changes
from notifier.grants import Grant, GrantStore, Objection
from notifier.outbox import LedgerRow, Outbox
from notifier.planner import Plan, PlannedMessage, plan
from notifier.steps import DEFAULT_STEPS, Candidate, Contact, History, PlanContext, Step

__all__ = [
    "DEFAULT_STEPS",
    "Candidate",
    "Contact",
    "ContactStore",
    "Grant",
    "GrantStore",
    "History",
    "LedgerRow",
    "Objection",
    "Outbox",
    "Plan",
    "PlanContext",
    "PlanSummary",
    "PlannedMessage",
    "Step",
    "plan",
    "plan_changes",
]
