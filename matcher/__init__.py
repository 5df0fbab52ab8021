"""Matcher: whole-population matching in batches, catalog diffs (ranking and events to come)."""

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
from matcher.ranking import RANKED_SCHEMA, rank_offers

__all__ = [
    "MATCH_SCHEMA",
    "RANKED_SCHEMA",
    "catalog_changes",
    "find_subject",
    "match_batches",
    "match_frame",
    "match_population",
    "plan_policies",
    "rank_offers",
    "reach_diff",
    "scan_population",
    "subject_changes",
    "write_pairs",
]
