"""Reach and cost of a reform before it is issued (政策推演, seed 003 §五).

A reform is a catalog compared with a baseline catalog.  For every policy whose rule differs
(added, removed, changed) the simulation reports, on a population as of a date: the eligible
and maybe counts before and after, who becomes eligible and who stops, the cost per benefit
period and per year, the overlap with the other policies in force, the same by group
(district, age band, gender, hukou, household type; firms: size class, industry, district),
and how many of the eligible cannot be reached (no phone or e-mail on file, or opted out).

One pass over the population, batch by batch (tags computed once per batch): each batch gets
the old and the new rule of every changed policy as two status columns beside the subject's
groups and reachability, so before and after are read off the same row — no join of two
match results.  Each changed policy's matched rows are then summed by (group combination,
before/after status, reachable) with costs as integer fen; only these small sums leave the
batch.  Policies that did not change are evaluated once, and only for the overlaps.  Costs
are exact: a year is twelve months of a monthly benefit, one yearly benefit, or one one-off
payment, each side at its own catalog's period.

Modules: ``simulate`` (the pass), ``batch`` (one batch's statuses and sums), ``totals`` (the
report's tables), ``overlap`` (co-occurrences); only the tags the rules read are computed
(``matcher.needed_tags``).
"""

from __future__ import annotations

from simulations.reach._batch import group_columns, reachability, with_missing_fields
from simulations.reach._simulate import Reach, simulate_reach
from simulations.reach._totals import ALL, MEASURES

__all__ = [
    "ALL",
    "MEASURES",
    "Reach",
    "group_columns",
    "reachability",
    "simulate_reach",
    "with_missing_fields",
]
