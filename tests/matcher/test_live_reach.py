"""How far a resident's event reaches, decided from the rules in force (matcher.live.reach)."""

from __future__ import annotations

from datetime import date

import pytest

from matcher.live.reach import event_reach
from profiles.schema import load_schema
from rules.policy import Policy

SCHEMA = load_schema()


def _policy(pid: str, eligibility: str, **more: str) -> Policy:
    return Policy(id=pid, title=pid, department="民政", audience="resident",
                  mode="proactive_push", eligibility=eligibility, valid_from=date(2024, 1, 1),
                  **more)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize(
    ("policies", "changed", "dead", "expected"),
    [
        # No rule reads the tag the event changed: no pair changes.
        ([_policy("p", '"new_parent" in tags')], {"recently_retired"}, False, "none"),
        ([_policy("p", '"new_parent" in tags')], set(), False, "none"),
        # A person's own policy reads it: the person alone is matched again.
        ([_policy("p", '"new_parent" in tags and age >= 18')], {"new_parent"}, False, "self"),
        # A household's policy reads it: every unit the links reach.
        ([_policy("h", '"new_parent" in tags', unit="household")], {"new_parent"}, False,
         "links"),
        # A tag read through the members of a household reaches the others.
        ([_policy("m", 'household.members_count("new_parent" in tags) >= 1')], {"x"}, False,
         "links"),
        # A death always reaches the household and the employers.
        ([_policy("p", "age >= 18")], set(), True, "links"),
    ],
)  # fmt: skip
def test_an_event_reaches_as_far_as_the_rules_reading_its_tags(
    policies: list[Policy], changed: set[str], dead: bool, expected: str
) -> None:
    assert event_reach(policies, SCHEMA).of(changed, dead=dead) == expected
