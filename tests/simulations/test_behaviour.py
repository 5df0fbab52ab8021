from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from core.errors import ValidationError
from rules.policy import Policy
from simulations.behaviour import (
    SIMULATED_COLUMNS,
    TRUTH_COLUMNS,
    World,
    draw_outcomes,
    run_experiment,
    simulate_outcomes,
    simulate_world,
    true_propensities,
)


def _number(value: object) -> float:
    """A polars aggregate as a number (polars types it as any Python value)."""
    assert isinstance(value, int | float), value
    return float(value)


@pytest.fixture(scope="module")
def world() -> World:
    return simulate_world(residents=12_000, enterprises=1_200, seed=5, share=0.5, rounds=1)


def test_the_same_seed_gives_the_same_truth_and_outcomes(world: World) -> None:
    again = true_propensities(world.pairs, world.profiles, world.policies, seed=5)
    assert again.equals(world.truth)
    assert simulate_outcomes(world.truth, share=0.5, seed=5, rounds=1).equals(world.log)
    other = true_propensities(world.pairs, world.profiles, world.policies, seed=6)
    assert not other["q"].equals(world.truth["q"])


def test_truth_does_not_depend_on_the_order_of_the_pairs(world: World) -> None:
    shuffled = world.pairs.sample(fraction=1.0, shuffle=True, seed=1)
    assert true_propensities(shuffled, world.profiles, world.policies, seed=5).equals(world.truth)


def test_frames_have_the_documented_columns(world: World) -> None:
    assert tuple(world.truth.columns) == TRUTH_COLUMNS
    assert tuple(world.log.columns) == SIMULATED_COLUMNS
    assert world.log.height == world.pairs.height


def test_a_grant_is_acknowledged_or_objected_to_never_applied_for(world: World) -> None:
    log = draw_outcomes(world.truth, share=0.5, seed=4).join(
        world.truth.select("subject_id", "policy_id", "mode", "p_with", "uplift"),
        on=["subject_id", "policy_id"],
    )
    grants, offers = (
        log.filter(pl.col("mode") == "auto_grant"),
        log.filter(pl.col("mode") != "auto_grant"),
    )
    assert grants.height > 100 and offers.height > 100
    assert grants["applied"].null_count() == grants.height  # nothing to apply for
    assert grants["p_with"].null_count() == grants["uplift"].null_count() == grants.height
    assert grants["acknowledged"].null_count() == 0 and grants["objected"].null_count() == 0
    assert not grants["complained"].any()
    assert 0 < _number(grants["objected"].mean()) < 0.1
    assert not grants.filter(pl.col("objected") & ~pl.col("acknowledged")).height
    # told, a grant is known more often than found alone
    pushed = _number(grants.filter(pl.col("pushed"))["acknowledged"].mean())
    assert pushed > _number(grants.filter(~pl.col("pushed"))["acknowledged"].mean()) + 0.2
    assert offers["acknowledged"].null_count() == offers.height
    assert offers["applied"].null_count() == 0


def test_pushes_follow_the_share_and_only_pushes_are_opened_or_complained_about(
    world: World,
) -> None:
    log = draw_outcomes(world.truth, share=0.3, seed=1)
    assert log["pushed"].mean() == pytest.approx(0.3, abs=0.01)
    held = log.filter(~pl.col("pushed"))
    assert not held["opened"].any() and not held["complained"].any() and not held["ignored"].any()
    assert not log.filter(pl.col("applied") & pl.col("complained")).height


def test_observed_take_up_matches_the_true_propensities(world: World) -> None:
    log = draw_outcomes(world.truth, share=0.5, seed=2).join(
        world.truth, on=["subject_id", "policy_id"]
    )
    pushed, held = log.filter(pl.col("pushed")), log.filter(~pl.col("pushed"))
    for rows, p in ((pushed, "p_with"), (held, "p_without")):
        offers = rows.drop_nulls(p)  # grants have no take-up
        # four standard errors of a mean of independent draws with these probabilities (a
        # fixed 0.01 was 1.5 of them at this size, so a fair draw failed one run in seven)
        se = float((offers[p] * (1 - offers[p])).sum()) ** 0.5 / offers.height
        assert 0 < se < 0.01
        assert offers["applied"].mean() == pytest.approx(offers[p].mean(), abs=4 * se)


def test_a_push_helps_the_elderly_living_alone_more_than_young_digital_workers(
    world: World,
) -> None:
    people = world.profiles["resident"].select(
        pl.col("person_id").alias("subject_id"), "age", "household_size", "employment_status",
        "email",
    )  # fmt: skip
    truth = world.truth.join(people, on="subject_id")
    alone = truth.filter((pl.col("age") >= 70) & (pl.col("household_size") == 1))
    young = truth.filter(
        (pl.col("age") < 40)
        & (pl.col("employment_status") == "employed")
        & pl.col("email").is_not_null()
    )
    assert alone.height > 50 and young.height > 50
    assert _number(alone["uplift"].mean()) > 2 * _number(young["uplift"].mean())
    assert _number(alone["p_find"].mean()) < 0.15 < _number(young["p_find"].mean())
    # for those who would apply anyway the push adds next to nothing
    anyway = truth.filter(pl.col("p_find") > 0.9)
    assert anyway.height > 0 and _number(anyway["uplift"].max()) < 0.1


def test_complaints_rise_as_offers_become_less_relevant(world: World) -> None:
    log = draw_outcomes(world.truth, share=1.0, seed=3).join(
        world.truth.select("subject_id", "policy_id", "q"), on=["subject_id", "policy_id"]
    )
    low = _number(log.filter(pl.col("q") < 0.2)["complained"].mean())
    high = _number(log.filter(pl.col("q") > 0.6)["complained"].mean())
    assert low > 3 * high


def test_maybe_offers_are_taken_up_less_than_eligible_ones(world: World) -> None:
    by = dict(world.truth.group_by("status").agg(pl.col("q").mean()).iter_rows())
    assert by["maybe"] < by["eligible"]


def test_bad_inputs_are_one_line_errors(world: World) -> None:
    with pytest.raises(ValidationError, match="between 0 and 1"):
        draw_outcomes(world.truth, share=1.5, seed=1)
    with pytest.raises(ValidationError, match="rounds must be at least 1"):
        simulate_outcomes(world.truth, share=0.5, seed=1, rounds=0)
    with pytest.raises(ValidationError, match="catalog lacks"):
        true_propensities(world.pairs, world.profiles, world.policies[:1], seed=1)
    with pytest.raises(ValidationError, match="no profile for subject"):
        true_propensities(world.pairs, {}, world.policies, seed=1)
    with pytest.raises(ValidationError, match="pairs lacks"):
        true_propensities(world.pairs.drop("status"), world.profiles, world.policies, seed=1)


def test_a_policy_without_a_profile_field_still_gets_a_truth() -> None:
    policy = Policy(
        id="p", title="t", department="d", audience="resident", mode="fast_track",
        eligibility="age > 1", valid_from=date(2020, 1, 1),
    )  # fmt: skip
    pairs = pl.DataFrame(
        {
            "subject_id": ["a"], "subject_type": ["resident"], "policy_id": ["p"],
            "status": ["maybe"], "benefit": [None],
        }
    )  # fmt: skip
    person = pl.DataFrame(
        {
            "person_id": ["a"], "age": [None], "household_size": [None],
            "employment_status": [None], "email": [None], "subsistence_status": [None],
            "monthly_income": [None],
        }
    )  # fmt: skip
    truth = true_propensities(pairs, {"resident": person}, [policy], seed=1)
    row = truth.row(0, named=True)
    assert 0 < row["p_without"] < row["p_with"] < 1


@pytest.mark.slow  # trains the models of every row of the table
def test_an_experiment_trains_and_measures_every_row_of_the_table(world: World) -> None:
    from matcher.ranking.evaluate import METRIC_ROWS
    from matcher.ranking.model import TrainingParams

    experiment = run_experiment(
        world.pairs, world.profiles, world.policies, world.schema, seed=2,
        params=TrainingParams(max_iter=20),
    )  # fmt: skip
    assert set(experiment.log["round"].unique()) == {1, 2}
    for metric, columns in METRIC_ROWS:
        assert set(experiment.metrics[metric]) == set(columns)
