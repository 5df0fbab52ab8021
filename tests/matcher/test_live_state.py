"""A subject's state and its re-match: the matcher's rule index is built once per catalog."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

from matcher.events import RuleIndex
from matcher.live.state import SubjectState, rematcher
from profiles.schema import load_schema
from rules.loader import load_catalog

SCHEMA = load_schema()
CATALOG = load_catalog([Path(__file__).resolve().parents[2] / "rules" / "catalog"])
AS_OF = date(2026, 6, 30)


def _state(record: dict[str, object]) -> SubjectState:
    return SubjectState("P1", SCHEMA.resident, {"person_id": "P1", **record}, [], {}, None)


def test_two_requests_share_the_rule_index_and_an_edited_rule_gets_its_own() -> None:
    policies = CATALOG.in_force(AS_OF)
    first = rematcher(_state({}), policies, SCHEMA, AS_OF).index
    assert rematcher(_state({}), policies, SCHEMA, AS_OF).index is first
    edited = [
        dataclasses.replace(p, eligibility='age >= 70 and hukou_city == "北京市"')
        if p.id == "bj-elderly-allowance" else p
        for p in policies
    ]  # fmt: skip
    index = rematcher(_state({}), edited, SCHEMA, AS_OF).index
    assert index is not first and index == RuleIndex.build(edited, SCHEMA.resident)


def test_a_profile_change_is_matched_on_the_rules_given() -> None:
    policies = CATALOG.in_force(AS_OF)
    matcher = rematcher(_state({}), policies, SCHEMA, AS_OF)
    record = {"birth_date": date(1940, 1, 1), "hukou_city": "北京市"}
    changes = matcher.on_profile_change("P1", record)
    assert ("bj-elderly-allowance", "newly_eligible") in [(c.policy_id, c.change) for c in changes]
