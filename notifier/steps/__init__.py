"""Planner steps: ordered decisions with one interface (:class:`~notifier.steps._base.Step`).

``DEFAULT_STEPS`` is the order planning runs them in; a deployment adds or replaces a step by
passing its own list to :func:`notifier.planner.plan`.
"""

from __future__ import annotations

from notifier.steps._base import (
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
from notifier.steps._budget import BudgetStep
from notifier.steps._consent import ConsentStep
from notifier.steps._dedupe import DedupeStep
from notifier.steps._digest import DigestStep, digest_order
from notifier.steps._purpose import PurposeStep
from notifier.steps._quiet_hours import QuietHoursStep, next_open
from notifier.steps._routing import RoutingStep

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
    "digest_order",
    "next_open",
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
