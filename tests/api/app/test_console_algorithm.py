"""The algorithm published (算法公示): a public page generated from the model in use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from matcher.ranking import ModelRegistry
from tests.api.app.test_console_subject import login
from tests.api.app.world import World


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small model version, trained once for the module (copied into each test's data)."""
    from tests.matcher.test_ranking_card import save_version, small_world

    registry = ModelRegistry(tmp_path_factory.mktemp("registry") / "models")
    save_version(small_world(), registry, 5)
    return registry.root / "v1"


def _install(tmp_path: Path, trained: Path, version: str) -> dict[str, Any]:
    shutil.copytree(trained, tmp_path / "data" / "models" / version)
    meta: dict[str, Any] = json.loads((trained / "metadata.json").read_text(encoding="utf-8"))
    meta["version"] = version
    (tmp_path / "data" / "models" / version / "metadata.json").write_text(
        json.dumps(meta, ensure_ascii=False), encoding="utf-8"
    )
    return meta


def test_anyone_reads_the_card_of_the_model_in_use_without_logging_in(
    world: World, tmp_path: Path, trained: Path
) -> None:
    meta = _install(tmp_path, trained, "v1")
    page = world.client.get("/console/algorithm")
    assert page.status_code == 200
    html = page.text
    assert 'id="model-version">v1<' in html and meta["created"] in html
    assert meta["model_sha256"][:16] in html
    uplift = meta["metrics"]["uplift@20%"]["uplift"]
    assert f"uplift {uplift:.4f}" in html
    assert "性别" in html and "Gender" in html  # never used, said so
    assert "按我的个人特征排序推荐" in html and "ZHIDA_PERSONALISATION=off" in html
    lowest = meta["fairness"]["dimensions"][0]
    assert f'data-dimension="{lowest["subjects"]}.{lowest["dimension"]}"' in html


def test_the_page_follows_a_new_model_and_never_shows_an_audit_one(
    world: World, tmp_path: Path, trained: Path
) -> None:
    _install(tmp_path, trained, "v1")
    _install(tmp_path, trained, "v2")
    assert 'id="model-version">v2<' in world.client.get("/console/algorithm").text
    audit = tmp_path / "data" / "models" / "v3"
    shutil.copytree(trained, audit)
    meta = json.loads((audit / "metadata.json").read_text(encoding="utf-8"))
    (audit / "metadata.json").write_text(json.dumps({**meta, "version": "v3", "audit": True}))
    assert 'id="model-version">v2<' in world.client.get("/console/algorithm").text


def test_without_a_model_the_page_says_offers_are_ordered_by_the_rules_alone(
    world: World,
) -> None:
    html = world.client.get("/console/algorithm").text
    assert "仅按政策规则排序" in html and "Rules only" in html
    assert 'id="model-version"' not in html


def test_every_console_page_links_to_the_card(world: World) -> None:
    login(world, "resident")
    assert 'href="/console/algorithm"' in world.client.get("/console").text
