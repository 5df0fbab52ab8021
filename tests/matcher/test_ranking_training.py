from __future__ import annotations

import polars as pl
import pytest

from core.errors import ValidationError
from matcher.ranking.evaluate import evaluate
from matcher.ranking.model import TrainingParams, fit_models, prepare
from matcher.ranking.order import rank_offers
from simulations.behaviour import World, draw_outcomes, simulate_world

FAST = TrainingParams(max_iter=20)


@pytest.fixture(scope="module")
def world() -> World:
    return simulate_world(residents=3_000, enterprises=300, seed=11, rounds=1)


def _prepare(world: World, log: pl.DataFrame, **kw: object) -> object:
    return prepare(log, world.pairs, world.profiles, world.policies, world.schema, seed=1, **kw)  # type: ignore[arg-type]


def test_held_out_subjects_have_none_of_their_offers_in_training(world: World) -> None:
    data = _prepare(world, world.log)
    rows = data.rows  # type: ignore[attr-defined]
    mixed = (
        rows.group_by("subject_id")
        .agg(pl.col("held_out").n_unique())
        .filter(pl.col("held_out") > 1)
    )
    assert mixed.height == 0
    assert rows["held_out"].mean() == pytest.approx(0.3, abs=0.05)


def test_pushing_everyone_gives_a_response_model_without_uplift(world: World) -> None:
    log = draw_outcomes(world.truth, share=1.0, seed=1)
    data = _prepare(world, log)
    model = fit_models(data, seed=1, params=FAST)  # type: ignore[arg-type]
    assert model.control is None
    with pytest.raises(ValidationError, match="no uplift part"):
        model.uplift(data.x)  # type: ignore[attr-defined]
    ranked = rank_offers(
        world.pairs, policies=world.policies, personalised=True, model=model,
        profiles=world.profiles, schema=world.schema,
    )  # fmt: skip
    assert ranked["uplift"].null_count() == ranked.height
    metrics = evaluate(model, data, seed=1, truth=world.truth)  # type: ignore[arg-type]
    assert "uplift" not in metrics.get("qini", {})


def test_pushing_no_one_is_a_clear_error(world: World) -> None:
    log = draw_outcomes(world.truth, share=0.0, seed=1)
    with pytest.raises(ValidationError, match="pushed none"):
        fit_models(_prepare(world, log), seed=1, params=FAST)  # type: ignore[arg-type]


def test_bad_logs_are_clear_errors(world: World) -> None:
    with pytest.raises(ValidationError, match="lacks pushed"):
        _prepare(world, world.log.drop("pushed"))
    with pytest.raises(ValidationError, match="empty"):
        _prepare(world, world.log.head(0))
    stranger = world.log.head(1).with_columns(pl.lit("nobody").alias("subject_id"))
    with pytest.raises(ValidationError, match="no pair in the pairs file"):
        _prepare(world, pl.concat([world.log, stranger]))
    with pytest.raises(ValidationError, match="test share"):
        _prepare(world, world.log, test_share=1.0)


def test_tags_are_named_in_chinese_when_the_library_is_given(world: World) -> None:
    names = ("new_parent", "housing_fund_user", "recently_retired", "moved_here")
    ordinary = dict.fromkeys(names, "ordinary")
    plain = _prepare(world, world.log, tag_sensitivity=ordinary).spec.features  # type: ignore[attr-defined]
    tags = [f.value for f in plain if f.source == "tag"]
    assert len(tags) > 1, "the simulated world has common tags"
    named = _prepare(world, world.log, tag_names={tags[0]: "某标签"}, tag_sensitivity=ordinary)
    labels = {f.name: f.zh for f in named.spec.features}  # type: ignore[attr-defined]
    assert labels[f"tag:{tags[0]}"] == "标签「某标签」"
    assert labels[f"tag:{tags[-1]}"] == f"标签「{tags[-1]}」"  # unnamed: its id


def test_only_offers_of_the_ranked_modes_are_learnt_from(world: World) -> None:
    rows = _prepare(world, world.log).rows  # type: ignore[attr-defined]
    modes = {p.id: p.mode for p in world.policies}
    assert set(rows["policy_id"].replace_strict(modes)) <= {"proactive_push", "fast_track"}
    grants = [p for p, m in modes.items() if m == "auto_grant"]
    assert world.log.filter(pl.col("policy_id").is_in(grants)).height > 0
    only_grants = world.log.filter(pl.col("policy_id").is_in(grants))
    with pytest.raises(ValidationError, match="never ranked"):
        _prepare(world, only_grants)


def test_a_column_unknown_in_every_row_gets_no_split_and_no_contribution() -> None:
    import numpy as np

    from matcher.ranking.model import fit_ensemble

    rng = np.random.default_rng(1)
    x = np.column_stack([rng.random(400), np.full(400, np.nan)])
    y = (x[:, 0] + rng.normal(0, 0.2, 400) > 0.5).astype(np.int8)
    trees = fit_ensemble(x, y, seed=1, monotonic=[0, 0], params=FAST)
    _, contributions = trees.contributions(x)
    assert (contributions[:, 1] == 0.0).all() and (contributions[:, 0] != 0.0).any()
