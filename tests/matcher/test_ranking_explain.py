from __future__ import annotations

import math

import numpy as np
import pytest

from matcher.ranking.explain import MODE_LABELS, FeatureGroups, describe, top_reasons
from matcher.ranking.features import Feature, build_features
from matcher.ranking.model import RankingModel, TrainingParams, fit_models, prepare
from simulations.behaviour import World, simulate_world


@pytest.fixture(scope="module")
def world() -> World:
    return simulate_world(residents=3_000, enterprises=300, seed=21)


@pytest.fixture(scope="module")
def model(world: World) -> RankingModel:
    data = prepare(world.log, world.pairs, world.profiles, world.policies, world.schema, seed=2)
    return fit_models(data, seed=2, params=TrainingParams(max_iter=30))


@pytest.fixture(scope="module")
def x(world: World, model: RankingModel) -> np.ndarray:
    return build_features(
        model.spec, world.pairs.head(400), world.profiles, world.policies, world.schema,
        history=world.log,
    )  # fmt: skip


def test_all_reasons_of_a_score_add_up_to_it(model: RankingModel, x: np.ndarray) -> None:
    bias, contributions = model.response.contributions(x)
    every = top_reasons(model.spec, x, contributions, top=10_000)
    raw = model.response.raw(x)
    for i, reasons in enumerate(every):
        assert bias + sum(r.contribution for r in reasons) == pytest.approx(raw[i], abs=1e-9)


def test_a_field_is_one_reason_naming_the_value_the_subject_has(
    model: RankingModel, x: np.ndarray
) -> None:
    _bias, contributions = model.response.contributions(x)
    reasons = top_reasons(model.spec, x, contributions, top=10_000, labels=MODE_LABELS)
    checked = 0
    for row, listed in zip(x, reasons, strict=True):
        names = [r.feature for r in listed]
        assert len(names) == len(set(names))
        for reason in listed:
            members = [
                (f, row[i]) for i, f in enumerate(model.spec.features)
                if f.name.startswith(reason.feature + "=")
            ]  # fmt: skip
            active = [f for f, v in members if v == 1.0]
            if not active:
                continue
            f = active[0]
            label = MODE_LABELS.get(f.value or "", f.value)
            assert reason.text.startswith(f"{f.zh} {label} ")
            assert f"({f.en} {f.value} " in reason.text
            checked += 1
    assert checked > 100


def test_groups_cover_every_feature_once(model: RankingModel) -> None:
    groups = FeatureGroups.of(model.spec)
    assert groups.matrix.sum(axis=1).tolist() == [1.0] * len(model.spec.features)
    assert "policy.mode" in groups.keys and "resident.employment_status" in groups.keys


@pytest.mark.parametrize(
    ("feature", "value", "contribution", "text"),
    [
        (Feature("resident.household_size", "家庭人口数", "household size", "profile"), 3.0, 0.1,
         "家庭人口数 3 提高得分 (household size 3 raises the score)"),
        (Feature("resident.household_size", "家庭人口数", "household size", "profile"), math.nan,
         -0.1, "家庭人口数 未知 降低得分 (household size unknown lowers the score)"),
        (Feature("tag:new_parent", "标签「新生儿父母」", "tag new_parent", "tag",
                 value="new_parent"), 1.0, 0.2,
         "标签「新生儿父母」 提高得分 (tag new_parent raises the score)"),
        (Feature("history.open_rate", "既往推送打开率", "earlier open rate", "history"), 0.5, 0.2,
         "既往推送打开率 0.50 提高得分 (earlier open rate 0.50 raises the score)"),
        (Feature("pair.maybe", "待确认资格", "eligibility still to confirm", "pair"), 1.0, -0.3,
         "待确认资格 降低得分 (eligibility still to confirm lowers the score)"),
    ],
)  # fmt: skip
def test_describe_in_plain_words(
    feature: Feature, value: float, contribution: float, text: str
) -> None:
    assert describe(feature, value, contribution) == text


def test_the_uplift_splits_exactly_into_the_parts_its_reasons_cite(
    model: RankingModel, x: np.ndarray
) -> None:
    from matcher.ranking.explain import probability_parts

    assert model.control is not None
    base, parts = probability_parts(*model.response.contributions(x))
    c_base, c_parts = probability_parts(*model.control.contributions(x))
    explained = (base - c_base) + (parts - c_parts).sum(axis=1)
    assert np.allclose(explained, model.uplift(x), atol=1e-12)
    # each part keeps the sign of its log-odds contribution
    _, contributions = model.response.contributions(x)
    assert (np.sign(parts) == np.sign(contributions)).all()
