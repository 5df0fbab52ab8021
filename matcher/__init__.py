"""Matcher: whole-population matching in batches, catalog diffs.

Ranking (``matcher.ranking``), sharded runs (``matcher.shards``), event-driven matching
(``matcher.events``) and fairness (``matcher.fairness``) are imported from their own modules:
importing them here would put scikit-learn and the broker on every command's start-up.
"""

from matcher.batch import (
    MATCH_SCHEMA,
    match_batches,
    match_frame,
    match_population,
    plan_policies,
    write_pairs,
)
from matcher.diff import catalog_changes, reach_diff, subject_changes
from matcher.population import find_subject, scan_population

__all__ = [
    "MATCH_SCHEMA",
    "catalog_changes",
    "find_subject",
    "match_batches",
    "match_frame",
    "match_population",
    "plan_policies",
    "reach_diff",
    "scan_population",
    "subject_changes",
    "write_pairs",
]
