from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.errors import NotFoundError
from matcher.ranking.model import RankingModel, TrainingData, TrainingParams, fit_models, prepare
from matcher.ranking.registry import ModelRegistry, ModelStoreError
from simulations.behaviour import World, simulate_world

FAST = TrainingParams(max_iter=30)


@pytest.fixture(scope="module")
def world() -> World:
    return simulate_world(residents=3_000, enterprises=300, seed=9)


def _train(world: World, seed: int, *, audit: bool = False) -> tuple[TrainingData, RankingModel]:
    data = prepare(world.log, world.pairs, world.profiles, world.policies, world.schema, seed=seed,
                   audit=audit)  # fmt: skip
    return data, fit_models(data, seed=seed, params=FAST)


def test_the_same_seed_and_data_give_the_same_predictions(world: World) -> None:
    first_data, first = _train(world, 4)
    again_data, again = _train(world, 4)
    assert first_data.hash() == again_data.hash()
    assert np.array_equal(first.take_up(first_data.x), again.take_up(again_data.x))
    assert np.array_equal(first.uplift(first_data.x), again.uplift(again_data.x))
    other_data, _ = _train(world, 5)  # another seed holds out other subjects
    assert other_data.hash() != first_data.hash()


def test_a_saved_version_loads_back_and_predicts_the_same(world: World, tmp_path: Path) -> None:
    data, model = _train(world, 4)
    registry = ModelRegistry(tmp_path / "models")
    info = registry.save(model, seed=4, data_hash=data.hash(), metrics={"qini": {"uplift": 0.1}})
    second = registry.save(model, seed=4, data_hash=data.hash(), metrics={})
    assert (info.version, second.version) == ("v1", "v2")
    loaded, loaded_info = registry.load("v1")
    assert np.array_equal(loaded.take_up(data.x), model.take_up(data.x))
    assert np.array_equal(loaded.uplift(data.x), model.uplift(data.x))
    assert loaded.spec == model.spec
    assert loaded_info.metrics == {"qini": {"uplift": 0.1}} and loaded_info.seed == 4
    meta = json.loads((info.path / "metadata.json").read_text(encoding="utf-8"))
    for key in ("version", "created", "seed", "features", "training_data_hash", "metrics"):
        assert key in meta
    assert [i.version for i in registry.list()] == ["v1", "v2"]
    assert registry.load()[1].version == "v2"  # the latest by default
    assert not list((tmp_path / "models").glob(".staging-*"))


def test_missing_and_corrupt_models_are_clear_errors(world: World, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(NotFoundError, match="zhida rank train"):
        registry.load()
    data, model = _train(world, 4)
    info = registry.save(model, seed=4, data_hash=data.hash(), metrics={})
    with pytest.raises(NotFoundError, match="v7"):
        registry.load("v7")
    blob = (info.path / "model.npz").read_bytes()
    (info.path / "model.npz").write_bytes(blob[:-10] + b"0123456789")
    with pytest.raises(ModelStoreError, match="checksum"):
        registry.load("v1")
    (info.path / "model.npz").unlink()
    with pytest.raises(ModelStoreError, match=r"no readable model\.npz"):
        registry.load("v1")
    (info.path / "metadata.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelStoreError, match="not JSON"):
        registry.load("v1")
    assert registry.list() == []


def test_an_audit_version_is_recorded_as_such_and_never_loaded_to_order(
    world: World, tmp_path: Path
) -> None:
    from matcher.ranking.model import AuditModelError

    registry = ModelRegistry(tmp_path / "models")
    data, model = _train(world, 4)
    audit_data, audit = _train(world, 4, audit=True)
    first = registry.save(audit, seed=4, data_hash=audit_data.hash(), metrics={})
    assert first.audit and registry.load()[1].audit  # loadable for the audit itself
    with pytest.raises(NotFoundError, match="only audit versions"):
        registry.load_for_ordering()
    registry.save(model, seed=4, data_hash=data.hash(), metrics={})
    registry.save(audit, seed=4, data_hash=audit_data.hash(), metrics={})
    assert [i.audit for i in registry.list()] == [True, False, True]
    assert registry.load_for_ordering()[1].version == "v2"  # the newest that may order
    with pytest.raises(AuditModelError, match="年龄"):
        registry.load_for_ordering("v3")


def test_a_version_stored_before_sensitivities_were_recorded_counts_as_audit(
    world: World, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    data, model = _train(world, 4)
    info = registry.save(model, seed=4, data_hash=data.hash(), metrics={})
    meta = json.loads((info.path / "metadata.json").read_text(encoding="utf-8"))
    del meta["audit"]
    for feature in meta["features"]:
        feature.pop("sensitivity", None)
    (info.path / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    assert registry.list()[0].audit and registry.load()[0].spec.audit
    with pytest.raises(NotFoundError, match="before they were left out"):
        registry.load_for_ordering()
