"""Planner steps: ordered decisions with one interface (:class:`~notifier.steps.base.Step`).

``DEFAULT_STEPS`` is the order planning runs them in; a deployment adds or replaces a step by
passing its own list to :func:`notifier.planner.plan`.
"""

from __future__ import annotations

from notifier.steps.base import (
    ESSENTIAL,
    PURPOSES,
    Candidate,
    Contact,
    History,
    PlanContext,
    Step,
    Told,
    active,
)
from notifier.steps.budget import BudgetStep
from notifier.steps.consent import ConsentStep
from notifier.steps.dedupe import DedupeStep
from notifier.steps.digest import DigestStep
from notifier.steps.purpose import PurposeStep
from notifier.steps.quiet_hours import QuietHoursStep
from notifier.steps.routing import RoutingStep

__all__ = [
    "DEFAULT_STEPS",
    "ESSENTIAL",
    "PURPOSES",
    "BudgetStep",
    "Candidate",
    "ConsentStep",
    "Contact",
    "DedupeStep",
    "DigestStep",
    "History",
    "PlanContext",
    "PurposeStep",
    "QuietHoursStep",
    "RoutingStep",
    "Step",
    "Told",
    "active",
]

DEFAULT_STEPS: tuple[Step, ...] = (
    PurposeStep(),
    DedupeStep(),
    ConsentStep(),
    RoutingStep(),
    BudgetStep(),
    DigestStep(),
    QuietHoursStep(),
)
