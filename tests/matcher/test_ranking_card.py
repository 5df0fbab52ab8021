"""The published card (算法公示) is generated from the registry's current ordering model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from matcher.ranking import (
    ModelRegistry,
    TrainingParams,
    card_for,
    card_lines,
    evaluate,
    fit_models,
    held_out_exposure,
    prepare,
)
from simulations.behaviour import World, simulate_world

FAST = TrainingParams(max_iter=20)


def small_world() -> World:
    """A small simulated world of residents and firms with two campaigns of outcomes."""
    from dataclasses import replace

    made = simulate_world(residents=1_500, enterprises=150, seed=11)
    # Ranking reads residents and firms; households (when the population has links) are not
    # subjects of offers.
    people = {k: v for k, v in made.profiles.items() if k in ("resident", "enterprise")}
    return replace(made, profiles=people)


@pytest.fixture(scope="module")
def world() -> World:
    return small_world()


def save_version(world: World, registry: ModelRegistry, seed: int, *, audit: bool = False) -> str:
    data = prepare(world.log, world.pairs, world.profiles, world.policies, world.schema,
                   seed=seed, audit=audit)  # fmt: skip
    model = fit_models(data, seed=seed, params=FAST)
    fairness = held_out_exposure(model, data, world.profiles, world.schema, as_of=world.as_of)
    info = registry.save(
        model, seed=seed, data_hash=data.hash(), metrics=evaluate(model, data, seed=seed),
        extra={"rows": data.rows.height, "fairness": fairness},
    )  # fmt: skip
    return info.version


def _metadata(registry: ModelRegistry, version: str) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(
        (registry.root / version / "metadata.json").read_text(encoding="utf-8")
    )
    return meta


def test_the_card_states_the_current_ordering_model_and_follows_a_new_one(
    world: World, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    first = save_version(world, registry, 1)
    save_version(world, registry, 2, audit=True)  # newer, but for audits only: never the one in use
    card = card_for(registry, world.schema, personalised=True)
    meta = _metadata(registry, first)
    assert (card.version, card.trained, card.seed) == (first, meta["created"], 1)
    assert card.model_sha256 == meta["model_sha256"]
    assert card.data_hash == meta["training_data_hash"]
    assert {name: dict(values) for name, _, _, values in card.metrics} == meta["metrics"]
    assert card.fairness == meta["fairness"] and card.fairness["dimensions"]
    # The inputs it lists are the model's own columns; none is one it says it never uses.
    assert {(i.zh, i.en) for i in card.uses} == {(f["zh"], f["en"]) for f in meta["features"]}
    never = {i.zh for i in card.never_uses}
    assert {"性别", "年龄", "残疾等级", "月收入", "社会救助类别"} <= never
    assert not never & {i.zh for i in card.uses}
    # A new model in use: the card follows it at once.
    third = save_version(world, registry, 3)
    again = card_for(registry, world.schema, personalised=True)
    assert again.version == third != first
    assert again.trained == _metadata(registry, third)["created"]


def test_with_personalisation_off_or_no_model_the_card_says_rules_only(
    world: World, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    assert card_for(registry, world.schema, personalised=True).version is None
    save_version(world, registry, 1, audit=True)
    only_audit = card_for(registry, world.schema, personalised=True)
    assert only_audit.version is None and only_audit.in_use_en.startswith("Rules only")
    save_version(world, registry, 2)
    off = card_for(registry, world.schema, personalised=False)
    assert off.version is None and "switched off" in off.in_use_en and not off.metrics


def test_zhida_rank_card_prints_the_registrys_current_model(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("ZHIDA_DATA_DIR", str(tmp_path / "data"))
    registry = ModelRegistry(tmp_path / "data" / "models")
    version = save_version(world, registry, 4)
    assert main(["rank", "card", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    meta = _metadata(registry, version)
    assert (printed["version"], printed["trained"]) == (version, meta["created"])
    assert printed["metrics"] == meta["metrics"]
    assert printed["fairness"] == meta["fairness"]
    assert main(["rank", "card"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines() == card_lines(card_for(registry, world.schema, personalised=True))
    assert f"version {version}" in text and "如何关闭 How to switch it off" in text
    assert main(["rank", "card", "--version", "v99"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zhida: error: no model version 'v99'") and len(err.splitlines()) == 1
