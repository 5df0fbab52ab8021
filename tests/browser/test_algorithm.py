"""The algorithm published (算法公示) in a browser: anyone reads the card of the model in use,
in Chinese and English, on a phone too; a resident follows it to switch personalisation off."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from matcher.ranking import ModelRegistry
from tests.browser.conftest import LiveWorld


@pytest.fixture(scope="module")
def model(live: LiveWorld, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small model version trained once and installed as the live server's model in use."""
    from tests.matcher.test_ranking_card import save_version, small_world

    registry = ModelRegistry(tmp_path_factory.mktemp("registry") / "models")
    version = save_version(small_world(), registry, 6)
    shutil.copytree(registry.root / version, live.data_dir / "models" / version)
    meta: dict[str, Any] = json.loads(
        (registry.root / version / "metadata.json").read_text(encoding="utf-8")
    )
    return meta


@pytest.fixture
def stranger(browser: Any, live: LiveWorld) -> Iterator[Any]:
    """A page of someone not logged in, on a phone-sized screen."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_stranger_reads_the_card_of_the_model_in_use_on_a_phone(
    stranger: Any, live: LiveWorld, model: dict[str, Any]
) -> None:
    page = stranger
    page.goto(live.url("/console/algorithm"))
    assert page.locator("#model-version").inner_text() == model["version"]
    assert page.locator("#model-trained").get_attribute("datetime") == model["created"]
    uplift = model["metrics"]["uplift@20%"]["uplift"]
    assert (
        f"uplift {uplift:.4f}" in page.locator('#metrics tr[data-metric="uplift@20%"]').inner_text()
    )
    never = page.locator("#never").inner_text()
    assert "残疾等级" in never and "Disability grade" in never
    assert page.locator("#fairness tbody tr").count() == len(model["fairness"]["dimensions"])
    assert "按我的个人特征排序推荐" in page.locator("#switch-off").inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    page.click("#lang-switch")
    page.wait_for_url("**/console/algorithm?lang=en")
    assert page.locator("#algorithm-link").inner_text() == "How ranking works"
    page.screenshot(path=str(Path(live.data_dir) / "algorithm-390.png"), full_page=True)


def test_a_resident_follows_the_card_to_switch_personalisation_off(
    resident_page: Any, live: LiveWorld, model: dict[str, Any]
) -> None:
    page = resident_page
    page.goto(live.url("/console"))
    page.click("#algorithm-link")
    page.wait_for_url("**/console/algorithm")
    assert page.locator("#in-use").inner_text().startswith(f"个性化排序模型 {model['version']}")
    # What the card says: the service centre, untick the box, save.
    page.goto(live.url("/console"))
    box = page.locator('#preferences input[name="personalised"]')
    assert box.is_checked()
    box.uncheck()
    page.locator("#preferences button").click()
    page.wait_for_load_state()
    assert not page.locator('#preferences input[name="personalised"]').is_checked()
