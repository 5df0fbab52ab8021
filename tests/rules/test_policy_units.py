"""Policy keys ``unit`` and ``recipient``: who a benefit belongs to and who is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.loader import CatalogError, load_catalog
from rules.policy import Policy

GOOD = """\
id: test-childcare
title: 育儿补贴
department: 测试局
audience: resident
mode: proactive_push
eligibility: age < 3
benefit: '3600'
benefit_period: year
valid_from: 2025-01-01
"""


def load(tmp_path: Path, text: str) -> Policy:
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    (policy,) = load_catalog([tmp_path]).policies
    return policy


def problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    return [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems]


def test_without_the_keys_a_benefit_is_the_subjects_own_and_told_to_them(
    tmp_path: Path,
) -> None:
    policy = load(tmp_path, GOOD)
    assert (policy.unit, policy.recipient) == (None, None)
    assert (policy.unit_kind, policy.recipient_kind) == ("person", "self")


def test_a_child_benefit_told_to_its_guardian_loads(tmp_path: Path) -> None:
    policy = load(tmp_path, GOOD + "unit: person\nrecipient: guardian\n")
    assert (policy.unit_kind, policy.recipient_kind) == ("person", "guardian")
    assert policy.to_dict()["recipient"] == "guardian"


def test_a_household_unit_is_told_to_the_head_by_default(tmp_path: Path) -> None:
    policy = load(tmp_path, GOOD + "unit: household\n")
    assert (policy.unit_kind, policy.recipient_kind) == ("household", "head")


def test_declaring_the_keys_changes_the_version_but_old_versions_keep_their_hash(
    tmp_path: Path,
) -> None:
    plain = load(tmp_path, GOOD)
    told = load(tmp_path, GOOD + "recipient: guardian\n")
    assert plain.content_hash != told.content_hash
    # The hash of a policy without the keys is what it was before they existed.
    import hashlib
    import json

    rule = {
        "audience": "resident", "eligibility": "age < 3", "benefit": "3600",
        "benefit_period": "year", "valid_from": "2025-01-01", "valid_until": None,
    }  # fmt: skip
    expected = hashlib.sha256(json.dumps(rule, sort_keys=True).encode()).hexdigest()
    assert plain.content_hash == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("unit: family\n", "a.yaml:10:7: unit 'family' is not one of person, household"),
        ("recipient: parent\n", "a.yaml:10:12: recipient 'parent' is not one of self, head"),
        ("unit: enterprise\n", "a.yaml:10:7: a resident policy's benefit belongs to the person"),
        (
            "unit: household\nrecipient: guardian\n",
            "a.yaml:11:12: a household benefit is told to the household's head",
        ),
        (
            "unit: household\nrecipient: self\n",
            "use recipient: head, or drop recipient",
        ),
    ],
)
def test_a_unit_or_recipient_that_does_not_fit_is_refused_at_its_place(
    tmp_path: Path, extra: str, expected: str
) -> None:
    found = problems(tmp_path, GOOD + extra)
    assert any(p.startswith(expected) or expected in p for p in found), found


def test_an_enterprise_benefit_is_told_to_the_firm(tmp_path: Path) -> None:
    text = (
        GOOD.replace("audience: resident", "audience: enterprise").replace(
            "age < 3", "employees >= 1"
        )
        + "recipient: head\n"
    )
    (found,) = problems(tmp_path, text)
    assert found.startswith("a.yaml:10:12: an enterprise policy with unit enterprise is told")
    assert "drop recipient: head (allowed: self)" in found
