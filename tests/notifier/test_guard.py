"""The mass-change guard's decision: a pure function of a diff's counts and each policy's
history of shares ended."""

from __future__ import annotations

import pytest

from core.errors import ConfigurationError
from core.settings import Settings
from notifier.guard import GuardLimits, PolicyEnding, judge

CHURN = [0.08, 0.10, 0.09, 0.11, 0.10, 0.09]  # an age window: about a tenth ends each run
QUIET = [0.0, 0.001, 0.0, 0.002, 0.001, 0.0]  # a policy whose offers rarely end
DEFAULTS = GuardLimits()


def held(ending: PolicyEnding, history: list[float], limits: GuardLimits = DEFAULTS) -> bool:
    verdict = judge(
        [ending], {ending.policy_id: history}, subjects_before=10_000, subjects_after=10_000,
        limits=limits,
    )  # fmt: skip
    return verdict.held


@pytest.mark.parametrize(
    ("ended", "history", "expected"),
    [
        (950, QUIET, True),  # the missing file: nearly every offer ends
        (30, QUIET, True),  # 3 %: above 2 % and far above its usual 0.05 %
        (15, QUIET, False),  # 1.5 %: under 2 %, however unusual for it
        (100, CHURN, False),  # 10 %: the window's rhythm
        (250, CHURN, False),  # 25 %: under 3× its median of 9.5 %
        (300, CHURN, True),  # 30 %: above 3× its median
    ],
)
def test_a_policy_is_held_only_above_the_share_and_above_its_rhythm(
    ended: int, history: list[float], expected: bool
) -> None:
    assert held(PolicyEnding("bj-x", offers=1000, ended=ended), history) is expected


def test_only_the_last_window_of_runs_makes_the_median() -> None:
    # Long ago it churned; its last six runs ended almost nothing.
    history = [0.5] * 10 + QUIET
    assert held(PolicyEnding("bj-x", offers=1000, ended=100), history)
    assert not held(PolicyEnding("bj-x", offers=1000, ended=100), history, GuardLimits(window=20))


@pytest.mark.parametrize(
    ("ended", "started", "expected"),
    [
        (80, 90, False),  # no history yet: it starts as many offers as it ends
        (80, 0, True),  # no history yet: it only ends them
    ],
)
def test_without_history_a_policy_is_compared_with_what_it_starts(
    ended: int, started: int, expected: bool
) -> None:
    ending = PolicyEnding("bj-x", offers=1000, ended=ended, started=started)
    assert held(ending, []) is expected


def test_a_few_endings_are_never_a_mass_change() -> None:
    assert not held(PolicyEnding("bj-x", offers=15, ended=3), [])
    assert held(PolicyEnding("bj-x", offers=15, ended=3), [], GuardLimits(min_ended=1))


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [(10_000, 9_400, True), (10_000, 9_600, False), (10_000, 10_500, False), (0, 0, False)],
)
def test_a_population_that_shrank_by_more_than_five_percent_is_held(
    before: int, after: int, expected: bool
) -> None:
    verdict = judge([], {}, subjects_before=before, subjects_after=after)
    assert verdict.held is expected
    if expected:
        assert verdict.reasons[0].startswith("the subjects with an offer fell from 10,000 to")


def test_a_deliberate_act_releases_its_own_endings_and_is_noted() -> None:
    retired = PolicyEnding("bj-old", offers=1000, ended=1000)
    verdict = judge(
        [retired], {"bj-old": QUIET}, subjects_before=10_000, subjects_after=10_000,
        deliberate={"bj-old": "retired through the review (version 3)"},
    )  # fmt: skip
    assert not verdict.held
    assert verdict.deliberate == (
        "bj-old: 1,000 of 1,000 offers end, retired through the review (version 3)",
    )


def test_a_deliberate_act_does_not_let_through_another_policys_endings() -> None:
    endings = [PolicyEnding("bj-old", 1000, 1000), PolicyEnding("bj-other", 1000, 900)]
    verdict = judge(
        endings, {}, subjects_before=10_000, subjects_after=10_000,
        deliberate={"bj-old": "retired through the review (version 3)"},
    )  # fmt: skip
    assert verdict.held and [r.split(":")[0] for r in verdict.reasons] == ["bj-other"]


def test_the_thresholds_come_from_the_settings() -> None:
    limits = GuardLimits.of(
        Settings.from_env(
            {"ZHIDA_GUARD_SHARE": "0.5", "ZHIDA_GUARD_FACTOR": "2", "ZHIDA_GUARD_RUNS": "3",
             "ZHIDA_GUARD_POPULATION_DROP": "0.2", "ZHIDA_GUARD_MIN_ENDED": "5"}
        )
    )  # fmt: skip
    assert limits == GuardLimits(share=0.5, factor=2.0, window=3, population_drop=0.2, min_ended=5)
    assert GuardLimits.of(Settings.from_env({})) == GuardLimits()
    ending = PolicyEnding("bj-x", offers=1000, ended=300)
    assert held(ending, QUIET) and not held(ending, QUIET, limits)  # 30 % < 50 %
    assert not judge([], {}, subjects_before=100, subjects_after=85, limits=limits).held


def test_a_passing_verdict_says_what_was_checked() -> None:
    verdict = judge([], {}, subjects_before=100, subjects_after=100)
    assert verdict.line() == (
        "passed: no policy ends an unusual share of its offers and the subjects with an offer "
        "did not fall"
    )


def test_a_share_given_as_a_percentage_is_refused_with_the_share_to_write() -> None:
    refused = r"ZHIDA_GUARD_SHARE='2' is a share between 0 and 1; write 0\.02 for 2 %"
    with pytest.raises(ConfigurationError, match=refused):
        Settings.from_env({"ZHIDA_GUARD_SHARE": "2"})
