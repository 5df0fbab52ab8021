from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from core.errors import ValidationError
from matcher.ranking.model import RankingModel, TrainingParams, fit_models, prepare
from matcher.ranking.order import RANKED_SCHEMA, rank_offers
from simulations.behaviour import World, simulate_world

FAST = TrainingParams(max_iter=40)


@pytest.fixture(scope="module")
def world() -> World:
    return simulate_world(residents=5_000, enterprises=600, seed=3)


@pytest.fixture(scope="module")
def model(world: World) -> RankingModel:
    data = prepare(world.log, world.pairs, world.profiles, world.policies, world.schema, seed=3)
    return fit_models(data, seed=3, params=FAST)


def _rank(world: World, model: RankingModel, *, personalised: bool, **kw: object) -> pl.DataFrame:
    args: dict[str, object] = {
        "policies": world.policies, "personalised": personalised, "model": model,
        "profiles": world.profiles, "schema": world.schema, "history": world.log,
    }  # fmt: skip
    args.update(kw)
    return rank_offers(world.pairs, **args)  # type: ignore[arg-type]


def _scrambled(world: World, seed: int) -> dict[str, pl.DataFrame]:
    """Every personal field of every resident shuffled across residents (ids kept)."""
    people = world.profiles["resident"]
    personal = [c for c in people.columns if c != "person_id"]
    shuffled = people.select(personal).sample(fraction=1.0, shuffle=True, seed=seed)
    return {**world.profiles, "resident": pl.concat([people.select("person_id"), shuffled],
                                                    how="horizontal")}  # fmt: skip


def test_every_offer_is_ranked_once_per_subject_from_one(world: World, model: RankingModel) -> None:
    ranked = _rank(world, model, personalised=True)
    assert ranked.schema == RANKED_SCHEMA
    assert ranked.height == world.pairs.height
    counts = ranked.group_by("subject_id").agg(
        pl.len(), pl.col("rank").max().alias("last"), pl.col("rank").min().alias("first")
    )
    assert (counts["len"] == counts["last"]).all() and (counts["first"] == 1).all()


def test_grants_come_first_unscored_then_offers_by_what_telling_adds(
    world: World, model: RankingModel
) -> None:
    ranked = _rank(world, model, personalised=True).sort("subject_id", "rank")
    modes = {p.id: p.mode for p in world.policies}
    grant = ranked["policy_id"].replace_strict(modes) == "auto_grant"
    assert grant.any() and (~grant).any()
    assert (ranked["ranked"] == ~grant).all()
    # within a subject, no grant after an offer
    after = ranked.with_columns(pl.col("ranked").cast(pl.Int8).diff().over("subject_id").alias("d"))
    assert (after["d"].drop_nulls() >= 0).all()
    grants, offers = ranked.filter(~pl.col("ranked")), ranked.filter(pl.col("ranked"))
    assert grants["score"].null_count() == grants.height == grants["uplift"].null_count()
    steps = offers.with_columns(pl.col("uplift").diff().over("subject_id").alias("step"))
    assert (steps["step"].drop_nulls() <= 0).all()
    assert offers["score"].is_between(0, 1).all() and offers["uplift"].null_count() == 0
    assert ranked["reasons"].list.len().eq(3).all()
    assert any("得分" in r and "the score" in r for r in offers["reasons"][0])
    assert all("免申即享" in r[0] for r in grants["reasons"])


def test_an_audit_model_never_orders_offers(world: World) -> None:
    from matcher.ranking.model import AuditModelError

    data = prepare(world.log, world.pairs, world.profiles, world.policies, world.schema, seed=3,
                   audit=True)  # fmt: skip
    audit = fit_models(data, seed=3, params=TrainingParams(max_iter=5))
    assert audit.spec.audit
    with pytest.raises(AuditModelError, match="for audits only"):
        _rank(world, audit, personalised=True)


def test_rules_only_order_never_changes_with_personal_fields(
    world: World, model: RankingModel
) -> None:
    plain = _rank(world, model, personalised=False)
    for seed in (1, 2, 3):
        scrambled = _rank(
            world, model, personalised=False, profiles=_scrambled(world, seed), history=None
        )
        assert scrambled.equals(plain)
    assert plain["score"].null_count() == plain.height
    # the same scrambling does move the personalised order: the check above can fail
    personal = _rank(world, model, personalised=True).select("subject_id", "policy_id", "rank")
    moved = _rank(world, model, personalised=True, profiles=_scrambled(world, 1)).select(
        "subject_id", "policy_id", "rank"
    )
    assert not personal.sort("subject_id", "policy_id").equals(
        moved.sort("subject_id", "policy_id")
    )


def test_rules_only_puts_auto_grants_first_then_certain_then_larger_benefits(
    world: World,
) -> None:
    ranked = rank_offers(world.pairs, policies=world.policies, personalised=False)
    modes = {p.id: p.mode for p in world.policies}
    ranked = ranked.with_columns(
        pl.col("policy_id").replace_strict(modes).eq("auto_grant").alias("auto")
    )
    firsts = (
        ranked.sort("subject_id", "rank")
        .group_by("subject_id", maintain_order=True)
        .agg(pl.col("auto").first().alias("first"), pl.col("auto").any().alias("any"))
    )
    assert (firsts["first"] == firsts["any"]).all()
    reasons = ranked["reasons"].explode()
    assert reasons.str.contains("免申即享").any() and reasons.str.contains("annual benefit").any()


def test_personalised_ranking_without_a_model_is_a_clear_error(world: World) -> None:
    with pytest.raises(ValidationError, match="zhida rank train"):
        rank_offers(world.pairs, policies=world.policies, personalised=True)


def test_pairs_naming_unknown_policies_are_refused(world: World) -> None:
    with pytest.raises(ValidationError, match="catalog lacks"):
        rank_offers(world.pairs, policies=world.policies[:2], personalised=False)


def test_scores_are_the_model_probabilities(world: World, model: RankingModel) -> None:
    from matcher.ranking.features import build_features

    pairs = world.pairs.head(200)
    ranked = rank_offers(
        pairs, policies=world.policies, personalised=True, model=model,
        profiles=world.profiles, schema=world.schema, history=world.log,
    )  # fmt: skip
    x = build_features(model.spec, pairs, world.profiles, world.policies, world.schema,
                       history=world.log)  # fmt: skip
    expected = pairs.select("subject_id", "policy_id").with_columns(
        pl.Series("p", model.take_up(x)), pl.Series("u", model.uplift(x))
    )
    joined = ranked.filter(pl.col("ranked")).join(expected, on=["subject_id", "policy_id"])
    assert joined.height > 50
    assert np.allclose(joined["score"].to_numpy(), joined["p"].to_numpy(), atol=1e-12)
    assert np.allclose(joined["uplift"].to_numpy(), joined["u"].to_numpy(), atol=1e-12)


def test_scores_without_reasons_and_an_empty_input(world: World, model: RankingModel) -> None:
    with_reasons = _rank(world, model, personalised=True)
    plain = _rank(world, model, personalised=True, reasons=0)
    assert plain["reasons"].list.len().eq(0).all()
    assert np.allclose(
        plain["score"].to_numpy(), with_reasons["score"].to_numpy(), atol=1e-12, equal_nan=True
    )
    empty = rank_offers(
        world.pairs.head(0), policies=world.policies, personalised=True, model=model,
        profiles=world.profiles, schema=world.schema,
    )  # fmt: skip
    assert empty.height == 0 and empty.schema == RANKED_SCHEMA


def test_offer_lines_print_each_subject_in_rank_order(world: World, model: RankingModel) -> None:
    from matcher.ranking.report import offer_lines

    busy = (
        world.pairs.group_by("subject_id").len().sort("len", "subject_id", descending=[True, False])
    )
    subject = busy["subject_id"][0]
    ranked = _rank(world, model, personalised=True).filter(pl.col("subject_id") == subject)
    titles = {p.id: p.title for p in world.policies}
    lines = offer_lines(ranked, titles, how="model v1")
    assert lines[0] == f"{subject}: {ranked.height} offer(s), ordered by model v1"
    numbered = [line for line in lines if not line.startswith((" ", subject))]
    assert [line.split(".")[0] for line in numbered] == [str(i + 1) for i in range(ranked.height)]
