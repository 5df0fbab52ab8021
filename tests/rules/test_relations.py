"""rules.relations: reading declarations, finding duplicates, keeping one of exclusive policies."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import polars as pl
import pytest

from rules.policy import Policy
from rules.relations import (
    Relation,
    apply_exclusions,
    check_declared,
    duplicates_of,
    read_relations,
    undeclared,
)


def _policy(pid: str, eligibility: str, **kw: Any) -> Policy:
    return Policy(
        id=pid, title=pid, department=kw.pop("department", "北京市民政局"),
        audience=kw.pop("audience", "resident"), mode="auto_grant", eligibility=eligibility,
        valid_from=date(2026, 1, 1), benefit=kw.pop("benefit", "100"),
        benefit_period=kw.pop("period", "month"), **kw,
    )  # fmt: skip


PUBLISHED = _policy("bj-old", 'age >= 80 and hukou_city == "北京市"')


@pytest.mark.parametrize(
    "raw, problem",
    [
        ("bj-x", "relations is a list"),
        (["bj-x"], "relations[1]: write a mapping"),
        ([{"replaces": "bj-x", "supplements": "bj-y"}], "write one of replaces"),
        ([{"replaces": 3}], "replaces takes a policy id"),
        ([{"supplements": "bj-x", "wins": "bj-x"}], "wins belongs to excludes only"),
    ],
)
def test_a_declaration_that_cannot_be_read_says_how_to_write_it(raw: Any, problem: str) -> None:
    relations, message = read_relations(raw)
    assert relations == () and message is not None and problem in message


@pytest.mark.parametrize(
    "eligibility, kind",
    [
        ('age >= 80 and hukou_city == "北京市"', "equivalent"),
        ('hukou_city == "北京市" and age >= 80', "equivalent"),
        ('age >= 90 and hukou_city == "北京市"', "contained"),
        ('age >= 70 and hukou_city == "北京市"', None),  # reaches more people: no duplicate
        ('age >= 80 and hukou_city == "天津市"', None),
    ],
)
def test_a_draft_inside_a_published_policy_is_a_duplicate(eligibility: str, kind: str) -> None:
    found = duplicates_of(_policy("bj-new", eligibility), [PUBLISHED])
    assert [(d.policy_id, d.kind, d.by) for d in found] == (
        [("bj-old", kind, "analysis")] if kind else []
    )


def test_the_population_finds_a_duplicate_the_analysis_cannot_decide() -> None:
    # A regex is beyond the analysis; on the population it reaches a subset of bj-old's.
    draft = _policy("bj-new", 'age >= 80 and hukou_city =~ "^北京"')
    reach = {"bj-new": frozenset({"P1", "P2"}), "bj-old": frozenset({"P1", "P2", "P3"})}
    assert duplicates_of(draft, [PUBLISHED]) == []
    (found,) = duplicates_of(draft, [PUBLISHED], eligible=reach)
    assert (found.kind, found.by) == ("contained", "population")
    nobody = {"bj-new": frozenset(), "bj-old": frozenset({"P1"})}
    assert duplicates_of(draft, [PUBLISHED], eligible=nobody) == []


def test_another_version_of_the_same_policy_or_audience_is_no_duplicate() -> None:
    assert duplicates_of(replace(PUBLISHED), [PUBLISHED]) == []
    firm = _policy("bj-firm", "employees >= 80", audience="enterprise")
    assert duplicates_of(firm, [PUBLISHED]) == []


def test_a_declared_relation_settles_the_duplicate_and_must_name_a_published_policy() -> None:
    draft = _policy("bj-new", 'age >= 80 and hukou_city == "北京市"')
    found = duplicates_of(draft, [PUBLISHED])
    declared = replace(draft, relations=(Relation("excludes", "bj-old", wins="bj-new"),))
    assert undeclared(declared, found) == [] and undeclared(draft, found) == found
    assert check_declared(declared, {"bj-old": PUBLISHED}) == []
    assert "not a published policy" in check_declared(declared, {})[0]
    assert check_declared(declared, {}, settled=["bj-old"]) == []
    wrong = replace(draft, relations=(Relation("excludes", "bj-old", wins="bj-x"),))
    assert "wins: bj-x must be bj-new or bj-old" in check_declared(wrong, {"bj-old": PUBLISHED})


def _pairs(rows: list[tuple[str, str, str, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["subject_id", "policy_id", "status", "benefit"], orient="row")


EXCLUSIVE = [
    _policy("a", "age >= 80"),  # 100 a month: 1,200 a year
    _policy("b", "age >= 80", period="year", relations=(Relation("excludes", "a"),)),
]


@pytest.mark.parametrize(
    "rows, kept",
    [
        # the larger annual benefit: 1,500 a year beats 100 a month; 1,000 a year does not
        ([("x", "a", "eligible", 100.0), ("x", "b", "eligible", 1500.0)], ["b"]),
        ([("x", "a", "eligible", 100.0), ("x", "b", "eligible", 1000.0)], ["a"]),
        # a tie: the policy that declared the exclusion
        ([("x", "a", "eligible", 100.0), ("x", "b", "eligible", 1200.0)], ["b"]),
        # eligible for certain beats a maybe, whatever the amounts
        ([("x", "a", "maybe", 800.0), ("x", "b", "eligible", 10.0)], ["b"]),
        # one of the two only: nothing to choose
        ([("x", "a", "eligible", 100.0)], ["a"]),
    ],
)
def test_a_subject_keeps_one_of_two_exclusive_policies(
    rows: list[tuple[str, str, str, float | None]], kept: list[str]
) -> None:
    assert apply_exclusions(_pairs(rows), EXCLUSIVE)["policy_id"].to_list() == kept


def test_exclusions_leave_other_policies_and_subjects_alone() -> None:
    pairs = _pairs(
        [("x", "a", "eligible", 100.0), ("x", "b", "eligible", 1500.0),
         ("x", "c", "eligible", 5.0), ("y", "a", "eligible", 100.0)]
    )  # fmt: skip
    out = apply_exclusions(pairs, [*EXCLUSIVE, _policy("c", "age >= 0")])
    assert sorted(out.select("subject_id", "policy_id").rows()) == [
        ("x", "b"), ("x", "c"), ("y", "a"),
    ]  # fmt: skip
    # The excluded policy is not in the catalog (not in force): both are kept.
    assert apply_exclusions(pairs, EXCLUSIVE[1:]).height == 4


def test_a_sample_without_a_counter_example_does_not_overrule_the_analysis() -> None:
    # 96 and over anywhere is not inside 80 and over in Beijing, whoever the sample holds.
    reach = {"bj-new": frozenset({"P1"}), "bj-old": frozenset({"P1", "P2"})}
    assert duplicates_of(_policy("bj-new", "age >= 96"), [PUBLISHED], eligible=reach) == []
